//! Prometheus metrics served on `GET /metrics`: requests by route and
//! status, request latency, batch sizes, time in the engine per model
//! call, queue depth, inference requests in flight, requests turned away
//! by load shedding, cache hits and the time
//! spent downloading, loading and warming up the model.
//!
//! Metric names are prefixed `model_server_`. This module only records and
//! encodes; callers decide what to observe.

use std::sync::atomic::AtomicU64;
use std::sync::{PoisonError, RwLock};

use std::fmt::Write;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::admission::Rejection;

/// Labels of a served request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub protocol: Protocol,
    /// Matched route template, e.g. `/v2/models/{model}/infer`, or the
    /// gRPC method, e.g. `/inference.GRPCInferenceService/ModelInfer`.
    pub route: String,
    /// HTTP status code, or gRPC status code name (`OK`, `NOT_FOUND`, ...).
    pub status: Status,
}

/// Labels of a request turned away without running.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectedLabels {
    /// `queue_full` or `deadline` ([`Rejection::reason`]).
    pub reason: &'static str,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub protocol: Protocol,
    pub route: String,
}

/// Which server answered: `http` or `grpc`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
}

impl EncodeLabelValue for Protocol {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
        })
    }
}

/// How a request ended, in its protocol's terms.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Status {
    /// An HTTP status code.
    Http(u16),
    /// A gRPC status code, by its canonical name.
    Grpc(&'static str),
}

impl EncodeLabelValue for Status {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self {
            Status::Http(code) => write!(encoder, "{code}"),
            Status::Grpc(name) => encoder.write_str(name),
        }
    }
}

fn latency_histogram() -> Histogram {
    // 25 µs .. ~13 s
    Histogram::new(exponential_buckets(25e-6, 2.0, 20))
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub batch_size: Histogram,
    pub inference_seconds: Histogram,
    pub queue_depth: Gauge,
    pub requests_in_flight: Gauge,
    pub rejected: Family<RejectedLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub download_seconds: Gauge<f64, AtomicU64>,
    pub load_seconds: Gauge<f64, AtomicU64>,
    pub warmup_seconds: Gauge<f64, AtomicU64>,
    pub ready: Gauge,
    /// Series of `requests` and `latency` already created, so that
    /// recording a request finds its two metrics with a short scan, not by
    /// allocating and hashing its labels twice. Capped: routes are few, but
    /// status codes are whatever handlers answer.
    recent: RwLock<Vec<Series>>,
}

/// The two metrics of one (protocol, route, status).
struct Series {
    protocol: Protocol,
    route: Box<str>,
    status: Status,
    requests: Counter,
    latency: Histogram,
}

impl Series {
    fn is(&self, protocol: Protocol, route: &str, status: Status) -> bool {
        self.protocol == protocol && self.status == status && *self.route == *route
    }
}

/// How many series [`Metrics::observe`] remembers.
const RECENT_SERIES: usize = 32;

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("model_server"),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            // 10 µs .. ~20 s
            inference_seconds: Histogram::new(exponential_buckets(10e-6, 2.0, 22)),
            queue_depth: Gauge::default(),
            requests_in_flight: Gauge::default(),
            rejected: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            download_seconds: Gauge::default(),
            load_seconds: Gauge::default(),
            warmup_seconds: Gauge::default(),
            ready: Gauge::default(),
            recent: RwLock::default(),
        };
        metrics.register();
        // Every reason shows from the start, at 0.
        for rejection in Rejection::ALL {
            let _ = metrics.rejected.get_or_create(&RejectedLabels {
                reason: rejection.reason(),
            });
        }
        metrics
    }

    /// Counts a request turned away without running.
    pub fn reject(&self, rejection: Rejection) {
        self.rejected
            .get_or_create(&RejectedLabels {
                reason: rejection.reason(),
            })
            .inc();
    }

    /// Enters every metric in the registry, with its name and help text.
    fn register(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "requests",
            "Requests served, by protocol, route and status",
            self.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request received to response ready, by protocol and route",
            self.latency.clone(),
        );
        registry.register(
            "batch_size",
            "Rows per model execution",
            self.batch_size.clone(),
        );
        registry.register(
            "inference_duration_seconds",
            "Time the engine took per model execution (a whole batch)",
            self.inference_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Requests waiting for the batcher",
            self.queue_depth.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Inference requests received and not yet answered",
            self.requests_in_flight.clone(),
        );
        registry.register(
            "requests_rejected",
            "Inference requests answered without running, by reason: queue_full (--max-queue rows \
             were waiting) or deadline (its timeout passed while it waited)",
            self.rejected.clone(),
        );
        registry.register(
            "cache_hits",
            "Predictions answered from the precompute cache",
            self.cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Cache lookups that ran the model",
            self.cache_misses.clone(),
        );
        registry.register(
            "model_download_seconds",
            "Time spent fetching the model",
            self.download_seconds.clone(),
        );
        registry.register(
            "model_load_seconds",
            "Time spent loading and optimizing the model",
            self.load_seconds.clone(),
        );
        registry.register(
            "model_warmup_seconds",
            "Time spent on warm-up batches",
            self.warmup_seconds.clone(),
        );
        registry.register(
            "ready",
            "1 when the server accepts inference requests",
            self.ready.clone(),
        );
    }

    /// Records one HTTP request.
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.observe(Protocol::Http, route, Status::Http(status), seconds);
    }

    /// Records one request of either protocol.
    pub fn observe(&self, protocol: Protocol, route: &str, status: Status, seconds: f64) {
        let known = self.recent.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = known.iter().find(|s| s.is(protocol, route, status)) {
            series.requests.inc();
            series.latency.observe(seconds);
            return;
        }
        drop(known);
        let series = Series {
            protocol,
            route: route.into(),
            status,
            requests: self
                .requests
                .get_or_create(&RequestLabels {
                    protocol,
                    route: route.to_string(),
                    status,
                })
                .clone(),
            latency: self
                .latency
                .get_or_create(&RouteLabels {
                    protocol,
                    route: route.to_string(),
                })
                .clone(),
        };
        series.requests.inc();
        series.latency.observe(seconds);
        let mut known = self.recent.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() < RECENT_SERIES && !known.iter().any(|s| s.is(protocol, route, status)) {
            known.push(series);
        }
    }

    /// Counts one inference request in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight {
        self.requests_in_flight.inc();
        InFlight(self.requests_in_flight.clone())
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// An inference request being served: counted in
/// `model_server_requests_in_flight` while it lives.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_text_names_every_family() {
        let metrics = Metrics::new();
        metrics.observe_request("/v2/models/{model}/infer", 200, 0.001);
        metrics.observe(
            Protocol::Grpc,
            "/inference.GRPCInferenceService/ModelInfer",
            Status::Grpc("NOT_FOUND"),
            0.001,
        );
        metrics.batch_size.observe(8.0);
        metrics.reject(Rejection::QueueFull);
        let text = metrics.encode();
        for name in [
            "model_server_requests_total{protocol=\"http\",route=\"/v2/models/{model}/infer\",status=\"200\"} 1",
            "model_server_requests_total{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"NOT_FOUND\"} 1",
            "model_server_request_duration_seconds_bucket",
            "model_server_batch_size_count 1",
            "model_server_inference_duration_seconds_count 0",
            "model_server_queue_depth 0",
            "model_server_requests_in_flight 0",
            "model_server_requests_rejected_total{reason=\"queue_full\"} 1",
            "model_server_requests_rejected_total{reason=\"deadline\"} 0",
            "model_server_model_load_seconds",
            "model_server_model_warmup_seconds",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn every_series_counts_whether_remembered_or_not() {
        let metrics = Metrics::new();
        // More statuses than the remembered series, each seen three times.
        for _ in 0..3 {
            for status in 0..RECENT_SERIES as u16 + 8 {
                metrics.observe_request("/v2/models/{model}/infer", 400 + status, 0.001);
            }
        }
        metrics.observe(Protocol::Grpc, "/x/Y", Status::Grpc("OK"), 0.5);
        let text = metrics.encode();
        for status in [400, 400 + RECENT_SERIES as u16 + 7] {
            let line = format!(
                "model_server_requests_total{{protocol=\"http\",route=\"/v2/models/{{model}}/infer\",status=\"{status}\"}} 3"
            );
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains(
            "model_server_request_duration_seconds_count{protocol=\"http\",route=\"/v2/models/{model}/infer\"} 120"
        ), "{text}");
        assert!(
            text.contains(
                "model_server_requests_total{protocol=\"grpc\",route=\"/x/Y\",status=\"OK\"} 1"
            ),
            "{text}"
        );
        assert_eq!(metrics.recent.read().unwrap().len(), RECENT_SERIES);
    }

    #[test]
    fn in_flight_counts_live_guards() {
        let metrics = Metrics::new();
        let first = metrics.in_flight();
        let second = metrics.in_flight();
        assert_eq!(metrics.requests_in_flight.get(), 2);
        drop(first);
        assert_eq!(metrics.requests_in_flight.get(), 1);
        drop(second);
        assert!(
            metrics
                .encode()
                .contains("model_server_requests_in_flight 0")
        );
    }
}
