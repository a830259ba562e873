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

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use crate::aggregate::{self, Label};
use crate::engine::{Config, Detector, ImageVerdict};
use crate::error::{Error, Result};
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

    fn new(path: String, kind: Kind, result: Result<Scored>) -> Verdict {
        Verdict {
            path,
            kind,
            result,
            warnings: Vec::new(),
            threshold: f32::NAN,
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

/// Scores inputs of every kind with one [`Detector`]; `Send + Sync`, built once and shared.
#[derive(Debug, Clone)]
pub struct Scanner {
    detector: Arc<Detector>,
    sampling: Sampling,
}

impl Scanner {
    /// Wraps a detector; video sampling and limits come from its [`Config`].
    pub fn new(detector: Detector) -> Scanner {
        let sampling = detector.config().video.sampling;
        Scanner {
            detector: Arc::new(detector),
            sampling,
        }
    }

    /// The same scanner (sharing its models) sampling videos differently, e.g. per request.
    pub fn with_sampling(&self, sampling: Sampling) -> Scanner {
        Scanner {
            detector: Arc::clone(&self.detector),
            sampling,
        }
    }

    /// Loads the models named in a manifest (see [`Detector::from_manifest`]).
    pub fn from_manifest(manifest: impl AsRef<Path>, config: Config) -> Result<Scanner> {
        Detector::from_manifest(manifest, config).map(Scanner::new)
    }

    /// The detector behind this scanner, with every stage as a method.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    fn config(&self) -> &Config {
        self.detector.config()
    }

    /// Scores a file: an image or a video, told apart by its bytes (and, for videos, its name).
    pub fn scan_path(&self, path: &Path) -> Verdict {
        let name = path.to_string_lossy().into_owned();
        let kind = match inputs::sniff(path) {
            InputKind::Video => Kind::Video,
            _ => Kind::Image,
        };
        self.guarded(name, kind, || {
            let limit = self.config().max_file_size;
            Ok(match kind {
                Kind::Video => {
                    check_video_file(path, limit)?;
                    self.scan_video(path)
                }
                _ => {
                    let image = self.detector.decode(&read_input(path, limit)?)?;
                    (
                        Ok(Scored::Image(self.detector.score_image(&image)?)),
                        vec![],
                    )
                }
            })
        })
    }

    /// Scores an encoded image or video held in memory. `name` (a file name, if known) is used
    /// for the verdict and to recognise videos whose first bytes do not say; a video is written
    /// to a private temporary folder for FFmpeg, removed before this returns, even on error.
    pub fn scan_bytes(&self, bytes: &[u8], name: Option<&str>) -> Verdict {
        let display = name.unwrap_or("-").to_string();
        let kind = match inputs::kind_of(bytes, name.map(Path::new)) {
            InputKind::Video => Kind::Video,
            _ => Kind::Image,
        };
        self.guarded(display, kind, || {
            let limit = self.config().max_file_size;
            if bytes.len() as u64 > limit {
                return Err(Error::FileTooLarge {
                    size: bytes.len() as u64,
                    limit,
                });
            }
            Ok(match kind {
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
                    std::fs::File::create(&path)
                        .and_then(|mut f| f.write_all(bytes))
                        .map_err(|e| temp_error(&e))?;
                    self.scan_video(&path)
                }
                _ => {
                    let image = self.detector.decode(bytes)?;
                    (
                        Ok(Scored::Image(self.detector.score_image(&image)?)),
                        vec![],
                    )
                }
            })
        })
    }

    /// Scores a folder of frames (images, natural sort order of their names) as one video at a
    /// nominal [`SEQUENCE_FPS`]. Unreadable frames are skipped with a warning.
    pub fn scan_frames(&self, dir: &Path) -> Verdict {
        let display = dir.to_string_lossy().into_owned();
        self.guarded(display, Kind::Frames, || {
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
            for index in sample_indices(files.len(), self.sampling) {
                let file = &files[index];
                let scored = read_input(file, self.config().max_file_size).and_then(|bytes| {
                    let image = self.detector.decode(&bytes)?;
                    self.detector.score_image(&image)
                });
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
            Ok((
                Ok(Scored::Video(self.video_verdict(frames, duration_s))),
                warnings,
            ))
        })
    }

    /// Runs one input's scoring under the detector's threshold; an error or a panic inside
    /// becomes the verdict's error.
    fn guarded(
        &self,
        path: String,
        kind: Kind,
        run: impl FnOnce() -> Result<(Result<Scored>, Vec<String>)>,
    ) -> Verdict {
        Verdict {
            threshold: self.detector.threshold(),
            ..guarded(path, kind, run)
        }
    }

    /// Decodes the sampled frames of a video and scores them in parallel, a batch of one frame
    /// per worker thread at a time, so memory stays at a few frames whatever the video's length.
    fn scan_video(&self, path: &Path) -> (Result<Scored>, Vec<String>) {
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
                        verdict: self.detector.score_image(&frame.image)?,
                    })
                })
                .collect();
            pending.clear();
            for frame in scored {
                frames.push(frame?);
            }
            Ok(())
        };
        let config = self.config();
        let params = VideoParams {
            sampling: self.sampling,
            ..config.video.clone()
        };
        let result = video::decode_frames(path, &params, config.decode.max_pixels, |frame| {
            pending.push(frame);
            if pending.len() >= batch {
                flush(&mut pending)?;
            }
            Ok(())
        })
        .and_then(|done| flush(&mut pending).map(|()| done));
        match result {
            Ok((info, warnings)) => (
                Ok(Scored::Video(self.video_verdict(frames, info.duration_s))),
                warnings,
            ),
            Err(e) => (Err(e), Vec::new()),
        }
    }

    fn video_verdict(&self, frames: Vec<FrameVerdict>, duration_s: f64) -> VideoVerdict {
        let faces: Vec<&[crate::engine::ScoredFace]> =
            frames.iter().map(|f| f.verdict.faces.as_slice()).collect();
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

/// Reads an input file whole, after checking that it is a file and not over `max_file_size`
/// bytes (so an oversized file is refused without being read).
pub fn read_input(path: &Path, max_file_size: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
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
    std::fs::read(path).map_err(io)
}

/// Checks a video file's size without reading it (FFmpeg reads it).
fn check_video_file(path: &Path, max_file_size: u64) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    if meta.len() > max_file_size {
        return Err(Error::FileTooLarge {
            size: meta.len(),
            limit: max_file_size,
        });
    }
    Ok(())
}

fn temp_error(e: &std::io::Error) -> Error {
    Error::Video {
        reason: format!(
            "cannot write the upload to a temporary file for FFmpeg ({e}); check TMPDIR's space"
        ),
    }
}

/// Runs one input's scoring; an error or a panic inside becomes the verdict's error.
fn guarded(
    path: String,
    kind: Kind,
    run: impl FnOnce() -> Result<(Result<Scored>, Vec<String>)>,
) -> Verdict {
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
    match outcome {
        Ok((result, warnings)) => Verdict {
            warnings,
            ..Verdict::new(path, kind, result)
        },
        Err(e) => Verdict::new(path, kind, Err(e)),
    }
}
