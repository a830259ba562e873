//! `facetell serve`: the HTTP front end (see the `server` module for the API).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use facetell::{Detector, Manifest};
use serde_json::json;

use super::ScanOptions;
use crate::server::{self, Settings};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,

    /// Largest request body in bytes; larger requests get 413.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    max_body_size: usize,

    /// Seconds a scan request may take before it is answered 504.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    request_timeout: u64,

    /// Requests that may wait for a worker; beyond that, 503 with Retry-After.
    #[arg(long, default_value_t = 64, value_name = "N")]
    queue: usize,

    /// File holding a bearer token that /v1/* and /metrics then require (401 without it).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    #[command(flatten)]
    options: ScanOptions,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.options.config()?;
    let manifest_path = args.options.model.manifest_path()?;
    let token = match &args.token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --token-file {}", path.display()))?;
            let token = token.trim().to_string();
            if token.is_empty() {
                bail!("--token-file {} is empty", path.display());
            }
            Some(token)
        }
        None => None,
    };
    // One scan per worker thread at a time: each scan is single-threaded except a video's
    // frames, which share the same threads.
    (args.options.model.pool_builder()?.build_global()).context("cannot start worker threads")?;
    let workers = rayon::current_num_threads();
    let settings = Settings {
        listen: args.listen,
        max_body: args.max_body_size,
        request_timeout: Duration::from_secs(args.request_timeout),
        workers,
        queue: args.queue,
        token,
    };
    let limits = json!({
        "max_body_size": settings.max_body,
        "max_file_size": config.max_file_size,
        "max_pixels": config.decode.max_pixels,
        "request_timeout_s": args.request_timeout,
        "workers": workers,
        "queue": settings.queue,
    });
    server::run(settings, move || {
        let manifest = Manifest::load(&manifest_path)?;
        let detector = Detector::from_manifest(&manifest_path, config)
            .with_context(|| format!("cannot load the models from {}", manifest_path.display()))?;
        let classifier = manifest.classifier.as_ref();
        let model = json!({
            "name": detector.model_name(),
            "sha256": classifier.map(|c| c.sha256.clone()),
            "threshold": detector.threshold(),
            "input_size": classifier.map(|c| c.input_size),
            "crop": {
                "name": detector.crop_policy().name,
                "size": detector.crop_policy().size,
                "template": detector.crop_policy().template.map(|p| p.map(as_written)),
                "inner": detector.crop_policy().inner.as_ref().map(|view| json!({
                    "name": view.name,
                    "zoom": as_written(view.zoom),
                    "centre": view.centre.map(as_written),
                })),
            },
            "detector_sha256": manifest.detector.sha256,
            "backend": detector.config().backend.name(),
            "facetell_version": env!("CARGO_PKG_VERSION"),
            "limits": limits,
        });
        Ok((detector, model))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A manifest number as written there (f32 widened to f64 would print 0.39100000262260437).
fn as_written(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}
