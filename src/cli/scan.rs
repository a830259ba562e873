//! `facetell scan`: score files and folders, streaming one record per file as each finishes.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::{Context, bail};
use clap::Args;
use facetell::inputs;
use facetell::report::{FileReport, TextStyle, plural, writer_for};
use facetell::{Format, Label, Scanner, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{OutputFormat, ScanOptions, resolve_format};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Images, videos or folders (searched recursively).
    #[arg(value_name = "PATH", required_unless_present = "sequence")]
    paths: Vec<PathBuf>,

    /// Also scan this folder of extracted frames as one video (natural sort of file names).
    #[arg(long, value_name = "DIR")]
    sequence: Vec<PathBuf>,

    /// Output format [default: text on a terminal, jsonl otherwise or with --output].
    #[arg(long, value_enum)]
    format: Option<OutputFormat>,

    /// Text format: a line per face of every image and per track of every video, not only for
    /// images with several faces and a video's top tracks.
    #[arg(short, long)]
    verbose: bool,

    /// Write records sorted by path (natural order) once the scan is done, instead of streaming
    /// them as files finish.
    #[arg(long, value_name = "ORDER", value_enum)]
    sort: Option<SortOrder>,

    /// Write heatmaps into DIR: per image, the picture with each face's box, score and predicted
    /// blending boundary (NAME_overview.png) and each scored face's crop with its map
    /// (NAME_faceN.png); per video, up to 3 frames of its highest-scoring track. The record's
    /// `heatmaps` lists the files. Nothing about faces is written without this flag.
    #[arg(long, value_name = "DIR")]
    heatmap: Option<PathBuf>,

    /// Write records to FILE instead of stdout. JSON Lines are appended and flushed per record;
    /// other formats are written to a temporary file renamed into place when the scan completes.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// With --output (JSON Lines): skip inputs already recorded in FILE and append the rest, so an
    /// interrupted scan carries on where it stopped.
    #[arg(long, requires = "output")]
    resume: bool,

    /// Scan only shard I of N (0-based): a stable share of the inputs by a hash of their path, so
    /// N machines given the same paths cover them exactly once.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,

    #[command(flatten)]
    options: ScanOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SortOrder {
    /// By path, in natural order (file2 before file10).
    Path,
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected I/N such as 0/4, got {s:?}"))?;
    let i: u64 = i
        .trim()
        .parse()
        .map_err(|_| format!("shard index {i:?} is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("shard count {n:?} is not a number"))?;
    if n == 0 || i >= n {
        return Err(format!("shard index must be in 0..{n} (0-based), got {i}"));
    }
    Ok((i, n))
}

/// The shard an input path belongs to: sha256 of its bytes, first 8 bytes, modulo N.
pub fn shard_of(path: &Path, n: u64) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % n
}

enum Job {
    File(PathBuf),
    Sequence(PathBuf),
}

impl Job {
    fn path(&self) -> &Path {
        match self {
            Job::File(p) | Job::Sequence(p) => p,
        }
    }
}

/// Exit codes: 0 all scored and none flagged, 1 a file flagged fake, 2 any error.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let config = args.options.config()?;
    let format = resolve_format(args.format, args.output.is_some());
    if args.resume && format != Format::Jsonl {
        bail!("--resume needs --format jsonl (the default with --output)");
    }
    let manifest = args.options.model.manifest_path()?;
    let pool = args.options.model.thread_pool()?;
    let scanner = Scanner::from_manifest(&manifest, config)
        .with_context(|| format!("cannot load the models from {}", manifest.display()))?
        .with_heatmaps(args.heatmap.is_some());
    if let Some(dir) = &args.heatmap {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the --heatmap folder {}", dir.display()))?;
    }

    let found = inputs::collect(&args.paths);
    for p in &found.problems {
        eprintln!("facetell: warning: {}: {}", p.path.display(), p.message);
    }
    if found.skipped > 0 {
        eprintln!(
            "facetell: skipped {} in the folders that are not images or videos by their extension",
            plural(found.skipped, "file")
        );
    }
    let mut jobs: Vec<Job> = found.files.into_iter().map(Job::File).collect();
    jobs.extend(args.sequence.iter().cloned().map(Job::Sequence));
    if let Some((i, n)) = args.shard {
        jobs.retain(|j| shard_of(j.path(), n) == i);
    }
    let sink = Sink::open(args.output.as_deref(), args.resume)?;
    if !sink.done.is_empty() {
        let before = jobs.len();
        jobs.retain(|j| !sink.done.contains(j.path().to_string_lossy().as_ref()));
        eprintln!(
            "facetell: resuming: {} of {before} inputs already in the output",
            before - jobs.len()
        );
    }

    let progress = progress_bar(jobs.len() as u64);
    let mut summary = Summary::default();
    let (tx, rx) = mpsc::channel::<FileReport>();
    let Sink { out, temp, .. } = sink;
    let style = TextStyle {
        verbose: args.verbose,
        color: args.output.is_none()
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut writer = writer_for(format, out, style);
    let mut held = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (scanner, jobs, heatmap) = (&scanner, &jobs, args.heatmap.as_deref());
        scope.spawn(move || {
            pool.install(|| {
                jobs.par_iter().for_each_with(tx, |tx, job| {
                    let _ = tx.send(score_job(scanner, job, heatmap));
                });
            });
        });
        for report in rx {
            summary.add(&report);
            progress.inc(1);
            if args.sort.is_some() {
                held.push(report);
            } else {
                progress
                    .suspend(|| writer.write(&report))
                    .context("cannot write the output")?;
            }
        }
        Ok(())
    })?;
    held.sort_by(|a, b| natord::compare(&a.path, &b.path));
    for report in &held {
        writer.write(report).context("cannot write the output")?;
    }
    writer.finish().context("cannot write the output")?;
    drop(writer);
    if let Some((temp, target)) = temp {
        temp.persist(&target).with_context(|| {
            format!("cannot move the output into place at {}", target.display())
        })?;
    }
    progress.finish_and_clear();
    eprintln!(
        "facetell: {}: {} fake, {} real, {} without a face, {}; threshold {:.4}",
        plural(summary.total, "file"),
        summary.fakes,
        summary.reals,
        summary.no_face,
        plural(summary.errors, "error"),
        scanner.detector().threshold()
    );
    Ok(summary.exit_code(!found.problems.is_empty()))
}

/// Where records go: stdout, an appended JSON Lines file, or a temp file renamed at the end.
struct Sink {
    out: Box<dyn Write>,
    temp: Option<(tempfile::TempPath, PathBuf)>,
    done: HashSet<String>,
}

impl Sink {
    fn open(output: Option<&Path>, resume: bool) -> anyhow::Result<Sink> {
        let Some(path) = output else {
            return Ok(Sink {
                out: Box::new(std::io::BufWriter::new(std::io::stdout())),
                temp: None,
                done: HashSet::new(),
            });
        };
        let is_jsonl = path
            .extension()
            .is_none_or(|e| e != "json" && e != "csv" && e != "txt");
        if resume || is_jsonl {
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(resume)
                .write(true)
                .truncate(!resume)
                .open(path)
                .with_context(|| format!("cannot open --output {}", path.display()))?;
            let done = if resume {
                recorded_paths(&mut file, path)?
            } else {
                HashSet::new()
            };
            return Ok(Sink {
                out: Box::new(file),
                temp: None,
                done,
            });
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let (file, temp_path) = temp.into_parts();
        Ok(Sink {
            out: Box::new(std::io::BufWriter::new(file)),
            temp: Some((temp_path, path.to_owned())),
            done: HashSet::new(),
        })
    }
}

/// Paths already recorded in a JSON Lines output. A last line cut short by a kill is removed so
/// that appending starts on a clean line.
fn recorded_paths(file: &mut File, path: &Path) -> anyhow::Result<HashSet<String>> {
    let mut done = HashSet::new();
    let mut good_len = 0u64;
    let mut reader = BufReader::new(&mut *file);
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read --output {} to resume", path.display()))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) => {
                if let Some(p) = v.get("path").and_then(|p| p.as_str()) {
                    done.insert(p.to_string());
                }
                good_len += n as u64;
            }
            Err(_) => break,
        }
    }
    drop(reader);
    file.set_len(good_len)
        .with_context(|| format!("cannot trim a partial last record in {}", path.display()))?;
    file.seek(SeekFrom::End(0))?;
    Ok(done)
}

/// Scores one job into its record, writing its heatmaps when asked for.
fn score_job(scanner: &Scanner, job: &Job, heatmap: Option<&Path>) -> FileReport {
    let verdict = match job {
        Job::File(path) => scanner.scan_path(path),
        Job::Sequence(dir) => scanner.scan_frames(dir),
    };
    let mut report = FileReport::from(&verdict);
    if let Some(dir) = heatmap {
        match write_heatmaps(dir, job.path(), &verdict) {
            Ok(files) => report.heatmaps = files,
            Err(e) => report.warnings.push(format!("heatmap not written: {e:#}")),
        }
    }
    report
}

/// Writes a verdict's heatmaps into `dir` as `STEM-TAG_NAME.png` (TAG: a short hash of the
/// input's full path, so same-named files from different folders stay apart) and returns the
/// paths written.
fn write_heatmaps(dir: &Path, path: &Path, verdict: &Verdict) -> anyhow::Result<Vec<String>> {
    use sha2::{Digest, Sha256};
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let tag: String = Sha256::digest(path.as_os_str().as_encoded_bytes())[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut written = Vec::new();
    for heatmap in &verdict.heatmaps {
        let file = dir.join(format!("{stem}-{tag}_{}.png", heatmap.name));
        heatmap
            .image
            .save(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        written.push(file.to_string_lossy().into_owned());
    }
    Ok(written)
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
    reals: usize,
    no_face: usize,
}

impl Summary {
    fn add(&mut self, report: &FileReport) {
        self.total += 1;
        match report.label {
            Label::Error => self.errors += 1,
            Label::Fake => self.fakes += 1,
            Label::Real => self.reals += 1,
            Label::NoFace => self.no_face += 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec_is_validated() {
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("x").is_err());
    }

    #[test]
    fn shards_partition_the_inputs() {
        let paths: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("d/{i}.jpg")))
            .collect();
        let mut counts = [0; 3];
        for p in &paths {
            counts[shard_of(p, 3) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<i32>(), 200);
        assert!(counts.iter().all(|&c| c > 40), "{counts:?}");
    }
}
