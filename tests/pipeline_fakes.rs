//! The pipeline with fake models: plumbing, aggregation and the min-face rule, no model files.

use facetell::classify::{ClassifierOutput, sigmoid};
use facetell::manifest::InnerView;
use facetell::report::SkipReason;
use facetell::{
    Config, CropPolicy, Detector, Face, FaceClassifier, FaceCrop, FaceDetector, FileReport,
    ImageVerdict, Kind, Label, Media, Normalization, Scanner,
};
use image::{Rgb, RgbImage};
use ndarray::ArrayView4;

/// Finds a fixed list of faces.
struct FixedFaces(Vec<Face>);

impl FaceDetector for FixedFaces {
    fn detect(&self, _: &RgbImage) -> facetell::Result<Vec<Face>> {
        Ok(self.0.clone())
    }
}

/// Logit = mean of the crop's normalised red channel: bright red faces look fake.
struct RedIsFake;

impl FaceClassifier for RedIsFake {
    fn classify(&self, batch: ArrayView4<f32>) -> facetell::Result<Vec<ClassifierOutput>> {
        Ok(batch
            .outer_iter()
            .map(|item| ClassifierOutput {
                logit: (item.index_axis(ndarray::Axis(0), 0).mean().unwrap() - 0.5) * 20.0,
                boundary: None,
            })
            .collect())
    }
}

fn face_at(x: f32, y: f32, size: f32) -> Face {
    let s = size;
    Face {
        bbox: [x, y, s, s],
        landmarks: [
            [x + 0.3 * s, y + 0.4 * s],
            [x + 0.7 * s, y + 0.4 * s],
            [x + 0.5 * s, y + 0.55 * s],
            [x + 0.35 * s, y + 0.75 * s],
            [x + 0.65 * s, y + 0.75 * s],
        ],
        confidence: 0.9,
    }
}

fn policy() -> CropPolicy {
    CropPolicy {
        name: "test".into(),
        size: 32,
        template: [
            [0.3, 0.4],
            [0.7, 0.4],
            [0.5, 0.55],
            [0.35, 0.75],
            [0.65, 0.75],
        ],
        inner: None,
    }
}

fn detector(faces: Vec<Face>) -> Detector {
    detector_with(Box::new(FixedFaces(faces)))
}

fn detector_with(faces: Box<dyn FaceDetector>) -> Detector {
    Detector::from_parts(
        faces,
        Box::new(RedIsFake),
        policy(),
        Normalization {
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        0.5,
        Config::default(),
    )
}

/// Left half red, right half grey.
fn image() -> RgbImage {
    RgbImage::from_fn(400, 200, |x, _| {
        if x < 200 {
            Rgb([250, 0, 0])
        } else {
            Rgb([90, 90, 90])
        }
    })
}

#[test]
fn image_score_is_the_max_over_faces() {
    let d = detector(vec![
        face_at(250.0, 50.0, 100.0),
        face_at(50.0, 50.0, 100.0),
    ]);
    let verdict = d.score_image(&image()).unwrap();
    assert_eq!(verdict.faces.len(), 2);
    let grey = verdict.faces[0].score.unwrap();
    let red = verdict.faces[1].score.unwrap();
    assert!(red > 0.99 && grey < 0.2, "red {red} grey {grey}");
    assert_eq!(verdict.score, Some(red));
    assert_eq!(verdict.label, Label::Fake);
}

/// A red square on grey under the nose of the large face of [`two_faces`]: a tighter view of it
/// sees more red than its crop, and it scores above the small one.
fn red_nose() -> RgbImage {
    RgbImage::from_fn(400, 200, |x, y| {
        if x.abs_diff(100) < 20 && y.abs_diff(105) < 20 {
            Rgb([250, 0, 0])
        } else {
            Rgb([90, 90, 90])
        }
    })
}

/// A large face (eyes 40 px apart: the crop, 12.8 px, and the inner view, 25.6 px, both shrink
/// it) and a small one (eyes 16 px apart: the inner view would enlarge it, so it has none).
fn two_faces() -> [Face; 2] {
    [face_at(50.0, 50.0, 100.0), face_at(280.0, 85.0, 40.0)]
}

/// A detector finding [`two_faces`], with an inner view zoomed 2x.
fn two_view_detector() -> Detector {
    let mut policy = policy();
    policy.inner = Some(InnerView {
        name: "inner".into(),
        zoom: 2.0,
        centre: [0.5, 0.55],
    });
    Detector::from_parts(
        Box::new(FixedFaces(two_faces().to_vec())),
        Box::new(RedIsFake),
        policy,
        Normalization {
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        0.5,
        Config::default(),
    )
}

/// The scores [`two_view_detector`] should give [`two_faces`] in [`red_nose`]: on both views
/// where the large face has an inner view (`still`), else each on its crop.
fn expected_scores(still: bool) -> [f32; 2] {
    let (d, image) = (two_view_detector(), red_nose());
    let [large, small] = two_faces();
    let logit = |crop: FaceCrop| d.classify_crops(&[&crop.image]).unwrap()[0].logit;
    let (outer, inner) = (
        logit(d.crop_face(&image, &large)),
        logit(
            d.crop_inner(&image, &large)
                .expect("the large face has an inner view"),
        ),
    );
    assert!(inner > outer + 1.0, "inner {inner} outer {outer}");
    assert!(d.crop_inner(&image, &small).is_none());
    let large = if still { 0.5 * (outer + inner) } else { outer };
    [sigmoid(large), sigmoid(logit(d.crop_face(&image, &small)))]
}

fn assert_scores(verdict: &ImageVerdict, expected: [f32; 2]) {
    let scores: Vec<f32> = verdict.faces.iter().map(|f| f.score.unwrap()).collect();
    assert_eq!(scores.len(), 2);
    for (got, want) in scores.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{scores:?} vs {expected:?}");
    }
}

#[test]
fn in_a_still_a_large_face_is_scored_on_both_views_a_small_one_on_its_crop() {
    let (d, image) = (two_view_detector(), red_nose());
    assert_scores(&d.score_image(&image).unwrap(), expected_scores(true));
    let faces = two_faces().to_vec();
    let kept = d
        .score_faces_with_crops(&image, faces, Media::Still)
        .unwrap();
    assert_scores(&kept, expected_scores(true));
}

#[test]
fn in_a_video_frame_every_face_is_scored_on_its_crop() {
    let (d, image) = (two_view_detector(), red_nose());
    let (still, frame) = (expected_scores(true), expected_scores(false));
    assert!(still[0] > frame[0] + 0.01, "{still:?} {frame:?}");
    assert_scores(&d.score_frame(&image).unwrap(), frame);
    let faces = two_faces().to_vec();
    let kept = d
        .score_faces_with_crops(&image, faces, Media::VideoFrame)
        .unwrap();
    assert_scores(&kept, frame);

    // Through the scanner: the same picture scanned as a photo, then as a folder of frames.
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for name in ["photo.png", "frames/0001.png", "frames/0002.png"] {
        image.save(dir.path().join(name)).unwrap();
    }
    let scanner = Scanner::new(two_view_detector());
    let photo = scanner.scan_path(&dir.path().join("photo.png"));
    let video = scanner.scan_frames(&frames);
    assert_eq!((photo.kind, video.kind), (Kind::Image, Kind::Frames));
    for (got, faces) in [(photo.score(), still), (video.score(), frame)] {
        let want = faces[0].max(faces[1]);
        assert!((got.unwrap() - want).abs() < 1e-6, "{got:?} vs {faces:?}");
    }
    assert!(photo.score() > video.score());
}

#[test]
fn small_faces_are_reported_not_scored() {
    let d = detector(vec![face_at(50.0, 50.0, 20.0)]);
    let verdict = d.score_image(&image()).unwrap();
    assert_eq!(verdict.faces[0].skipped, Some(SkipReason::FaceTooSmall));
    assert_eq!(verdict.faces[0].score, None);
    assert_eq!(verdict.label, Label::NoFace);
}

#[test]
fn no_face_gives_no_score() {
    let verdict = detector(vec![]).score_image(&image()).unwrap();
    assert_eq!((verdict.score, verdict.label), (None, Label::NoFace));
}

#[test]
fn the_detector_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Detector>();
}

/// Panics on every image: a stand-in for a decoder or model bug.
struct Panics;

impl FaceDetector for Panics {
    fn detect(&self, _: &RgbImage) -> facetell::Result<Vec<Face>> {
        panic!("boom")
    }
}

fn png_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    image()
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn the_scanner_scores_bytes_and_files_alike() {
    let scanner = Scanner::new(detector(vec![face_at(50.0, 50.0, 100.0)]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("red.png");
    std::fs::write(&path, png_bytes()).unwrap();
    let from_file = scanner.scan_path(&path);
    let from_bytes = scanner.scan_bytes(&png_bytes(), Some("red.png"));
    assert_eq!(from_file.kind, Kind::Image);
    assert_eq!(from_bytes.path, "red.png");
    assert_eq!(from_file.label(), Label::Fake);
    assert_eq!(from_file.score(), from_bytes.score());
    // A stricter threshold relabels from the unrounded score.
    let strict = from_bytes.with_threshold(1.0);
    assert_eq!(strict.label(), Label::Real);

    let record = FileReport::from(&from_file);
    assert_eq!(record.faces.len(), 1);
    assert_eq!(record.label, Label::Fake);
}

#[test]
fn bad_input_and_panics_become_error_verdicts() {
    let scanner = Scanner::new(detector(vec![]));
    let junk = scanner.scan_bytes(b"hello, not an image", None);
    assert_eq!(junk.label(), Label::Error);
    assert_eq!(junk.error().unwrap().kind(), "unsupported_format");
    let missing = scanner.scan_path(std::path::Path::new("/nonexistent/x.jpg"));
    assert_eq!(missing.error().unwrap().kind(), "io");

    let panicking = Scanner::new(detector_with(Box::new(Panics)));
    let verdict = panicking.scan_bytes(&png_bytes(), Some("x.png"));
    let error = verdict.error().unwrap();
    assert_eq!(error.kind(), "internal");
    assert!(error.to_string().contains("boom"), "{error}");
    assert_eq!(FileReport::from(&verdict).label, Label::Error);
}
