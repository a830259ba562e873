//! The ONNX Runtime backend (cargo feature `ort`) gives the same outputs as tract: raw detector
//! maps, classifier logits and boundary maps within 1e-4, and the same verdicts.
//!
//! The tests that run ONNX Runtime are ignored by a plain `cargo test`, which must not depend on
//! the machine having it: `make test-ort` runs them with `--include-ignored` and `ORT_DYLIB_PATH`
//! naming the library of ONNX Runtime's Python wheel (installed into target/ort-venv).
#![cfg(feature = "ort")]

mod common;

use std::path::PathBuf;

use common::{data, manifest_path};
use facetell::detect::CenterFace;
use facetell::manifest::read_checked;
use facetell::{Backend, Config, Detector, Manifest};
use ndarray::{ArrayView, Dimension};

const TOLERANCE: f32 = 1e-4;

fn detector(backend: Backend) -> Detector {
    let config = Config {
        backend,
        ..Config::default()
    };
    Detector::from_manifest(manifest_path(), config).unwrap_or_else(|e| panic!("{e}"))
}

fn max_abs_diff<D: Dimension>(a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn photos() -> Vec<PathBuf> {
    [
        "dev/yonsei/real/real_00008.jpg",
        "dev/yonsei/real/real_00010.jpg",
        "dev/yonsei/fake/easy_101_0010.jpg",
        "dev/yonsei/fake/hard_101_0011.jpg",
    ]
    .iter()
    .map(|p| data().join(p))
    .collect()
}

#[test]
#[ignore = "needs ONNX Runtime: make test-ort"]
fn detector_maps_match_tract() {
    let manifest = Manifest::load(manifest_path()).unwrap();
    let path = manifest.resolve(&manifest.detector.file);
    let bytes = read_checked(&path, &manifest.detector.sha256).unwrap();
    let params = Config::default().detect;
    let tract = CenterFace::with_backend(&bytes, &path, params.clone(), Backend::Tract).unwrap();
    let ort = CenterFace::with_backend(&bytes, &path, params, Backend::OnnxRuntime)
        .unwrap_or_else(|e| panic!("{e}"));
    for photo in photos() {
        let image = image::open(&photo).unwrap().to_rgb8();
        let input = facetell::detect::to_canvas(&image);
        let a = tract.run_raw(input.clone()).unwrap();
        let b = ort.run_raw(input).unwrap();
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            let diff = max_abs_diff(a.view(), b.view());
            assert!(
                diff < TOLERANCE,
                "{}: output {i} differs by {diff}",
                photo.display()
            );
        }
    }
}

#[test]
#[ignore = "needs ONNX Runtime: make test-ort"]
fn classifier_and_verdicts_match_tract() {
    let (tract, ort) = (detector(Backend::Tract), detector(Backend::OnnxRuntime));
    for photo in photos() {
        let image = image::open(&photo).unwrap().to_rgb8();
        let faces = tract.detect_faces(&image).unwrap();
        assert!(!faces.is_empty(), "{}", photo.display());
        let crops: Vec<_> = faces.iter().map(|f| tract.crop_face(&image, f)).collect();
        let images: Vec<_> = crops.iter().map(|c| &c.image).collect();
        let a = tract.classify_crops(&images).unwrap();
        let b = ort.classify_crops(&images).unwrap();
        for (a, b) in a.iter().zip(&b) {
            let diff = (a.logit - b.logit).abs();
            assert!(
                diff < TOLERANCE,
                "{}: logit differs by {diff}",
                photo.display()
            );
            let (ma, mb) = (a.boundary.as_ref().unwrap(), b.boundary.as_ref().unwrap());
            let diff = max_abs_diff(ma.view(), mb.view());
            assert!(
                diff < TOLERANCE,
                "{}: boundary map differs by {diff}",
                photo.display()
            );
        }
        let (va, vb) = (
            tract.score_image(&image).unwrap(),
            ort.score_image(&image).unwrap(),
        );
        assert_eq!(va.label, vb.label, "{}", photo.display());
        assert_eq!(va.faces.len(), vb.faces.len(), "{}", photo.display());
    }
}

#[test]
#[ignore = "needs ONNX Runtime: make test-ort"]
fn auto_takes_onnxruntime_when_it_loads() {
    let auto = detector(Backend::Auto);
    assert_eq!(auto.config().backend, Backend::OnnxRuntime);
    let photo = &photos()[0];
    let image = auto.decode(&std::fs::read(photo).unwrap()).unwrap();
    let tract = detector(Backend::Tract);
    let (a, t) = (
        auto.score_image(&image).unwrap().score.unwrap(),
        tract.score_image(&image).unwrap().score.unwrap(),
    );
    // Whole pipeline: detector differences under 1e-4 move the landmarks, so the crop, a little.
    assert!((a - t).abs() < 0.01, "auto {a} against tract {t}");
}

#[test]
fn a_missing_library_is_a_clear_error() {
    // Runs the binary, so the variable is changed for that process only.
    let out = common::facetell()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .args(["scan", "--backend", "ort"])
        .arg(&photos()[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot load ONNX Runtime from /nonexistent/libonnxruntime.so"),
        "{stderr}"
    );
}

#[test]
fn auto_goes_on_with_tract_when_onnxruntime_cannot_load() {
    let out = common::facetell()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("RUST_LOG", "info")
        .args(["scan", "--backend", "auto", "--format", "jsonl"])
        .arg(&photos()[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "a dev real");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("using tract: cannot load ONNX Runtime from /nonexistent"),
        "{stderr}"
    );
    assert_eq!(common::records(&out.stdout)[0]["label"], "real");
}
