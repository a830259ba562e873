//! Shared resizing helper: every resize in facetell goes through fast_image_resize.

use std::borrow::Cow;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Resizes the `crop` rectangle (left, top, width, height in source pixels, fractional allowed)
/// of `src` to `width` x `height` with a bilinear convolution (area-correct when shrinking).
pub fn resize_region(
    src: &RgbImage,
    crop: (f64, f64, f64, f64),
    width: u32,
    height: u32,
) -> RgbImage {
    let mut dst = RgbImage::new(width.max(1), height.max(1));
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(crop.0, crop.1, crop.2, crop.3);
    Resizer::new()
        .resize(src, &mut dst, &options)
        // Both sides are RGB8 and non-empty, the only ways this call can fail.
        .expect("RGB8 to RGB8 resize cannot fail");
    dst
}

/// Resizes the whole of `src` to `width` x `height`; borrows `src` when it already has that size,
/// so the common no-resize case (small photos, the full-resolution detector pass) copies nothing.
pub fn resize(src: &RgbImage, width: u32, height: u32) -> Cow<'_, RgbImage> {
    let (w, h) = src.dimensions();
    if (w, h) == (width, height) {
        return Cow::Borrowed(src);
    }
    Cow::Owned(resize_region(
        src,
        (0.0, 0.0, f64::from(w), f64::from(h)),
        width,
        height,
    ))
}
