//! The [`Detector`]: every stage as a public method, plus [`Detector::score_image`] and
//! [`Detector::score_file`] that chain them.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;

use crate::aggregate::TrackedFace;
use crate::aggregate::{self, Label};
use crate::backend::Backend;
use crate::classify::{ClassifierOutput, FaceClassifier, Normalization, OnnxClassifier, sigmoid};
use crate::crop::{FaceCrop, align_face};
use crate::decode::{DecodeParams, decode_image};
use crate::detect::{CenterFace, DetectParams, Face, FaceDetector};
use crate::error::{Error, Result};
use crate::manifest::{CropPolicy, Manifest, read_checked};
use crate::report::{
    FaceReport, FileReport, FrameReport, Kind, SkipReason, TrackReport, VideoReport, round4,
};
use crate::video::{self, Sampling, VideoParams};

/// Settings of a scan that are not part of the model.
#[derive(Debug, Clone)]
pub struct Config {
    /// Decoder limits.
    pub decode: DecodeParams,
    /// Face detector tuning and input-size policy.
    pub detect: DetectParams,
    /// Faces whose shorter box side is below this many image pixels are reported but not scored:
    /// at 32 px a face is upscaled about 7x into the 224 px crop, mostly interpolation.
    pub min_face: f32,
    /// Decision threshold; `None` uses the manifest's default.
    pub threshold: Option<f32>,
    /// Files larger than this are refused without being read (bytes). 2 GiB fits any photo and
    /// most videos.
    pub max_file_size: u64,
    /// Faces per classifier call: 16 keeps the batch in cache on small CPUs.
    pub batch_size: usize,
    /// The inference engine for both networks (tract unless asked otherwise).
    pub backend: Backend,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            decode: DecodeParams::default(),
            detect: DetectParams::default(),
            min_face: 32.0,
            threshold: None,
            max_file_size: 2 << 30,
            batch_size: 16,
            backend: Backend::Tract,
        }
    }
}

/// A face with its classifier output, or the reason it was not scored.
#[derive(Debug, Clone)]
pub struct ScoredFace {
    /// The detected face.
    pub face: Face,
    /// Fake score 0..1 (sigmoid of the logit), if scored.
    pub score: Option<f32>,
    /// Why it was not scored.
    pub skipped: Option<SkipReason>,
    /// The aligned crop that was scored (kept only when asked for, e.g. for `--heatmap`).
    pub crop: Option<FaceCrop>,
    /// The classifier's full output, if scored.
    pub output: Option<ClassifierOutput>,
}

/// The verdict on one image or frame.
#[derive(Debug, Clone)]
pub struct ImageVerdict {
    /// Every face found, scored or not.
    pub faces: Vec<ScoredFace>,
    /// Max over scored faces.
    pub score: Option<f32>,
    /// Label under the detector's threshold.
    pub label: Label,
}

impl ImageVerdict {
    /// The faces as report entries.
    pub fn face_reports(&self) -> Vec<FaceReport> {
        self.faces
            .iter()
            .map(|f| FaceReport::new(&f.face, f.score, f.skipped))
            .collect()
    }
}

/// The whole pipeline, built once and shared across threads (it is `Send + Sync`).
///
/// ```no_run
/// let detector = facetell::Detector::from_manifest(
///     "models/manifest.toml",
///     facetell::Config::default(),
/// )?;
/// let report = detector.score_file(std::path::Path::new("photo.jpg"));
/// println!("{:?} {:?}", report.label, report.score);
/// # Ok::<(), facetell::Error>(())
/// ```
pub struct Detector {
    faces: Box<dyn FaceDetector>,
    classifier: Option<Box<dyn FaceClassifier>>,
    crop: CropPolicy,
    norm: Normalization,
    threshold: f32,
    model_name: String,
    config: Config,
    keep_crops: bool,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("model", &self.model_name)
            .field("threshold", &self.threshold)
            .field("crop", &self.crop)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// Loads the face detector and classifier named in a manifest, checking their sha256.
    pub fn from_manifest(manifest: impl AsRef<Path>, config: Config) -> Result<Detector> {
        let manifest = Manifest::load(manifest)?;
        let mut detector = Self::face_stages_from_manifest(&manifest, config)?;
        let entry = manifest.classifier.as_ref().ok_or_else(|| Error::Model {
            path: manifest.root.join("manifest.toml"),
            reason: "the manifest names no classifier; train and export one (training/README.md)"
                .into(),
        })?;
        let path = manifest.resolve(&entry.file);
        let bytes = read_checked(&path, &entry.sha256)?;
        detector.classifier = Some(Box::new(OnnxClassifier::with_backend(
            &bytes,
            &path,
            entry,
            detector.config.backend,
        )?));
        detector.norm = Normalization {
            mean: entry.mean,
            std: entry.std,
        };
        detector.threshold = detector.config.threshold.unwrap_or(entry.threshold);
        detector.model_name = entry.name.clone();
        Ok(detector)
    }

    /// Loads only the face detector and crop policy: enough for [`Detector::detect_faces`] and
    /// [`Detector::crop_face`] (what `facetell crop` and training need), not for scoring.
    pub fn face_stages_from_manifest(manifest: &Manifest, config: Config) -> Result<Detector> {
        let path = manifest.resolve(&manifest.detector.file);
        let bytes = read_checked(&path, &manifest.detector.sha256)?;
        let faces = CenterFace::with_backend(&bytes, &path, config.detect.clone(), config.backend)?;
        Ok(Detector {
            faces: Box::new(faces),
            classifier: None,
            crop: manifest.crop.clone(),
            norm: Normalization {
                mean: [0.0; 3],
                std: [1.0; 3],
            },
            threshold: config.threshold.unwrap_or(0.5),
            model_name: String::new(),
            config,
            keep_crops: false,
        })
    }

    /// Assembles a detector from parts: custom backends, or fakes in tests.
    pub fn from_parts(
        faces: Box<dyn FaceDetector>,
        classifier: Box<dyn FaceClassifier>,
        crop: CropPolicy,
        norm: Normalization,
        threshold: f32,
        config: Config,
    ) -> Detector {
        Detector {
            faces,
            classifier: Some(classifier),
            crop,
            norm,
            threshold: config.threshold.unwrap_or(threshold),
            model_name: "custom".into(),
            config,
            keep_crops: false,
        }
    }

    /// Keeps each scored face's crop and boundary map in [`ScoredFace`] (for heatmaps).
    pub fn keep_crops(mut self, keep: bool) -> Detector {
        self.keep_crops = keep;
        self
    }

    /// The decision threshold in use.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The classifier's name from the manifest.
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// The scan settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The crop policy in use.
    pub fn crop_policy(&self) -> &CropPolicy {
        &self.crop
    }

    /// Stage 1: decode encoded image bytes to upright RGB.
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage> {
        decode_image(bytes, &self.config.decode)
    }

    /// Stage 2: find every face.
    pub fn detect_faces(&self, image: &RgbImage) -> Result<Vec<Face>> {
        self.faces.detect(image)
    }

    /// Stage 3: cut out and align one face by the manifest's crop policy.
    pub fn crop_face(&self, image: &RgbImage, face: &Face) -> FaceCrop {
        align_face(image, face, &self.crop)
    }

    /// Stage 4: classify aligned crops, in batches.
    pub fn classify_crops(&self, crops: &[&RgbImage]) -> Result<Vec<ClassifierOutput>> {
        let classifier = self.classifier.as_ref().ok_or_else(|| Error::Model {
            path: PathBuf::from("manifest.toml"),
            reason: "this detector was loaded without a classifier".into(),
        })?;
        let mut outputs = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(self.config.batch_size.max(1)) {
            let batch = self.norm.to_tensor(chunk);
            outputs.extend(classifier.classify(batch.view())?);
        }
        Ok(outputs)
    }

    /// Stages 3-5 for faces already found: crop and classify those large enough, aggregate.
    pub fn score_faces(&self, image: &RgbImage, faces: Vec<Face>) -> Result<ImageVerdict> {
        let mut scored: Vec<ScoredFace> = Vec::with_capacity(faces.len());
        let mut crops = Vec::new();
        for face in faces {
            let too_small = face.size() < self.config.min_face;
            if !too_small {
                crops.push(self.crop_face(image, &face));
            }
            scored.push(ScoredFace {
                face,
                score: None,
                skipped: too_small.then_some(SkipReason::FaceTooSmall),
                crop: None,
                output: None,
            });
        }
        let images: Vec<&RgbImage> = crops.iter().map(|c| &c.image).collect();
        let outputs = self.classify_crops(&images)?;
        let mut results = outputs.into_iter().zip(crops);
        for face in scored.iter_mut().filter(|f| f.skipped.is_none()) {
            if let Some((output, crop)) = results.next() {
                face.score = Some(sigmoid(output.logit));
                if self.keep_crops {
                    face.crop = Some(crop);
                    face.output = Some(output);
                }
            }
        }
        let score = aggregate::max_score(scored.iter().map(|f| f.score));
        Ok(ImageVerdict {
            faces: scored,
            score,
            label: aggregate::label_for(score, self.threshold),
        })
    }

    /// Detects, crops, classifies and aggregates one decoded image.
    pub fn score_image(&self, image: &RgbImage) -> Result<ImageVerdict> {
        let faces = self.detect_faces(image)?;
        self.score_faces(image, faces)
    }

    /// Reads a file, checking the size limit.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(Error::UnsupportedFormat {
                detail: "it is a directory".into(),
            }
            .in_file(path));
        }
        if meta.len() > self.config.max_file_size {
            return Err(Error::FileTooLarge {
                size: meta.len(),
                limit: self.config.max_file_size,
            }
            .in_file(path));
        }
        std::fs::read(path).map_err(io)
    }

    /// Reads, decodes and scores one image file.
    pub fn score_image_path(&self, path: &Path) -> Result<ImageVerdict> {
        let bytes = self.read_file(path)?;
        let image = self.decode(&bytes)?;
        self.score_image(&image)
    }

    /// Scores one image file; never fails: errors become an `error` record.
    pub fn score_image_file(&self, path: &Path) -> FileReport {
        image_report(path, self.score_image_path(path).as_ref())
    }

    /// Scores sampled frames of a video file; never fails: errors become an `error` record.
    pub fn score_video_file(&self, path: &Path, params: &VideoParams) -> FileReport {
        // Frames are decoded in order and scored in parallel, a batch of one per worker thread at
        // a time, so memory stays at a few frames whatever the video's length.
        let batch = rayon::current_num_threads().max(1);
        let mut pending: Vec<video::VideoFrame> = Vec::with_capacity(batch);
        let mut frames = Vec::new();
        let mut flush = |pending: &mut Vec<video::VideoFrame>| -> Result<()> {
            let scored: Vec<Result<FrameReport>> = pending
                .par_iter()
                .map(|frame| {
                    let verdict = self.score_image(&frame.image)?;
                    Ok(FrameReport {
                        index: frame.index,
                        time_s: (frame.time_s * 1000.0).round() / 1000.0,
                        score: verdict.score.map(round4),
                        faces: verdict.face_reports(),
                    })
                })
                .collect();
            pending.clear();
            for report in scored {
                frames.push(report?);
            }
            Ok(())
        };
        let result = video::decode_frames(path, params, |frame| {
            pending.push(frame);
            if pending.len() >= batch {
                flush(&mut pending)?;
            }
            Ok(())
        })
        .and_then(|done| flush(&mut pending).map(|()| done));
        let display = path.to_string_lossy().into_owned();
        match result {
            Ok((info, warnings)) => {
                self.sequence_report(display, Kind::Video, frames, info.duration_s, warnings)
            }
            Err(e) => FileReport::error(display, Kind::Video, e.without_path()),
        }
    }

    /// Scores a folder of frames (images, natural sort order) as one video at a nominal
    /// [`SEQUENCE_FPS`] frames per second. Unreadable frames are skipped with a warning.
    pub fn score_sequence(&self, dir: &Path, sampling: Sampling) -> FileReport {
        let display = dir.to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file() && crate::inputs::sniff(p) == crate::inputs::InputKind::Image
                })
                .collect(),
            Err(e) => {
                return FileReport::error(
                    display,
                    Kind::Frames,
                    format!("cannot read the folder: {e}"),
                );
            }
        };
        files.sort_by(|a, b| natord::compare(&a.to_string_lossy(), &b.to_string_lossy()));
        if files.is_empty() {
            return FileReport::error(display, Kind::Frames, "the folder holds no images".into());
        }
        let mut frames = Vec::new();
        let mut warnings = Vec::new();
        for index in sample_indices(files.len(), sampling) {
            let time_s = index as f64 / SEQUENCE_FPS;
            match self.score_image_path(&files[index]) {
                Ok(verdict) => frames.push(FrameReport {
                    index: index as u64,
                    time_s,
                    score: verdict.score.map(round4),
                    faces: verdict.face_reports(),
                }),
                Err(e) => {
                    warnings.push(format!("{}: {}", files[index].display(), e.without_path()))
                }
            }
        }
        if frames.is_empty() {
            return FileReport::error(
                display,
                Kind::Frames,
                format!("no frame could be scored ({})", warnings.join("; ")),
            );
        }
        let duration = files.len() as f64 / SEQUENCE_FPS;
        self.sequence_report(display, Kind::Frames, frames, duration, warnings)
    }

    fn sequence_report(
        &self,
        path: String,
        kind: Kind,
        frames: Vec<FrameReport>,
        duration_s: f64,
        warnings: Vec<String>,
    ) -> FileReport {
        let tracked: Vec<Vec<TrackedFace>> = frames
            .iter()
            .map(|f| {
                f.faces
                    .iter()
                    .map(|face| TrackedFace {
                        bbox: face.bbox,
                        landmarks: face.landmarks,
                        score: face.score,
                    })
                    .collect()
            })
            .collect();
        let tracks = aggregate::link_tracks(&tracked)
            .into_iter()
            .enumerate()
            .map(|(id, t)| TrackReport {
                id,
                frames: t.members.iter().map(|&(f, _)| f).collect(),
                score: t.score.map(|s| (s * 10_000.0).round() / 10_000.0),
            })
            .collect();
        let score = aggregate::mean_score(frames.iter().map(|f| f.score));
        FileReport {
            path,
            kind,
            label: aggregate::label_for(score, self.threshold),
            score: score.map(round4),
            faces: Vec::new(),
            video: Some(VideoReport {
                frames_sampled: frames.len(),
                duration_s: (duration_s * 1000.0).round() / 1000.0,
                frames,
                tracks,
            }),
            error: None,
            warnings,
        }
    }
}

/// Nominal frame rate of a folder of frames, for `time_s` and `duration_s`.
pub const SEQUENCE_FPS: f64 = 25.0;

/// Which of `count` frames a sampling takes (frame folders, at [`SEQUENCE_FPS`]).
pub fn sample_indices(count: usize, sampling: Sampling) -> Vec<usize> {
    let mut idx: Vec<usize> = match sampling {
        Sampling::All => (0..count).collect(),
        Sampling::Uniform(n) if n >= count => (0..count).collect(),
        Sampling::Uniform(n) => (0..n).map(|i| i * count / n).collect(),
        Sampling::Fps(r) => {
            let step = (SEQUENCE_FPS / r.max(1e-6)).max(1.0);
            (0..)
                .map(|i| (i as f64 * step) as usize)
                .take_while(|&i| i < count)
                .collect()
        }
    };
    idx.dedup();
    idx
}

/// The record for an image file from its scoring result.
pub fn image_report(path: &Path, result: std::result::Result<&ImageVerdict, &Error>) -> FileReport {
    let display = path.to_string_lossy().into_owned();
    match result {
        Ok(verdict) => FileReport {
            path: display,
            kind: Kind::Image,
            label: verdict.label,
            score: verdict.score.map(round4),
            faces: verdict.face_reports(),
            video: None,
            error: None,
            warnings: Vec::new(),
        },
        Err(e) => FileReport::error(display, Kind::Image, e.without_path()),
    }
}
