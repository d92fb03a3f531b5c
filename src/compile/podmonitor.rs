//! Prometheus Operator `monitoring.coreos.com/v1` PodMonitor of a model's
//! serving pods (main and canary), as small typed structs (the kind is not
//! in `k8s-openapi`): scrapes `/metrics` on the named `http` port.
//!
//! Owns the PodMonitor's shape; environments choose it with
//! `scrape = "podmonitor"`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::Ctx;
use super::labels::{self, Component};

/// The path `model-server` serves its metrics at.
pub const METRICS_PATH: &str = "/metrics";

/// A PodMonitor.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitor {
    /// `monitoring.coreos.com/v1`.
    pub api_version: &'static str,
    /// `PodMonitor`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// Which pods, which endpoints.
    pub spec: PodMonitorSpec,
}

/// `spec` of a PodMonitor.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// The pods scraped (in the PodMonitor's own namespace).
    pub selector: Selector,
    /// The endpoints scraped on each pod.
    pub pod_metrics_endpoints: Vec<Endpoint>,
}

/// A label selector.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// Labels every selected pod has.
    pub match_labels: BTreeMap<String, String>,
}

/// One scraped endpoint.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The container port's name.
    pub port: &'static str,
    /// The HTTP path.
    pub path: &'static str,
}

/// The PodMonitor of the model's serving pods.
pub(crate) fn build(ctx: &Ctx<'_>, version: &str) -> PodMonitor {
    PodMonitor {
        api_version: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, None, version),
        ),
        spec: PodMonitorSpec {
            selector: Selector {
                match_labels: labels::selector(ctx, Component::Serve, None),
            },
            pod_metrics_endpoints: vec![Endpoint {
                port: "http",
                path: METRICS_PATH,
            }],
        },
    }
}
