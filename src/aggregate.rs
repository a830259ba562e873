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
