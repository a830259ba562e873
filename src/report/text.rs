//! The text format, for a person at a terminal: one line per file with the verdict, the score
//! against the threshold, the path and what was found; under it, one indented line per face (an
//! image with several faces, or every image under `verbose`) or per person tracked (a video: the
//! highest-scoring first). Here a scan with `--threshold 0.9`:
//!
//! ```text
//! fake    0.9931 >= 0.9000 crowd.jpg  8 faces, 7 scored
//!     face 3  at 1212,773 101x140  0.9931 fake
//!     face 5  at 40,61 22x27  not scored: smaller than --min-face
//! real    0.4742 < 0.9000  street.mp4  32 frames sampled, 32 with faces, 12 tracks over 19.9 s
//!     track 4  0.9912 fake  3.2-7.9 s, 12 frames
//! ```
//!
//! With `--heatmap`, a last indented line names the first heatmap file written and how many more.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{FaceReport, FileReport, ReportWriter, SkipReason, TrackReport};
use crate::aggregate::{Label, label_for};
use crate::track::{display_order, is_brief};

/// How the text format looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// A line per face for every image (not only those with several faces) and every track of a
    /// video (not only the first few).
    pub verbose: bool,
    /// Colour the labels with ANSI escapes (for a terminal; never under `NO_COLOR`).
    pub color: bool,
}

/// Tracks listed under a video without `verbose`.
const TRACKS_SHOWN: usize = 3;

pub(super) struct TextWriter<W> {
    out: W,
    style: TextStyle,
}

impl<W: Write> TextWriter<W> {
    pub(super) fn new(out: W, style: TextStyle) -> TextWriter<W> {
        TextWriter { out, style }
    }
}

impl<W: Write> ReportWriter for TextWriter<W> {
    fn write(&mut self, r: &FileReport) -> io::Result<()> {
        let text = render(r, self.style);
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// "1 face", "2 faces".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn label_style(label: Label) -> Style {
    let color = match label {
        Label::Fake => AnsiColor::Red,
        Label::Real => AnsiColor::Green,
        Label::NoFace => AnsiColor::Yellow,
        Label::Error => AnsiColor::Magenta,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// The label padded to a column, coloured when asked.
fn label(label: Label, width: usize, style: TextStyle) -> String {
    let text = format!("{:<width$}", label.as_str());
    if style.color {
        let s = label_style(label);
        format!("{s}{text}{s:#}")
    } else {
        text
    }
}

/// "0.968 >= 0.847" or "0.474 < 0.847", or "-" without a score.
fn against(score: Option<f32>, threshold: Option<f32>) -> String {
    match (score, threshold) {
        (Some(s), Some(t)) if s >= t => format!("{s:.4} >= {t:.4}"),
        (Some(s), Some(t)) => format!("{s:.4} < {t:.4}"),
        (Some(s), None) => format!("{s:.4}"),
        (None, _) => "-".into(),
    }
}

fn render(r: &FileReport, style: TextStyle) -> String {
    let summary = match (&r.error, &r.video) {
        (Some(e), _) => format!("error: {e}"),
        (None, Some(v)) => format!(
            "{} sampled, {} with faces, {} over {:.1} s",
            plural(v.frames_sampled, "frame"),
            v.frames.iter().filter(|f| f.score.is_some()).count(),
            plural(v.tracks.len(), "track"),
            v.duration_s
        ),
        (None, None) if r.faces.is_empty() => "no face found".into(),
        (None, None) => {
            let scored = r.faces.iter().filter(|f| f.score.is_some()).count();
            format!("{}, {scored} scored", plural(r.faces.len(), "face"))
        }
    };
    let mut out = format!(
        "{} {:<16} {}  {summary}\n",
        label(r.label, 7, style),
        against(r.score, r.threshold),
        r.path
    );
    let threshold = r.threshold.unwrap_or(f32::INFINITY);
    if r.faces.len() > 1 || (style.verbose && !r.faces.is_empty()) {
        for (i, face) in r.faces.iter().enumerate() {
            out.push_str(&face_line(i, face, threshold, style));
        }
    }
    if let Some(video) = &r.video {
        let brief = |t: &TrackReport| is_brief(t.frames.len(), video.frames_sampled);
        let mut tracks: Vec<_> = (video.tracks.iter())
            .filter_map(|t| Some((t, t.score?)))
            .collect();
        tracks.sort_by(|a, b| {
            display_order(
                (a.0.frames.len(), a.1),
                (b.0.frames.len(), b.1),
                video.frames_sampled,
            )
        });
        let shown = if style.verbose {
            tracks.len()
        } else {
            (tracks.iter().filter(|t| !brief(t.0)).count()).clamp(1, TRACKS_SHOWN)
        };
        for (t, score) in tracks.iter().take(shown) {
            out.push_str(&format!(
                "    track {}  {score:.4} {}  {:.1}-{:.1} s, {}\n",
                t.id,
                label(label_for(Some(*score), threshold), 4, style),
                t.start_s,
                t.end_s,
                plural(t.frames.len(), "frame")
            ));
        }
        if tracks.len() > shown {
            let hidden = &tracks[shown..];
            let briefly = hidden.iter().filter(|t| brief(t.0)).count();
            let detail = if briefly > 0 {
                format!(", {briefly} of them brief (1-2 frames)")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "    ... {} not shown{detail}; --verbose lists every track\n",
                plural(hidden.len(), "track")
            ));
        }
    }
    if let Some(first) = r.heatmaps.first() {
        out.push_str(&format!("    heatmap {first}"));
        if r.heatmaps.len() > 1 {
            out.push_str(&format!(" and {} more", r.heatmaps.len() - 1));
        }
        out.push('\n');
    }
    out
}

fn face_line(i: usize, face: &FaceReport, threshold: f32, style: TextStyle) -> String {
    let [x, y, w, h] = face.bbox;
    let place = format!("at {x:.0},{y:.0} {w:.0}x{h:.0}");
    match (face.score, face.reason) {
        (Some(s), _) => format!(
            "    face {i}  {place}  {s:.4} {}\n",
            label(label_for(Some(s), threshold), 4, style)
        ),
        (None, Some(SkipReason::FaceTooSmall)) => {
            format!("    face {i}  {place}  not scored: smaller than --min-face\n")
        }
        (None, None) => format!("    face {i}  {place}  not scored\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FrameReport, Kind, TrackReport, VideoReport};

    fn face(x: f32, score: Option<f32>) -> FaceReport {
        FaceReport {
            bbox: [x, 20.0, 100.0, 120.0],
            landmarks: [[0.0; 2]; 5],
            detection: 0.9,
            score,
            reason: score.is_none().then_some(SkipReason::FaceTooSmall),
        }
    }

    fn image(faces: Vec<FaceReport>, score: Option<f32>, label: Label) -> FileReport {
        FileReport {
            path: "a.jpg".into(),
            kind: Kind::Image,
            label,
            score,
            threshold: Some(0.85),
            faces,
            video: None,
            error: None,
            warnings: vec![],
            heatmaps: vec![],
        }
    }

    #[test]
    fn one_face_is_one_line_with_the_threshold() {
        let r = image(vec![face(10.0, Some(0.9))], Some(0.9), Label::Fake);
        assert_eq!(
            render(&r, TextStyle::default()),
            "fake    0.9000 >= 0.8500 a.jpg  1 face, 1 scored\n"
        );
    }

    #[test]
    fn written_heatmaps_are_named() {
        let mut r = image(vec![face(10.0, Some(0.9))], Some(0.9), Label::Fake);
        r.heatmaps = vec![
            "maps/a-1f2e3d_overview.png".into(),
            "maps/a-1f2e3d_face0.png".into(),
        ];
        let text = render(&r, TextStyle::default());
        assert_eq!(
            text.lines().last(),
            Some("    heatmap maps/a-1f2e3d_overview.png and 1 more")
        );
    }

    #[test]
    fn several_faces_get_a_line_each() {
        let r = image(
            vec![
                face(10.0, Some(0.2)),
                face(300.0, Some(0.9)),
                face(5.0, None),
            ],
            Some(0.9),
            Label::Fake,
        );
        let text = render(&r, TextStyle::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "fake    0.9000 >= 0.8500 a.jpg  3 faces, 2 scored"
        );
        assert_eq!(lines[1], "    face 0  at 10,20 100x120  0.2000 real");
        assert_eq!(lines[2], "    face 1  at 300,20 100x120  0.9000 fake");
        assert_eq!(
            lines[3],
            "    face 2  at 5,20 100x120  not scored: smaller than --min-face"
        );
    }

    #[test]
    fn brief_tracks_come_after_the_people_seen() {
        let track = |id, frames: usize, score| TrackReport {
            id,
            frames: (0..frames).collect(),
            score: Some(score),
            start_s: 0.0,
            end_s: 1.0,
        };
        let mut r = image(vec![], Some(0.5), Label::Real);
        r.kind = Kind::Video;
        r.video = Some(VideoReport {
            frames_sampled: 32,
            duration_s: 4.0,
            frames: vec![],
            tracks: vec![track(0, 30, 0.2), track(1, 1, 0.95), track(2, 12, 0.4)],
        });
        let text = render(&r, TextStyle::default());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("    track 2  0.4000"), "{text}");
        assert!(lines[2].starts_with("    track 0  0.2000"), "{text}");
        assert_eq!(
            lines[3],
            "    ... 1 track not shown, 1 of them brief (1-2 frames); --verbose lists every track"
        );
    }

    #[test]
    fn videos_list_their_highest_tracks_first() {
        let track = |id, score, start_s, end_s| TrackReport {
            id,
            frames: vec![0, 1],
            score: Some(score),
            start_s,
            end_s,
        };
        let mut r = image(vec![], Some(0.5), Label::Real);
        r.kind = Kind::Video;
        r.video = Some(VideoReport {
            frames_sampled: 2,
            duration_s: 10.0,
            frames: vec![
                FrameReport {
                    index: 0,
                    time_s: 0.0,
                    score: Some(0.5),
                    faces: vec![],
                };
                2
            ],
            tracks: (0..5)
                .map(|i| track(i, 0.1 * i as f32 + 0.5, 1.0, 2.5))
                .collect(),
        });
        let text = render(&r, TextStyle::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "real    0.5000 < 0.8500  a.jpg  2 frames sampled, 2 with faces, 5 tracks over 10.0 s"
        );
        assert_eq!(lines[1], "    track 4  0.9000 fake  1.0-2.5 s, 2 frames");
        assert_eq!(lines[3], "    track 2  0.7000 real  1.0-2.5 s, 2 frames");
        assert_eq!(
            lines[4],
            "    ... 2 tracks not shown; --verbose lists every track"
        );
        let all = render(
            &r,
            TextStyle {
                verbose: true,
                color: false,
            },
        );
        assert_eq!(all.lines().count(), 6);
    }

    #[test]
    fn colour_only_when_asked() {
        let r = image(vec![], None, Label::NoFace);
        let plain = render(&r, TextStyle::default());
        assert!(!plain.contains('\x1b'));
        assert_eq!(plain, "no_face -                a.jpg  no face found\n");
        let coloured = render(
            &r,
            TextStyle {
                verbose: false,
                color: true,
            },
        );
        assert!(coloured.contains("\x1b["), "{coloured:?}");
    }
}
