//! Argument parsing and the subcommands. Raw flags are parsed by clap, validated into library
//! [`facetell::Config`] in one place ([`ScanOptions::config`]), then each subcommand runs.

mod crop;
mod debug;
mod eval;
mod scan;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use facetell::{Backend, Config, Format};

/// Deepfake and face-swap detector: scores every face in images and videos.
#[derive(Debug, Parser)]
#[command(name = "facetell", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score images, videos and folders; one record per file on stdout.
    Scan(scan::ScanArgs),
    /// Detect, align and write face crops plus their boxes and landmarks (crops.jsonl).
    Crop(crop::CropArgs),
    /// Scan a labelled set and print AUC, AP, EER and TPR at fixed FPR per subset.
    Eval(eval::EvalArgs),
    /// Classifier logits for ready-made crops (for training/parity.py).
    #[command(hide = true)]
    Classify(debug::ClassifyArgs),
    /// CenterFace's raw output maps for one image (for models/detector_parity.py).
    #[command(hide = true)]
    DetectorRaw(debug::DetectorRawArgs),
}

/// Options shared by every command that loads the models.
#[derive(Debug, Args)]
struct ModelOptions {
    /// Folder holding manifest.toml and the ONNX models [default: the models/ folder facetell
    /// was built with]
    #[arg(long, env = "FACETELL_MODELS", value_name = "DIR")]
    models: Option<PathBuf>,

    /// Faces whose shorter side is under this many pixels are reported, not scored.
    #[arg(long, default_value_t = 32.0, value_name = "PX")]
    min_face: f32,

    /// Refuse images (and video frames) with more pixels than this.
    #[arg(long, default_value_t = 100_000_000, value_name = "PIXELS")]
    max_pixels: u64,

    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = 2 << 30, value_name = "BYTES")]
    max_file_size: u64,

    /// Worker threads [default: one per core].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Inference engine: tract (built in) or ort (ONNX Runtime; needs a build with
    /// `--features ort` and ORT_DYLIB_PATH naming libonnxruntime.so).
    #[arg(
        long,
        env = "FACETELL_BACKEND",
        default_value = "tract",
        value_name = "ENGINE"
    )]
    backend: Backend,
}

impl ModelOptions {
    fn manifest_path(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.models {
            Some(dir) => dir.clone(),
            None => default_models_dir(),
        };
        let manifest = dir.join("manifest.toml");
        if !manifest.is_file() {
            bail!(
                "no manifest.toml in {}; pass the models folder with --models DIR or FACETELL_MODELS",
                dir.display()
            );
        }
        Ok(manifest)
    }

    fn config(&self, threshold: Option<f32>) -> anyhow::Result<Config> {
        if let Some(t) = threshold
            && !(0.0..=1.0).contains(&t)
        {
            bail!("--threshold {t} is outside 0..1");
        }
        if self.min_face < 0.0 {
            bail!("--min-face must not be negative");
        }
        let mut config = Config {
            min_face: self.min_face,
            threshold,
            max_file_size: self.max_file_size,
            backend: self.backend,
            ..Config::default()
        };
        config.decode.max_pixels = self.max_pixels;
        Ok(config)
    }

    fn thread_pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(jobs) = self.jobs {
            if jobs == 0 {
                bail!("--jobs must be at least 1");
            }
            builder = builder.num_threads(jobs);
        }
        builder.build().context("cannot start worker threads")
    }
}

/// The models folder next to the binary when installed that way, else the source tree's.
fn default_models_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(3) {
            let candidate = up.join("models");
            if candidate.join("manifest.toml").is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The output format: the user's choice, else a table on a terminal and JSON Lines in a pipe.
fn resolve_format(format: Option<Format>) -> Format {
    use std::io::IsTerminal;
    format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Jsonl
    })
}

/// Parses the command line and runs the command; returns the process exit code.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Crop(args) => crop::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Classify(args) => debug::classify(args),
        Command::DetectorRaw(args) => debug::detector_raw(args),
    }
}
