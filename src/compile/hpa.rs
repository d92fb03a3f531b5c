//! The HorizontalPodAutoscaler (`autoscaling/v2`) of a model whose replicas
//! are a range: scales the main Deployment on average CPU utilisation.
//!
//! Owns the autoscaler only; the Deployment leaves `spec.replicas` unset so
//! the two never fight over it.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use modelctl_spec::model::ReplicaRange;

use super::Ctx;
use super::labels::{self, Component, Track};

/// Average CPU utilisation aimed for when `target-cpu` is left out.
pub const DEFAULT_TARGET_CPU: i32 = 80;

/// The autoscaler of the main Deployment.
pub(crate) fn build(ctx: &Ctx<'_>, range: &ReplicaRange, version: &str) -> HorizontalPodAutoscaler {
    let target = range.target_cpu.map_or(DEFAULT_TARGET_CPU, |p| {
        i32::try_from(p.get()).unwrap_or(100)
    });
    let min = i32::try_from(range.min.get()).unwrap_or(i32::MAX);
    let max = i32::try_from(range.max.get()).unwrap_or(i32::MAX).max(min);
    HorizontalPodAutoscaler {
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, Some(Track::Stable), version),
        ),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: Track::Stable.object_name(ctx.name()),
            },
            min_replicas: Some(min),
            max_replicas: max,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(target),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }
}
