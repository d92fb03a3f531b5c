//! `status`: one row per model from the live objects: ready/desired
//! replicas, the model URI being served, the route host, the autoscaler's
//! current/desired replicas and targets (of the HPA modelctl renders, or of
//! the one KEDA makes for a ScaledObject), and the last training run.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use serde::Serialize;
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::train::{latest_run, run_state};
use crate::object::ObjectKey;
use crate::object::labels::{COMPONENT, label};
use crate::reconcile::ClusterError;

/// One model's row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelStatus {
    /// The model.
    pub model: String,
    /// Ready pods of the serving Deployment (none when not served or not deployed).
    pub ready: Option<i32>,
    /// Desired pods.
    pub desired: Option<i32>,
    /// The `--model-uri` the live Deployment serves.
    pub model_uri: Option<String>,
    /// The route host.
    pub route: Option<String>,
    /// The autoscaler: `current/desired (min-max, targets)`; `via KEDA` when
    /// a ScaledObject scales the model.
    pub autoscaler: Option<String>,
    /// The last training Job: `name state`.
    pub last_run: Option<String>,
}

/// Rows for every model among `manifests` (model name, whole object).
pub async fn status(
    cluster: &Cluster,
    namespace: &str,
    manifests: &[(String, Value)],
) -> Result<Vec<ModelStatus>, ClusterError> {
    let mut models: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (model, object) in manifests {
        models.entry(model.as_str()).or_default().push(object);
    }
    stream::iter(models)
        .map(|(model, objects)| model_status(cluster, namespace, model, objects))
        .buffered(8)
        .try_collect()
        .await
}

async fn model_status(
    cluster: &Cluster,
    namespace: &str,
    model: &str,
    objects: Vec<&Value>,
) -> Result<ModelStatus, ClusterError> {
    let mut row = ModelStatus {
        model: model.to_owned(),
        ..ModelStatus::default()
    };
    let find = |kind: &str| {
        objects
            .iter()
            .filter_map(|o| Some((ObjectKey::of(o).ok()?, *o)))
            .filter(move |(k, _)| k.kind == kind)
            .collect::<Vec<_>>()
    };
    let serve = find("Deployment")
        .into_iter()
        .find(|(k, o)| label(o, COMPONENT) == Some("serve") && !k.name.ends_with("-canary"));
    if let Some((key, _)) = serve {
        read_serving(cluster, namespace, &key, &mut row).await?;
    }
    for kind in ["HTTPRoute", "Route", "Ingress"] {
        for (key, rendered) in find(kind) {
            let live = read_route(cluster, &key).await?;
            if row.route.is_none() {
                row.route = route_host(live.as_ref().unwrap_or(rendered));
            }
        }
    }
    let own_hpa = find("HorizontalPodAutoscaler")
        .into_iter()
        .find(|(k, _)| k.name == model);
    let scaled_object = find("ScaledObject")
        .into_iter()
        .find(|(k, _)| k.name == model);
    row.autoscaler = match (own_hpa, scaled_object) {
        (Some((key, _)), _) => read_autoscaler(cluster, namespace, &key, None).await?,
        (None, Some((key, rendered))) => {
            read_autoscaler(cluster, namespace, &key, Some(rendered)).await?
        }
        (None, None) => None,
    };
    if !find("Job").is_empty() {
        row.last_run = latest_run(cluster, namespace, model).await?.map(|job| {
            format!(
                "{} {}",
                job.metadata.name.clone().unwrap_or_default(),
                run_state(&job)
            )
        });
    }
    Ok(row)
}

/// Fills the row's replicas and model URI from the live serving Deployment
/// `key`, when it exists.
async fn read_serving(
    cluster: &Cluster,
    namespace: &str,
    key: &ObjectKey,
    row: &mut ModelStatus,
) -> Result<(), ClusterError> {
    let api: Api<Deployment> = Api::namespaced(
        cluster.client().clone(),
        key.namespace.as_deref().unwrap_or(namespace),
    );
    let live = api
        .get_opt(&key.name)
        .await
        .map_err(|e| ClusterError::classify(e, Some(key), &format!("reading {key}")))?;
    if let Some(d) = live {
        row.desired = Some(d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1));
        row.ready = Some(
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        );
        row.model_uri = d
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.args.as_ref())
            .and_then(|args| args.iter().find_map(|a| a.strip_prefix("--model-uri=")))
            .map(str::to_owned);
    }
    Ok(())
}

/// The live route `key`; none when it does not exist or its kind is not
/// served.
async fn read_route(cluster: &Cluster, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
    match cluster.api_for(key).await {
        Ok(api) => Ok(api
            .get_opt(&key.name)
            .await
            .map_err(|e| ClusterError::classify(e, Some(key), &format!("reading {key}")))?
            .map(|o| to_json(&o, &key.api_version, &key.kind))),
        Err(ClusterError::KindNotServed { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The autoscaler column from the live HPA of `key`: the HPA modelctl
/// renders, or, given the rendered `keda` ScaledObject, the one KEDA makes
/// for it (named `keda-hpa-<name>`).
async fn read_autoscaler(
    cluster: &Cluster,
    namespace: &str,
    key: &ObjectKey,
    keda: Option<&Value>,
) -> Result<Option<String>, ClusterError> {
    let name = match keda {
        Some(_) => format!("keda-hpa-{}", key.name),
        None => key.name.clone(),
    };
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(
        cluster.client().clone(),
        key.namespace.as_deref().unwrap_or(namespace),
    );
    let live = api
        .get_opt(&name)
        .await
        .map_err(|e| ClusterError::classify(e, Some(key), &format!("reading {key}")))?;
    Ok(match (live, keda) {
        (Some(hpa), None) => Some(autoscaler_summary(&hpa, &hpa_targets(&hpa))),
        (Some(hpa), Some(so)) => Some(format!(
            "{} via KEDA",
            autoscaler_summary(&hpa, &trigger_targets(so))
        )),
        (None, Some(so)) => Some(format!(
            "({}-{}{}) via KEDA, no HPA `{name}` yet",
            so["spec"]["minReplicaCount"].as_i64().unwrap_or(1),
            so["spec"]["maxReplicaCount"].as_i64().unwrap_or(0),
            trigger_targets(so)
        )),
        (None, None) => None,
    })
}

/// The first host of an HTTPRoute, Route or Ingress.
fn route_host(object: &Value) -> Option<String> {
    let text = |p: &str| object.pointer(p).and_then(Value::as_str).map(str::to_owned);
    text("/spec/hostnames/0")
        .or_else(|| text("/spec/host"))
        .or_else(|| text("/spec/rules/0/host"))
}

/// `2/2 (2-10, cpu 70%)`, with `targets` as rendered by [`hpa_targets`]
/// or [`trigger_targets`].
fn autoscaler_summary(hpa: &HorizontalPodAutoscaler, targets: &str) -> String {
    let status = hpa.status.as_ref();
    let current = status.and_then(|s| s.current_replicas).unwrap_or(0);
    let desired = status.map_or(0, |s| s.desired_replicas);
    let spec = hpa.spec.as_ref();
    let min = spec.and_then(|s| s.min_replicas).unwrap_or(1);
    let max = spec.map_or(0, |s| s.max_replicas);
    format!("{current}/{desired} ({min}-{max}{targets})")
}

/// `, cpu 70%` and `, model_server_requests_in_flight 8`: each resource and
/// pods metric of an HPA.
fn hpa_targets(hpa: &HorizontalPodAutoscaler) -> String {
    let metrics = hpa.spec.as_ref().and_then(|s| s.metrics.as_ref());
    metrics
        .into_iter()
        .flatten()
        .filter_map(|m| {
            if let Some(r) = &m.resource {
                return Some(format!(", {} {}%", r.name, r.target.average_utilization?));
            }
            let p = m.pods.as_ref()?;
            Some(format!(
                ", {} {}",
                p.metric.name,
                p.target.average_value.as_ref()?.0
            ))
        })
        .collect()
}

/// `, inflight 4, cpu 70%`: each trigger of a rendered ScaledObject (KEDA's
/// HPA names its metrics after trigger indexes, so the ScaledObject says
/// more).
fn trigger_targets(scaled_object: &Value) -> String {
    let triggers = scaled_object["spec"]["triggers"].as_array();
    triggers
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let meta = &t["metadata"];
            match t["type"].as_str()? {
                "cpu" => Some(format!(", cpu {}%", meta["value"].as_str()?)),
                _ => Some(format!(
                    ", {} {}",
                    t["name"].as_str().or(t["type"].as_str())?,
                    meta["threshold"].as_str()?
                )),
            }
        })
        .collect()
}
