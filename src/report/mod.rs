//! Report stage: verdicts become per-file records here (and only here: `From<&Verdict>`), and
//! the writers put records out in each format. Scores are rounded when records are made.
//!
//! # JSON Lines format
//!
//! `--format jsonl` (the default when stdout is not a terminal) writes one JSON object per input
//! file, in the order files finish (here a scan with `--threshold 0.9`):
//!
//! ```json
//! {"path": "a.jpg", "kind": "image", "label": "fake", "score": 0.99, "threshold": 0.9,
//!  "faces": [{"box": [x, y, w, h], "landmarks": [[x, y], ...5], "detection": 0.99,
//!             "score": 0.99, "reason": null}],
//!  "error": null}
//! ```
//!
//! - `kind`: `"image"`, `"video"`, or `"frames"` (a folder scanned with `--sequence`).
//! - `label`: `"fake"` (score >= threshold), `"real"`, `"no_face"` (nothing scorable; `score` is
//!   null) or `"error"` (`error` holds the message, `score` is null).
//! - `score`: 0..1, the probability-like output of the classifier (for faces of still images large
//!   enough for the manifest's inner view, of both views' logits averaged); image score is the max
//!   over its faces, video score the mean over frames with faces.
//! - `threshold`: the score at or above which the file is labelled fake (the model's default
//!   or `--threshold`); null for errors.
//! - `faces[].box` and `landmarks` are in pixels of the upright image; landmarks are left eye,
//!   right eye, nose, left and right mouth corner as seen in the image. `detection` is the face
//!   detector's confidence. A face that was not scored has `score: null` and a `reason`
//!   (`"face_too_small"`).
//! - Videos and frame folders add `frames_sampled`, `duration_s`, `frames` (each with `index`,
//!   `time_s`, `score`, `faces`) and `tracks`, one per person followed across the sampled frames
//!   (each with `id`, `frames`: indices into `frames`, `score`: the mean over its faces, and
//!   `start_s`/`end_s`: the times of its first and last sampled frame); images have an empty
//!   `faces` list when no face was found.
//! - `warnings` (present only when non-empty) lists non-fatal problems, such as a truncated video
//!   whose decodable part was scored.
//! - `heatmaps` (present only with `--heatmap DIR`) lists the files written for this input: for
//!   an image `..._overview.png` (the picture with boxes, scores and the boundary maps) and
//!   `..._faceN.png` per scored face; for a video `..._tT.TTs.png` and `..._tT.TTs_faceN.png`
//!   for up to three frames of its highest-scoring track.

mod text;

use std::io::{self, Write};

use serde::Serialize;
use text::TextWriter;
pub use text::{TextStyle, plural};

use crate::aggregate::Label;
use crate::detect::Face;
pub use crate::engine::SkipReason;
use crate::engine::{ImageVerdict, ScoredFace};
pub use crate::scan::Kind;
use crate::scan::{FrameVerdict, Scored, Verdict, VideoVerdict};
use crate::track::Track;

/// One face in a report.
#[derive(Debug, Clone, Serialize)]
pub struct FaceReport {
    /// Left, top, width, height in image pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Five landmarks in image pixels.
    pub landmarks: [[f32; 2]; 5],
    /// Face detector confidence, 0..1.
    pub detection: f32,
    /// Fake score 0..1, or null when the face was not scored.
    pub score: Option<f32>,
    /// Why the face was not scored, when it was not.
    pub reason: Option<SkipReason>,
}

impl FaceReport {
    /// A report for `face` with its score (or the reason it has none).
    pub fn new(face: &Face, score: Option<f32>, reason: Option<SkipReason>) -> FaceReport {
        FaceReport {
            bbox: face.bbox.map(round2),
            landmarks: face.landmarks.map(|p| p.map(round2)),
            detection: round4(face.confidence),
            score: score.map(round4),
            reason,
        }
    }
}

/// One sampled frame of a video or sequence.
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    /// Frame number in decode order (or file index in a sequence).
    pub index: u64,
    /// Presentation time in seconds from the start.
    pub time_s: f64,
    /// Frame score (max over its faces) or null without a scored face.
    pub score: Option<f32>,
    /// The faces of this frame.
    pub faces: Vec<FaceReport>,
}

/// One person followed across sampled frames.
#[derive(Debug, Clone, Serialize)]
pub struct TrackReport {
    /// Track number, 0-based, in order of first appearance.
    pub id: usize,
    /// Indices (into the record's `frames`) of the sampled frames the track appears in.
    pub frames: Vec<usize>,
    /// Mean score of the track's scored faces, or null.
    pub score: Option<f32>,
    /// Time of the track's first sampled frame, in seconds.
    pub start_s: f64,
    /// Time of the track's last sampled frame, in seconds.
    pub end_s: f64,
}

/// Video-only parts of a record.
#[derive(Debug, Clone, Serialize)]
pub struct VideoReport {
    /// How many frames were sampled and decoded.
    pub frames_sampled: usize,
    /// Duration of the video (or sequence, at its nominal rate) in seconds.
    pub duration_s: f64,
    /// The sampled frames.
    pub frames: Vec<FrameReport>,
    /// Faces linked across frames.
    pub tracks: Vec<TrackReport>,
}

/// The record for one input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The input path as given or found (lossy UTF-8).
    pub path: String,
    /// Image, video or frame sequence.
    pub kind: Kind,
    /// The verdict.
    pub label: Label,
    /// File score 0..1, or null for `no_face` and `error`.
    pub score: Option<f32>,
    /// The threshold the label was given under (null for `error`).
    pub threshold: Option<f32>,
    /// Faces of an image (empty for videos: see `frames`).
    pub faces: Vec<FaceReport>,
    /// Video and sequence details.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoReport>,
    /// The error message when `label` is `error`.
    pub error: Option<String>,
    /// Non-fatal problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The heatmap files written for this input (`--heatmap`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heatmaps: Vec<String>,
}

impl FileReport {
    /// Number of faces found (over all frames for a video).
    pub fn face_count(&self) -> usize {
        match &self.video {
            Some(v) => v.frames.iter().map(|f| f.faces.len()).sum(),
            None => self.faces.len(),
        }
    }
}

impl From<&ScoredFace> for FaceReport {
    fn from(face: &ScoredFace) -> FaceReport {
        FaceReport::new(&face.face, face.score, face.skipped)
    }
}

impl From<&FrameVerdict> for FrameReport {
    fn from(frame: &FrameVerdict) -> FrameReport {
        FrameReport {
            index: frame.index,
            time_s: round_ms(frame.time_s),
            score: frame.verdict.score.map(round4),
            faces: face_reports(&frame.verdict),
        }
    }
}

impl TrackReport {
    /// The record of track number `id` of `video`.
    fn new(id: usize, track: &Track, video: &VideoVerdict) -> TrackReport {
        let time = |member: Option<&(usize, usize)>| {
            member.map_or(0.0, |&(f, _)| round_ms(video.frames[f].time_s))
        };
        TrackReport {
            id,
            frames: track.members.iter().map(|&(f, _)| f).collect(),
            score: track.score.map(round4),
            start_s: time(track.members.first()),
            end_s: time(track.members.last()),
        }
    }
}

impl From<&VideoVerdict> for VideoReport {
    fn from(video: &VideoVerdict) -> VideoReport {
        VideoReport {
            frames_sampled: video.frames.len(),
            duration_s: round_ms(video.duration_s),
            frames: video.frames.iter().map(FrameReport::from).collect(),
            tracks: (video.tracks.iter().enumerate())
                .map(|(id, track)| TrackReport::new(id, track, video))
                .collect(),
        }
    }
}

impl From<&Verdict> for FileReport {
    fn from(verdict: &Verdict) -> FileReport {
        let (faces, video, error) = match &verdict.result {
            Ok(Scored::Image(image)) => (face_reports(image), None, None),
            Ok(Scored::Video(video)) => (Vec::new(), Some(VideoReport::from(video)), None),
            Err(e) => (Vec::new(), None, Some(e.without_path())),
        };
        FileReport {
            path: verdict.path.clone(),
            kind: verdict.kind,
            label: verdict.label(),
            score: verdict.score().map(round4),
            threshold: error.is_none().then(|| round4(verdict.threshold)),
            faces,
            video,
            error,
            warnings: verdict.warnings.clone(),
            heatmaps: Vec::new(),
        }
    }
}

fn face_reports(image: &ImageVerdict) -> Vec<FaceReport> {
    image.faces.iter().map(FaceReport::from).collect()
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Rounds a score to 4 decimals for reports (finer digits are noise across CPUs).
fn round4(v: f32) -> f32 {
    (v * 10_000.0).round() / 10_000.0
}

/// Output formats of `facetell scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A human-readable line per file.
    Text,
    /// One JSON array of records.
    Json,
    /// One JSON record per line.
    Jsonl,
    /// path,kind,label,score,faces,error
    Csv,
}

/// Writes records in one output format. Records arrive as files finish.
pub trait ReportWriter {
    /// Writes one record.
    fn write(&mut self, report: &FileReport) -> io::Result<()>;
    /// Closes the output (writes trailers such as `]`).
    fn finish(&mut self) -> io::Result<()>;
}

/// Returns the writer for `format` over `out`; `style` shapes the text format.
pub fn writer_for<'a, W: Write + 'a>(
    format: Format,
    out: W,
    style: TextStyle,
) -> Box<dyn ReportWriter + 'a> {
    match format {
        Format::Text => Box::new(TextWriter::new(out, style)),
        Format::Json => Box::new(JsonWriter { out, count: 0 }),
        Format::Jsonl => Box::new(JsonlWriter { out }),
        Format::Csv => Box::new(CsvWriter {
            out: csv::Writer::from_writer(out),
            header: false,
        }),
    }
}

struct JsonlWriter<W> {
    out: W,
}

impl<W: Write> ReportWriter for JsonlWriter<W> {
    fn write(&mut self, r: &FileReport) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

struct JsonWriter<W> {
    out: W,
    count: usize,
}

impl<W: Write> ReportWriter for JsonWriter<W> {
    fn write(&mut self, r: &FileReport) -> io::Result<()> {
        self.out
            .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.out, r)?;
        self.count += 1;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out
            .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
}

struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    header: bool,
}

impl<W: Write> ReportWriter for CsvWriter<W> {
    fn write(&mut self, r: &FileReport) -> io::Result<()> {
        if !self.header {
            self.out
                .write_record(["path", "kind", "label", "score", "faces", "error"])?;
            self.header = true;
        }
        let kind = match r.kind {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Frames => "frames",
        };
        self.out.write_record([
            r.path.as_str(),
            kind,
            r.label.as_str(),
            &r.score.map_or(String::new(), |s| s.to_string()),
            &r.face_count().to_string(),
            r.error.as_deref().unwrap_or(""),
        ])?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileReport {
        let face = Face {
            bbox: [1.0, 2.0, 30.0, 40.0],
            landmarks: [[5.0, 6.0]; 5],
            confidence: 0.98765,
        };
        FileReport {
            path: "a,b.jpg".into(),
            kind: Kind::Image,
            label: Label::Fake,
            score: Some(0.9),
            threshold: Some(0.85),
            faces: vec![FaceReport::new(&face, Some(0.9), None)],
            video: None,
            error: None,
            warnings: vec![],
            heatmaps: vec![],
        }
    }

    fn render(format: Format, reports: &[FileReport]) -> String {
        let mut buf = Vec::new();
        {
            let mut w = writer_for(format, &mut buf, TextStyle::default());
            for r in reports {
                w.write(r).unwrap();
            }
            w.finish().unwrap();
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn jsonl_has_the_documented_fields() {
        let line = render(Format::Jsonl, &[sample()]);
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["kind"], "image");
        assert_eq!(v["label"], "fake");
        assert_eq!(v["faces"][0]["box"][2], 30.0);
        assert_eq!(v["faces"][0]["detection"], 0.9877);
        assert!(v["error"].is_null());
        assert!(v.get("frames").is_none());
    }

    #[test]
    fn json_is_one_valid_array_even_when_empty() {
        let out = render(Format::Json, &[sample(), sample()]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        let v: serde_json::Value = serde_json::from_str(&render(Format::Json, &[])).unwrap();
        assert!(v.as_array().unwrap().is_empty());
    }

    #[test]
    fn csv_quotes_commas() {
        let out = render(Format::Csv, &[sample()]);
        assert!(
            out.starts_with("path,kind,label,score,faces,error\n\"a,b.jpg\",image,fake,0.9,1,"),
            "{out}"
        );
    }
}
