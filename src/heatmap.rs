//! Blending-boundary heatmaps: a face crop with the classifier's boundary map laid over it, so a
//! person can see where the model thinks a face was pasted in. Written only under `--heatmap`.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, RgbImage};
use ndarray::Array2;

use crate::engine::ImageVerdict;

/// Scale of the heatmap image relative to the crop (a crop is small on a screen).
const UPSCALE: u32 = 2;

/// Renders `crop` (upscaled) with `boundary` (values 0..1) overlaid in red: the stronger the
/// predicted blend edge, the redder the pixel.
pub fn overlay(crop: &RgbImage, boundary: &Array2<f32>) -> RgbImage {
    let (w, h) = (crop.width() * UPSCALE, crop.height() * UPSCALE);
    let (rows, cols) = boundary.dim();
    let map = GrayImage::from_fn(cols as u32, rows as u32, |x, y| {
        image::Luma([(boundary[[y as usize, x as usize]].clamp(0.0, 1.0) * 255.0).round() as u8])
    });
    let bilinear = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let mut big_map = GrayImage::new(w, h);
    let mut big_crop = RgbImage::new(w, h);
    let mut resizer = Resizer::new();
    resizer
        .resize(&map, &mut big_map, &bilinear)
        .expect("gray to gray resize cannot fail");
    resizer
        .resize(crop, &mut big_crop, &bilinear)
        .expect("RGB to RGB resize cannot fail");
    for (p, m) in big_crop.pixels_mut().zip(big_map.pixels()) {
        let a = f32::from(m.0[0]) / 255.0 * 0.7;
        let gray =
            (f32::from(p.0[0]) * 0.3 + f32::from(p.0[1]) * 0.59 + f32::from(p.0[2]) * 0.11) * 0.8;
        p.0 = [
            (gray * (1.0 - a) + 255.0 * a) as u8,
            (gray * (1.0 - a)) as u8,
            (gray * (1.0 - a)) as u8,
        ];
    }
    big_crop
}

/// The overlay of every face of `verdict` that kept its crop and boundary map (see
/// [`Detector::score_image_with_crops`](crate::Detector::score_image_with_crops)), with the face's
/// index in `verdict.faces`.
pub fn face_overlays(verdict: &ImageVerdict) -> Vec<(usize, RgbImage)> {
    verdict
        .faces
        .iter()
        .enumerate()
        .filter_map(|(i, face)| {
            let map = face.output.as_ref()?.boundary.as_ref()?;
            Some((i, overlay(&face.crop.as_ref()?.image, map)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_boundary_is_red() {
        let crop = RgbImage::from_pixel(8, 8, image::Rgb([100, 100, 100]));
        let mut map = Array2::zeros((4, 4));
        map[[0, 0]] = 1.0;
        let out = overlay(&crop, &map);
        assert_eq!(out.dimensions(), (16, 16));
        let corner = out.get_pixel(0, 0).0;
        let far = out.get_pixel(15, 15).0;
        assert!(corner[0] > 150 && corner[1] < 60, "{corner:?}");
        assert_eq!(far[0], far[1]);
    }
}
