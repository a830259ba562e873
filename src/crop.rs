//! Crop/align stage: one crop policy, used for training crops and for inference alike.
//!
//! A face is aligned by the least-squares similarity transform (rotation, uniform scale,
//! translation) that takes its five landmarks onto the manifest's template, then sampled
//! bilinearly into a `size` x `size` crop. Pixels outside the image are black. When the face is
//! much larger than the crop, its region is first shrunk with an area-correct filter so that the
//! bilinear warp does not alias. `facetell crop` writes exactly these crops for `training/`.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};

use crate::detect::Face;
use crate::manifest::CropPolicy;
use crate::resize::resize_region;

/// A face cut out and aligned by the crop policy.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    /// The aligned face, `size` x `size` RGB.
    pub image: RgbImage,
    /// The face's five landmarks in crop pixels.
    pub landmarks: [[f32; 2]; 5],
    /// Affine map from image pixels to crop pixels, row-major `[a, b, c, d, e, f]`:
    /// `x' = a x + b y + c`, `y' = d x + e y + f`.
    pub transform: [f32; 6],
}

/// Shrink first when the warp would take fewer than this many crop pixels per image pixel;
/// bilinear sampling alone aliases below about 0.7.
const PRESHRINK_BELOW: f32 = 0.7;

/// Least-squares similarity transform taking `src` points onto `dst` points (Umeyama's method in
/// 2-D, reflection excluded). Returns `[a, b, c, d, e, f]` as in [`FaceCrop::transform`].
pub fn similarity_transform(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> [f32; 6] {
    let n = src.len() as f32;
    let mean = |pts: &[[f32; 2]; 5]| {
        let s = pts
            .iter()
            .fold([0.0, 0.0], |a, p| [a[0] + p[0], a[1] + p[1]]);
        [s[0] / n, s[1] / n]
    };
    let (ms, md) = (mean(src), mean(dst));
    let (mut num_a, mut num_b, mut den) = (0.0f32, 0.0f32, 0.0f32);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy) = (s[0] - ms[0], s[1] - ms[1]);
        let (dx, dy) = (d[0] - md[0], d[1] - md[1]);
        num_a += sx * dx + sy * dy;
        num_b += sx * dy - sy * dx;
        den += sx * sx + sy * sy;
    }
    let den = den.max(f32::EPSILON);
    let (a, b) = (num_a / den, num_b / den);
    let tx = md[0] - (a * ms[0] - b * ms[1]);
    let ty = md[1] - (b * ms[0] + a * ms[1]);
    [a, -b, tx, b, a, ty]
}

fn apply(t: &[f32; 6], [x, y]: [f32; 2]) -> [f32; 2] {
    [t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5]]
}

/// The inverse of an affine map in [`FaceCrop::transform`]'s layout (crop pixels to image pixels
/// for a crop's transform).
pub(crate) fn invert(t: &[f32; 6]) -> [f32; 6] {
    let det = t[0] * t[4] - t[1] * t[3];
    let (a, b, d, e) = (t[4] / det, -t[1] / det, -t[3] / det, t[0] / det);
    [a, b, -(a * t[2] + b * t[5]), d, e, -(d * t[2] + e * t[5])]
}

/// The image-to-crop transform that `policy` gives `face`.
pub(crate) fn crop_transform(face: &Face, policy: &CropPolicy) -> [f32; 6] {
    let size = policy.size as f32;
    let template = policy.template.map(|[x, y]| [x * size, y * size]);
    similarity_transform(&face.landmarks, &template)
}

/// Crop pixels per image pixel of a transform: below 1 the crop shrinks the face, above 1 it
/// enlarges it.
pub(crate) fn transform_scale(t: &[f32; 6]) -> f32 {
    (t[0] * t[0] + t[3] * t[3]).sqrt()
}

/// Cuts out and aligns one face according to `policy`.
pub fn align_face(image: &RgbImage, face: &Face, policy: &CropPolicy) -> FaceCrop {
    align_with(image, face, policy.size, crop_transform(face, policy))
}

/// Cuts out a `size` x `size` crop of `face` with `transform` (image to crop pixels), as
/// [`align_face`] does with its policy's.
pub(crate) fn align_with(
    image: &RgbImage,
    face: &Face,
    size: u32,
    transform: [f32; 6],
) -> FaceCrop {
    let landmarks = face.landmarks.map(|p| apply(&transform, p));
    let scale = transform_scale(&transform);

    let (source, warp) = if scale < PRESHRINK_BELOW {
        preshrink(image, &transform, size, scale)
    } else {
        (None, transform)
    };
    let source = source.as_ref().unwrap_or(image);
    let mut out = RgbImage::new(size, size);
    let projection = Projection::from_matrix([
        warp[0], warp[1], warp[2], warp[3], warp[4], warp[5], 0.0, 0.0, 1.0,
    ]);
    if let Some(projection) = projection {
        warp_into(
            source,
            projection,
            Interpolation::Bilinear,
            Border::Constant(Rgb([0, 0, 0])),
            &mut out,
        );
    }
    FaceCrop {
        image: out,
        landmarks,
        transform,
    }
}

/// The part of an image of `width` x `height` pixels that a `size` x `size` crop with
/// `transform` (image to crop pixels) covers: left, top, right, bottom in whole image pixels,
/// clamped to the image.
pub(crate) fn window_in_image(
    transform: &[f32; 6],
    size: u32,
    (width, height): (f32, f32),
) -> [f32; 4] {
    let inverse = invert(transform);
    let s = size as f32;
    let corners = [[0.0, 0.0], [s, 0.0], [0.0, s], [s, s]].map(|p| apply(&inverse, p));
    let min = |k: usize| corners.iter().map(|c| c[k]).fold(f32::INFINITY, f32::min);
    let max = |k: usize| {
        corners
            .iter()
            .map(|c| c[k])
            .fold(f32::NEG_INFINITY, f32::max)
    };
    [
        min(0).floor().max(0.0),
        min(1).floor().max(0.0),
        max(0).ceil().min(width),
        max(1).ceil().min(height),
    ]
}

/// Shrinks the part of `image` the crop covers so that the remaining warp is close to 1:1.
/// Returns the shrunk region and the transform from it to the crop.
fn preshrink(
    image: &RgbImage,
    transform: &[f32; 6],
    size: u32,
    scale: f32,
) -> (Option<RgbImage>, [f32; 6]) {
    let [left, top, right, bottom] = window_in_image(
        transform,
        size,
        (image.width() as f32, image.height() as f32),
    );
    let (rw, rh) = (right - left, bottom - top);
    if rw < 2.0 || rh < 2.0 {
        return (None, *transform);
    }
    let sw = ((rw * scale).round() as u32).max(1);
    let sh = ((rh * scale).round() as u32).max(1);
    let small = resize_region(
        image,
        (left as f64, top as f64, rw as f64, rh as f64),
        sw,
        sh,
    );
    // small = D (img - origin), so crop = T img = T (D^-1 small + origin).
    let (fx, fy) = (sw as f32 / rw, sh as f32 / rh);
    let t = transform;
    let warp = [
        t[0] / fx,
        t[1] / fy,
        t[0] * left + t[1] * top + t[2],
        t[3] / fx,
        t[4] / fy,
        t[3] * left + t[4] * top + t[5],
    ];
    (Some(small), warp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CropPolicy {
        CropPolicy {
            name: "test".into(),
            size: 64,
            template: [
                [0.35, 0.4],
                [0.65, 0.4],
                [0.5, 0.55],
                [0.38, 0.7],
                [0.62, 0.7],
            ],
            inner: None,
        }
    }

    #[test]
    fn similarity_transform_recovers_a_known_map() {
        let src = [
            [10.0, 10.0],
            [30.0, 12.0],
            [20.0, 25.0],
            [12.0, 35.0],
            [28.0, 36.0],
        ];
        // rotate 90 degrees, scale 2, shift (5, 7)
        let dst = src.map(|[x, y]| [-2.0 * y + 5.0, 2.0 * x + 7.0]);
        let t = similarity_transform(&src, &dst);
        for (s, d) in src.iter().zip(&dst) {
            let p = apply(&t, *s);
            assert!(
                (p[0] - d[0]).abs() < 1e-3 && (p[1] - d[1]).abs() < 1e-3,
                "{p:?} vs {d:?}"
            );
        }
    }

    #[test]
    fn landmarks_land_on_the_template() {
        let img = RgbImage::from_pixel(400, 400, Rgb([120, 90, 60]));
        let lm = [
            [150.0, 160.0],
            [250.0, 160.0],
            [200.0, 220.0],
            [160.0, 270.0],
            [240.0, 270.0],
        ];
        let face = Face {
            bbox: [100.0, 100.0, 200.0, 220.0],
            landmarks: lm,
            confidence: 0.9,
        };
        let crop = align_face(&img, &face, &policy());
        assert_eq!(crop.image.dimensions(), (64, 64));
        let eye = crop.landmarks[0];
        assert!(
            (eye[0] - 0.35 * 64.0).abs() < 2.0 && (eye[1] - 0.4 * 64.0).abs() < 2.0,
            "{eye:?}"
        );
        // A large face goes through the pre-shrink; the colour must survive it.
        assert_eq!(crop.image.get_pixel(32, 32).0, [120, 90, 60]);
    }

    #[test]
    fn outside_the_image_is_black() {
        let img = RgbImage::from_pixel(40, 40, Rgb([200, 200, 200]));
        let lm = [
            [2.0, 5.0],
            [12.0, 5.0],
            [7.0, 11.0],
            [3.0, 16.0],
            [11.0, 16.0],
        ];
        let face = Face {
            bbox: [0.0, 0.0, 15.0, 20.0],
            landmarks: lm,
            confidence: 0.9,
        };
        let crop = align_face(&img, &face, &policy());
        assert_eq!(crop.image.get_pixel(0, 0).0, [0, 0, 0]);
    }
}
