//! The shipped classifier, loaded by the crate, on crops from the dev videos: a frame of the
//! FaceForensics++ face swap scores above the same frame of its real source.

use std::path::Path;

use facetell::video::{Sampling, VideoParams, decode_frames};
use facetell::{Config, Detector};

fn middle_frame_score(detector: &Detector, video: &str) -> f32 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dev/video")
        .join(video);
    let params = VideoParams {
        sampling: Sampling::Uniform(5),
        ..VideoParams::default()
    };
    let mut scores = Vec::new();
    decode_frames(&path, &params, u64::MAX, |frame| {
        let faces = detector.detect_faces(&frame.image)?;
        let crop = detector.crop_face(&frame.image, &faces[0]);
        let out = detector.classify_crops(&[&crop.image])?;
        scores.push(facetell::classify::sigmoid(out[0].logit));
        Ok(())
    })
    .unwrap();
    scores[2]
}

#[test]
fn swapped_face_scores_above_its_real_source() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml");
    let detector = Detector::from_manifest(manifest, Config::default()).unwrap();
    let real = middle_frame_score(&detector, "519.mp4");
    let fake = middle_frame_score(&detector, "519_515.mp4");
    assert!(fake > real, "fake {fake} should score above real {real}");
}

#[test]
fn frames_decoded_again_at_their_times_are_the_same_frames() {
    // Heatmaps of a video fetch its top track's frames again by time (the scan keeps none): they
    // must be the very frames that were scored, whether sampling decoded the video (a file that
    // seeking lands on damaged frames in: 519_515.mp4 at 10 s) or sought in it.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/dev/video/519_515.mp4");
    for seek_above_s in [f64::INFINITY, 0.0] {
        let params = VideoParams {
            sampling: Sampling::Uniform(6),
            seek_above_s,
            ..VideoParams::default()
        };
        let mut frames = Vec::new();
        decode_frames(&path, &params, u64::MAX, |frame| {
            frames.push(frame);
            Ok(())
        })
        .unwrap();
        assert_eq!(frames.len(), 6);
        let wanted = [&frames[1], &frames[2], &frames[5]];
        let times: Vec<f64> = wanted.iter().map(|f| f.time_s).collect();
        let again = facetell::video::decode_frames_at(&path, &times, &params, u64::MAX).unwrap();
        assert_eq!(again.len(), 3, "seeking above {seek_above_s} s");
        for (a, b) in wanted.iter().zip(&again) {
            assert_eq!(a.time_s, b.time_s);
            assert!(
                a.image == b.image,
                "the frame at {} s (seeking above {seek_above_s} s) differs when decoded again",
                a.time_s
            );
        }
    }
}
