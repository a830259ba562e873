//! The shipped models, loaded by the crate, on real frames: a frame of the FaceForensics++ face
//! swap scores above the same frame of its real source; the detector's tiled passes find the
//! faces its whole passes find.

use std::path::Path;

use facetell::detect::iou;
use facetell::video::{Sampling, VideoParams, decode_frames};
use facetell::{Config, DetectParams, Detector, Face};

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

/// The landmarks of each face of `reference` that is clear (confident and large enough to score)
/// and found again in `other` at the same place, as their largest shift against `reference` in
/// shares of the face size. A clear face `other` lost panics when `lost` names the case.
fn landmark_shifts(reference: &[Face], other: &[Face], lost: Option<&str>) -> Vec<f32> {
    let min_face = Config::default().min_face;
    let clear = reference
        .iter()
        .filter(|f| f.size() >= min_face && f.confidence >= 0.6);
    clear
        .filter_map(|face| {
            let same = other.iter().find(|f| iou(&f.bbox, &face.bbox) >= 0.5);
            if let (None, Some(case)) = (same, lost) {
                panic!("{case}: the face at {:?} is lost", face.bbox);
            }
            let shift = face
                .landmarks
                .iter()
                .zip(&same?.landmarks)
                .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
                .fold(0.0, f32::max);
            Some(shift / face.size())
        })
        .collect()
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[test]
fn tiled_passes_find_the_faces_whole_passes_find() {
    // The street fixture's faces (25-100 px) are found by the 1280 px pass, which runs as four
    // tiles of 672x416 (`DetectParams::tile_side`). Every clear face one whole 1280x720 pass finds,
    // the tiles find too, and at the same place: their landmarks move less than a whole pass's
    // do when the frame itself moves by 2 pixels.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = root.join("models/manifest.toml");
    let tiled = Detector::from_manifest(&manifest, Config::default()).unwrap();
    let config = Config {
        detect: DetectParams {
            tile_side: u32::MAX,
            ..DetectParams::default()
        },
        ..Config::default()
    };
    let whole = Detector::from_manifest(&manifest, config).unwrap();
    let params = VideoParams {
        sampling: Sampling::Uniform(4),
        ..VideoParams::default()
    };
    let (mut by_tiles, mut by_moving) = (Vec::new(), Vec::new());
    let video = root.join("../shared/data/fixtures/video.mp4");
    decode_frames(&video, &params, u64::MAX, |frame| {
        let reference = whole.detect_faces(&frame.image)?;
        let at = format!("frame {}", frame.index);
        let found = tiled.detect_faces(&frame.image)?;
        by_tiles.extend(landmark_shifts(&reference, &found, Some(&at)));
        let mut moved = frame.image.clone();
        image::imageops::replace(&mut moved, &frame.image, 2, 2);
        let found: Vec<Face> = whole
            .detect_faces(&moved)?
            .into_iter()
            .map(|f| Face {
                bbox: [f.bbox[0] - 2.0, f.bbox[1] - 2.0, f.bbox[2], f.bbox[3]],
                landmarks: f.landmarks.map(|[x, y]| [x - 2.0, y - 2.0]),
                ..f
            })
            .collect();
        by_moving.extend(landmark_shifts(&reference, &found, None));
        Ok(())
    })
    .unwrap();
    assert!(
        by_tiles.len() >= 8,
        "only {} faces to compare",
        by_tiles.len()
    );
    let (tiles, moving) = (median(by_tiles), median(by_moving));
    assert!(
        tiles < moving / 2.0,
        "tiles move landmarks by {tiles} of the face size (median), moving the frame by {moving}"
    );
}
