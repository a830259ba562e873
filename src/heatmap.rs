//! Heatmaps a person can read: where the classifier thinks a face was blended in, drawn over the
//! picture it came from. Rendered only when asked for (`--heatmap`, `heatmap=true`), never kept
//! otherwise.
//!
//! For an image, [`for_image`] gives an overview (the whole picture, each face's box coloured
//! by its verdict and captioned with its score, the predicted blending boundary laid over each
//! scored face, and a caption with the threshold and a colour bar) and, per scored face, its
//! crop with the map over it. For a video, [`for_frame`] gives the same for one face of one
//! frame (the scanner picks the frames of the highest-scoring track).

use ab_glyph::{FontRef, PxScale};
use image::{GrayImage, Rgb, RgbImage, Rgba, RgbaImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};
use imageproc::rect::Rect;
use ndarray::Array2;

use crate::aggregate::{self, Label};
use crate::crop::{invert, window_in_image};
use crate::engine::{ImageVerdict, ScoredFace};
use crate::resize::resize;

/// DejaVu Sans Bold (Bitstream Vera licence, `assets/DejaVuSans-Bold.LICENSE.md`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-Bold.ttf");

/// The overview's longer side is brought into this range (small pictures are enlarged so the
/// captions stay legible, large ones shrunk).
const OVERVIEW_SIDE: (u32, u32) = (720, 1600);
/// A crop map shows the crop at this many times its size.
const CROP_UPSCALE: u32 = 2;

const FAKE: Rgb<u8> = Rgb([220, 38, 38]);
const REAL: Rgb<u8> = Rgb([34, 160, 70]);
const UNSCORED: Rgb<u8> = Rgb([150, 150, 150]);
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const CAPTION_BG: Rgb<u8> = Rgb([24, 24, 24]);

/// One rendered heatmap.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// What it shows, usable as the end of a file name: `overview` or `face2` for an image,
    /// `t12.40s` or `t12.40s_face1` for a video frame at 12.40 s.
    pub name: String,
    /// The face a crop map shows: its index in the image's faces (for a video frame, in the
    /// faces of that frame as scored again for the heatmap).
    pub face: Option<usize>,
    /// The time of the video frame shown.
    pub time_s: Option<f64>,
    /// The picture.
    pub image: RgbImage,
}

/// The overview of an image and the crop map of each of its scored faces. `verdict` must hold
/// the faces' crops and boundary maps ([`Detector::score_image_with_crops`](crate::Detector::score_image_with_crops));
/// faces without them get a box and a caption only.
pub fn for_image(image: &RgbImage, verdict: &ImageVerdict, threshold: f32) -> Vec<Heatmap> {
    let caption = format!(
        "{}: {}",
        verdict_word(aggregate::label_for(verdict.score, threshold)),
        score_text(verdict.score, threshold)
    );
    let mut out = vec![Heatmap {
        name: "overview".into(),
        face: None,
        time_s: None,
        image: overview(image, &verdict.faces, threshold, None, &caption),
    }];
    out.extend(
        (0..verdict.faces.len())
            .filter_map(|i| face_map(&verdict.faces, i, threshold).map(|map| (i, map)))
            .map(|(i, image)| Heatmap {
                name: format!("face{i}"),
                face: Some(i),
                time_s: None,
                image,
            }),
    );
    out
}

/// The overview of a video frame at `time_s` with `face` (an index into `verdict.faces`)
/// highlighted, and that face's crop map; `caption` says which track it belongs to.
pub fn for_frame(
    image: &RgbImage,
    verdict: &ImageVerdict,
    threshold: f32,
    face: usize,
    time_s: f64,
    caption: &str,
) -> Vec<Heatmap> {
    let tag = format!("t{time_s:.2}s");
    let caption = format!("{time_s:.2} s: {caption}");
    let mut out = vec![Heatmap {
        name: tag.clone(),
        face: None,
        time_s: Some(time_s),
        image: overview(image, &verdict.faces, threshold, Some(face), &caption),
    }];
    if let Some(map) = face_map(&verdict.faces, face, threshold) {
        out.push(Heatmap {
            name: format!("{tag}_face{face}"),
            face: Some(face),
            time_s: Some(time_s),
            image: map,
        });
    }
    out
}

/// The whole picture (resized to 720-1600 px on its long side) with each face's boundary map
/// laid over it, its box in the colour of its verdict (`highlight`, if given, drawn thicker and
/// the others thinner), a caption per scored face, and `caption` with a colour bar underneath.
pub fn overview(
    image: &RgbImage,
    faces: &[ScoredFace],
    threshold: f32,
    highlight: Option<usize>,
    caption: &str,
) -> RgbImage {
    let long = image.width().max(image.height()).max(1);
    let target = long.clamp(OVERVIEW_SIDE.0, OVERVIEW_SIDE.1);
    let scale = target as f32 / long as f32;
    let (w, h) = (
        ((image.width() as f32 * scale).round() as u32).max(1),
        ((image.height() as f32 * scale).round() as u32).max(1),
    );
    let mut canvas = resize(image, w, h).into_owned();
    for face in faces {
        if let (Some(crop), Some(map)) = (&face.crop, boundary(face)) {
            let layer = map_layer(map, crop.image.width());
            paste_warped(&mut canvas, &layer, &crop.transform, scale);
        }
    }
    let font = font();
    let text_px = (target as f32 / 48.0).max(15.0);
    let line = (target / 450).max(2);
    for (i, face) in faces.iter().enumerate() {
        let colour = face_colour(face, threshold);
        let thickness = match highlight {
            Some(h) if h == i => line * 2,
            Some(_) => (line / 2).max(1),
            None => line,
        };
        let [x, y, bw, bh] = face.face.bbox.map(|v| v * scale);
        for t in 0..thickness {
            let t = t as f32;
            let rect = Rect::at((x - t) as i32, (y - t) as i32).of_size(
                (bw + 2.0 * t).max(1.0) as u32,
                (bh + 2.0 * t).max(1.0) as u32,
            );
            draw_hollow_rect_mut(&mut canvas, rect, colour);
        }
        // Unscored faces get their grey box only; small faces a short caption (index and
        // score, the colour says the verdict), so that the captions of a crowd stay apart.
        let Some(score) = face.score else { continue };
        let text = if bw >= text_px * 10.0 {
            format!("face {i}: {}", face_text(face, threshold))
        } else {
            format!("{i}: {score:.2}")
        };
        let (tw, th) = text_size(PxScale::from(text_px), &font, &text);
        let pad = (text_px / 5.0) as u32;
        let (lw, lh) = (tw + 2 * pad, th + 2 * pad);
        let lx = (x as i32 - thickness as i32).clamp(0, (w.saturating_sub(lw)) as i32);
        let above = y as i32 - thickness as i32 - lh as i32;
        let below = (y + bh) as i32 + thickness as i32;
        let ly = (if above >= 0 { above } else { below }).clamp(0, h.saturating_sub(lh) as i32);
        draw_filled_rect_mut(&mut canvas, Rect::at(lx, ly).of_size(lw, lh), colour);
        draw_text_mut(
            &mut canvas,
            WHITE,
            lx + pad as i32,
            ly + pad as i32,
            PxScale::from(text_px),
            &font,
            &text,
        );
    }
    with_caption(&canvas, caption, text_px)
}

/// A face's crop (enlarged) with its boundary map over it, captioned with its score, or `None`
/// when the face kept no crop or map.
fn face_map(faces: &[ScoredFace], i: usize, threshold: f32) -> Option<RgbImage> {
    let face = faces.get(i)?;
    let crop = &face.crop.as_ref()?.image;
    let map = boundary(face)?;
    let size = crop.width() * CROP_UPSCALE;
    let mut canvas = resize(crop, size, size).into_owned();
    blend(&mut canvas, &map_layer(map, size), 0, 0);
    let caption = format!("face {i}: {}", face_text(face, threshold));
    Some(with_caption(&canvas, &caption, 15.0))
}

fn boundary(face: &ScoredFace) -> Option<&Array2<f32>> {
    face.output.as_ref()?.boundary.as_ref()
}

/// The boundary map (values 0..1) at `size` x `size`, coloured by the inferno colour map, opaque
/// where the map is strong and transparent where it is near zero.
fn map_layer(map: &Array2<f32>, size: u32) -> RgbaImage {
    let (rows, cols) = map.dim();
    let small = GrayImage::from_fn(cols as u32, rows as u32, |x, y| {
        image::Luma([(map[[y as usize, x as usize]].clamp(0.0, 1.0) * 255.0).round() as u8])
    });
    let big = resize(&small, size, size);
    RgbaImage::from_fn(size, size, |x, y| {
        let v = f32::from(big.get_pixel(x, y).0[0]) / 255.0;
        let c = colorous::INFERNO.eval_continuous(f64::from(v));
        Rgba([c.r, c.g, c.b, ((v * 1.6).min(1.0) * 0.75 * 255.0) as u8])
    })
}

/// Warps a crop-sized `layer` back onto the picture it was cut from (`transform` maps picture
/// pixels to crop pixels; the canvas is the picture scaled by `scale`) and blends it in.
fn paste_warped(canvas: &mut RgbImage, layer: &RgbaImage, transform: &[f32; 6], scale: f32) {
    let m = invert(transform).map(|v| v * scale);
    let (w, h) = canvas.dimensions();
    let [left, top, right, bottom] = window_in_image(
        transform,
        layer.width(),
        (w as f32 / scale, h as f32 / scale),
    );
    let x0 = (left * scale).floor() as u32;
    let y0 = (top * scale).floor() as u32;
    let x1 = ((right * scale).ceil() as u32).min(w);
    let y1 = ((bottom * scale).ceil() as u32).min(h);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (ox, oy) = (x0 as f32, y0 as f32);
    let Some(projection) =
        Projection::from_matrix([m[0], m[1], m[2] - ox, m[3], m[4], m[5] - oy, 0.0, 0.0, 1.0])
    else {
        return;
    };
    let mut part = RgbaImage::new(x1 - x0, y1 - y0);
    warp_into(
        layer,
        projection,
        Interpolation::Bilinear,
        Border::Constant(Rgba([0, 0, 0, 0])),
        &mut part,
    );
    blend(canvas, &part, x0, y0);
}

/// Alpha-blends `layer` onto `canvas` with its top-left corner at (`x0`, `y0`).
fn blend(canvas: &mut RgbImage, layer: &RgbaImage, x0: u32, y0: u32) {
    for (x, y, p) in layer.enumerate_pixels() {
        let (cx, cy) = (x0 + x, y0 + y);
        if cx >= canvas.width() || cy >= canvas.height() || p.0[3] == 0 {
            continue;
        }
        let a = f32::from(p.0[3]) / 255.0;
        let q = canvas.get_pixel_mut(cx, cy);
        for k in 0..3 {
            q.0[k] = (f32::from(q.0[k]) * (1.0 - a) + f32::from(p.0[k]) * a).round() as u8;
        }
    }
}

/// `image` with a dark band underneath: `caption` on the left and the colour bar of the boundary
/// map on the right, or on a second line when both do not fit on one.
fn with_caption(image: &RgbImage, caption: &str, text_px: f32) -> RgbImage {
    let font = font();
    let scale = PxScale::from(text_px);
    let pad = (text_px * 0.5) as u32;
    let line = (text_px * 1.6) as u32;
    let (w, h) = image.dimensions();
    let (label_w, _) = text_size(scale, &font, "boundary");
    let (caption_w, _) = text_size(scale, &font, caption);
    let (digit_w, _) = text_size(scale, &font, "0");
    let bar_w = (w / 5).clamp(40, 200);
    let legend_w = label_w + bar_w + 2 * digit_w + 3 * pad;
    let one_line = caption_w + legend_w + 4 * pad <= w;
    let band = if one_line { line } else { 2 * line } + 2 * pad;
    let mut out = RgbImage::from_pixel(w, h + band, CAPTION_BG);
    image::imageops::replace(&mut out, image, 0, 0);
    let y = (h + pad) as i32;
    draw_text_mut(&mut out, WHITE, pad as i32, y, scale, &font, caption);
    // The colour bar: "boundary 0 [inferno gradient] 1", right-aligned.
    let y = if one_line { y } else { y + line as i32 };
    let mut x = w.saturating_sub(legend_w + pad) as i32;
    draw_text_mut(&mut out, WHITE, x, y, scale, &font, "boundary");
    x += (label_w + pad) as i32;
    draw_text_mut(&mut out, WHITE, x, y, scale, &font, "0");
    x += (digit_w + pad / 2) as i32;
    let bar_h = (text_px * 0.8) as u32;
    let bar_y = y + (text_px * 0.2) as i32;
    for i in 0..bar_w {
        let c = colorous::INFERNO.eval_continuous(f64::from(i) / f64::from(bar_w - 1));
        let column = Rect::at(x + i as i32, bar_y).of_size(1, bar_h);
        draw_filled_rect_mut(&mut out, column, Rgb([c.r, c.g, c.b]));
    }
    x += (bar_w + pad / 2) as i32;
    draw_text_mut(&mut out, WHITE, x, y, scale, &font, "1");
    out
}

fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT).expect("the bundled font is a valid TrueType file")
}

fn face_colour(face: &ScoredFace, threshold: f32) -> Rgb<u8> {
    match face.score.map(|s| aggregate::label_for(Some(s), threshold)) {
        Some(Label::Fake) => FAKE,
        Some(_) => REAL,
        None => UNSCORED,
    }
}

fn face_text(face: &ScoredFace, threshold: f32) -> String {
    match face.score {
        Some(s) => format!(
            "{:.3} {}",
            s,
            verdict_word(aggregate::label_for(Some(s), threshold))
        ),
        None => "not scored (too small)".into(),
    }
}

fn score_text(score: Option<f32>, threshold: f32) -> String {
    match score {
        Some(s) => format!("{s:.3} (fake at {threshold:.3} and above)"),
        None => "no face scored".into(),
    }
}

fn verdict_word(label: Label) -> &'static str {
    match label {
        Label::NoFace => "no face",
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ClassifierOutput;
    use crate::crop::FaceCrop;
    use crate::detect::Face;

    /// A face at (40, 30) of size 40 whose crop is the picture shifted and scaled by 2, with a
    /// boundary map that is 1 in its top-left quarter only.
    fn face_with_map(score: f32) -> ScoredFace {
        let mut map = Array2::zeros((8, 8));
        map.slice_mut(ndarray::s![..4, ..4]).fill(1.0);
        ScoredFace {
            face: Face {
                bbox: [40.0, 30.0, 40.0, 40.0],
                landmarks: [
                    [50.0, 45.0],
                    [70.0, 45.0],
                    [60.0, 55.0],
                    [52.0, 62.0],
                    [68.0, 62.0],
                ],
                confidence: 0.9,
            },
            score: Some(score),
            skipped: None,
            crop: Some(FaceCrop {
                image: RgbImage::from_pixel(80, 80, Rgb([120, 120, 120])),
                landmarks: [[0.0; 2]; 5],
                transform: [2.0, 0.0, -80.0, 0.0, 2.0, -60.0],
            }),
            output: Some(ClassifierOutput {
                logit: 0.0,
                boundary: Some(map),
            }),
        }
    }

    #[test]
    fn the_map_lands_where_the_crop_came_from() {
        let picture = RgbImage::from_pixel(800, 600, Rgb([120, 120, 120]));
        let faces = [face_with_map(0.9)];
        let out = overview(&picture, &faces, 0.5, None, "test");
        // 800 px wide is inside OVERVIEW_SIDE: no resizing. The crop covers picture x 40..80,
        // y 30..70; its map is hot in the top-left quarter (x 40..60, y 30..50) only.
        let hot = out.get_pixel(48, 44).0;
        let cold = out.get_pixel(72, 64).0;
        assert_ne!(hot, [120, 120, 120], "the hot quarter is coloured");
        assert_eq!(cold, [120, 120, 120], "the cold part is untouched");
        assert!(out.height() > 600, "a caption band is added underneath");
    }

    #[test]
    fn boxes_take_the_colour_of_their_verdict() {
        let picture = RgbImage::from_pixel(800, 600, Rgb([120, 120, 120]));
        let fake = overview(&picture, &[face_with_map(0.9)], 0.5, None, "");
        let real = overview(&picture, &[face_with_map(0.1)], 0.5, None, "");
        // The box's right edge, below the caption, at x = 40 + 40.
        assert_eq!(*fake.get_pixel(80, 60), FAKE);
        assert_eq!(*real.get_pixel(80, 60), REAL);
    }

    #[test]
    fn an_image_gives_an_overview_and_one_map_per_scored_face() {
        let picture = RgbImage::from_pixel(300, 200, Rgb([90, 90, 90]));
        let mut unscored = face_with_map(0.0);
        (unscored.score, unscored.crop, unscored.output) = (None, None, None);
        let verdict = ImageVerdict {
            faces: vec![unscored, face_with_map(0.7)],
            score: Some(0.7),
            label: Label::Fake,
        };
        let maps = for_image(&picture, &verdict, 0.5);
        let names: Vec<&str> = maps.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["overview", "face1"]);
        // A small picture is enlarged to the overview's minimum size.
        assert_eq!(maps[0].image.width(), OVERVIEW_SIDE.0);
        assert_eq!(maps[1].image.width(), 80 * CROP_UPSCALE);
        let frame = for_frame(&picture, &verdict, 0.5, 1, 12.4, "track 0");
        let names: Vec<&str> = frame.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["t12.40s", "t12.40s_face1"]);
    }
}
