//! Video decoding and frame sampling through the system's FFmpeg command-line tools.
//!
//! Why a pipe from the `ffmpeg` binary rather than `ffmpeg-next` bindings, measured
//! (`benches/ffmpeg_next/run.sh`, benches/README.md): on the 1080p fixture, 32 uniform samples
//! decode in 586 ms through the pipe against 338 ms through ffmpeg-next (every frame: 854 against
//! 363 ms; process start, ffprobe and 6 MB per frame through the pipe). Per video that is about
//! 0.25 s beside 8.8 s of detection and classification (tract; 4.9 s on ONNX Runtime), 3-5% of
//! the scan. For that price the pipe (1) runs the decoder in its own process, so a libavcodec
//! crash or hang on a hostile upload kills one `ffmpeg` child, reported as that file's error,
//! not the batch; and (2) keeps FFmpeg out of the build: the bindings need FFmpeg's development
//! headers, pkg-config and clang at build time and match one FFmpeg major version, for a crate
//! most library users call on images only. The pipe needs FFmpeg only when a video is scanned.
//!
//! Sampling: `Uniform(n)` spreads n frames over the duration (32 by default, the usual evaluation
//! protocol), `Fps(r)` takes r frames per second, `All` takes every frame. Short videos are decoded
//! in one pass with FFmpeg's `select` filter (exact with variable frame rate); long ones are
//! sampled by seeking, one short FFmpeg run per frame, so a one-hour video is not decoded in full.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Which frames of a video to score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// This many frames spread uniformly over the duration.
    Uniform(usize),
    /// This many frames per second of video.
    Fps(f64),
    /// Every frame.
    All,
}

/// Video decoding settings.
#[derive(Debug, Clone)]
pub struct VideoParams {
    /// Which frames to score.
    pub sampling: Sampling,
    /// Stop decoding a file after this long and report what was scored, with a warning.
    pub time_limit: Duration,
    /// Videos longer than this many seconds are sampled by seeking instead of decoding in full.
    pub seek_above_s: f64,
}

impl Default for VideoParams {
    /// The defaults of [`Config::default`](crate::Config).
    fn default() -> Self {
        crate::Config::default().video
    }
}

/// What `ffprobe` says about a video's first video stream.
#[derive(Debug, Clone)]
pub struct VideoInfo {
    /// Width of decoded (rotation-corrected) frames.
    pub width: u32,
    /// Height of decoded (rotation-corrected) frames.
    pub height: u32,
    /// Duration in seconds (0 when unknown).
    pub duration_s: f64,
    /// Average frame rate (0 when unknown).
    pub fps: f64,
    /// Codec name, e.g. "h264".
    pub codec: String,
}

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// Frame number (from the timestamp and the average rate).
    pub index: u64,
    /// Presentation time in seconds.
    pub time_s: f64,
    /// The upright RGB frame.
    pub image: RgbImage,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_name: Option<String>,
    codec_tag_string: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    side_data_list: Vec<serde_json::Value>,
    #[serde(default)]
    tags: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

fn video_err(reason: impl Into<String>) -> Error {
    Error::Video {
        reason: reason.into(),
    }
}

fn tool_missing(tool: &str, e: std::io::Error) -> Error {
    video_err(format!(
        "cannot run {tool} ({e}); install FFmpeg (Debian/Ubuntu: apt-get install ffmpeg) to scan videos"
    ))
}

fn parse_rate(rate: &str) -> f64 {
    match rate.split_once('/') {
        Some((n, d)) => {
            let (n, d) = (
                n.parse::<f64>().unwrap_or(0.0),
                d.parse::<f64>().unwrap_or(0.0),
            );
            if d > 0.0 { n / d } else { 0.0 }
        }
        None => rate.parse().unwrap_or(0.0),
    }
}

/// Reads stream facts with `ffprobe`.
pub fn probe(path: &Path) -> Result<VideoInfo> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("stream=codec_name,codec_tag_string,width,height,avg_frame_rate,duration:stream_side_data=rotation:stream_tags=rotate:format=duration")
        .args(["-of", "json"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| tool_missing("ffprobe", e))?;
    let probe: Probe = serde_json::from_slice(&output.stdout).map_err(|_| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        video_err(format!("not a readable video ({})", first_line(&stderr)))
    })?;
    if !output.status.success() && probe.streams.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(video_err(format!(
            "not a readable video ({})",
            first_line(&stderr)
        )));
    }
    let stream = probe
        .streams
        .into_iter()
        .next()
        .ok_or_else(|| video_err("the file has no video stream (audio only?)"))?;
    if stream
        .codec_name
        .as_deref()
        .is_none_or(|c| c == "unknown" || c.is_empty())
    {
        return Err(video_err(format!(
            "unsupported video codec (tag {}): FFmpeg has no decoder for it; re-encode the video \
             (to H.264, say) or use an FFmpeg build that decodes it",
            stream.codec_tag_string.as_deref().unwrap_or("none")
        )));
    }
    let (mut width, mut height) = match (stream.width, stream.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(video_err("the video stream has no frame size")),
    };
    let rotation = stream
        .side_data_list
        .iter()
        .find_map(|d| d.get("rotation").and_then(serde_json::Value::as_f64))
        .or_else(|| {
            stream
                .tags
                .get("rotate")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or(0.0);
    if (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0 {
        std::mem::swap(&mut width, &mut height);
    }
    let duration_s = stream
        .duration
        .as_deref()
        .or(probe.format.as_ref().and_then(|f| f.duration.as_deref()))
        .and_then(|d| d.parse::<f64>().ok())
        .unwrap_or(0.0);
    Ok(VideoInfo {
        width,
        height,
        duration_s,
        fps: stream.avg_frame_rate.as_deref().map_or(0.0, parse_rate),
        codec: stream.codec_name.unwrap_or_default(),
    })
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("ffprobe gave no reason")
        .trim()
}

/// Decodes the sampled frames of a video, handing each to `on_frame` as soon as it is decoded
/// (frames are never all held in memory). Frames over `max_pixels` (width * height) are refused
/// before decoding. Returns the probe facts and non-fatal warnings (decoder errors on a damaged
/// file, the time limit).
pub fn decode_frames(
    path: &Path,
    params: &VideoParams,
    max_pixels: u64,
    mut on_frame: impl FnMut(VideoFrame) -> Result<()>,
) -> Result<(VideoInfo, Vec<String>)> {
    let info = probe_within(path, max_pixels)?;
    let deadline = Instant::now() + params.time_limit;
    let mut warnings = Vec::new();
    let mut count = 0usize;
    if seeks(params, &info) {
        let Sampling::Uniform(n) = params.sampling else {
            unreachable!()
        };
        for i in 0..n {
            if Instant::now() > deadline {
                warnings.push(format!(
                    "time limit of {:?} reached; {count} of {n} frames scored",
                    params.time_limit
                ));
                break;
            }
            let t = (i as f64 + 0.5) * info.duration_s / n as f64;
            let mut run = FfmpegRun::start(path, Some(t), None)?;
            if let Some(frame) = run.next_frame(&info)? {
                // Input seeking restarts timestamps at zero: the frame's time is the seek target.
                on_frame(VideoFrame {
                    time_s: t,
                    index: (t * info.fps).round() as u64,
                    ..frame
                })?;
                count += 1;
            }
            warnings.extend(run.finish());
        }
    } else {
        let step = match params.sampling {
            Sampling::Uniform(n) if info.duration_s > 0.0 => {
                Some(info.duration_s / n.max(1) as f64)
            }
            Sampling::Uniform(_) => None,
            Sampling::Fps(r) => Some(1.0 / r.max(1e-6)),
            Sampling::All => None,
        };
        // The first frame of each time bin of width `step`: exactly one frame per bin, so a
        // uniform sample of n bins gives n frames whatever the frame rate (even variable).
        let filter = step.map(|step| {
            format!(
                "select='isnan(prev_selected_t)+gt(floor(t/{step:.6})\\,floor(prev_selected_t/{step:.6}))'"
            )
        });
        let limit = match params.sampling {
            Sampling::Uniform(n) => Some(n),
            _ => None,
        };
        let mut run = FfmpegRun::start(path, None, filter)?;
        while let Some(frame) = run.next_frame(&info)? {
            on_frame(frame)?;
            count += 1;
            if limit.is_some_and(|l| count >= l) {
                break;
            }
            if Instant::now() > deadline {
                warnings.push(format!(
                    "time limit of {:?} reached; {count} frames scored",
                    params.time_limit
                ));
                break;
            }
        }
        let truncated_early = limit.is_some_and(|l| count >= l);
        let ffmpeg_warnings = run.finish();
        if !truncated_early {
            warnings.extend(ffmpeg_warnings);
        }
    }
    if count == 0 {
        let why = warnings
            .first()
            .cloned()
            .unwrap_or_else(|| "no frame could be decoded".into());
        return Err(video_err(format!("no decodable frame ({why})")));
    }
    Ok((info, warnings))
}

/// Decodes again the frames [`decode_frames`] gave at `times` (seconds, ascending) with the same
/// `params`: a second look at frames already scored (for heatmaps), without keeping every
/// sampled frame. Frames that were found by seeking are sought again; the others are picked by
/// their time in one decoding pass, as seeking into some files lands on a damaged frame.
pub fn decode_frames_at(
    path: &Path,
    times: &[f64],
    params: &VideoParams,
    max_pixels: u64,
) -> Result<Vec<VideoFrame>> {
    let info = probe_within(path, max_pixels)?;
    let mut frames = Vec::with_capacity(times.len());
    if seeks(params, &info) {
        for &t in times {
            let mut run = FfmpegRun::start(path, Some(t), None)?;
            let frame = run.next_frame(&info);
            run.finish();
            if let Some(frame) = frame? {
                frames.push(VideoFrame { time_s: t, ..frame });
            }
        }
    } else if !times.is_empty() {
        // Within a quarter of a frame of a wanted time.
        let near = 0.25 / info.fps.max(1.0);
        let wanted: Vec<String> = (times.iter())
            .map(|t| format!("lt(abs(t-{t:.6})\\,{near:.6})"))
            .collect();
        let filter = format!("select='{}'", wanted.join("+"));
        let mut run = FfmpegRun::start(path, None, Some(filter))?;
        while frames.len() < times.len() {
            match run.next_frame(&info) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    run.finish();
                    return Err(e);
                }
            }
        }
        run.finish();
    }
    Ok(frames)
}

/// Whether [`decode_frames`] samples this video by seeking (a uniform sample of a long video).
fn seeks(params: &VideoParams, info: &VideoInfo) -> bool {
    matches!(params.sampling, Sampling::Uniform(_)) && info.duration_s > params.seek_above_s
}

/// [`probe`], refusing frames over `max_pixels` (width * height) before anything is decoded.
fn probe_within(path: &Path, max_pixels: u64) -> Result<VideoInfo> {
    let info = probe(path)?;
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels > max_pixels {
        return Err(Error::TooManyPixels {
            width: info.width,
            height: info.height,
            pixels,
            limit: max_pixels,
        });
    }
    Ok(info)
}

/// One running `ffmpeg` writing raw RGB frames to a pipe, with its log read on the side.
struct FfmpegRun {
    child: Child,
    stdout: std::process::ChildStdout,
    times: mpsc::Receiver<f64>,
    log: std::thread::JoinHandle<Vec<String>>,
}

impl FfmpegRun {
    /// Starts decoding `path`'s first video stream, from `seek` seconds (then one frame only),
    /// through the `select` filter if given.
    fn start(path: &Path, seek: Option<f64>, select: Option<String>) -> Result<FfmpegRun> {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "info"]);
        if let Some(t) = seek {
            // One decoding thread: after a seek into a stream whose keyframes are not clean
            // entry points (open GOPs, damage), frames that refer back past the keyframe are
            // concealed, and with frame threads differently from run to run; one thread makes
            // the same file give the same frames, so the same verdict (about 30% slower per seek
            // on a 1080p clip here).
            cmd.args(["-threads", "1", "-ss", &format!("{t:.3}")]);
        }
        cmd.arg("-i").arg(path);
        let mut filters: Vec<String> = select.into_iter().collect();
        filters.push("showinfo".to_string());
        cmd.args(["-map", "0:v:0", "-vf", &filters.join(",")]);
        if seek.is_some() {
            cmd.args(["-frames:v", "1"]);
        }
        cmd.args([
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_missing("ffmpeg", e))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, times) = mpsc::channel();
        let log = std::thread::spawn(move || {
            let mut problems = Vec::new();
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if let Some(rest) = line.split("pts_time:").nth(1) {
                    let t = rest
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<f64>().ok());
                    let _ = tx.send(t.unwrap_or(f64::NAN));
                } else if is_problem(&line) && problems.len() < 5 {
                    problems.push(line.trim().to_string());
                }
            }
            problems
        });
        Ok(FfmpegRun {
            child,
            stdout,
            times,
            log,
        })
    }

    fn next_frame(&mut self, info: &VideoInfo) -> Result<Option<VideoFrame>> {
        let len = info.width as usize * info.height as usize * 3;
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(video_err(format!("reading frames from ffmpeg failed: {e}"))),
            }
        }
        if filled < len {
            return Ok(None);
        }
        let time_s = self
            .times
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or(f64::NAN);
        let image =
            RgbImage::from_raw(info.width, info.height, buf).expect("buffer has the frame size");
        let index = if info.fps > 0.0 && time_s.is_finite() {
            (time_s * info.fps).round() as u64
        } else {
            0
        };
        Ok(Some(VideoFrame {
            index,
            time_s,
            image,
        }))
    }

    /// Stops ffmpeg and returns the decoder problems it logged.
    fn finish(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.stdout);
        self.log.join().unwrap_or_default()
    }
}

fn is_problem(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "error",
        "invalid",
        "corrupt",
        "truncated",
        "missing",
        "not found",
        "partial file",
    ]
    .iter()
    .any(|w| l.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_parse() {
        assert_eq!(parse_rate("25/1"), 25.0);
        assert_eq!(parse_rate("30000/1001"), 30000.0 / 1001.0);
        assert_eq!(parse_rate("0/0"), 0.0);
    }
}
