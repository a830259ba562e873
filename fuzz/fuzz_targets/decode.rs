//! Bytes -> image -> faces: the decode path any uploaded file goes through.
//! Run: cargo install cargo-fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=600
#![no_main]

use std::sync::OnceLock;

use facetell::decode::{DecodeParams, decode_image};
use facetell::{Config, Detector, Manifest};
use libfuzzer_sys::fuzz_target;

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let manifest = Manifest::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.toml")).unwrap();
        Detector::face_stages_from_manifest(&manifest, Config::default()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    // A small pixel limit keeps each run fast; the limit itself is part of what is tested.
    let params = DecodeParams { max_pixels: 4_000_000 };
    if let Ok(image) = decode_image(data, &params) {
        let _ = detector().detect_faces(&image);
    }
});
