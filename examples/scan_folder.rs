//! Scores every image and video in a folder with the library's scanning core, in parallel, and
//! prints one line each (the label, the score, the path).
//!
//! cargo run --release --example scan_folder -- ../shared/data/dev/yonsei/fake

use std::path::{Path, PathBuf};

use facetell::{Config, Scanner};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::env::args().nth(1).ok_or("usage: scan_folder FOLDER")?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml");
    // Built once, shared by every rayon worker.
    let scanner = Scanner::from_manifest(manifest, Config::default())?;
    let found = facetell::inputs::collect(&[PathBuf::from(folder)]);
    found.files.par_iter().for_each(|path| {
        let verdict = scanner.scan_path(path);
        let detail = verdict
            .error()
            .map(|e| format!("  ({e})"))
            .unwrap_or_default();
        println!(
            "{:<7} {:>6} {}{detail}",
            verdict.label().as_str(),
            verdict.score().map_or("-".into(), |s| format!("{s:.3}")),
            path.display()
        );
    });
    Ok(())
}
