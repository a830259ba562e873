//! Scores every image in a folder with the library API, in parallel, and prints one line each.
//!
//! cargo run --release --example scan_folder -- ../shared/data/dev/yonsei/fake

use std::path::{Path, PathBuf};

use facetell::{Config, Detector};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::args().nth(1).ok_or("usage: scan_folder FOLDER")?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml");
    // Built once, shared by every rayon worker.
    let detector = Detector::from_manifest(manifest, Config::default())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files.par_iter().for_each(|path| {
        let report = detector.score_image_file(path);
        println!(
            "{:<7} {:>6} {}",
            report.label.as_str(),
            report.score.map_or("-".into(), |s| format!("{s:.3}")),
            path.display()
        );
    });
    Ok(())
}
