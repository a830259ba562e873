//! Decodes one video to RGB frames two ways, several times each, and prints the median wall time:
//!
//! - `pipe`: facetell's own path, [`facetell::video::decode_frames`] (the `ffmpeg` binary writes
//!   rgb24 to a pipe; its select filter picks the sampled frames, showinfo gives timestamps);
//! - `ffmpeg-next`: libavformat/libavcodec/libswscale linked in, frame-threaded decoding, the
//!   same frames converted to RGB.
//!
//! Both hand every selected frame to the caller as an owned `RgbImage`, as the pipeline needs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use facetell::video::{Sampling, VideoParams, decode_frames};
use ffmpeg_next as ffmpeg;
use image::RgbImage;

const REPS: usize = 5;

fn pipe(path: &Path, sampling: Sampling) -> usize {
    let params = VideoParams {
        sampling,
        ..VideoParams::default()
    };
    let mut n = 0;
    decode_frames(path, &params, |frame| {
        std::hint::black_box(&frame.image);
        n += 1;
        Ok(())
    })
    .expect("pipe decode");
    n
}

/// `samples`: None for every frame, Some(k) for the first frame of each of k equal time bins.
fn linked(path: &Path, samples: Option<usize>) -> Result<usize, ffmpeg::Error> {
    let mut input = ffmpeg::format::input(path)?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or(ffmpeg::Error::StreamNotFound)?;
    let index = stream.index();
    let time_base = f64::from(stream.time_base());
    let duration = input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE);
    let mut context = ffmpeg::codec::context::Context::from_parameters(stream.parameters())?;
    context.set_threading(ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    let mut decoder = context.decoder().video()?;
    let (w, h) = (decoder.width(), decoder.height());
    let mut scaler = ffmpeg::software::scaling::Context::get(
        decoder.format(),
        w,
        h,
        ffmpeg::format::Pixel::RGB24,
        w,
        h,
        ffmpeg::software::scaling::Flags::BILINEAR,
    )?;
    let mut decoded = ffmpeg::frame::Video::empty();
    let mut rgb = ffmpeg::frame::Video::empty();
    let mut next_bin = 0usize;
    let mut n = 0;
    let mut take = |decoded: &ffmpeg::frame::Video,
                    scaler: &mut ffmpeg::software::scaling::Context|
     -> Result<(), ffmpeg::Error> {
        if let Some(k) = samples {
            let t = decoded.pts().unwrap_or(0) as f64 * time_base;
            let bin = ((t / duration) * k as f64).floor() as usize;
            if bin < next_bin || next_bin >= k {
                return Ok(());
            }
            next_bin = bin + 1;
        }
        scaler.run(decoded, &mut rgb)?;
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let mut pixels = Vec::with_capacity((w * h * 3) as usize);
        for row in 0..h as usize {
            pixels.extend_from_slice(&data[row * stride..row * stride + w as usize * 3]);
        }
        std::hint::black_box(RgbImage::from_raw(w, h, pixels).expect("frame size"));
        n += 1;
        Ok(())
    };
    for (s, packet) in input.packets() {
        if s.index() != index {
            continue;
        }
        decoder.send_packet(&packet)?;
        while decoder.receive_frame(&mut decoded).is_ok() {
            take(&decoded, &mut scaler)?;
        }
    }
    decoder.send_eof()?;
    while decoder.receive_frame(&mut decoded).is_ok() {
        take(&decoded, &mut scaler)?;
    }
    Ok(n)
}

fn median_ms(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut frames = 0;
    for _ in 0..REPS {
        let t = Instant::now();
        frames = f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[REPS / 2], frames)
}

fn main() {
    ffmpeg::init().expect("FFmpeg libraries");
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: facetell-ffmpeg-next-bench VIDEO"),
    );
    println!("{} (median of {REPS} runs)", path.display());
    println!("| mode | pipe (facetell) | ffmpeg-next | pipe / ffmpeg-next |");
    println!("|---|---|---|---|");
    for (name, sampling, samples) in [
        ("every frame", Sampling::All, None),
        ("32 uniform samples", Sampling::Uniform(32), Some(32)),
    ] {
        let (p, pn) = median_ms(|| pipe(&path, sampling));
        let (l, ln) = median_ms(|| linked(&path, samples).expect("ffmpeg-next decode"));
        println!(
            "| {name} | {p:.0} ms ({pn} frames) | {l:.0} ms ({ln} frames) | {:.2} |",
            p / l
        );
    }
}
