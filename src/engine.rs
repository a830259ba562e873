//! The [`Detector`]: every stage as a public method, plus [`Detector::score_image`] that chains
//! them on one decoded image, and the [`Config`] every front end shares. Files, videos and
//! records are the scanning core's business ([`crate::scan`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::RgbImage;
use serde::Serialize;

use crate::aggregate::{self, Label};
use crate::backend::Backend;
use crate::classify::{ClassifierOutput, FaceClassifier, Normalization, OnnxClassifier, sigmoid};
use crate::crop::{FaceCrop, align_face, align_with, crop_transform, transform_scale};
use crate::decode::{DecodeParams, decode_image};
use crate::detect::{CenterFace, DetectParams, Face, FaceDetector};
use crate::error::{Error, Result};
use crate::manifest::{CropPolicy, Manifest};
use crate::video::{Sampling, VideoParams};

/// Settings of a scan that are not part of the model. [`Config::default`] is the one place
/// where every default is written; the CLI's flags and the server's options start from it.
#[derive(Debug, Clone)]
pub struct Config {
    /// Decoder limits (also applied to video frames).
    pub decode: DecodeParams,
    /// Which frames of a video (or frame folder) to score, and the time limit per video.
    pub video: VideoParams,
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
    /// Faces per classifier call. 1: neither engine runs a face faster in a batch on a CPU
    /// (benches/README.md), while a batch's activations grow with it (MobileNetV2's widest layer
    /// holds 4.8 MB per face), and each worker thread holds its own.
    pub batch_size: usize,
    /// The inference engine for both networks: [`Backend::Auto`] by default (ONNX Runtime when
    /// its library is found, tract otherwise). Loading a [`Detector`] resolves it, so
    /// [`Detector::config`] names the engine in use.
    pub backend: Backend,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // 100 MP covers every camera sold today while refusing decompression bombs that
            // would need gigabytes of RAM.
            decode: DecodeParams {
                max_pixels: 100_000_000,
            },
            // 32 frames spread over the video: the usual evaluation protocol.
            video: VideoParams {
                sampling: Sampling::Uniform(32),
                time_limit: Duration::from_secs(600),
                seek_above_s: 60.0,
            },
            detect: DetectParams::default(),
            min_face: 32.0,
            threshold: None,
            max_file_size: 2 << 30,
            batch_size: 1,
            backend: Backend::Auto,
        }
    }
}

/// Why a detected face was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Shorter box side below `--min-face` pixels: too few pixels for a verdict.
    FaceTooSmall,
}

/// A face with its classifier output, or the reason it was not scored.
#[derive(Debug, Clone)]
pub struct ScoredFace {
    /// The detected face.
    pub face: Face,
    /// Fake score 0..1 (sigmoid of the logit; for a face of a still image large enough for the
    /// crop policy's inner view, of the mean of both views' logits), if scored.
    pub score: Option<f32>,
    /// Why it was not scored.
    pub skipped: Option<SkipReason>,
    /// The aligned crop that was scored, kept only by [`Detector::score_image_with_crops`]
    /// (for heatmaps).
    pub crop: Option<FaceCrop>,
    /// The classifier's full output (with the boundary map), kept alongside `crop`.
    pub output: Option<ClassifierOutput>,
}

/// What a scored image is, which decides the views its faces are scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A still image: a face large enough for the crop policy's inner view is scored on both views
    /// ([`Detector::crop_inner`]).
    Still,
    /// A frame of a video or of a folder of frames: every face is scored on its crop alone. On
    /// video-compressed faces the inner view showed no gain and raised real faces' scores
    /// (training/README.md, "Session 25").
    VideoFrame,
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

/// The whole pipeline, built once and shared across threads (it is `Send + Sync`).
///
/// ```no_run
/// let detector = facetell::Detector::from_manifest(
///     "models/manifest.toml",
///     facetell::Config::default(),
/// )?;
/// let image = detector.decode(&std::fs::read("photo.jpg").unwrap())?;
/// let faces = detector.detect_faces(&image)?;
/// let verdict = detector.score_faces(&image, faces, facetell::Media::Still)?;
/// println!("{} faces, {:?} {:?}", verdict.faces.len(), verdict.label, verdict.score);
/// # Ok::<(), facetell::Error>(())
/// ```
pub struct Detector {
    faces: Box<dyn FaceDetector>,
    classifier: Option<Box<dyn FaceClassifier>>,
    crop: CropPolicy,
    /// The crop policy's inner view as a policy of its own.
    inner: Option<CropPolicy>,
    norm: Normalization,
    threshold: f32,
    model_name: String,
    config: Config,
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
    /// Loads the face detector and classifier named in a manifest, checking their sha256. The two
    /// networks load side by side, each read, checked and optimised on its own thread.
    pub fn from_manifest(manifest: impl AsRef<Path>, mut config: Config) -> Result<Detector> {
        let manifest = Manifest::load(manifest)?;
        let entry = manifest.classifier.as_ref().ok_or_else(|| Error::Model {
            path: manifest.root.join("manifest.toml"),
            reason: "the manifest names no classifier; train and export one (training/README.md)"
                .into(),
        })?;
        config.backend = config.backend.resolve();
        // A scoped thread rather than rayon, so that loading leaves the caller's choice of
        // rayon's global pool open.
        let (faces, classifier) = std::thread::scope(|s| {
            let classifier =
                s.spawn(|| OnnxClassifier::from_manifest(&manifest, entry, config.backend));
            let faces = CenterFace::from_manifest(&manifest, config.detect.clone(), config.backend);
            let classifier = classifier
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (faces, classifier)
        });
        let mut detector = Self::with_face_detector(&manifest, faces?, config);
        detector.classifier = Some(Box::new(classifier?));
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
    pub fn face_stages_from_manifest(manifest: &Manifest, mut config: Config) -> Result<Detector> {
        config.backend = config.backend.resolve();
        let faces = CenterFace::from_manifest(manifest, config.detect.clone(), config.backend)?;
        Ok(Self::with_face_detector(manifest, faces, config))
    }

    /// A detector with `faces` and the manifest's crop policy, and no classifier yet.
    fn with_face_detector(manifest: &Manifest, faces: CenterFace, config: Config) -> Detector {
        Detector {
            faces: Box::new(faces),
            classifier: None,
            crop: manifest.crop.clone(),
            inner: manifest.crop.inner_policy(),
            norm: Normalization {
                mean: [0.0; 3],
                std: [1.0; 3],
            },
            threshold: config.threshold.unwrap_or(0.5),
            model_name: String::new(),
            config,
        }
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
            inner: crop.inner_policy(),
            crop,
            norm,
            threshold: config.threshold.unwrap_or(threshold),
            model_name: "custom".into(),
            config,
        }
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

    /// The crop policy's inner view as a policy of its own, if it has one.
    pub fn inner_policy(&self) -> Option<&CropPolicy> {
        self.inner.as_ref()
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

    /// Stage 3, second view: the face cut by the crop policy's inner view, where the policy has
    /// one and the face is large enough that the view does not enlarge it (see
    /// [`InnerView`](crate::manifest::InnerView)); `None` otherwise.
    pub fn crop_inner(&self, image: &RgbImage, face: &Face) -> Option<FaceCrop> {
        let policy = self.inner.as_ref()?;
        let transform = crop_transform(face, policy);
        (transform_scale(&transform) <= 1.0)
            .then(|| align_with(image, face, policy.size, transform))
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

    /// Stages 3-5 for faces already found in an image of kind `media`: crop and classify those
    /// large enough, aggregate.
    pub fn score_faces(
        &self,
        image: &RgbImage,
        faces: Vec<Face>,
        media: Media,
    ) -> Result<ImageVerdict> {
        self.score(image, faces, media, false)
    }

    /// Detects, crops, classifies and aggregates one decoded still image.
    pub fn score_image(&self, image: &RgbImage) -> Result<ImageVerdict> {
        self.score(image, self.detect_faces(image)?, Media::Still, false)
    }

    /// [`Detector::score_image`] for a frame of a video: every face on its crop alone
    /// ([`Media::VideoFrame`]).
    pub fn score_frame(&self, image: &RgbImage) -> Result<ImageVerdict> {
        self.score(image, self.detect_faces(image)?, Media::VideoFrame, false)
    }

    /// [`Detector::score_image`], keeping each scored face's crop and classifier output (with
    /// its boundary map) in the verdict, for heatmaps.
    pub fn score_image_with_crops(&self, image: &RgbImage) -> Result<ImageVerdict> {
        self.score_faces_with_crops(image, self.detect_faces(image)?, Media::Still)
    }

    /// [`Detector::score_faces`], keeping crops and classifier outputs as
    /// [`Detector::score_image_with_crops`] does (a video frame seen again
    /// for its heatmap: its faces are known, only their crops are missing).
    pub fn score_faces_with_crops(
        &self,
        image: &RgbImage,
        faces: Vec<Face>,
        media: Media,
    ) -> Result<ImageVerdict> {
        self.score(image, faces, media, true)
    }

    fn score(
        &self,
        image: &RgbImage,
        faces: Vec<Face>,
        media: Media,
        keep_crops: bool,
    ) -> Result<ImageVerdict> {
        let mut scored: Vec<ScoredFace> = Vec::with_capacity(faces.len());
        let mut crops = Vec::new();
        // (index in `crops`, inner view) of the faces of a still image large enough for one.
        let mut inner = Vec::new();
        for face in faces {
            let too_small = face.size() < self.config.min_face;
            if !too_small {
                let view = match media {
                    Media::Still => self.crop_inner(image, &face),
                    Media::VideoFrame => None,
                };
                if let Some(view) = view {
                    inner.push((crops.len(), view));
                }
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
        // Crops and inner views in one pass of the classifier, the views' outputs last.
        let images: Vec<&RgbImage> = crops
            .iter()
            .map(|c| &c.image)
            .chain(inner.iter().map(|(_, view)| &view.image))
            .collect();
        let mut outputs = self.classify_crops(&images)?;
        let views = outputs.split_off(crops.len().min(outputs.len()));
        for ((i, _), view) in inner.iter().zip(views) {
            if let Some(output) = outputs.get_mut(*i) {
                output.logit = 0.5 * (output.logit + view.logit);
            }
        }
        let mut results = outputs.into_iter().zip(crops);
        for face in scored.iter_mut().filter(|f| f.skipped.is_none()) {
            if let Some((output, crop)) = results.next() {
                face.score = Some(sigmoid(output.logit));
                if keep_crops {
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
}
