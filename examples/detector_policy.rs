//! Compares the detector's input policy at two first-pass sizes on folders of images: the faces
//! each finds, the scored faces one finds and the other does not, how far each face's score moves
//! (the crop follows the detected landmarks, so a coarser pass that shifts them shows up here),
//! labels that flip, and the detection time per image on one thread.
//!
//! cargo run --release --example detector_policy -- 160 ../shared/data/dev/yonsei ../shared/data/dev/lfw_swap
//!
//! The first argument is the candidate first-pass long side; the baseline is today's default
//! ([`facetell::DetectParams::default`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use facetell::detect::iou;
use facetell::{Backend, Config, Detector, ImageVerdict, Media};
use rayon::prelude::*;

/// One image under one policy.
struct Run {
    verdict: ImageVerdict,
    detect_s: f64,
}

fn run(detector: &Detector, image: &image::RgbImage) -> facetell::Result<Run> {
    let start = Instant::now();
    let faces = detector.detect_faces(image)?;
    let detect_s = start.elapsed().as_secs_f64();
    Ok(Run {
        verdict: detector.score_faces(image, faces, Media::Still)?,
        detect_s,
    })
}

/// What one image tells about the candidate against the baseline.
#[derive(Default)]
struct Tally {
    images: usize,
    faces: [usize; 2],
    scored: [usize; 2],
    /// Scored faces of one policy with no face of the other at IoU >= 0.5.
    unmatched: [usize; 2],
    score_deltas: Vec<f32>,
    label_flips: usize,
    detect_s: [f64; 2],
}

impl Tally {
    fn add(mut self, other: Tally) -> Tally {
        self.images += other.images;
        for i in 0..2 {
            self.faces[i] += other.faces[i];
            self.scored[i] += other.scored[i];
            self.unmatched[i] += other.unmatched[i];
            self.detect_s[i] += other.detect_s[i];
        }
        self.score_deltas.extend(other.score_deltas);
        self.label_flips += other.label_flips;
        self
    }
}

fn compare(path: &Path, detectors: &[Detector; 2]) -> Tally {
    let runs = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| detectors[0].decode(&bytes).map_err(|e| e.to_string()))
        .and_then(|image| {
            let a = run(&detectors[0], &image).map_err(|e| e.to_string())?;
            let b = run(&detectors[1], &image).map_err(|e| e.to_string())?;
            Ok([a, b])
        });
    let runs = match runs {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return Tally::default();
        }
    };
    let mut tally = Tally {
        images: 1,
        ..Tally::default()
    };
    for (i, run) in runs.iter().enumerate() {
        let other = &runs[1 - i].verdict.faces;
        tally.faces[i] = run.verdict.faces.len();
        tally.detect_s[i] = run.detect_s;
        for face in run.verdict.faces.iter().filter(|f| f.score.is_some()) {
            tally.scored[i] += 1;
            let best = other
                .iter()
                .map(|o| (iou(&face.face.bbox, &o.face.bbox), o))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((overlap, o)) if overlap >= 0.5 => {
                    if i == 0
                        && let Some(s) = o.score
                    {
                        tally.score_deltas.push(s - face.score.unwrap_or(s));
                    }
                }
                _ => {
                    tally.unmatched[i] += 1;
                    println!(
                        "{}: a face scored by the {} policy only, box {:?}",
                        path.display(),
                        ["baseline", "candidate"][i],
                        face.face.bbox.map(|v| v.round())
                    );
                }
            }
        }
    }
    tally.label_flips = usize::from(runs[0].verdict.label != runs[1].verdict.label);
    tally
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: detector_policy FIRST_PASS_SIDE FOLDER...";
    let side: u32 = args.next().ok_or(usage)?.parse()?;
    let folders: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if folders.is_empty() {
        return Err(usage.into());
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml");
    // tract for both: the timings compare policies, not engines.
    let baseline = Config {
        backend: Backend::Tract,
        ..Config::default()
    };
    let mut candidate = baseline.clone();
    candidate.detect.base_side = side;
    let detectors = [
        Detector::from_manifest(&manifest, baseline.clone())?,
        Detector::from_manifest(&manifest, candidate)?,
    ];
    let files = facetell::inputs::collect(&folders).files;
    let tally = files
        .par_iter()
        .map(|path| compare(path, &detectors))
        .reduce(Tally::default, Tally::add);
    let n = tally.images.max(1) as f64;
    let mut deltas: Vec<f32> = tally.score_deltas.iter().map(|d| d.abs()).collect();
    deltas.sort_by(f32::total_cmp);
    let quantile = |q: f64| {
        deltas
            .get(((deltas.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let mean_delta: f32 = tally.score_deltas.iter().sum::<f32>() / deltas.len().max(1) as f32;
    println!("images {}", tally.images);
    for (i, name) in [
        format!("baseline (first pass {})", baseline.detect.base_side),
        format!("candidate (first pass {side})"),
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{name}: {} faces, {} scored, {} scored faces the other policy lacks, detection {:.1} ms per image",
            tally.faces[i],
            tally.scored[i],
            tally.unmatched[i],
            tally.detect_s[i] / n * 1e3
        );
    }
    println!(
        "matched scored faces {}: |score change| median {:.4}, 95th percentile {:.4}, max {:.4}; mean signed change {:+.4}; files whose label flips {}",
        deltas.len(),
        quantile(0.5),
        quantile(0.95),
        quantile(1.0),
        mean_delta,
        tally.label_flips
    );
    Ok(())
}
