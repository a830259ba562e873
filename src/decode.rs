//! Decode stage: bytes of any supported image format to an 8-bit RGB image, upright.
//!
//! JPEG goes straight to zune-jpeg (about 2x faster than through `image`); every other format goes
//! through the `image` crate. The format is read from the bytes, never from the file name. The
//! declared size is checked against a pixel limit before any pixel buffer is allocated, so a small
//! file that declares a huge image (a decompression bomb) is refused cheaply.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage, metadata::Orientation,
};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::error::{Error, Result};

/// Limits applied while decoding.
#[derive(Debug, Clone)]
pub struct DecodeParams {
    /// Largest accepted width * height.
    pub max_pixels: u64,
}

impl Default for DecodeParams {
    /// The defaults of [`Config::default`](crate::Config).
    fn default() -> Self {
        crate::Config::default().decode
    }
}

/// Returns the image format of `bytes` from their magic number, if facetell decodes it.
pub fn sniff_image_format(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes) {
        Ok(
            f @ (ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Gif
            | ImageFormat::Tiff),
        ) => Some(f),
        _ => None,
    }
}

/// Decodes an encoded image to upright 8-bit RGB.
///
/// EXIF orientation is applied; grayscale, CMYK, 16-bit and alpha images are converted to RGB
/// (alpha is dropped). For animated GIFs the first frame is returned.
pub fn decode_image(bytes: &[u8], params: &DecodeParams) -> Result<RgbImage> {
    match sniff_image_format(bytes) {
        Some(ImageFormat::Jpeg) => decode_jpeg(bytes, params),
        Some(format) => decode_with_image(bytes, format, params),
        None => Err(Error::UnsupportedFormat {
            detail: describe_unknown(bytes),
        }),
    }
}

fn check_pixels(width: u32, height: u32, params: &DecodeParams) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > params.max_pixels {
        return Err(Error::TooManyPixels {
            width,
            height,
            pixels,
            limit: params.max_pixels,
        });
    }
    if pixels == 0 {
        return Err(Error::Corrupt {
            format: "image".into(),
            reason: "it declares zero width or height".into(),
        });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8], params: &DecodeParams) -> Result<RgbImage> {
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| Error::Corrupt {
        format: "JPEG".into(),
        reason: e.to_string(),
    };
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(corrupt)?;
    let info = decoder.info().ok_or_else(|| Error::Corrupt {
        format: "JPEG".into(),
        reason: "no frame header".into(),
    })?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(width, height, params)?;
    let orientation = decoder
        .exif()
        .and_then(|exif| Orientation::from_exif_chunk(exif))
        .unwrap_or(Orientation::NoTransforms);
    let pixels = decoder.decode().map_err(corrupt)?;
    let rgb = RgbImage::from_raw(width, height, pixels).ok_or_else(|| Error::Corrupt {
        format: "JPEG".into(),
        reason: "decoded buffer does not match the declared size".into(),
    })?;
    Ok(apply_orientation(rgb, orientation))
}

fn decode_with_image(bytes: &[u8], format: ImageFormat, params: &DecodeParams) -> Result<RgbImage> {
    let name = format!("{format:?}").to_uppercase();
    let corrupt = |e: image::ImageError| Error::Corrupt {
        format: name.clone(),
        reason: e.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // `image` enforces its own allocation limit too; ours is the one users configure.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, params)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    };
    Ok(apply_orientation(rgb, orientation))
}

fn apply_orientation(rgb: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return rgb;
    }
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    image.into_rgb8()
}

fn describe_unknown(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".into();
    }
    let head = &bytes[..bytes.len().min(512)];
    if std::str::from_utf8(head).is_ok() {
        return "the file looks like text".into();
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return "the file is an MP4/MOV container".into();
    }
    match image::guess_format(bytes) {
        Ok(format) => format!("{format:?} is not supported"),
        Err(_) => "unrecognised file signature".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgba};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_every_supported_format_to_rgb() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb([x as u8 * 5, y as u8 * 7, 100])
        }));
        for format in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Bmp,
            ImageFormat::Gif,
            ImageFormat::Tiff,
        ] {
            let bytes = encode(&rgb, format);
            let decoded = decode_image(&bytes, &DecodeParams::default())
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(decoded.dimensions(), (40, 30), "{format:?}");
        }
    }

    #[test]
    fn converts_gray16_and_rgba() {
        let gray16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_pixel(8, 6, Luma([65535]));
        let bytes = encode(&DynamicImage::ImageLuma16(gray16), ImageFormat::Png);
        let decoded = decode_image(&bytes, &DecodeParams::default()).unwrap();
        assert_eq!(decoded.get_pixel(3, 3).0, [255, 255, 255]);

        let rgba = ImageBuffer::from_pixel(5, 5, Rgba([10u8, 20, 30, 0]));
        let bytes = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let decoded = decode_image(&bytes, &DecodeParams::default()).unwrap();
        assert_eq!(decoded.get_pixel(0, 0).0, [10, 20, 30]);
    }

    #[test]
    fn refuses_images_over_the_pixel_limit() {
        let bytes = encode(
            &DynamicImage::ImageRgb8(RgbImage::new(100, 100)),
            ImageFormat::Png,
        );
        let params = DecodeParams { max_pixels: 9_999 };
        let err = decode_image(&bytes, &params).unwrap_err();
        assert!(
            matches!(err, Error::TooManyPixels { pixels: 10_000, .. }),
            "{err}"
        );
    }

    #[test]
    fn names_what_an_unknown_file_looks_like() {
        let err = decode_image(b"hello, world", &DecodeParams::default()).unwrap_err();
        assert!(err.to_string().contains("looks like text"), "{err}");
        let err = decode_image(b"", &DecodeParams::default()).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn truncated_jpeg_is_corrupt_not_a_panic() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(64, 64, image::Rgb([9, 9, 9])));
        let bytes = encode(&rgb, ImageFormat::Jpeg);
        let result = decode_image(&bytes[..bytes.len() / 3], &DecodeParams::default());
        // zune-jpeg may fill a truncated scan with grey rather than fail; either way no panic.
        if let Err(err) = result {
            assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        }
    }
}
