//! One benchmark per pipeline stage plus end to end, on fixed real inputs from ../shared/data.
//! Inputs are read and prepared outside the timed loops. See benches/README.md for figures.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use facetell::detect::CenterFace;
use facetell::manifest::read_checked;
use facetell::video::{Sampling, VideoParams, decode_frames};
use facetell::{Backend, Config, DetectParams, Detector, FaceDetector, Manifest};
use image::RgbImage;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

/// The shipped manifest, or the one in `FACETELL_MODELS` (as for the CLI): comparing two
/// classifiers is two runs of the same benchmark.
fn manifest() -> PathBuf {
    std::env::var_os("FACETELL_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
        .join("manifest.toml")
}

/// First frame of the 1080p street fixture.
fn frame_1080p() -> RgbImage {
    let params = VideoParams {
        sampling: Sampling::Uniform(1),
        ..VideoParams::default()
    };
    let mut frame = None;
    decode_frames(&data("fixtures/video.mp4"), &params, u64::MAX, |f| {
        frame = Some(f.image);
        Ok(())
    })
    .expect("ffmpeg decodes the fixture");
    frame.unwrap()
}

fn jpeg_bytes(image: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A phone-size photo: the dev portrait enlarged to 4032x3024 (12 MP, the face about 1,500 px
/// tall) on a blurred copy of itself, as a baseline JPEG.
fn phone_photo(portrait: &RgbImage) -> Vec<u8> {
    use image::imageops::{FilterType, resize};
    let (w, h) = (4032, 3024);
    let mut photo = resize(portrait, w, h, FilterType::Triangle);
    let face = resize(portrait, h, h, FilterType::CatmullRom);
    image::imageops::replace(&mut photo, &face, i64::from((w - h) / 2), 0);
    jpeg_bytes(&photo)
}

/// The stage benchmarks measure tract, whatever ONNX Runtime the machine has (`backends` compares
/// the two).
fn tract() -> Config {
    Config {
        backend: Backend::Tract,
        ..Config::default()
    }
}

/// The detector policy with every pass run whole, as before tiling, for comparisons in one run.
fn whole_passes() -> DetectParams {
    DetectParams {
        tile_side: u32::MAX,
        ..DetectParams::default()
    }
}

fn benches(c: &mut Criterion) {
    let detector = Detector::from_manifest(manifest(), tract()).expect("models load");
    let portrait_bytes = std::fs::read(data("dev/yonsei/real/real_00008.jpg")).unwrap();
    let portrait = detector.decode(&portrait_bytes).unwrap();
    let frame = frame_1080p();
    let frame_bytes = jpeg_bytes(&frame);
    let phone_bytes = phone_photo(&portrait);
    let phone = detector.decode(&phone_bytes).unwrap();

    let mut g = c.benchmark_group("decode");
    g.bench_function("jpeg_600x600", |b| {
        b.iter(|| detector.decode(black_box(&portrait_bytes)).unwrap())
    });
    g.bench_function("jpeg_1920x1080", |b| {
        b.iter(|| detector.decode(black_box(&frame_bytes)).unwrap())
    });
    g.bench_function("jpeg_4032x3024", |b| {
        b.iter(|| detector.decode(black_box(&phone_bytes)).unwrap())
    });
    g.finish();

    let m = Manifest::load(manifest()).unwrap();
    let path = m.resolve(&m.detector.file);
    let detector_bytes = read_checked(&path, &m.detector.sha256).unwrap();
    let centerface = CenterFace::from_bytes(&detector_bytes, &path, Default::default()).unwrap();
    let centerface_whole = CenterFace::from_bytes(&detector_bytes, &path, whole_passes()).unwrap();
    let mut g = c.benchmark_group("detect");
    g.sample_size(20);
    // The sizes the input-size policy uses: 320 first pass, then doublings.
    g.bench_function("portrait_320", |b| {
        b.iter(|| {
            centerface
                .detect_at_scale(&portrait, 320.0 / 600.0)
                .unwrap()
        })
    });
    g.bench_function("frame_320", |b| {
        b.iter(|| centerface.detect_at_scale(&frame, 320.0 / 1920.0).unwrap())
    });
    g.bench_function("frame_640", |b| {
        b.iter(|| centerface.detect_at_scale(&frame, 640.0 / 1920.0).unwrap())
    });
    g.bench_function("frame_1280", |b| {
        b.iter(|| centerface.detect_at_scale(&frame, 1280.0 / 1920.0).unwrap())
    });
    g.bench_function("frame_1280_whole", |b| {
        b.iter(|| {
            centerface_whole
                .detect_at_scale(&frame, 1280.0 / 1920.0)
                .unwrap()
        })
    });
    g.bench_function("policy_portrait_600x600", |b| {
        b.iter(|| centerface.detect(&portrait).unwrap())
    });
    g.bench_function("policy_phone_4032x3024", |b| {
        b.iter(|| centerface.detect(&phone).unwrap())
    });
    g.bench_function("policy_frame_1080p", |b| {
        b.iter(|| centerface.detect(&frame).unwrap())
    });
    g.bench_function("policy_frame_1080p_whole", |b| {
        b.iter(|| centerface_whole.detect(&frame).unwrap())
    });
    g.finish();
    // How many crops the end-to-end frame classifies, for comparing it with the stages' sum.
    let scored = detector.score_frame(&frame).unwrap();
    eprintln!(
        "1080p frame: {} faces found, {} scored",
        scored.faces.len(),
        scored.faces.iter().filter(|f| f.score.is_some()).count()
    );

    let faces = detector.detect_faces(&portrait).unwrap();
    let face = faces[0].clone();
    c.bench_function("crop/align_one_face", |b| {
        b.iter(|| detector.crop_face(black_box(&portrait), &face))
    });
    let phone_face = detector.detect_faces(&phone).unwrap()[0].clone();
    c.bench_function("crop/align_one_face_phone", |b| {
        b.iter(|| detector.crop_face(black_box(&phone), &phone_face))
    });

    let crop = detector.crop_face(&portrait, &face).image;
    let mut g = c.benchmark_group("classify");
    g.bench_function("batch_1", |b| {
        b.iter(|| detector.classify_crops(&[&crop]).unwrap())
    });
    // One call of 16 crops (the product calls with one: no backend gains from batches).
    let batched = Detector::from_manifest(
        manifest(),
        Config {
            batch_size: 16,
            ..tract()
        },
    )
    .unwrap();
    let batch: Vec<&RgbImage> = std::iter::repeat_n(&crop, 16).collect();
    g.bench_function("batch_16", |b| {
        b.iter(|| batched.classify_crops(&batch).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(20);
    g.bench_function("image_600x600_jpeg", |b| {
        b.iter(|| {
            let image = detector.decode(black_box(&portrait_bytes)).unwrap();
            detector.score_image(&image).unwrap()
        })
    });
    g.bench_function("image_4032x3024_jpeg", |b| {
        b.iter(|| {
            let image = detector.decode(black_box(&phone_bytes)).unwrap();
            detector.score_image(&image).unwrap()
        })
    });
    g.bench_function("video_frame_1080p", |b| {
        b.iter(|| detector.score_frame(black_box(&frame)).unwrap())
    });
    g.finish();
}

/// tract against ONNX Runtime on the same inputs, in one run (skipped, saying so, where ONNX
/// Runtime is not found: `make bench-backends` provides it).
fn backends(c: &mut Criterion) {
    if let Err(why) = facetell::backend::onnxruntime_status() {
        eprintln!("backend benchmarks skipped: {why}");
        return;
    }
    let portrait = image::open(data("dev/yonsei/real/real_00008.jpg"))
        .unwrap()
        .to_rgb8();
    let frame = frame_1080p();
    let m = Manifest::load(manifest()).unwrap();
    let path = m.resolve(&m.detector.file);
    let bytes = read_checked(&path, &m.detector.sha256).unwrap();
    let mut g = c.benchmark_group("backend");
    g.sample_size(20);
    for (name, backend) in [("tract", Backend::Tract), ("ort", Backend::OnnxRuntime)] {
        let centerface =
            CenterFace::with_backend(&bytes, &path, Default::default(), backend).unwrap();
        let config = Config {
            backend,
            ..Config::default()
        };
        let detector = Detector::from_manifest(manifest(), config.clone()).unwrap();
        // Classifier calls of 1, 4 and 16 crops.
        let batched = Config {
            batch_size: 16,
            ..config
        };
        let batched = Detector::from_manifest(manifest(), batched).unwrap();
        let face = detector.detect_faces(&portrait).unwrap()[0].clone();
        let crop = detector.crop_face(&portrait, &face).image;
        let batch: Vec<&RgbImage> = std::iter::repeat_n(&crop, 16).collect();
        for size in [1, 4] {
            g.bench_function(format!("{name}/classify_batch_{size}"), |b| {
                b.iter(|| batched.classify_crops(&batch[..size]).unwrap())
            });
        }
        g.bench_function(format!("{name}/detect_portrait_320"), |b| {
            b.iter(|| {
                centerface
                    .detect_at_scale(&portrait, 320.0 / 600.0)
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}/detect_frame_1280"), |b| {
            b.iter(|| centerface.detect_at_scale(&frame, 1280.0 / 1920.0).unwrap())
        });
        let centerface_whole =
            CenterFace::with_backend(&bytes, &path, whole_passes(), backend).unwrap();
        g.bench_function(format!("{name}/detect_frame_1280_whole"), |b| {
            b.iter(|| {
                centerface_whole
                    .detect_at_scale(&frame, 1280.0 / 1920.0)
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}/classify_batch_16"), |b| {
            b.iter(|| batched.classify_crops(&batch).unwrap())
        });
        g.bench_function(format!("{name}/image_600x600"), |b| {
            b.iter(|| detector.score_image(black_box(&portrait)).unwrap())
        });
        g.bench_function(format!("{name}/video_frame_1080p"), |b| {
            b.iter(|| detector.score_frame(black_box(&frame)).unwrap())
        });
    }
    g.finish();
}

/// One image on one thread against one image with tract's matrix products on two threads
/// (`--features multithread-mm`).
#[cfg(feature = "multithread-mm")]
fn multithread_mm(c: &mut Criterion) {
    use tract_onnx::prelude::tract_linalg::multithread::{Executor, multithread_tract_scope};

    let detector = Detector::from_manifest(manifest(), tract()).unwrap();
    let portrait = image::open(data("dev/yonsei/real/real_00008.jpg"))
        .unwrap()
        .to_rgb8();
    let frame = frame_1080p();
    let two = Executor::multithread(2);
    let mut g = c.benchmark_group("multithread_mm");
    g.sample_size(20);
    for (name, executor) in [("1_thread", Executor::SingleThread), ("2_threads", two)] {
        g.bench_function(format!("{name}/image_600x600"), |b| {
            b.iter(|| {
                multithread_tract_scope(executor.clone(), || {
                    detector.score_image(black_box(&portrait)).unwrap()
                })
            })
        });
        g.bench_function(format!("{name}/video_frame_1080p"), |b| {
            b.iter(|| {
                multithread_tract_scope(executor.clone(), || {
                    detector.score_frame(black_box(&frame)).unwrap()
                })
            })
        });
    }
    g.finish();
}

#[cfg(not(feature = "multithread-mm"))]
fn multithread_mm(_: &mut Criterion) {}

criterion_group!(stages, benches, backends, multithread_mm);
criterion_main!(stages);
