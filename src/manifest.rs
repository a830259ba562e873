//! The model manifest (`models/manifest.toml`): which ONNX files to load, their checksums, and the
//! preprocessing each one was trained with.
//!
//! Every constant that training and inference must agree on (crop template, crop size, input
//! normalisation, output order, threshold) is read from here and nowhere else. The Python side
//! (`training/facetell_train/manifest.py`) reads the same file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The parsed manifest, with file names resolved against the manifest's folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version; this library reads version 1.
    pub version: u32,
    /// The face detector.
    pub detector: ModelEntry,
    /// How a face is cut out and aligned before it is classified.
    pub crop: CropPolicy,
    /// The face-swap classifier; absent until a trained model has been exported.
    pub classifier: Option<ClassifierEntry>,
    /// Folder the manifest was read from; model files are relative to it.
    #[serde(skip)]
    pub root: PathBuf,
}

/// A model file and its checksum.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    /// File name relative to the manifest.
    pub file: String,
    /// Lower-case hex sha256 of the file, checked on every load.
    pub sha256: String,
}

/// The crop policy: a similarity transform taking the five detector landmarks onto a template.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CropPolicy {
    /// Name of the policy, recorded in crop JSON and the model card.
    pub name: String,
    /// Output crop is `size` x `size` pixels.
    pub size: u32,
    /// Where the landmarks (left eye, right eye, nose tip, left mouth corner, right mouth corner,
    /// as seen in the image) land, as fractions of `size`.
    pub template: [[f32; 2]; 5],
    /// A second, tighter view of faces large enough for it, scored beside this crop.
    #[serde(default)]
    pub inner: Option<InnerView>,
}

/// A second view of a face: the crop template zoomed in about a centre, cut from the image at the
/// image's own resolution. The classifier sees it only for faces large enough that cutting it
/// does not enlarge them (where it would, it holds no detail the crop lacks); a face's logit is
/// then the mean of both views' logits.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InnerView {
    /// Name of the view's crop policy, recorded in crop JSON and the model card.
    pub name: String,
    /// How much larger the face is in this view than in the crop (above 1).
    pub zoom: f32,
    /// The point of the crop, as fractions of its size, that the zoom keeps in place.
    pub centre: [f32; 2],
}

impl CropPolicy {
    /// The inner view as a crop policy of its own: the same size, the template zoomed about the
    /// view's centre, no further view.
    pub fn inner_policy(&self) -> Option<CropPolicy> {
        self.inner.as_ref().map(|view| CropPolicy {
            name: view.name.clone(),
            size: self.size,
            template: self.template.map(|point| {
                [0, 1].map(|k| view.centre[k] + (point[k] - view.centre[k]) * view.zoom)
            }),
            inner: None,
        })
    }
}

/// The classifier file and how to feed it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierEntry {
    /// File name relative to the manifest.
    pub file: String,
    /// Lower-case hex sha256 of the file, checked on every load.
    pub sha256: String,
    /// Human-readable model name and version, reported in outputs.
    pub name: String,
    /// Square input side in pixels; must equal `crop.size`.
    pub input_size: u32,
    /// Per-channel mean subtracted after scaling pixels to 0..1 (RGB order).
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided after subtracting the mean (RGB order).
    pub std: [f32; 3],
    /// Index of the output holding the fake logit (shape `[N]` or `[N, 1]`).
    pub logit_output: usize,
    /// Index of the output holding the blending-boundary map (`[N, 1, h, w]`, 0..1), if any.
    pub boundary_output: Option<usize>,
    /// Default decision threshold on sigmoid(logit), chosen on dev reals (see MODEL_CARD.md).
    pub threshold: f32,
}

impl Manifest {
    /// Reads and validates `manifest.toml`.
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Model {
            path: path.to_owned(),
            reason: format!("cannot read the manifest ({e}); pass the models folder with --models"),
        })?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| Error::Model {
            path: path.to_owned(),
            reason: format!("invalid manifest: {e}"),
        })?;
        manifest.root = path.parent().unwrap_or(Path::new(".")).to_owned();
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |reason: String| Error::Model {
            path: path.to_owned(),
            reason,
        };
        if self.version != 1 {
            return Err(invalid(format!(
                "manifest version {} is not supported by this facetell (expects 1); update facetell",
                self.version
            )));
        }
        if self.crop.size < 16 {
            return Err(invalid(format!(
                "crop size {} is too small",
                self.crop.size
            )));
        }
        if let Some(view) = &self.crop.inner
            && !(view.zoom > 1.0 && view.zoom.is_finite())
        {
            return Err(invalid(format!(
                "crop.inner zoom {} must be above 1: the inner view is the tighter one",
                view.zoom
            )));
        }
        if let Some(c) = &self.classifier {
            if c.input_size != self.crop.size {
                return Err(invalid(format!(
                    "classifier input_size {} differs from crop size {}: the model would see crops unlike its training",
                    c.input_size, self.crop.size
                )));
            }
            if !(0.0..=1.0).contains(&c.threshold) {
                return Err(invalid(format!(
                    "threshold {} is outside 0..1",
                    c.threshold
                )));
            }
        }
        Ok(())
    }

    /// Absolute path of a file named in the manifest.
    pub fn resolve(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }
}

/// Reads a model file and checks its sha256 against the manifest.
pub fn read_checked(path: &Path, sha256: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::Model {
        path: path.to_owned(),
        reason: format!("cannot read ({e}); is the models folder complete?"),
    })?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(Error::Model {
            path: path.to_owned(),
            reason: format!(
                "sha256 is {actual} but the manifest expects {sha256}; the file is damaged or the manifest is stale"
            ),
        });
    }
    Ok(bytes)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml");
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.crop.template.len(), 5);
        assert!(manifest.resolve(&manifest.detector.file).exists());
    }

    #[test]
    fn the_inner_view_zooms_the_template_about_its_centre() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/manifest.toml"),
        )
        .unwrap();
        let mut manifest: Manifest = toml::from_str(&text).unwrap();
        manifest.crop.inner = Some(InnerView {
            name: "inner".into(),
            zoom: 2.0,
            centre: [0.5, 0.6],
        });
        let inner = manifest.crop.inner_policy().unwrap();
        assert_eq!(
            (inner.size, inner.inner.as_ref()),
            (manifest.crop.size, None)
        );
        for (o, i) in manifest.crop.template.iter().zip(&inner.template) {
            assert!((i[0] - (0.5 + 2.0 * (o[0] - 0.5))).abs() < 1e-6, "{i:?}");
            assert!((i[1] - (0.6 + 2.0 * (o[1] - 0.6))).abs() < 1e-6, "{i:?}");
        }
        manifest.crop.inner.as_mut().unwrap().zoom = 0.5;
        let err = manifest
            .validate(Path::new("m.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("zoom 0.5"), "{err}");
    }

    #[test]
    fn a_wrong_checksum_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.onnx");
        std::fs::write(&file, b"abc").unwrap();
        let err = read_checked(&file, "00").unwrap_err().to_string();
        assert!(err.contains("m.onnx") && err.contains("damaged"), "{err}");
        assert!(read_checked(&file, &sha256_hex(b"abc")).is_ok());
    }
}
