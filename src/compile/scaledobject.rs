//! KEDA `keda.sh/v1alpha1` ScaledObject of a model that scales on the
//! server's own load, as small typed structs (the kind is not in
//! `k8s-openapi`): a `prometheus` trigger per load target, a `cpu` trigger
//! when `target-cpu` is set.
//!
//! Owns the ScaledObject's shape and the Prometheus queries. KEDA makes and
//! owns the HorizontalPodAutoscaler itself, so none is rendered beside it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::Ctx;
use super::hpa::{LoadMetric, Scaling};
use super::labels::{self, Component};

/// A ScaledObject.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    /// `keda.sh/v1alpha1`.
    pub api_version: &'static str,
    /// `ScaledObject`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// What is scaled, within which bounds, on which triggers.
    pub spec: ScaledObjectSpec,
}

/// `spec` of a ScaledObject.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// The Deployment scaled.
    pub scale_target_ref: ScaleTargetRef,
    /// Fewest replicas.
    pub min_replica_count: i32,
    /// Most replicas.
    pub max_replica_count: i32,
    /// The metrics scaled on.
    pub triggers: Vec<Trigger>,
}

/// The scaled Deployment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    /// `apps/v1`.
    pub api_version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    /// The Deployment's name.
    pub name: String,
}

/// One trigger.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `prometheus` or `cpu`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Name of the trigger (the metric it reads).
    pub name: String,
    /// `AverageValue`: the query's total is divided by the replica count
    /// before it is held against the threshold; `Utilization` for CPU.
    pub metric_type: &'static str,
    /// The scaler's settings, all strings.
    pub metadata: BTreeMap<String, String>,
}

/// The PromQL regular expression matching the pod names of Deployment
/// `deployment`: `<deployment>-<replica set hash>-<suffix>`. Two dashless
/// segments, so the canary's pods (`<model>-canary-…`) never match the main
/// Deployment's.
pub(crate) fn pod_pattern(deployment: &str) -> String {
    format!("{deployment}-[a-z0-9]+-[a-z0-9]+")
}

/// The query summing `metric` over the pods of `deployment` in `namespace`.
pub(crate) fn query(metric: &str, namespace: &str, deployment: &str) -> String {
    format!(
        "sum({metric}{{namespace=\"{namespace}\",pod=~\"{}\"}})",
        pod_pattern(deployment)
    )
}

/// The ScaledObject of Deployment `scaling.deployment`, querying the
/// Prometheus at `prometheus`.
pub(crate) fn build(ctx: &Ctx<'_>, scaling: &Scaling<'_>, prometheus: &str) -> ScaledObject {
    let mut triggers: Vec<Trigger> = scaling
        .load
        .iter()
        .map(|(metric, target)| prometheus_trigger(ctx, scaling, prometheus, *metric, *target))
        .collect();
    if let Some(cpu) = scaling.cpu {
        triggers.push(Trigger {
            type_: "cpu",
            name: "cpu".to_owned(),
            metric_type: "Utilization",
            metadata: BTreeMap::from([("value".to_owned(), cpu.to_string())]),
        });
    }
    ScaledObject {
        api_version: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: labels::metadata(
            ctx,
            &scaling.deployment,
            labels::labels(ctx, Component::Serve, Some(scaling.track), scaling.version),
        ),
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                api_version: "apps/v1",
                kind: "Deployment",
                name: scaling.deployment.clone(),
            },
            min_replica_count: scaling.min,
            max_replica_count: scaling.max,
            triggers,
        },
    }
}

fn prometheus_trigger(
    ctx: &Ctx<'_>,
    scaling: &Scaling<'_>,
    prometheus: &str,
    metric: LoadMetric,
    target: u32,
) -> Trigger {
    let metadata = BTreeMap::from([
        ("serverAddress".to_owned(), prometheus.to_owned()),
        (
            "query".to_owned(),
            query(metric.series(), ctx.namespace(), &scaling.deployment),
        ),
        ("threshold".to_owned(), target.to_string()),
    ]);
    Trigger {
        type_: "prometheus",
        name: metric.trigger_name().to_owned(),
        metric_type: "AverageValue",
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::{pod_pattern, query};

    #[test]
    fn the_pod_pattern_keeps_the_canary_apart() {
        // PromQL anchors `=~` at both ends.
        let re = regex::Regex::new(&format!("^(?:{})$", pod_pattern("digits"))).unwrap();
        assert!(re.is_match("digits-7d9f8c6b5d-x2k9q"));
        assert!(!re.is_match("digits-canary-7d9f8c6b5d-x2k9q"));
        assert!(!re.is_match("digits-v2-7d9f8c6b5d-x2k9q"));
    }

    #[test]
    fn the_query_sums_over_the_deployment_pods() {
        assert_eq!(
            query("model_server_queue_depth", "ml", "digits-canary"),
            "sum(model_server_queue_depth{namespace=\"ml\",pod=~\"digits-canary-[a-z0-9]+-[a-z0-9]+\"})"
        );
    }
}
