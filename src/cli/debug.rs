//! Hidden commands for the parity scripts: the classifier on ready-made crops, and CenterFace's
//! raw output maps. They let training/parity.py and models/detector_parity.py compare facetell
//! (tract) with PyTorch and onnxruntime on identical inputs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use facetell::classify::sigmoid;
use facetell::detect::{CenterFace, to_canvas};
use facetell::{Detector, Manifest};

use super::ModelOptions;

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Aligned crops (PNG, the manifest's crop size), e.g. from `facetell crop`.
    #[arg(required = true)]
    crops: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelOptions,
}

/// Prints `{"path", "logit", "score"}` per crop.
pub fn classify(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let detector = Detector::from_manifest(args.model.manifest_path()?, args.model.config()?)?;
    let size = detector.crop_policy().size;
    let mut out = std::io::stdout().lock();
    for path in &args.crops {
        let image = detector.decode(
            &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        )?;
        if image.dimensions() != (size, size) {
            bail!(
                "{}: crop is {:?}, the model takes {size}x{size}",
                path.display(),
                image.dimensions()
            );
        }
        let output = &detector.classify_crops(&[&image])?[0];
        let record = serde_json::json!({
            "path": path.to_string_lossy(),
            "logit": output.logit,
            "score": sigmoid(output.logit),
        });
        writeln!(out, "{record}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct DetectorRawArgs {
    /// Image to run at its own size (zero-padded to multiples of 32, no resize).
    image: PathBuf,
    /// Where to write the four raw maps as little-endian f32, one after another.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    model: ModelOptions,
}

/// Writes CenterFace's raw outputs and prints their shapes as JSON.
pub fn detector_raw(args: DetectorRawArgs) -> anyhow::Result<ExitCode> {
    let config = args.model.config()?;
    let manifest = Manifest::load(args.model.manifest_path()?)?;
    let detector = CenterFace::from_manifest(&manifest, config.detect, config.backend)?;
    let bytes = std::fs::read(&args.image)
        .with_context(|| format!("cannot read {}", args.image.display()))?;
    let image = facetell::decode::decode_image(&bytes, &config.decode)?;
    let maps = detector.run_raw(to_canvas(&image))?;
    let mut raw = Vec::new();
    let mut shapes = Vec::new();
    for map in &maps {
        shapes.push(map.shape().to_vec());
        raw.extend(map.iter().flat_map(|v| v.to_le_bytes()));
    }
    std::fs::write(&args.out, raw)?;
    println!("{}", serde_json::json!({ "shapes": shapes }));
    Ok(ExitCode::SUCCESS)
}
