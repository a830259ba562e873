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
