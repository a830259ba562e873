//! `facetell crop`: the product's own detection and alignment, writing crops for training.
//!
//! Output: one PNG per face (`<name>_face<i>.png`, name mirroring the input's path below the
//! folder given) and `crops.jsonl` with, per face, the source, the crop file, box and landmarks
//! in image pixels, landmarks in crop pixels, the detector confidence and the crop policy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;
use facetell::crop::align_face;
use facetell::inputs::{self, InputKind};
use facetell::scan::read_input;
use facetell::{CropPolicy, Detector, Manifest};
use rayon::prelude::*;
use serde::Serialize;

use super::ModelOptions;

#[derive(Debug, Args)]
pub struct CropArgs {
    /// Images or folders of images.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Folder to write the crops and crops.jsonl into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Keep at most this many faces per image, the most confident first (0 = all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    max_faces: usize,

    /// Which view to cut: the crop every face gets, or the manifest's inner view ([crop.inner]),
    /// here for every face whatever its size (training wants them all; scans use it only for
    /// faces it does not enlarge).
    #[arg(long, value_enum, default_value_t = View::Crop)]
    view: View,

    #[command(flatten)]
    model: ModelOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum View {
    Crop,
    Inner,
}

#[derive(Serialize)]
struct CropRecord<'a> {
    source: String,
    crop: String,
    face: usize,
    #[serde(rename = "box")]
    bbox: [f32; 4],
    landmarks: [[f32; 2]; 5],
    crop_landmarks: [[f32; 2]; 5],
    detection: f32,
    policy: &'a str,
}

pub fn run(args: CropArgs) -> anyhow::Result<ExitCode> {
    let config = args.model.config()?;
    let manifest_path = args.model.manifest_path()?;
    let manifest = Manifest::load(&manifest_path)?;
    let detector = Detector::face_stages_from_manifest(&manifest, config)?;
    let policy = match args.view {
        View::Crop => detector.crop_policy(),
        View::Inner => detector.inner_policy().ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the crop policy has no inner view ([crop.inner]); drop --view inner or use a manifest with one",
                manifest_path.display()
            )
        })?,
    }
    .clone();
    let pool = args.model.thread_pool()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out folder {}", args.out.display()))?;
    let jsonl_path = args.out.join("crops.jsonl");
    let jsonl = std::fs::File::create(&jsonl_path)
        .with_context(|| format!("cannot create {}", jsonl_path.display()))?;
    let jsonl = Mutex::new(std::io::BufWriter::new(jsonl));

    let found = inputs::collect(&args.paths);
    let mut failed = found.problems.len();
    for p in &found.problems {
        eprintln!("facetell: warning: {}: {}", p.path.display(), p.message);
    }
    let errors: Vec<String> = pool.install(|| {
        found
            .files
            .par_iter()
            .filter(|path| inputs::sniff(path) != InputKind::Video)
            .filter_map(|path| {
                crop_one(&detector, &args, path, &policy, &jsonl)
                    .err()
                    .map(|e| format!("{}: {e:#}", path.display()))
            })
            .collect()
    });
    for e in &errors {
        eprintln!("facetell: error: {e}");
    }
    failed += errors.len();
    jsonl
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .flush()
        .context("cannot write crops.jsonl")?;
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn crop_one(
    detector: &Detector,
    args: &CropArgs,
    path: &Path,
    policy: &CropPolicy,
    jsonl: &Mutex<std::io::BufWriter<std::fs::File>>,
) -> anyhow::Result<()> {
    let bytes = read_input(path, detector.config().max_file_size)?;
    let image = detector.decode(&bytes)?;
    let mut faces = detector.detect_faces(&image)?;
    faces.retain(|f| f.size() >= detector.config().min_face);
    if args.max_faces > 0 {
        faces.truncate(args.max_faces);
    }
    let stem = output_stem(&args.paths, path);
    let mut lines = Vec::new();
    for (i, face) in faces.iter().enumerate() {
        let crop = align_face(&image, face, policy);
        let name = format!("{stem}_face{i}.png");
        let file = args.out.join(&name);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crop.image
            .save(&file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let record = CropRecord {
            source: path.to_string_lossy().into_owned(),
            crop: name,
            face: i,
            bbox: face.bbox,
            landmarks: face.landmarks,
            crop_landmarks: crop.landmarks,
            detection: face.confidence,
            policy: &policy.name,
        };
        lines.push(serde_json::to_string(&record)?);
    }
    let mut out = jsonl.lock().unwrap_or_else(|p| p.into_inner());
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The crop name for `path`: its path below the folder argument it was found in, without
/// extension, or just its stem when it was named directly.
fn output_stem(roots: &[PathBuf], path: &Path) -> String {
    let relative = roots
        .iter()
        .filter(|r| r.is_dir())
        .find_map(|r| path.strip_prefix(r).ok())
        .unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()));
    relative.with_extension("").to_string_lossy().into_owned()
}
