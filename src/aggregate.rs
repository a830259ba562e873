//! Aggregate stage: face scores to an image, frame or video verdict.
//!
//! Image (and frame) score = max over its scored faces: one swapped face makes the picture a fake.
//! Video score = mean of frame scores over frames with a scored face, the field's standard
//! video-level protocol (FaceForensics++, DFDC, Celeb-DF evaluations).

use serde::Serialize;

/// The verdict on one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Score at or above the threshold.
    Fake,
    /// Score below the threshold.
    Real,
    /// No face large enough to score was found.
    NoFace,
    /// The file could not be processed; see the record's `error`.
    Error,
}

impl Label {
    /// The label as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Fake => "fake",
            Label::Real => "real",
            Label::NoFace => "no_face",
            Label::Error => "error",
        }
    }
}

/// Score of an image or frame: the highest face score, `None` when no face was scored.
pub fn max_score(face_scores: impl IntoIterator<Item = Option<f32>>) -> Option<f32> {
    face_scores.into_iter().flatten().reduce(f32::max)
}

/// Score of a video: the mean of frame scores over frames that have one.
pub fn mean_score(frame_scores: impl IntoIterator<Item = Option<f32>>) -> Option<f32> {
    let (sum, n) = frame_scores
        .into_iter()
        .flatten()
        .fold((0.0f64, 0usize), |(s, n), v| (s + f64::from(v), n + 1));
    (n > 0).then(|| (sum / n as f64) as f32)
}

/// Label for a score under a threshold.
pub fn label_for(score: Option<f32>, threshold: f32) -> Label {
    match score {
        None => Label::NoFace,
        Some(s) if s >= threshold => Label::Fake,
        Some(_) => Label::Real,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_score_is_the_max_of_scored_faces() {
        assert_eq!(max_score([Some(0.2), None, Some(0.7)]), Some(0.7));
        assert_eq!(max_score([None, None]), None);
    }

    #[test]
    fn video_score_is_the_mean_over_frames_with_faces() {
        assert_eq!(mean_score([Some(0.2), None, Some(0.6)]), Some(0.4));
        assert_eq!(mean_score(Vec::new()), None);
    }

    #[test]
    fn labels_follow_the_threshold() {
        assert_eq!(label_for(Some(0.5), 0.5), Label::Fake);
        assert_eq!(label_for(Some(0.49), 0.5), Label::Real);
        assert_eq!(label_for(None, 0.5), Label::NoFace);
    }
}

/// A face in one sampled frame, as the tracker sees it.
#[derive(Debug, Clone)]
pub struct TrackedFace {
    /// Left, top, width, height in pixels.
    pub bbox: [f32; 4],
    /// Five landmarks in pixels.
    pub landmarks: [[f32; 2]; 5],
    /// Fake score if the face was scored.
    pub score: Option<f32>,
}

/// One person followed across sampled frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// `(frame position, face position)` pairs, in frame order.
    pub members: Vec<(usize, usize)>,
    /// Mean score over the track's scored faces.
    pub score: Option<f32>,
}

/// Two faces in consecutive sampled frames are the same person when their boxes overlap this
/// much (IoU) ...
const TRACK_MIN_IOU: f32 = 0.2;
/// ... or their landmarks are this close, in units of the face size.
const TRACK_MAX_LANDMARK_DIST: f32 = 0.5;

fn landmark_distance(a: &TrackedFace, b: &TrackedFace) -> f32 {
    let size = (a.bbox[2] * a.bbox[3])
        .max(b.bbox[2] * b.bbox[3])
        .sqrt()
        .max(1.0);
    let mean: f32 = a
        .landmarks
        .iter()
        .zip(&b.landmarks)
        .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
        .sum::<f32>()
        / 5.0;
    mean / size
}

/// Links faces across sampled frames: greedy matching of each frame's faces to the tracks'
/// latest faces by box overlap plus landmark distance.
pub fn link_tracks(frames: &[Vec<TrackedFace>]) -> Vec<Track> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut last: Vec<TrackedFace> = Vec::new();
    for (fi, faces) in frames.iter().enumerate() {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, prev) in last.iter().enumerate() {
            for (face_i, face) in faces.iter().enumerate() {
                let overlap = crate::detect::iou(&prev.bbox, &face.bbox);
                let dist = landmark_distance(prev, face);
                if overlap >= TRACK_MIN_IOU || dist <= TRACK_MAX_LANDMARK_DIST {
                    pairs.push((overlap + (1.0 - dist.min(1.0)), ti, face_i));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; tracks.len()];
        let mut face_used = vec![false; faces.len()];
        for (_, ti, face_i) in pairs {
            if track_used[ti] || face_used[face_i] {
                continue;
            }
            track_used[ti] = true;
            face_used[face_i] = true;
            tracks[ti].members.push((fi, face_i));
            last[ti] = faces[face_i].clone();
        }
        for (face_i, face) in faces.iter().enumerate() {
            if !face_used[face_i] {
                tracks.push(Track {
                    members: vec![(fi, face_i)],
                    score: None,
                });
                last.push(face.clone());
            }
        }
    }
    for track in &mut tracks {
        track.score = mean_score(track.members.iter().map(|&(f, i)| frames[f][i].score));
    }
    tracks
}

#[cfg(test)]
mod track_tests {
    use super::*;

    fn face(x: f32, score: f32) -> TrackedFace {
        TrackedFace {
            bbox: [x, 10.0, 40.0, 50.0],
            landmarks: [
                [x + 10.0, 20.0],
                [x + 30.0, 20.0],
                [x + 20.0, 30.0],
                [x + 12.0, 45.0],
                [x + 28.0, 45.0],
            ],
            score: Some(score),
        }
    }

    #[test]
    fn two_people_stay_two_tracks() {
        let frames = vec![
            vec![face(0.0, 0.1), face(200.0, 0.9)],
            vec![face(205.0, 0.7), face(4.0, 0.3)],
            vec![face(8.0, 0.2)],
        ];
        let tracks = link_tracks(&frames);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].members, vec![(0, 0), (1, 1), (2, 0)]);
        assert_eq!(tracks[1].members, vec![(0, 1), (1, 0)]);
        assert!((tracks[1].score.unwrap() - 0.8).abs() < 1e-6);
    }
}
