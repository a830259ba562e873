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
//! | report | [`report`] | verdicts | [`FileReport`] records, JSON Lines and other formats |
//!
//! [`Detector`] exposes each stage as a method and chains them in [`Detector::score_image`].
//! Models and their preprocessing are described by `models/manifest.toml` ([`manifest`]).
//! Nothing is downloaded and nothing about a face is written anywhere unless asked.
//!
//! ```no_run
//! use facetell::{Config, Detector};
//!
//! let detector = Detector::from_manifest("models/manifest.toml", Config::default())?;
//! let image = detector.decode(&std::fs::read("photo.jpg").unwrap())?;
//! let verdict = detector.score_image(&image)?;
//! for face in &verdict.faces {
//!     println!("face at {:?}: score {:?}", face.face.bbox, face.score);
//! }
//! println!("image: {} ({:?})", verdict.label.as_str(), verdict.score);
//! # Ok::<(), facetell::Error>(())
//! ```

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
pub mod video;

pub use aggregate::Label;
pub use backend::Backend;
pub use classify::{ClassifierOutput, FaceClassifier, Normalization};
pub use crop::FaceCrop;
pub use detect::{DetectParams, Face, FaceDetector};
pub use engine::{
    Config, Detector, ImageVerdict, SEQUENCE_FPS, ScoredFace, image_report, sample_indices,
};
pub use error::{Error, Result};
pub use manifest::{CropPolicy, Manifest};
pub use report::{FileReport, Format, Kind};
