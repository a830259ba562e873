//! A hostile-input corpus, generated here (no committed binaries): every broken file gets one
//! error record naming the problem, odd-but-valid files are scored, nothing panics or hangs.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{data, facetell, record, records};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgba};

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A PNG that declares width x height but carries almost no data: a decompression bomb.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
        out.extend((body.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        out.extend(kind);
        out.extend(body);
        out.extend(crc.finalize().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn portrait() -> PathBuf {
    data().join("dev/yonsei/real/real_00008.jpg")
}

struct Corpus {
    dir: tempfile::TempDir,
}

impl Corpus {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn build() -> Corpus {
    let c = Corpus {
        dir: tempfile::tempdir().unwrap(),
    };
    let face = image::open(portrait()).unwrap();
    let jpeg = std::fs::read(portrait()).unwrap();
    let png = encode(&face, ImageFormat::Png);

    c.write("empty.jpg", b"");
    c.write("truncated.jpg", &jpeg[..jpeg.len() / 4]);
    c.write("truncated.png", &png[..png.len() / 2]);
    c.write("text.jpg", b"this is not an image\n");
    c.write("png_named.jpg", &png);
    c.write("bomb.png", &bomb_png(30_000, 30_000));
    c.write(
        "one_pixel.png",
        &encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png),
    );
    let gray16: ImageBuffer<Luma<u16>, Vec<u16>> = face.to_luma16();
    c.write(
        "gray16.png",
        &encode(&DynamicImage::ImageLuma16(gray16), ImageFormat::Png),
    );
    c.write(
        "gray.png",
        &encode(&DynamicImage::ImageLuma8(face.to_luma8()), ImageFormat::Png),
    );
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> = face.to_rgba8();
    c.write(
        "rgba.png",
        &encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    );
    // CMYK JPEG
    let rgb = face.to_rgb8();
    let cmyk: Vec<u8> = rgb
        .pixels()
        .flat_map(|p| {
            let [r, g, b] = p.0;
            [255 - r, 255 - g, 255 - b, 0]
        })
        .collect();
    let mut cmyk_jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk_jpeg, 90)
        .encode(
            &cmyk,
            rgb.width() as u16,
            rgb.height() as u16,
            jpeg_encoder::ColorType::Cmyk,
        )
        .unwrap();
    c.write("cmyk.jpg", &cmyk_jpeg);
    // animated GIF: two frames
    {
        let file = std::fs::File::create(c.path("animated.gif")).unwrap();
        let mut enc = image::codecs::gif::GifEncoder::new(file);
        let small = image::imageops::thumbnail(&face.to_rgba8(), 300, 300);
        enc.encode_frames([image::Frame::new(small.clone()), image::Frame::new(small)])
            .unwrap();
    }
    // symlinks: broken, and a loop inside a folder
    std::os::unix::fs::symlink(c.path("nowhere.jpg"), c.path("broken_link.jpg")).unwrap();
    std::fs::create_dir(c.path("loop")).unwrap();
    std::os::unix::fs::symlink("..", c.path("loop/up")).unwrap();
    // a non-UTF-8 file name
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.jpg");
    std::fs::write(c.dir.path().join(name), &jpeg).unwrap();
    // a directory named like an image, and a file that is no media by its name
    std::fs::create_dir(c.path("folder.jpg")).unwrap();
    c.write("notes.txt", b"not for scanning\n");
    c
}

#[test]
fn every_hostile_file_gets_a_record_and_the_scan_survives() {
    let c = build();
    let named: Vec<PathBuf> = [
        "empty.jpg",
        "truncated.jpg",
        "truncated.png",
        "text.jpg",
        "png_named.jpg",
        "bomb.png",
        "one_pixel.png",
        "gray16.png",
        "gray.png",
        "rgba.png",
        "cmyk.jpg",
        "animated.gif",
        "broken_link.jpg",
    ]
    .iter()
    .map(|n| c.path(n))
    .collect();
    let out = facetell()
        .args(["scan", "--format", "jsonl"])
        .args(&named)
        .arg(c.path("loop"))
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("symlink loop"), "{stderr}");
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), named.len(), "one record per named file");

    let error = |name: &str, words: &str| {
        let r = record(&recs, name);
        assert_eq!(r["label"], "error", "{name}: {r}");
        let msg = r["error"].as_str().unwrap();
        assert!(msg.contains(words), "{name}: {msg:?} lacks {words:?}");
    };
    error("empty.jpg", "empty");
    error("truncated.png", "corrupt");
    error("text.jpg", "looks like text");
    error("bomb.png", "over the limit");
    error("broken_link.jpg", "cannot read");
    // zune-jpeg fills a truncated scan with grey: scored or an error, never a crash
    assert!(record(&recs, "truncated.jpg")["label"].is_string());

    for name in [
        "png_named.jpg",
        "gray16.png",
        "gray.png",
        "rgba.png",
        "cmyk.jpg",
        "animated.gif",
    ] {
        let r = record(&recs, name);
        assert!(r["score"].is_number(), "{name} should be scored: {r}");
        assert_eq!(r["faces"].as_array().unwrap().len(), 1, "{name}: {r}");
    }
    assert_eq!(record(&recs, "one_pixel.png")["label"], "no_face");
}

#[test]
fn a_hostile_folder_gives_one_record_per_media_file() {
    let c = build();
    let out = facetell()
        .args(["scan", "--format", "jsonl"])
        .arg(c.dir.path())
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped 1 file in the folders that are not images or videos"),
        "{stderr}"
    );
    let recs = records(&out.stdout);
    let mut names: Vec<String> = recs
        .iter()
        .map(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    // Every file named like an image, broken or not, exactly once; not the folder named like
    // one, not notes.txt; the non-UTF-8 name in lossy form.
    let mut expected = vec![
        "animated.gif",
        "broken_link.jpg",
        "caf\u{FFFD}.jpg",
        "cmyk.jpg",
        "empty.jpg",
        "gray.png",
        "gray16.png",
        "one_pixel.png",
        "png_named.jpg",
        "rgba.png",
        "text.jpg",
        "truncated.jpg",
        "truncated.png",
        "bomb.png",
    ];
    expected.sort();
    assert_eq!(names, expected);
    for (name, words) in [
        ("empty.jpg", "empty"),
        ("text.jpg", "looks like text"),
        ("broken_link.jpg", "broken symlink"),
    ] {
        let r = record(&recs, name);
        assert_eq!(r["label"], "error", "{name}: {r}");
        let msg = r["error"].as_str().unwrap();
        assert!(msg.contains(words), "{name}: {msg:?} lacks {words:?}");
    }
}

#[test]
fn exif_orientation_is_applied() {
    // TIFF header (big endian), one IFD entry: Orientation (0x0112) SHORT = 6 (rotate 90 cw).
    let exif = [
        b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
        0, 0,
    ];
    let rgb = image::RgbImage::from_pixel(40, 20, image::Rgb([200, 10, 10]));
    let mut bytes = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut bytes, 90);
    enc.add_exif_metadata(&exif).unwrap();
    enc.encode(rgb.as_raw(), 40, 20, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let decoded = facetell::decode::decode_image(&bytes, &Default::default()).unwrap();
    assert_eq!(decoded.dimensions(), (20, 40));
}

/// A file the scanning user may not read. Tests often run as root, who reads anything, so then
/// the scan runs under `setpriv` without the two capabilities that let root bypass file modes.
#[test]
fn unreadable_file_gets_an_error_record() {
    use std::os::unix::fs::PermissionsExt;
    let c = build();
    let locked = c.write("locked.jpg", &std::fs::read(portrait()).unwrap());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_all_the_same = std::fs::read(&locked).is_ok();
    let mut cmd = if readable_all_the_same {
        let mut cmd = assert_cmd::Command::new("setpriv");
        cmd.args(["--bounding-set=-dac_override,-dac_read_search", "--"])
            .arg(assert_cmd::cargo::cargo_bin("facetell"));
        cmd
    } else {
        facetell()
    };
    let out = cmd
        .args(["scan", "--format", "jsonl"])
        .arg(&locked)
        .arg(portrait())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 2);
    let r = record(&recs, "locked.jpg");
    assert_eq!(r["label"], "error", "{r}");
    let msg = r["error"].as_str().unwrap();
    assert!(msg.contains("Permission denied"), "{msg:?}");
    assert!(msg.contains("read access"), "{msg:?}");
    assert!(record(&recs, "real_00008.jpg")["score"].is_number());
}
