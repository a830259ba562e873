//! facetell: find every face in an image or video and score how likely it was swapped or blended
//! in.
//!
//! The pipeline is one module per stage, with plain data passed between them:
//!
//! | stage | module | in | out |
//! |---|---|---|---|
//! | decode | [`decode`] | file bytes | upright RGB image |
//! | detect faces | [`detect`] | RGB image | [`Face`]s: box, 5 landmarks, confidence |
//! | crop/align | [`crop`] | image + face | [`FaceCrop`]: aligned S x S crop |
//! | classify | [`classify`] | crops | [`ClassifierOutput`]: fake logit, boundary map |
//! | aggregate | [`aggregate`] | face scores | image / video score and [`Label`] |
//! | track | [`track`] | faces of sampled frames | [`Track`]s: one per person |
//! | report | [`report`] | [`Verdict`]s | [`FileReport`] records, JSON Lines and other formats |
//!
//! [`Detector`] exposes each stage as a method and chains them on one decoded image in
//! [`Detector::score_image`] (a still image) or [`Detector::score_frame`] (a video frame: no
//! second view of large faces, see [`Media`]). [`Scanner`] is the scanning core every front end
//! uses (the CLI, the server, the examples): a file, a frame folder or bytes in, a typed
//! [`Verdict`] out, image or video decided in one place. Models and their preprocessing are
//! described by `models/manifest.toml` ([`manifest`]); [`Config::default`] holds every default
//! setting. Nothing is downloaded and nothing about a face is written anywhere unless asked.
//!
//! ```no_run
//! use facetell::{Config, Scanner, Scored};
//!
//! let scanner = Scanner::from_manifest("models/manifest.toml", Config::default())?;
//! let verdict = scanner.scan_path("photo.jpg".as_ref());
//! if let Ok(Scored::Image(image)) = &verdict.result {
//!     for face in &image.faces {
//!         println!("face at {:?}: score {:?}", face.face.bbox, face.score);
//!     }
//! }
//! println!("{}: {} ({:?})", verdict.path, verdict.label().as_str(), verdict.score());
//! # Ok::<(), facetell::Error>(())
//! ```

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod aggregate;
pub mod backend;
pub mod classify;
pub mod crop;
pub mod decode;
pub mod detect;
mod engine;
pub mod error;
pub mod eval;
pub mod heatmap;
pub mod inputs;
pub mod manifest;
pub mod report;
mod resize;
pub mod scan;
pub mod track;
pub mod video;

pub use aggregate::Label;
pub use backend::Backend;
pub use classify::{ClassifierOutput, FaceClassifier, Normalization};
pub use crop::FaceCrop;
pub use detect::{DetectParams, Face, FaceDetector};
pub use engine::{Config, Detector, ImageVerdict, Media, ScoredFace, SkipReason};
pub use error::{Error, Result};
pub use manifest::{CropPolicy, Manifest};
pub use report::{FileReport, Format};
pub use scan::{FrameVerdict, Kind, Scanner, Scored, Verdict, VideoVerdict};
pub use track::Track;
