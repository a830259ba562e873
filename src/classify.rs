//! Classify stage: aligned face crops in, a fake logit and a blending-boundary map out.
//!
//! Preprocessing must match `training/facetell_train/data.py::to_tensor`: RGB order, pixels
//! scaled to 0..1, then `(x - mean) / std` per channel with the manifest's values, NCHW.

use std::path::Path;

use image::RgbImage;
use ndarray::{Array2, Array4, ArrayD, ArrayView4, Axis, Ix2};
use tract_onnx::prelude::*;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::manifest::{ClassifierEntry, Manifest, read_checked};

/// What the classifier says about one face crop.
#[derive(Debug, Clone)]
pub struct ClassifierOutput {
    /// The fake logit; `sigmoid(logit)` is the face's score. In a scored face of a still image
    /// ([`Detector::score_image`](crate::Detector::score_image)), the mean of the crop's and the
    /// inner view's logits where the face had an inner view.
    pub logit: f32,
    /// Predicted blending-boundary map (rows x cols, 0..1, high where a blend edge is), if the
    /// model has one. It covers the whole crop at low resolution.
    pub boundary: Option<Array2<f32>>,
}

/// Scores a batch of preprocessed crops. Implemented by [`OnnxClassifier`]; tests use fakes.
pub trait FaceClassifier: Send + Sync {
    /// One output per crop of the NCHW `batch` (already normalised by [`Normalization`]).
    fn classify(&self, batch: ArrayView4<f32>) -> Result<Vec<ClassifierOutput>>;
}

/// The input normalisation the classifier was trained with.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Per-channel mean on the 0..1 scale, RGB.
    pub mean: [f32; 3],
    /// Per-channel standard deviation on the 0..1 scale, RGB.
    pub std: [f32; 3],
}

impl Normalization {
    /// Packs crops (all the same size) into one normalised NCHW tensor.
    pub fn to_tensor(&self, crops: &[&RgbImage]) -> Array4<f32> {
        let (w, h) = crops.first().map_or((0, 0), |c| c.dimensions());
        let mut out = Array4::<f32>::zeros((crops.len(), 3, h as usize, w as usize));
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * self.std[c]));
        let shift: [f32; 3] = std::array::from_fn(|c| self.mean[c] / self.std[c]);
        for (mut item, crop) in out.outer_iter_mut().zip(crops) {
            for (x, y, p) in crop.enumerate_pixels() {
                for c in 0..3 {
                    item[[c, y as usize, x as usize]] = f32::from(p.0[c]) * scale[c] - shift[c];
                }
            }
        }
        out
    }
}

/// The shipped classifier, run by tract with a symbolic batch dimension.
pub struct OnnxClassifier {
    engine: Engine,
    logit_output: usize,
    boundary_output: Option<usize>,
}

enum Engine {
    Tract(TractClassifier),
    #[cfg(feature = "ort")]
    OnnxRuntime(crate::backend::OrtModel),
}

impl std::fmt::Debug for OnnxClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxClassifier").finish_non_exhaustive()
    }
}

impl OnnxClassifier {
    /// Loads the classifier `entry` of `manifest` names, its file checked against the entry's
    /// sha256, to run on `backend`.
    pub fn from_manifest(
        manifest: &Manifest,
        entry: &ClassifierEntry,
        backend: Backend,
    ) -> Result<Self> {
        let path = manifest.resolve(&entry.file);
        let bytes = read_checked(&path, &entry.sha256)?;
        Self::with_backend(&bytes, &path, entry, backend)
    }

    /// Loads and optimises the classifier from ONNX bytes described by `entry`, for tract.
    pub fn from_bytes(bytes: &[u8], path: &Path, entry: &ClassifierEntry) -> Result<Self> {
        Self::with_backend(bytes, path, entry, Backend::Tract)
    }

    /// Loads the classifier from ONNX bytes described by `entry`, to run on `backend`.
    pub fn with_backend(
        bytes: &[u8],
        path: &Path,
        entry: &ClassifierEntry,
        backend: Backend,
    ) -> Result<Self> {
        // `resolve` never answers `Auto`.
        let engine = match backend.resolve() {
            Backend::Tract | Backend::Auto => {
                Engine::Tract(TractClassifier::load(bytes, path, entry)?)
            }
            #[cfg(feature = "ort")]
            Backend::OnnxRuntime => Engine::OnnxRuntime(crate::backend::OrtModel::from_bytes(
                bytes,
                path,
                "classifier",
            )?),
            #[cfg(not(feature = "ort"))]
            Backend::OnnxRuntime => return Err(Error::no_onnxruntime(path)),
        };
        Ok(OnnxClassifier {
            engine,
            logit_output: entry.logit_output,
            boundary_output: entry.boundary_output,
        })
    }
}

/// The classifier on tract: a plan for one crop, run once per crop of a batch. A concrete batch
/// of 1 runs 4x faster than a plan with a symbolic batch dimension, and 1.6x faster per crop
/// than a concrete batch of 16 (`cargo bench -- classify`, benches/README.md).
struct TractClassifier {
    plan: Arc<TypedRunnableModel>,
}

impl TractClassifier {
    fn load(bytes: &[u8], path: &Path, entry: &ClassifierEntry) -> Result<TractClassifier> {
        let model_err = |e: TractError| Error::Model {
            path: path.to_owned(),
            reason: format!(
                "not a loadable classifier for a {0}x{0} input: {e}",
                entry.input_size
            ),
        };
        let side = entry.input_size as usize;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, side, side]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(model_err)?;
        Ok(TractClassifier { plan })
    }

    /// Runs each crop alone and stacks the outputs along the batch axis.
    fn run(&self, batch: ArrayView4<f32>) -> TractResult<Vec<ArrayD<f32>>> {
        let mut per_output: Vec<Vec<ArrayD<f32>>> = Vec::new();
        for crop in batch.axis_iter(Axis(0)) {
            let input = crop.insert_axis(Axis(0)).to_owned();
            let outputs = self.plan.run(tvec!(Tensor::from(input).into()))?;
            per_output.resize_with(outputs.len(), Vec::new);
            for (stack, t) in per_output.iter_mut().zip(&outputs) {
                stack.push(t.to_plain_array_view::<f32>()?.to_owned());
            }
        }
        per_output
            .iter()
            .map(|parts| {
                let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
                Ok(ndarray::concatenate(Axis(0), &views)?)
            })
            .collect()
    }
}

impl FaceClassifier for OnnxClassifier {
    fn classify(&self, batch: ArrayView4<f32>) -> Result<Vec<ClassifierOutput>> {
        let n = batch.dim().0;
        if n == 0 {
            return Ok(Vec::new());
        }
        let outputs: Vec<ArrayD<f32>> = match &self.engine {
            Engine::Tract(tract) => tract.run(batch).map_err(|e| Error::Inference {
                stage: "classifier",
                reason: e.to_string(),
            })?,
            #[cfg(feature = "ort")]
            Engine::OnnxRuntime(model) => model.run(batch.into_dyn())?,
        };
        let logits = outputs
            .get(self.logit_output)
            .ok_or_else(|| Error::Inference {
                stage: "classifier",
                reason: format!("model has no output {}", self.logit_output),
            })?;
        let logits: Vec<f32> = logits.iter().copied().collect();
        if logits.len() != n {
            return Err(Error::Inference {
                stage: "classifier",
                reason: format!("expected {n} logits, got {}", logits.len()),
            });
        }
        let maps = match self.boundary_output.and_then(|i| outputs.get(i)) {
            Some(t) => {
                // [N, 1, h, w] -> N maps of h x w
                let view = t
                    .view()
                    .into_dimensionality::<ndarray::Ix4>()
                    .map_err(|e| Error::Inference {
                        stage: "classifier",
                        reason: format!("boundary output is not [N,1,h,w]: {e}"),
                    })?;
                view.axis_iter(Axis(0))
                    .map(|m| {
                        m.index_axis(Axis(0), 0)
                            .to_owned()
                            .into_dimensionality::<Ix2>()
                            .ok()
                    })
                    .collect()
            }
            None => vec![None; n],
        };
        Ok(logits
            .into_iter()
            .zip(maps)
            .map(|(logit, boundary)| ClassifierOutput { logit, boundary })
            .collect())
    }
}

/// The logistic function, mapping a logit to a 0..1 score.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_the_training_formula() {
        let norm = Normalization {
            mean: [0.5, 0.5, 0.5],
            std: [0.25, 0.5, 1.0],
        };
        let crop = RgbImage::from_pixel(2, 2, image::Rgb([255, 0, 51]));
        let t = norm.to_tensor(&[&crop, &crop]);
        assert_eq!(t.dim(), (2, 3, 2, 2));
        assert!((t[[1, 0, 1, 1]] - 2.0).abs() < 1e-6);
        assert!((t[[0, 1, 0, 0]] + 1.0).abs() < 1e-6);
        assert!((t[[0, 2, 0, 1]] - (0.2 - 0.5)).abs() < 1e-6);
    }

    #[test]
    fn sigmoid_is_centred() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(10.0) > 0.999);
    }
}
