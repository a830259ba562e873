//! `facetell eval`: scan a labelled set and print detection metrics per subset.
//!
//! Labels file: CSV with a header, columns `path,label[,set]`; `label` is `fake` or `real`
//! (also `1`/`0`); paths are relative to `--root` (default: the labels file's folder). A set that
//! holds only fakes is measured against the reals of the same media kind (FaceForensics++ style:
//! "Deepfakes vs. real"). Videos get video-level metrics (mean of frame scores) and frame-level
//! metrics (each sampled frame with a face, labelled as its video).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use facetell::eval::{Metrics, metrics};
use facetell::report::FileReport;
use facetell::{Label, Scanner};
use rayon::prelude::*;
use serde::Serialize;

use super::ScanOptions;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// CSV file with `path,label[,set]` rows.
    #[arg(long, value_name = "CSV")]
    labels: PathBuf,

    /// Folder the paths in the labels file are relative to [default: the labels file's folder,
    /// or the nearest folder above it where the listed files are].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Print the table as JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Also write every file's scan record (JSON Lines) to FILE.
    #[arg(long, value_name = "FILE")]
    records: Option<PathBuf>,

    #[command(flatten)]
    options: ScanOptions,
}

struct Row {
    path: PathBuf,
    fake: bool,
    set: String,
}

#[derive(Serialize)]
struct SetResult {
    set: String,
    level: &'static str,
    /// Files that could not be scored (error) or had no usable face.
    errors: usize,
    no_face: usize,
    #[serde(flatten)]
    metrics: Metrics,
}

fn read_labels(args: &EvalArgs) -> anyhow::Result<Vec<Row>> {
    let mut reader = csv::Reader::from_path(&args.labels)
        .with_context(|| format!("cannot read --labels {}", args.labels.display()))?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.with_context(|| format!("{}: bad CSV row {}", args.labels.display(), i + 2))?;
        let (Some(path), Some(label)) = (record.get(0), record.get(1)) else {
            bail!(
                "{}: row {} needs path,label[,set]",
                args.labels.display(),
                i + 2
            );
        };
        let fake = match label.trim().to_ascii_lowercase().as_str() {
            "fake" | "1" => true,
            "real" | "0" => false,
            other => bail!(
                "{}: row {}: label {other:?} is neither fake nor real",
                args.labels.display(),
                i + 2
            ),
        };
        rows.push(Row {
            path: PathBuf::from(path.trim()),
            fake,
            set: record.get(2).map_or("all", str::trim).to_string(),
        });
    }
    if rows.is_empty() {
        bail!("{} has no rows", args.labels.display());
    }
    let root = find_root(args, &rows)?;
    for row in &mut rows {
        row.path = root.join(&row.path);
    }
    Ok(rows)
}

/// The folder the listed paths are relative to: `--root`, else the labels file's folder or the
/// nearest folder above it where listed files exist. Fails once, naming the flag to fix, when
/// no listed file exists there.
fn find_root(args: &EvalArgs, rows: &[Row]) -> anyhow::Result<PathBuf> {
    let any_exists = |root: &Path| rows.iter().any(|r| root.join(&r.path).exists());
    let labels_dir = args.labels.parent().map(PathBuf::from).unwrap_or_default();
    let root = match &args.root {
        Some(root) => root.clone(),
        None => {
            let found = labels_dir
                .ancestors()
                .take(4)
                .find(|dir| any_exists(dir))
                .map(Path::to_path_buf);
            if let Some(dir) = &found
                && *dir != labels_dir
            {
                eprintln!(
                    "facetell: the paths in {} are relative to {} (pass --root to choose)",
                    args.labels.display(),
                    dir.display()
                );
            }
            found.unwrap_or(labels_dir)
        }
    };
    if !any_exists(&root) {
        bail!(
            "none of the {} files listed in {} exists under {}; pass --root with the folder the \
             listed paths are relative to",
            rows.len(),
            args.labels.display(),
            if root.as_os_str().is_empty() {
                Path::new(".").display()
            } else {
                root.display()
            }
        );
    }
    Ok(root)
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let config = args.options.config()?;
    let rows = read_labels(&args)?;
    let manifest = args.options.model.manifest_path()?;
    let pool = args.options.model.thread_pool()?;
    let scanner = Scanner::from_manifest(&manifest, config)
        .with_context(|| format!("cannot load the models from {}", manifest.display()))?;
    let reports: Vec<FileReport> = pool.install(|| {
        rows.par_iter()
            .map(|row| FileReport::from(&scanner.scan_path(&row.path)))
            .collect()
    });
    if let Some(path) = &args.records {
        let mut out = String::new();
        for r in &reports {
            out.push_str(&serde_json::to_string(r)?);
            out.push('\n');
        }
        std::fs::write(path, out)
            .with_context(|| format!("cannot write --records {}", path.display()))?;
    }

    let detector = scanner.detector();
    let threshold = detector.threshold();
    let results = summarise(&rows, &reports, threshold);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": detector.model_name(),
                "threshold": threshold,
                "sets": results,
            }))?
        );
    } else {
        print_table(&results, detector.model_name(), threshold);
    }
    let errors: usize = reports.iter().filter(|r| r.label == Label::Error).count();
    for r in reports.iter().filter(|r| r.label == Label::Error) {
        eprintln!(
            "facetell: error: {}: {}",
            r.path,
            r.error.as_deref().unwrap_or("")
        );
    }
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One scored item for a metric: (score, fake).
type Items = Vec<(f32, bool)>;

fn summarise(rows: &[Row], reports: &[FileReport], threshold: f32) -> Vec<SetResult> {
    // Per set and level: items, errors, no-face counts.
    let mut groups: BTreeMap<(String, &'static str), (Items, usize, usize)> = BTreeMap::new();
    for (row, report) in rows.iter().zip(reports) {
        let is_video = report.video.is_some() || report.kind != facetell::Kind::Image;
        let file_level = if is_video { "video" } else { "image" };
        let entry = groups.entry((row.set.clone(), file_level)).or_default();
        match (report.label, report.score) {
            (Label::Error, _) => entry.1 += 1,
            (_, None) => entry.2 += 1,
            (_, Some(s)) => entry.0.push((s, row.fake)),
        }
        if let Some(v) = &report.video {
            let frames = groups.entry((row.set.clone(), "frame")).or_default();
            frames.0.extend(
                v.frames
                    .iter()
                    .filter_map(|f| f.score.map(|s| (s, row.fake))),
            );
        }
    }
    // Reals of each level, to pair with fake-only sets.
    let mut reals: BTreeMap<&'static str, Items> = BTreeMap::new();
    for ((_, level), (items, _, _)) in &groups {
        reals
            .entry(level)
            .or_default()
            .extend(items.iter().filter(|i| !i.1));
    }
    let mut out = Vec::new();
    for ((set, level), (items, errors, no_face)) in &groups {
        let has_real = items.iter().any(|i| !i.1);
        let mut measured = items.clone();
        let mut name = set.clone();
        if !has_real && !items.is_empty() {
            measured.extend(reals.get(level).into_iter().flatten());
            name = format!("{set} vs reals");
        }
        out.push(SetResult {
            set: name,
            level,
            errors: *errors,
            no_face: *no_face,
            metrics: level_metrics(&measured, level, threshold),
        });
    }
    for level in ["image", "video", "frame"] {
        let all: Items = groups
            .iter()
            .filter(|((_, l), _)| *l == level)
            .flat_map(|(_, (items, _, _))| items.iter().copied())
            .collect();
        if !all.is_empty() && groups.keys().filter(|(_, l)| *l == level).count() > 1 {
            out.push(SetResult {
                set: "ALL".into(),
                level,
                errors: 0,
                no_face: 0,
                metrics: level_metrics(&all, level, threshold),
            });
        }
    }
    out
}

/// The metrics of one level; frames get no AUC interval, since the frames of one video are not
/// independent samples and DeLong's interval would be too narrow for them.
fn level_metrics(items: &[(f32, bool)], level: &str, threshold: f32) -> Metrics {
    let mut m = metrics(items, threshold);
    if level == "frame" {
        m.auc_ci95 = None;
    }
    m
}

fn print_table(results: &[SetResult], model: &str, threshold: f32) {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let ci = |v: Option<[f64; 2]>| v.map_or("-".to_string(), |[l, h]| format!("{l:.2}-{h:.2}"));
    println!("model {model}, threshold {threshold:.4}");
    println!(
        "{:<28} {:<6} {:>5} {:>5} {:>6} {:>10} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>4} {:>6}",
        "set",
        "level",
        "n",
        "fake",
        "AUC",
        "AUC 95% CI",
        "AP",
        "EER",
        "TPR@1%",
        "TPR@5%",
        "FPR@thr",
        "TPR@thr",
        "err",
        "noface"
    );
    for r in results {
        let m = &r.metrics;
        println!(
            "{:<28} {:<6} {:>5} {:>5} {:>6} {:>10} {:>6} {:>6} {:>9} {:>9} {:>8} {:>8} {:>4} {:>6}",
            r.set,
            r.level,
            m.n,
            m.n_fake,
            f(m.auc),
            ci(m.auc_ci95),
            f(m.ap),
            f(m.eer),
            f(m.tpr_at_fpr_1),
            f(m.tpr_at_fpr_5),
            f(m.fpr_at_threshold),
            f(m.tpr_at_threshold),
            r.errors,
            r.no_face
        );
    }
}
