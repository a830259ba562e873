//! Shared resizing helper: every resize in facetell goes through fast_image_resize.

use std::borrow::Cow;

use fast_image_resize::{FilterType, IntoImageView, ResizeAlg, ResizeOptions, Resizer};
use image::{ImageBuffer, Pixel};

/// An 8-bit image of any pixel layout fast_image_resize reads and writes (RGB, gray).
type Image8<P> = ImageBuffer<P, Vec<u8>>;

/// Resizes the `crop` rectangle (left, top, width, height in source pixels, fractional allowed)
/// of `src` to `width` x `height` with a bilinear convolution (area-correct when shrinking).
pub fn resize_region<P: Pixel<Subpixel = u8>>(
    src: &Image8<P>,
    crop: (f64, f64, f64, f64),
    width: u32,
    height: u32,
) -> Image8<P>
where
    Image8<P>: IntoImageView + fast_image_resize::IntoImageViewMut,
{
    let mut dst = Image8::<P>::new(width.max(1), height.max(1));
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(crop.0, crop.1, crop.2, crop.3);
    Resizer::new()
        .resize(src, &mut dst, &options)
        // Both sides have the same 8-bit layout and are non-empty, the only ways this call
        // can fail.
        .expect("a resize between equal 8-bit layouts cannot fail");
    dst
}

/// Resizes the whole of `src` to `width` x `height`; borrows `src` when it already has that size,
/// so the common no-resize case (small photos, the full-resolution detector pass) copies nothing.
pub fn resize<P: Pixel<Subpixel = u8>>(
    src: &Image8<P>,
    width: u32,
    height: u32,
) -> Cow<'_, Image8<P>>
where
    Image8<P>: IntoImageView + fast_image_resize::IntoImageViewMut,
{
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
