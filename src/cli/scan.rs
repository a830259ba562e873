//! `facetell scan`: score files and folders, streaming one record per file as each finishes.

use std::io::{IsTerminal, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use clap::Args;
use facetell::inputs::{self, Input, InputKind};
use facetell::report::{FileReport, Kind, writer_for};
use facetell::{Detector, Format, Label};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{ModelOptions, resolve_format};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Images, videos or folders (searched recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Output format [default: text on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// Score at or above which a file is labelled fake [default: the model's, from manifest.toml].
    #[arg(long, value_name = "0..1")]
    threshold: Option<f32>,

    #[command(flatten)]
    model: ModelOptions,
}

/// Exit codes: 0 all scored and none flagged, 1 a file flagged fake, 2 any error.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let config = args.model.config(args.threshold)?;
    let manifest = args.model.manifest_path()?;
    let pool = args.model.thread_pool()?;
    let detector = Detector::from_manifest(&manifest, config)
        .with_context(|| format!("cannot load the models from {}", manifest.display()))?;

    let (inputs, problems) = inputs::collect(&args.paths);
    for p in &problems {
        eprintln!("facetell: warning: {}: {}", p.path.display(), p.message);
    }
    let format = resolve_format(args.format);
    let progress = progress_bar(inputs.len() as u64);

    let stdout = std::io::stdout().lock();
    let mut writer = writer_for(format, std::io::BufWriter::new(stdout));
    let mut summary = Summary::default();
    let (tx, rx) = mpsc::channel::<FileReport>();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let detector = &detector;
        let inputs = &inputs;
        scope.spawn(move || {
            pool.install(|| {
                inputs.par_iter().for_each_with(tx, |tx, input| {
                    let _ = tx.send(score_input(detector, input));
                });
            });
        });
        for report in rx {
            summary.add(&report);
            progress.inc(1);
            progress.suspend(|| writer.write(&report)).context("cannot write to stdout")?;
        }
        Ok(())
    })?;
    writer.finish().context("cannot write to stdout")?;
    progress.finish_and_clear();
    std::io::stderr().flush().ok();
    if summary.errors > 0 || !problems.is_empty() {
        eprintln!(
            "facetell: {} of {} files could not be scored (label \"error\")",
            summary.errors, summary.total
        );
    }
    Ok(summary.exit_code(!problems.is_empty()))
}

/// Scores one input; a panic inside becomes the file's error record.
fn score_input(detector: &Detector, input: &Input) -> FileReport {
    let kind = match input.kind {
        InputKind::Video => Kind::Video,
        _ => Kind::Image,
    };
    catch_unwind(AssertUnwindSafe(|| score_input_inner(detector, input))).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        FileReport::error(
            display(&input.path),
            kind,
            format!("internal error ({what}); please report this file to the facetell developers"),
        )
    })
}

fn score_input_inner(detector: &Detector, input: &Input) -> FileReport {
    match input.kind {
        InputKind::Image | InputKind::Unknown => detector.score_image_file(&input.path),
        InputKind::Video => FileReport::error(
            display(&input.path),
            Kind::Video,
            "video scanning is not available in this build".into(),
        ),
    }
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn progress_bar(len: u64) -> ProgressBar {
    let visible = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

#[derive(Default)]
struct Summary {
    total: usize,
    errors: usize,
    fakes: usize,
}

impl Summary {
    fn add(&mut self, report: &FileReport) {
        self.total += 1;
        match report.label {
            Label::Error => self.errors += 1,
            Label::Fake => self.fakes += 1,
            _ => {}
        }
    }

    fn exit_code(&self, walk_problems: bool) -> ExitCode {
        if self.errors > 0 || walk_problems {
            ExitCode::from(2)
        } else if self.fakes > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}
