//! The scanning core: one input (a file, a folder of frames, or bytes with an optional name) to
//! one typed [`Verdict`]. Whether an input is an image or a video is decided here and only here;
//! the CLI's `scan` and `eval`, the examples and the server all go through a [`Scanner`].
//!
//! A [`Scanner`] never fails as a whole: every problem with an input (unreadable, not media,
//! corrupt, too large, a panic inside a decoder) becomes that input's [`Verdict`] with an error,
//! so a batch always goes on and every input is accounted for.
//!
//! ```no_run
//! use facetell::{Config, Scanner};
//!
//! let scanner = Scanner::from_manifest("models/manifest.toml", Config::default())?;
//! let verdict = scanner.scan_path("photo.jpg".as_ref());
//! println!("{}: {} {:?}", verdict.path, verdict.label().as_str(), verdict.score());
//! let record = facetell::FileReport::from(&verdict); // the JSON record of `facetell scan`
//! # Ok::<(), facetell::Error>(())
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use rayon::prelude::*;
use serde::Serialize;

use crate::aggregate::{self, Label};
use crate::engine::{Config, Detector, ImageVerdict, Media, ScoredFace};
use crate::error::{Error, Result};
use crate::heatmap::{self, Heatmap};
use crate::inputs::{self, InputKind};
use crate::track::{self, Track};
use crate::video::{self, Sampling, VideoFrame, VideoParams};

/// What kind of input a verdict describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A still image.
    Image,
    /// A video file.
    Video,
    /// A folder of frames scanned as one sequence.
    Frames,
}

impl Kind {
    /// The kind of a file facetell was given: a video, else an image (what is neither fails as
    /// an image, with the decoder's message).
    fn of(input: InputKind) -> Kind {
        match input {
            InputKind::Video => Kind::Video,
            InputKind::Image | InputKind::Unknown => Kind::Image,
        }
    }
}

/// The verdict on one input: what it was and what came of it.
#[derive(Debug)]
pub struct Verdict {
    /// The input's name: its path as given or found (lossy UTF-8), or the name passed with bytes.
    pub path: String,
    /// Image, video or frame sequence.
    pub kind: Kind,
    /// The scores, or why the input could not be scored.
    pub result: Result<Scored>,
    /// Non-fatal problems (a truncated video whose decodable part was scored, skipped frames).
    pub warnings: Vec<String>,
    /// The decision threshold the label was given under.
    pub threshold: f32,
    /// Heatmaps, rendered only by a scanner [`with_heatmaps`](Scanner::with_heatmaps): an
    /// image's overview and face maps, or the frames of a video's highest-scoring track.
    pub heatmaps: Vec<Heatmap>,
}

/// What scoring an input produced.
#[derive(Debug)]
pub enum Scored {
    /// An image: its faces and their scores.
    Image(ImageVerdict),
    /// A video or frame folder: sampled frames and the people tracked across them.
    Video(VideoVerdict),
}

/// The verdict on a video or a folder of frames.
#[derive(Debug)]
pub struct VideoVerdict {
    /// The sampled frames, in time order.
    pub frames: Vec<FrameVerdict>,
    /// Faces linked across the sampled frames.
    pub tracks: Vec<Track>,
    /// Duration of the video (or sequence, at [`SEQUENCE_FPS`]) in seconds.
    pub duration_s: f64,
    /// Mean of the frame scores over frames with a scored face.
    pub score: Option<f32>,
    /// Label under the threshold.
    pub label: Label,
}

/// One sampled frame of a video.
#[derive(Debug)]
pub struct FrameVerdict {
    /// Frame number in decode order (or file index in a sequence).
    pub index: u64,
    /// Presentation time in seconds.
    pub time_s: f64,
    /// The frame's faces and score.
    pub verdict: ImageVerdict,
}

impl Verdict {
    /// The label: the scored label, or [`Label::Error`].
    pub fn label(&self) -> Label {
        match &self.result {
            Ok(Scored::Image(v)) => v.label,
            Ok(Scored::Video(v)) => v.label,
            Err(_) => Label::Error,
        }
    }

    /// The file score 0..1 (image: max over faces; video: mean over frames), if any.
    pub fn score(&self) -> Option<f32> {
        match &self.result {
            Ok(Scored::Image(v)) => v.score,
            Ok(Scored::Video(v)) => v.score,
            Err(_) => None,
        }
    }

    /// The error, when the input could not be scored.
    pub fn error(&self) -> Option<&Error> {
        self.result.as_ref().err()
    }

    /// The same verdict labelled under another threshold (from the unrounded scores), for
    /// callers that let each request choose its own.
    pub fn with_threshold(mut self, threshold: f32) -> Verdict {
        self.threshold = threshold;
        match &mut self.result {
            Ok(Scored::Image(v)) => v.label = aggregate::label_for(v.score, threshold),
            Ok(Scored::Video(v)) => {
                v.label = aggregate::label_for(v.score, threshold);
                for frame in &mut v.frames {
                    frame.verdict.label = aggregate::label_for(frame.verdict.score, threshold);
                }
            }
            Err(_) => {}
        }
        self
    }
}

/// What scoring one input gave, before it becomes a [`Verdict`].
struct Outcome {
    scored: Scored,
    warnings: Vec<String>,
    heatmaps: Vec<Heatmap>,
}

impl Outcome {
    fn new(scored: Scored, warnings: Vec<String>) -> Outcome {
        Outcome {
            scored,
            warnings,
            heatmaps: Vec::new(),
        }
    }
}

/// The most frames of a video's top track that get heatmaps.
pub const HEATMAP_FRAMES: usize = 3;

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

/// Scores inputs of every kind with one [`Detector`]; `Send + Sync`, built once and shared.
/// Cloning is cheap (the models are shared), so a per-request variant is a clone with options.
#[derive(Debug, Clone)]
pub struct Scanner {
    detector: Arc<Detector>,
    sampling: Sampling,
    heatmaps: bool,
    threshold: Option<f32>,
}

impl Scanner {
    /// Wraps a detector; video sampling and limits come from its [`Config`].
    pub fn new(detector: Detector) -> Scanner {
        Scanner {
            sampling: detector.config().video.sampling,
            detector: Arc::new(detector),
            heatmaps: false,
            threshold: None,
        }
    }

    /// This scanner sampling videos differently.
    pub fn with_sampling(mut self, sampling: Sampling) -> Scanner {
        self.sampling = sampling;
        self
    }

    /// This scanner rendering [`Verdict::heatmaps`]: for an image, its overview and a map per
    /// scored face (the verdict's faces keep their crops and boundary maps); for a video or a
    /// frame folder, up to [`HEATMAP_FRAMES`] frames of its highest-scoring track, decoded and
    /// scored again after the scan (sampled frames are never all kept).
    pub fn with_heatmaps(mut self, heatmaps: bool) -> Scanner {
        self.heatmaps = heatmaps;
        self
    }

    /// This scanner labelling under `threshold` instead of the model's (`None`: the model's).
    pub fn with_threshold(mut self, threshold: Option<f32>) -> Scanner {
        self.threshold = threshold;
        self
    }

    /// The threshold verdicts are labelled under.
    pub fn threshold(&self) -> f32 {
        self.threshold.unwrap_or_else(|| self.detector.threshold())
    }

    /// Loads the models named in a manifest (see [`Detector::from_manifest`]).
    pub fn from_manifest(manifest: impl AsRef<Path>, config: Config) -> Result<Scanner> {
        Detector::from_manifest(manifest, config).map(Scanner::new)
    }

    /// The detector behind this scanner, with every stage as a method.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    fn max_file_size(&self) -> u64 {
        self.detector.config().max_file_size
    }

    /// Scores a file: an image or a video, told apart by its bytes (and, for videos, its name).
    pub fn scan_path(&self, path: &Path) -> Verdict {
        let kind = Kind::of(inputs::sniff(path));
        self.guarded(path.to_string_lossy().into_owned(), kind, || {
            let size = file_size(path, self.max_file_size())?;
            match kind {
                Kind::Video => self.scan_video(path),
                _ => self.scan_image(&read(path, size)?),
            }
        })
    }

    /// Scores an encoded image or video held in memory. `name` (a file name, if known) is used
    /// for the verdict and to recognise videos whose first bytes do not say; a video is written
    /// to a private temporary folder for FFmpeg, removed before this returns, even on error.
    pub fn scan_bytes(&self, bytes: &[u8], name: Option<&str>) -> Verdict {
        let kind = Kind::of(inputs::kind_of(bytes, name.map(Path::new)));
        self.guarded(name.unwrap_or("-").to_string(), kind, || {
            let limit = self.max_file_size();
            if bytes.len() as u64 > limit {
                return Err(Error::FileTooLarge {
                    size: bytes.len() as u64,
                    limit,
                });
            }
            match kind {
                Kind::Video => {
                    let dir = tempfile::Builder::new()
                        .prefix("facetell-")
                        .tempdir()
                        .map_err(|e| temp_error(&e))?;
                    let ext = name
                        .and_then(|n| Path::new(n).extension())
                        .and_then(|e| e.to_str())
                        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
                        .unwrap_or("bin");
                    let path = dir.path().join(format!("upload.{ext}"));
                    std::fs::write(&path, bytes).map_err(|e| temp_error(&e))?;
                    self.scan_video(&path)
                }
                _ => self.scan_image(bytes),
            }
        })
    }

    /// Scores a folder of frames (images, natural sort order of their names) as one video at a
    /// nominal [`SEQUENCE_FPS`]. Unreadable frames are skipped with a warning.
    pub fn scan_frames(&self, dir: &Path) -> Verdict {
        self.guarded(dir.to_string_lossy().into_owned(), Kind::Frames, || {
            let frame_error = |reason: String| Error::Frames { reason };
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| frame_error(format!("cannot read the folder: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && inputs::sniff(p) == InputKind::Image)
                .collect();
            files.sort_by(|a, b| natord::compare(&a.to_string_lossy(), &b.to_string_lossy()));
            if files.is_empty() {
                return Err(frame_error("the folder holds no images".into()));
            }
            let mut frames = Vec::new();
            let mut warnings = Vec::new();
            let load = |index: u64| -> Result<RgbImage> {
                let file = &files[index as usize];
                file_size(file, self.max_file_size())
                    .and_then(|size| self.detector.decode(&read(file, size)?))
            };
            for index in sample_indices(files.len(), self.sampling) {
                let file = &files[index];
                let scored = load(index as u64).and_then(|image| self.detector.score_frame(&image));
                match scored {
                    Ok(verdict) => frames.push(FrameVerdict {
                        index: index as u64,
                        time_s: index as f64 / SEQUENCE_FPS,
                        verdict,
                    }),
                    Err(e) => warnings.push(format!("{}: {}", file.display(), e.without_path())),
                }
            }
            if frames.is_empty() {
                return Err(frame_error(format!(
                    "no frame could be scored ({})",
                    warnings.join("; ")
                )));
            }
            let duration_s = files.len() as f64 / SEQUENCE_FPS;
            let verdict = self.video_verdict(frames, duration_s);
            Ok(self.video_outcome(verdict, warnings, |frames| {
                (frames.iter())
                    .map(|f| Ok((f.time_s, load(f.index)?)))
                    .collect()
            }))
        })
    }

    /// Runs one input's scoring, labelled under [`Scanner::threshold`]; an error or a panic
    /// inside becomes the verdict's error.
    fn guarded(&self, path: String, kind: Kind, run: impl FnOnce() -> Result<Outcome>) -> Verdict {
        let outcome = catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            Err(Error::Internal {
                what: what.to_string(),
            })
        });
        let (result, warnings, heatmaps) = match outcome {
            Ok(o) => (Ok(o.scored), o.warnings, o.heatmaps),
            Err(e) => (Err(e), Vec::new(), Vec::new()),
        };
        let verdict = Verdict {
            path,
            kind,
            result,
            warnings,
            threshold: self.detector.threshold(),
            heatmaps,
        };
        verdict.with_threshold(self.threshold())
    }

    /// Decodes and scores an encoded image, with its heatmaps when asked for.
    fn scan_image(&self, bytes: &[u8]) -> Result<Outcome> {
        let image = self.detector.decode(bytes)?;
        if !self.heatmaps {
            let verdict = self.detector.score_image(&image)?;
            return Ok(Outcome::new(Scored::Image(verdict), Vec::new()));
        }
        let verdict = self.detector.score_image_with_crops(&image)?;
        let heatmaps = heatmap::for_image(&image, &verdict, self.threshold());
        Ok(Outcome {
            heatmaps,
            ..Outcome::new(Scored::Image(verdict), Vec::new())
        })
    }

    /// Decodes the sampled frames of a video and scores them in parallel, a batch of one frame
    /// per worker thread at a time, so memory stays at a few frames whatever the video's length.
    fn scan_video(&self, path: &Path) -> Result<Outcome> {
        let batch = rayon::current_num_threads().max(1);
        let mut pending: Vec<VideoFrame> = Vec::with_capacity(batch);
        let mut frames = Vec::new();
        let mut flush = |pending: &mut Vec<VideoFrame>| -> Result<()> {
            let scored: Vec<Result<FrameVerdict>> = pending
                .par_iter()
                .map(|frame| {
                    Ok(FrameVerdict {
                        index: frame.index,
                        time_s: frame.time_s,
                        verdict: self.detector.score_frame(&frame.image)?,
                    })
                })
                .collect();
            pending.clear();
            for frame in scored {
                frames.push(frame?);
            }
            Ok(())
        };
        let config = self.detector.config();
        let params = VideoParams {
            sampling: self.sampling,
            ..config.video.clone()
        };
        let (info, warnings) =
            video::decode_frames(path, &params, config.decode.max_pixels, |frame| {
                pending.push(frame);
                if pending.len() >= batch {
                    flush(&mut pending)?;
                }
                Ok(())
            })?;
        flush(&mut pending)?;
        let verdict = self.video_verdict(frames, info.duration_s);
        Ok(self.video_outcome(verdict, warnings, |frames| {
            let times: Vec<f64> = frames.iter().map(|f| f.time_s).collect();
            let again = video::decode_frames_at(path, &times, &params, config.decode.max_pixels)?;
            Ok(again.into_iter().map(|f| (f.time_s, f.image)).collect())
        }))
    }

    /// A video's outcome, with the heatmaps of its first track in
    /// [`track::display_order`] when asked for: up to [`HEATMAP_FRAMES`] of its frames with the
    /// highest face scores, fetched again with `load` (the time and image of each frame it is
    /// given that it could fetch), their known faces cropped and classified again. A frame that
    /// cannot be fetched is a warning.
    fn video_outcome(
        &self,
        verdict: VideoVerdict,
        mut warnings: Vec<String>,
        load: impl Fn(&[&FrameVerdict]) -> Result<Vec<(f64, RgbImage)>>,
    ) -> Outcome {
        let heatmaps = if self.heatmaps {
            self.track_heatmaps(&verdict, &mut warnings, load)
        } else {
            Vec::new()
        };
        Outcome {
            heatmaps,
            ..Outcome::new(Scored::Video(verdict), warnings)
        }
    }

    fn track_heatmaps(
        &self,
        verdict: &VideoVerdict,
        warnings: &mut Vec<String>,
        load: impl Fn(&[&FrameVerdict]) -> Result<Vec<(f64, RgbImage)>>,
    ) -> Vec<Heatmap> {
        let sampled = verdict.frames.len();
        let Some((number, track, track_score)) = (verdict.tracks.iter().enumerate())
            .filter_map(|(i, t)| Some((i, t, t.score?)))
            .min_by(|a, b| {
                track::display_order((a.1.members.len(), a.2), (b.1.members.len(), b.2), sampled)
            })
        else {
            return Vec::new();
        };
        // The track's best-scoring faces, in time order.
        let mut members: Vec<(f32, (usize, usize))> = (track.members.iter())
            .filter_map(|&(f, i)| Some((verdict.frames[f].verdict.faces[i].score?, (f, i))))
            .collect();
        members.sort_by(|a, b| b.0.total_cmp(&a.0));
        members.truncate(HEATMAP_FRAMES);
        members.sort_by_key(|&(_, member)| member);
        let wanted: Vec<&FrameVerdict> =
            members.iter().map(|(_, m)| &verdict.frames[m.0]).collect();
        let images = load(&wanted).unwrap_or_else(|e| {
            warnings.push(format!("heatmaps not made: {}", e.without_path()));
            Vec::new()
        });
        let caption = |face: usize| {
            format!(
                "face {face}, track {number} (track score {track_score:.3}, sampled frames: {})",
                track.members.len()
            )
        };
        let mut heatmaps = Vec::new();
        for ((_, (_, face)), frame) in members.into_iter().zip(wanted) {
            let faces = frame.verdict.faces.iter().map(|f| f.face.clone()).collect();
            let again = (images.iter())
                .find(|(t, _)| (t - frame.time_s).abs() < 1e-3)
                .ok_or_else(|| "the frame could not be decoded again".to_string())
                .and_then(|(_, image)| {
                    let scored = self
                        .detector
                        .score_faces_with_crops(image, faces, Media::VideoFrame)
                        .map_err(|e| e.without_path())?;
                    Ok((image, scored))
                });
            match again {
                Ok((image, scored)) => heatmaps.extend(heatmap::for_frame(
                    image,
                    &scored,
                    self.threshold(),
                    face,
                    frame.time_s,
                    &caption(face),
                )),
                Err(why) => warnings.push(format!(
                    "heatmap of the frame at {:.2} s not made: {why}",
                    frame.time_s
                )),
            }
        }
        heatmaps
    }

    fn video_verdict(&self, frames: Vec<FrameVerdict>, duration_s: f64) -> VideoVerdict {
        let faces: Vec<&[ScoredFace]> = frames.iter().map(|f| f.verdict.faces.as_slice()).collect();
        let tracks = track::link_tracks(&faces);
        let score = aggregate::mean_score(frames.iter().map(|f| f.verdict.score));
        VideoVerdict {
            frames,
            tracks,
            duration_s,
            score,
            label: aggregate::label_for(score, self.detector.threshold()),
        }
    }
}

/// The size of an input file, after checking that it is a file and not over `max_file_size`
/// bytes (so an oversized file is refused without being read).
pub fn file_size(path: &Path, max_file_size: u64) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    if meta.is_dir() {
        return Err(Error::UnsupportedFormat {
            detail: "it is a folder (scan its files, or pass it with --sequence to score its \
                     images as the frames of one video)"
                .into(),
        });
    }
    if meta.len() > max_file_size {
        return Err(Error::FileTooLarge {
            size: meta.len(),
            limit: max_file_size,
        });
    }
    Ok(meta.len())
}

/// Reads an input file whole, after [`file_size`]'s checks.
pub fn read_input(path: &Path, max_file_size: u64) -> Result<Vec<u8>> {
    read(path, file_size(path, max_file_size)?)
}

fn read(path: &Path, size: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut bytes))
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

fn temp_error(e: &std::io::Error) -> Error {
    Error::Video {
        reason: format!(
            "cannot write the upload to a temporary file for FFmpeg ({e}); check TMPDIR's space"
        ),
    }
}
