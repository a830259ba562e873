//! The server's Prometheus metrics (`GET /metrics`, text exposition format).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabels {
    label: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Counters and gauges of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    files: Family<FileLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    /// Scans running now.
    pub in_flight: Gauge,
    /// Requests admitted and waiting for a worker.
    pub queued: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("facetell");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let files = Family::<FileLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let in_flight = Gauge::default();
        let queued = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response, by endpoint",
            latency.clone(),
        );
        registry.register("files", "Files scanned, by label", files.clone());
        registry.register(
            "errors",
            "Files that could not be scanned and rejected requests, by kind",
            errors.clone(),
        );
        registry.register("scans_in_flight", "Scans running now", in_flight.clone());
        registry.register(
            "queue_depth",
            "Requests admitted and waiting for a worker",
            queued.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            files,
            errors,
            in_flight,
            queued,
        }
    }

    /// Records one answered request.
    pub fn request(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { endpoint, status })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one scanned file by its label.
    pub fn file(&self, label: &'static str) {
        self.files.get_or_create(&FileLabels { label }).inc();
    }

    /// Records an error by kind (a file's error kind, or a rejection such as `queue_full`).
    pub fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&ErrorLabels { kind }).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
