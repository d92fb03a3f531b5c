//! The autoscaler of one serving track whose replicas are a range: what it
//! scales on ([`Scaling`]), and the HorizontalPodAutoscaler
//! (`autoscaling/v2`) that does it unless KEDA does
//! ([`super::scaledobject`]). CPU alone scales on average utilisation; load
//! targets (`target-inflight`, `target-queue`) become `Pods` metrics a
//! Prometheus adapter serves under the server's gauge names.
//!
//! Owns the autoscaler only; the Deployment leaves `spec.replicas` unset so
//! the two never fight over it.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use modelctl_spec::model::ReplicaRange;

use super::Ctx;
use super::labels::{self, Component, Track};

/// Average CPU utilisation aimed for when no target is set at all.
pub const DEFAULT_TARGET_CPU: i32 = 80;

/// The gauge of inference requests a server is working on
/// (`model-server`'s `/metrics`).
pub const INFLIGHT_METRIC: &str = "model_server_requests_in_flight";
/// The gauge of requests waiting for the batcher (`model-server`'s `/metrics`).
pub const QUEUE_METRIC: &str = "model_server_queue_depth";

/// A gauge of the server's own load an autoscaler can aim at per replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadMetric {
    /// `target-inflight`.
    InFlight,
    /// `target-queue`.
    Queue,
}

impl LoadMetric {
    /// The series name, as the server exports it and as a Prometheus adapter
    /// serves it in the custom metrics API.
    pub fn series(self) -> &'static str {
        match self {
            LoadMetric::InFlight => INFLIGHT_METRIC,
            LoadMetric::Queue => QUEUE_METRIC,
        }
    }

    /// A short name for the KEDA trigger.
    pub fn trigger_name(self) -> &'static str {
        match self {
            LoadMetric::InFlight => "inflight",
            LoadMetric::Queue => "queue",
        }
    }
}

/// What one track's autoscaler scales, within which bounds, on what.
#[derive(Debug, Clone)]
pub(crate) struct Scaling<'a> {
    /// The track scaled.
    pub track: Track,
    /// Its Deployment (and the autoscaler's name).
    pub deployment: String,
    /// Its version label.
    pub version: &'a str,
    /// Fewest replicas.
    pub min: i32,
    /// Most replicas (at least `min`).
    pub max: i32,
    /// Average CPU utilisation aimed for, if CPU counts.
    pub cpu: Option<i32>,
    /// Load gauges and their per-replica targets.
    pub load: Vec<(LoadMetric, u32)>,
}

impl<'a> Scaling<'a> {
    /// The scaling of `track` for `range`, with `min` and `max` replicas
    /// (the canary runs a share of the range).
    pub fn new(
        ctx: &Ctx<'_>,
        range: &ReplicaRange,
        track: Track,
        version: &'a str,
        (min, max): (u32, u32),
    ) -> Scaling<'a> {
        let mut load = Vec::new();
        if let Some(t) = range.target_inflight {
            load.push((LoadMetric::InFlight, t.get()));
        }
        if let Some(t) = range.target_queue {
            load.push((LoadMetric::Queue, t.get()));
        }
        let cpu = range
            .target_cpu
            .map(|p| i32::try_from(p.get()).unwrap_or(100))
            .or(load.is_empty().then_some(DEFAULT_TARGET_CPU));
        let min = i32::try_from(min).unwrap_or(i32::MAX);
        Scaling {
            track,
            deployment: track.object_name(ctx.name()),
            version,
            min,
            max: i32::try_from(max).unwrap_or(i32::MAX).max(min),
            cpu,
            load,
        }
    }
}

/// The HorizontalPodAutoscaler of `scaling`.
pub(crate) fn build(ctx: &Ctx<'_>, scaling: &Scaling<'_>) -> HorizontalPodAutoscaler {
    let mut metrics: Vec<MetricSpec> = scaling
        .load
        .iter()
        .map(|(metric, target)| MetricSpec {
            type_: "Pods".to_owned(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: metric.series().to_owned(),
                    selector: None,
                },
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(Quantity(target.to_string())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        })
        .collect();
    if let Some(cpu) = scaling.cpu {
        metrics.push(MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_owned(),
                target: MetricTarget {
                    type_: "Utilization".to_owned(),
                    average_utilization: Some(cpu),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    HorizontalPodAutoscaler {
        metadata: labels::metadata(
            ctx,
            &scaling.deployment,
            labels::labels(ctx, Component::Serve, Some(scaling.track), scaling.version),
        ),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: scaling.deployment.clone(),
            },
            min_replicas: Some(scaling.min),
            max_replicas: scaling.max,
            metrics: Some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }
}
