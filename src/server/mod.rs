//! `facetell serve`: the scanning core over HTTP, for moderation and identity-verification
//! systems calling from any language.
//!
//! | endpoint | what |
//! |---|---|
//! | `POST /v1/scan` | one image or video as the raw body, or several as `multipart/form-data`; the answer is the record of `facetell scan --format json` (an array for multipart) |
//! | `GET /v1/model` | model name, sha256, default threshold, crop policy, inference backend |
//! | `GET /healthz` | the process answers |
//! | `GET /readyz` | the models are loaded (503 until then) |
//! | `GET /metrics` | Prometheus text: requests, latency, files by label, errors by kind, scans in flight, queue |
//! | `GET /openapi.json` | the OpenAPI document of this API |
//!
//! Work is bounded: at most `workers` scans run at once and `queue` more wait; beyond that a
//! request gets 503 with `Retry-After`. Uploads stay in memory, except a video, which FFmpeg reads
//! from a file in a private temporary folder removed when its scan ends. Nothing about a face or a
//! file is logged.

mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use facetell::video::Sampling;
use facetell::{Detector, Error, FileReport, Scanner, Verdict};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use metrics::Metrics;

/// The OpenAPI document of this API, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How the server runs; defaults are the `facetell serve` flags'.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body in bytes (413 above it).
    pub max_body: usize,
    /// Longest a scan request may take before it is answered 504.
    pub request_timeout: Duration,
    /// Scans running at once.
    pub workers: usize,
    /// Requests waiting for a worker before new ones get 503.
    pub queue: usize,
    /// Bearer token required on `/v1/*` and `/metrics`, if set.
    pub token: Option<String>,
}

/// What `GET /v1/model` answers, known once the models are loaded.
struct Loaded {
    scanner: Scanner,
    model: Value,
}

struct App {
    loaded: OnceLock<Loaded>,
    /// Permits for scans running at once.
    workers: Arc<Semaphore>,
    /// Permits for requests admitted (running plus waiting).
    admitted: Arc<Semaphore>,
    settings: Settings,
    metrics: Metrics,
}

/// Runs the server until SIGTERM or Ctrl-C, then lets requests in flight finish. The models
/// load after the socket is bound (`/readyz` says when), from `manifest` with `detector`'s
/// settings (`load` builds it).
pub fn run(
    settings: Settings,
    load: impl FnOnce() -> anyhow::Result<(Detector, Value)> + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    let result = runtime.block_on(serve(settings, load));
    // Scans still running after the last response (a timed-out request's) get a little time.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn serve(
    settings: Settings,
    load: impl FnOnce() -> anyhow::Result<(Detector, Value)> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let app = Arc::new(App {
        loaded: OnceLock::new(),
        workers: Arc::new(Semaphore::new(settings.workers.max(1))),
        admitted: Arc::new(Semaphore::new(settings.workers.max(1) + settings.queue)),
        metrics: Metrics::new(),
        settings,
    });
    eprintln!("facetell serve: listening on http://{address}");
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<anyhow::Error>();
    let loading = Arc::clone(&app);
    tokio::task::spawn_blocking(move || match load() {
        Ok((detector, model)) => {
            eprintln!(
                "facetell serve: models loaded ({}), ready",
                detector.model_name()
            );
            let _ = loading.loaded.set(Loaded {
                scanner: Scanner::new(detector),
                model,
            });
        }
        Err(e) => {
            let _ = failed_tx.send(e);
        }
    });
    let router = router(Arc::clone(&app));
    let failure = Arc::new(std::sync::Mutex::new(None));
    let slot = Arc::clone(&failure);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown_signal() => {
                    eprintln!("facetell serve: shutting down after the requests in flight");
                }
                Ok(e) = failed_rx => *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e),
            }
        })
        .await
        .context("the server stopped")?;
    let failed = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        Some(e) => Err(e.context("cannot load the models")),
        None => Ok(()),
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
}

fn router(app: Arc<App>) -> Router {
    let guarded = Router::new()
        .route("/v1/scan", post(scan))
        .route("/v1/model", get(model))
        .route("/metrics", get(metrics_text))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), auth));
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .merge(guarded)
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(app.settings.max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| internal_error(),
        ))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), count))
        .with_state(app)
}

/// A JSON error answer: `{"error": message, "kind": kind}`.
fn error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into(), "kind": kind}))).into_response()
}

fn internal_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; please report it to the facetell developers",
    )
}

/// `response` with one more header.
fn with_header(mut response: Response, name: header::HeaderName, value: &'static str) -> Response {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
    response
}

/// Counts every answer in the metrics, by endpoint and status, with its latency.
async fn count(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let endpoint = match request.uri().path() {
        "/v1/scan" => "/v1/scan",
        "/v1/model" => "/v1/model",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/openapi.json" => "/openapi.json",
        _ => "other",
    };
    let start = Instant::now();
    let response = next.run(request).await;
    app.metrics
        .request(endpoint, response.status().as_u16(), start.elapsed());
    response
}

/// Requires `Authorization: Bearer TOKEN` when the server has a token.
async fn auth(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.settings.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.is_none_or(|g| !constant_time_eq(g.as_bytes(), token.as_bytes())) {
            app.metrics.error("unauthorized");
            let response = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token: send Authorization: Bearer <the --token-file's token>",
            );
            return with_header(response, header::WWW_AUTHENTICATE, "Bearer");
        }
    }
    next.run(request).await
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.loaded.get() {
        Some(_) => Json(json!({"status": "ready"})).into_response(),
        None => not_ready(),
    }
}

async fn model(State(app): State<Arc<App>>) -> Response {
    match app.loaded.get() {
        Some(loaded) => Json(loaded.model.clone()).into_response(),
        None => not_ready(),
    }
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn not_ready() -> Response {
    let response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "loading",
        "the models are still loading; retry shortly",
    );
    with_header(response, header::RETRY_AFTER, "1")
}

/// Query options of `POST /v1/scan`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanQuery {
    /// Decision threshold [default: the model's].
    threshold: Option<f32>,
    /// Frames sampled per video.
    frames: Option<usize>,
    /// Frames per second sampled instead of a count.
    fps: Option<f64>,
    /// Return each scored face's heatmap as a base64 PNG.
    #[serde(default)]
    heatmap: bool,
    /// File name of a raw body (for the record, and to recognise videos by extension).
    name: Option<String>,
}

impl ScanQuery {
    fn sampling(&self, default: Sampling) -> Result<Sampling, &'static str> {
        match (self.frames, self.fps) {
            (Some(_), Some(_)) => Err("give frames or fps, not both"),
            (Some(0), _) => Err("frames must be at least 1"),
            (Some(n), None) => Ok(Sampling::Uniform(n)),
            (None, Some(r)) if r > 0.0 && r.is_finite() => Ok(Sampling::Fps(r)),
            (None, Some(_)) => Err("fps must be a positive number"),
            (None, None) => Ok(default),
        }
    }
}

/// What a scan request was admitted with: its options, the loaded models, its frame sampling and
/// its place among the running and waiting requests.
struct Admitted<'a> {
    query: ScanQuery,
    loaded: &'a Loaded,
    sampling: Sampling,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Every check made before the upload is read: the query, the models, the declared body size and
/// the queue. A refusal is the answer to send (boxed: a `Response` is large for an `Err`).
fn admit<'a>(
    app: &'a Arc<App>,
    query: Result<Query<ScanQuery>, axum::extract::rejection::QueryRejection>,
    headers: &header::HeaderMap,
) -> Result<Admitted<'a>, Box<Response>> {
    let Query(query) = query
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, "bad_request", e.body_text())))?;
    if let Some(t) = query.threshold
        && !(0.0..=1.0).contains(&t)
    {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("threshold {t} is outside 0..1"),
        )));
    }
    let loaded = app.loaded.get().ok_or_else(|| Box::new(not_ready()))?;
    let sampling = (query.sampling(loaded.scanner.detector().config().video.sampling))
        .map_err(|message| Box::new(error(StatusCode::BAD_REQUEST, "bad_request", message)))?;
    let declared =
        (headers.get(header::CONTENT_LENGTH)).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > app.settings.max_body as u64) {
        return Err(Box::new(too_large(app.settings.max_body)));
    }
    // Admission: running plus waiting requests are bounded; beyond that, 503 at once.
    let Ok(permit) = Arc::clone(&app.admitted).try_acquire_owned() else {
        app.metrics.error("queue_full");
        let response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_full",
            "every worker is busy and the queue is full; retry after a second",
        );
        return Err(Box::new(with_header(response, header::RETRY_AFTER, "1")));
    };
    Ok(Admitted {
        query,
        loaded,
        sampling,
        permit,
    })
}

async fn scan(
    State(app): State<Arc<App>>,
    query: Result<Query<ScanQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let Admitted {
        query,
        loaded,
        sampling,
        permit: admitted,
    } = match admit(&app, query, request.headers()) {
        Ok(admitted) => admitted,
        Err(refusal) => {
            discard(request.into_body(), app.settings.max_body).await;
            return *refusal;
        }
    };
    let files = match read_files(request, query.name.clone(), app.settings.max_body).await {
        Ok(files) => files,
        Err(response) => return response,
    };
    let multipart = files.multipart;
    app.metrics.queued.inc();
    let worker = Arc::clone(&app.workers).acquire_owned().await;
    app.metrics.queued.dec();
    let Ok(worker) = worker else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        );
    };
    let scanner = (loaded.scanner.clone())
        .with_sampling(sampling)
        .with_heatmaps(query.heatmap)
        .with_threshold(query.threshold);
    let heatmap = query.heatmap;
    // The gauge, the worker and the admission are released when the scan ends, which may be
    // after this request has been answered 504.
    let in_flight = app.metrics.in_flight.clone();
    in_flight.inc();
    let task = tokio::task::spawn_blocking(move || {
        let answers: Vec<(Answer, Option<&'static str>)> = files
            .items
            .iter()
            .map(|(name, bytes)| answer(&scanner.scan_bytes(bytes, name.as_deref()), heatmap))
            .collect();
        in_flight.dec();
        drop((worker, admitted));
        answers
    });
    let timeout = app.settings.request_timeout;
    let answers = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(answers)) => answers,
        Ok(Err(_)) => {
            app.metrics.error("internal");
            return internal_error();
        }
        Err(_) => {
            app.metrics.error("timeout");
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "the scan took longer than the server's limit of {} s; send a shorter video \
                     or fewer frames (frames=N), or raise --request-timeout",
                    timeout.as_secs()
                ),
            );
        }
    };
    for (answer, error_kind) in &answers {
        app.metrics.file(answer.record.label.as_str());
        if let Some(kind) = error_kind {
            app.metrics.error(kind);
        }
    }
    if multipart {
        let all: Vec<Answer> = answers.into_iter().map(|(a, _)| a).collect();
        return Json(all).into_response();
    }
    let (answer, error_kind) = answers.into_iter().next().expect("one file in a raw body");
    let status = match error_kind {
        None => StatusCode::OK,
        Some("file_too_large") => StatusCode::PAYLOAD_TOO_LARGE,
        Some("internal") => StatusCode::INTERNAL_SERVER_ERROR,
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, Json(answer)).into_response()
}

/// The files of a request: the raw body as one, or each part of a multipart body.
struct Files {
    items: Vec<(Option<String>, Bytes)>,
    multipart: bool,
}

/// The answer to a request body over `--max-body-size`.
fn too_large(max_body: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is over the server's limit of {max_body} bytes; send smaller files \
             or raise --max-body-size"
        ),
    )
}

/// How many times `--max-body-size` of a refused upload is read (and dropped) at most.
const DISCARD_FACTOR: usize = 4;
/// How long a refused upload is read at most.
const DISCARD_TIME: Duration = Duration::from_secs(10);

/// Reads a refused request's body to its end (at most `DISCARD_FACTOR` times `max_body` bytes, for
/// at most `DISCARD_TIME`) and drops it as it comes, so that a client still sending gets the
/// answer instead of a connection reset (a broken pipe on its side). Every refusal made before the
/// upload is read goes through here (`admit`).
async fn discard(mut body: axum::body::Body, max_body: usize) {
    let limit = max_body.saturating_mul(DISCARD_FACTOR);
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, Bytes::len);
            if read > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}

async fn read_files(
    request: Request,
    name: Option<String>,
    max_body: usize,
) -> Result<Files, Response> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let body = Bytes::from_request(request, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(max_body)
            } else {
                error(StatusCode::BAD_REQUEST, "bad_request", e.body_text())
            }
        })?;
        if body.is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body is empty: send an image or a video as the body, or files as \
                 multipart/form-data",
            ));
        }
        return Ok(Files {
            items: vec![(name, body)],
            multipart: false,
        });
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let mut items = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(max_body));
            }
            Err(e) => return Err(error(StatusCode::BAD_REQUEST, "bad_request", e.body_text())),
        };
        let name = field.file_name().or(field.name()).map(str::to_string);
        match field.bytes().await {
            Ok(bytes) => items.push((name, bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(max_body));
            }
            Err(e) => return Err(error(StatusCode::BAD_REQUEST, "bad_request", e.body_text())),
        }
    }
    if items.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the multipart body holds no file",
        ));
    }
    Ok(Files {
        items,
        multipart: true,
    })
}

/// One file's answer: the record of `facetell scan`, plus its heatmaps when asked for.
#[derive(Serialize)]
struct Answer {
    #[serde(flatten)]
    record: FileReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    heatmaps: Option<Vec<Heatmap>>,
}

#[derive(Serialize)]
struct Heatmap {
    /// What it shows (`overview`, `face2`, `t12.40s`, `t12.40s_face1`).
    name: String,
    /// For a face's map: the face's index (an image: into the record's `faces`).
    #[serde(skip_serializing_if = "Option::is_none")]
    face: Option<usize>,
    /// For a video frame: its time.
    #[serde(skip_serializing_if = "Option::is_none")]
    time_s: Option<f64>,
    png_base64: String,
}

/// A verdict as its answer (with its heatmaps, when the scanner rendered them), and the kind of
/// its error, if any.
fn answer(verdict: &Verdict, heatmap: bool) -> (Answer, Option<&'static str>) {
    let heatmaps = heatmap.then(|| {
        (verdict.heatmaps.iter())
            .filter_map(|h| {
                let mut png = Vec::new();
                (h.image)
                    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .ok()?;
                Some(Heatmap {
                    name: h.name.clone(),
                    face: h.face,
                    time_s: h.time_s,
                    png_base64: base64::engine::general_purpose::STANDARD.encode(&png),
                })
            })
            .collect()
    });
    let answer = Answer {
        record: FileReport::from(verdict),
        heatmaps,
    };
    (answer, verdict.error().map(Error::kind))
}
