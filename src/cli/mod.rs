//! Argument parsing and the subcommands. Raw flags are parsed by clap, validated into the
//! library's [`facetell::Config`] in one place ([`ModelOptions::config`], extended by
//! [`ScanOptions::config`] for the commands that score files), then each subcommand runs. Every
//! default shown in `--help` comes from [`Config::default`].

mod crop;
mod debug;
mod eval;
mod scan;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use facetell::video::Sampling;
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
    /// Serve the scanner over HTTP (POST /v1/scan; see /openapi.json).
    Serve(serve::ServeArgs),
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
    #[arg(long, default_value_t = Config::default().min_face, value_name = "PX")]
    min_face: f32,

    /// Refuse images (and video frames) with more pixels than this.
    #[arg(long, default_value_t = Config::default().decode.max_pixels, value_name = "PIXELS")]
    max_pixels: u64,

    /// Refuse files larger than this many bytes.
    #[arg(long, default_value_t = Config::default().max_file_size, value_name = "BYTES")]
    max_file_size: u64,

    /// Worker threads [default: one per core].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Inference engine: auto (ONNX Runtime when its library is found, else tract), tract
    /// (built in) or ort (ONNX Runtime: libonnxruntime.so named by ORT_DYLIB_PATH, beside
    /// facetell or on the library path; `make ort` installs one).
    #[arg(
        long,
        env = "FACETELL_BACKEND",
        default_value = "auto",
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

    /// The library settings these flags give (limits and engine).
    fn config(&self) -> anyhow::Result<Config> {
        if self.min_face < 0.0 {
            bail!("--min-face must not be negative");
        }
        let mut config = Config {
            min_face: self.min_face,
            max_file_size: self.max_file_size,
            backend: self.backend,
            ..Config::default()
        };
        config.decode.max_pixels = self.max_pixels;
        Ok(config)
    }

    /// Worker threads as `--jobs` asks (one per core by default).
    fn pool_builder(&self) -> anyhow::Result<rayon::ThreadPoolBuilder> {
        match self.jobs {
            Some(0) => bail!("--jobs must be at least 1"),
            Some(jobs) => Ok(rayon::ThreadPoolBuilder::new().num_threads(jobs)),
            None => Ok(rayon::ThreadPoolBuilder::new()),
        }
    }

    fn thread_pool(&self) -> anyhow::Result<rayon::ThreadPool> {
        (self.pool_builder()?.build()).context("cannot start worker threads")
    }
}

fn default_frames() -> usize {
    match Config::default().video.sampling {
        Sampling::Uniform(n) => n,
        _ => 1,
    }
}

/// Options of every command that scores files (`scan`, `eval`): model, limits, threshold and
/// video sampling, turned into one [`Config`].
#[derive(Debug, Args)]
struct ScanOptions {
    /// Score at or above which a file is labelled fake [default: the model's, from manifest.toml].
    #[arg(long, value_name = "0..1")]
    threshold: Option<f32>,

    /// Frames sampled per video, spread uniformly over its duration.
    #[arg(long, default_value_t = default_frames(), value_name = "N", conflicts_with_all = ["fps", "all_frames"])]
    frames: usize,

    /// Sample this many frames per second of video instead of a fixed count.
    #[arg(long, value_name = "R", conflicts_with = "all_frames")]
    fps: Option<f64>,

    /// Score every frame of every video.
    #[arg(long)]
    all_frames: bool,

    /// Give up on a video after this many seconds and report the frames scored so far.
    #[arg(long, default_value_t = Config::default().video.time_limit.as_secs(), value_name = "SECONDS")]
    video_time_limit: u64,

    #[command(flatten)]
    model: ModelOptions,
}

impl ScanOptions {
    /// The library settings these flags give.
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = self.model.config()?;
        if let Some(t) = self.threshold
            && !(0.0..=1.0).contains(&t)
        {
            bail!("--threshold {t} is outside 0..1");
        }
        config.threshold = self.threshold;
        config.video.sampling = match (self.all_frames, self.fps) {
            (true, _) => Sampling::All,
            (false, Some(r)) if r > 0.0 => Sampling::Fps(r),
            (false, Some(r)) => bail!("--fps must be positive, got {r}"),
            (false, None) if self.frames == 0 => bail!("--frames must be at least 1"),
            (false, None) => Sampling::Uniform(self.frames),
        };
        config.video.time_limit = Duration::from_secs(self.video_time_limit);
        Ok(config)
    }
}

/// Output formats on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// A human-readable line per file.
    Text,
    /// One JSON array of records.
    Json,
    /// One JSON record per line.
    Jsonl,
    /// path,kind,label,score,faces,error
    Csv,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
            OutputFormat::Jsonl => Format::Jsonl,
            OutputFormat::Csv => Format::Csv,
        }
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

/// The output format: the user's choice, else JSON Lines into a file, text on a terminal and
/// JSON Lines in a pipe.
fn resolve_format(format: Option<OutputFormat>, to_file: bool) -> Format {
    use std::io::IsTerminal;
    match format {
        Some(f) => f.into(),
        None if !to_file && std::io::stdout().is_terminal() => Format::Text,
        None => Format::Jsonl,
    }
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
        Command::Serve(args) => serve::run(args),
        Command::Classify(args) => debug::classify(args),
        Command::DetectorRaw(args) => debug::detector_raw(args),
    }
}
