//! Tracking stage: links the faces of a video's sampled frames into people, so that a verdict
//! can say which person and when. Works on detected faces and raw scores; rounding happens only
//! when records are written.

use std::cmp::Ordering;

use crate::aggregate::mean_score;
use crate::detect::{Face, iou};
use crate::engine::ScoredFace;

/// One person followed across sampled frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// `(frame position, face position)` pairs, in frame order.
    pub members: Vec<(usize, usize)>,
    /// Mean score over the track's scored faces.
    pub score: Option<f32>,
}

/// A track seen in fewer sampled frames than this, and in under a tenth of them, is brief: a
/// face the detector found once or twice, or a passer-by. Reports and heatmaps put the others
/// first.
pub const BRIEF_TRACK_FRAMES: usize = 3;

/// Whether a track seen in `frames` of `frames_sampled` sampled frames is brief (see
/// [`BRIEF_TRACK_FRAMES`]).
pub fn is_brief(frames: usize, frames_sampled: usize) -> bool {
    frames < BRIEF_TRACK_FRAMES && frames * 10 < frames_sampled
}

/// The order tracks are shown in: lasting tracks before brief ones, then the highest score
/// first. Each side is (frames seen in, score) out of `frames_sampled`.
pub fn display_order(a: (usize, f32), b: (usize, f32), frames_sampled: usize) -> Ordering {
    let brief = |frames| is_brief(frames, frames_sampled);
    (brief(a.0).cmp(&brief(b.0))).then(b.1.total_cmp(&a.1))
}

/// Two faces in consecutive sampled frames are the same person when their boxes overlap this
/// much (IoU) ...
const TRACK_MIN_IOU: f32 = 0.2;
/// ... or their landmarks are this close, in units of the face size.
const TRACK_MAX_LANDMARK_DIST: f32 = 0.5;

fn landmark_distance(a: &Face, b: &Face) -> f32 {
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

/// Links faces across sampled frames (one slice of faces per frame): greedy matching of each
/// frame's faces to the tracks' latest faces by box overlap plus landmark distance.
pub fn link_tracks(frames: &[&[ScoredFace]]) -> Vec<Track> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut last: Vec<&Face> = Vec::new();
    for (fi, faces) in frames.iter().enumerate() {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, prev) in last.iter().enumerate() {
            for (face_i, face) in faces.iter().enumerate() {
                let overlap = iou(&prev.bbox, &face.face.bbox);
                let dist = landmark_distance(prev, &face.face);
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
            last[ti] = &faces[face_i].face;
        }
        for (face_i, face) in faces.iter().enumerate() {
            if !face_used[face_i] {
                tracks.push(Track {
                    members: vec![(fi, face_i)],
                    score: None,
                });
                last.push(&face.face);
            }
        }
    }
    for track in &mut tracks {
        track.score = mean_score(track.members.iter().map(|&(f, i)| frames[f][i].score));
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> ScoredFace {
        ScoredFace {
            face: Face {
                bbox: [x, 10.0, 40.0, 50.0],
                landmarks: [
                    [x + 10.0, 20.0],
                    [x + 30.0, 20.0],
                    [x + 20.0, 30.0],
                    [x + 12.0, 45.0],
                    [x + 28.0, 45.0],
                ],
                confidence: 0.9,
            },
            score: Some(score),
            skipped: None,
            crop: None,
            output: None,
        }
    }

    #[test]
    fn brief_means_few_frames_of_many() {
        assert!(is_brief(1, 32) && is_brief(2, 32));
        assert!(!is_brief(3, 32), "three frames is a person seen");
        assert!(!is_brief(1, 6), "one of six frames is not few");
        assert_eq!(display_order((1, 0.99), (30, 0.2), 32), Ordering::Greater);
        assert_eq!(display_order((30, 0.4), (12, 0.2), 32), Ordering::Less);
    }

    #[test]
    fn two_people_stay_two_tracks() {
        let frames = [
            vec![face(0.0, 0.1), face(200.0, 0.9)],
            vec![face(205.0, 0.7), face(4.0, 0.3)],
            vec![face(8.0, 0.2)],
        ];
        let slices: Vec<&[ScoredFace]> = frames.iter().map(Vec::as_slice).collect();
        let tracks = link_tracks(&slices);
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].members, vec![(0, 0), (1, 1), (2, 0)]);
        assert_eq!(tracks[1].members, vec![(0, 1), (1, 0)]);
        assert!((tracks[1].score.unwrap() - 0.8).abs() < 1e-6);
    }
}
