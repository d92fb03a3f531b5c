//! `status`: one row per model from the live objects: ready/desired
//! replicas, the model URI being served, the route host, the autoscaler's
//! current/desired replicas and targets (of the HPA modelctl renders, or of
//! the one KEDA makes for a ScaledObject), and the last training run.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::Api;
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::train::latest_run;
use crate::object::ObjectKey;
use crate::object::labels::KUEUE_QUEUE;
use crate::object::labels::{COMPONENT, label};
use crate::reconcile::ClusterError;
use crate::reconcile::kueue::{self, Admission};
use crate::reconcile::progress::{RunState, run_state};

/// One model's row (worded for the terminal and JSON in `commands/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The autoscaler, when the model has one.
    pub autoscaler: Option<Autoscaler>,
    /// The last training Job.
    pub last_run: Option<LastRun>,
}

/// The newest training Job of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    /// The Job's name.
    pub job: String,
    /// Where it stands.
    pub state: RunState,
}

/// A model's autoscaler: the HPA modelctl renders, or the one KEDA makes
/// for the ScaledObject modelctl renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaler {
    /// Current and desired replicas, from the live HPA; `None` while KEDA
    /// has not made its HPA yet.
    pub replicas: Option<(i32, i32)>,
    /// The fewest replicas.
    pub min: i64,
    /// The most replicas.
    pub max: i64,
    /// What it scales on.
    pub targets: Vec<Target>,
    /// Which object scales the model.
    pub by: ScaledBy,
}

/// Which object scales a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaledBy {
    /// The HorizontalPodAutoscaler modelctl renders.
    Hpa,
    /// A KEDA ScaledObject, through the HPA KEDA makes for it (named here).
    Keda {
        /// The HPA's name (`keda-hpa-<name>`).
        hpa: String,
    },
}

/// One metric an autoscaler scales on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A resource's average utilization, in percent (`cpu`, `70`).
    Utilization {
        /// The resource.
        resource: String,
        /// The target, in percent.
        percent: String,
    },
    /// A metric's average value (`model_server_requests_in_flight`, `8`);
    /// for KEDA, the trigger's name.
    Value {
        /// The metric or trigger.
        metric: String,
        /// The target value.
        value: String,
    },
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
    // A model's objects share its namespace (its own, its team's or the
    // environment's); `namespace` is the environment's.
    let namespace = objects
        .iter()
        .find_map(|o| o["metadata"]["namespace"].as_str())
        .unwrap_or(namespace);
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
    if !find("Job").is_empty()
        && let Some(job) = latest_run(cluster, namespace, model).await?
    {
        let mut state = run_state(&job);
        let queued = label_of(&job, KUEUE_QUEUE).is_some();
        if queued && matches!(state, RunState::Pending) {
            // The Job's pods have not started: Kueue may be holding it.
            let workloads = super::run_history::workloads(cluster, namespace).await?;
            let workload = kueue::workload_of(&job, &workloads);
            state = match kueue::admission(&job, workload, false) {
                Some(Admission::Queued(reason)) => RunState::Queued(reason),
                Some(Admission::Admitted) => RunState::Admitted,
                Some(Admission::Preempted(reason)) => RunState::Preempted(reason),
                None => state,
            };
        }
        row.last_run = Some(LastRun {
            job: job.metadata.name.clone().unwrap_or_default(),
            state,
        });
    }
    Ok(row)
}

fn label_of<'a>(job: &'a k8s_openapi::api::batch::v1::Job, key: &str) -> Option<&'a str> {
    job.metadata.labels.as_ref()?.get(key).map(String::as_str)
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

/// The autoscaler from the live HPA of `key`: the HPA modelctl renders,
/// or, given the rendered `keda` ScaledObject, the one KEDA makes for it
/// (named `keda-hpa-<name>`).
async fn read_autoscaler(
    cluster: &Cluster,
    namespace: &str,
    key: &ObjectKey,
    keda: Option<&Value>,
) -> Result<Option<Autoscaler>, ClusterError> {
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
    let keda_hpa = || ScaledBy::Keda { hpa: name.clone() };
    Ok(match (live, keda) {
        (Some(hpa), None) => Some(of_hpa(&hpa, hpa_targets(&hpa), ScaledBy::Hpa)),
        (Some(hpa), Some(so)) => Some(of_hpa(&hpa, trigger_targets(so), keda_hpa())),
        (None, Some(so)) => Some(Autoscaler {
            replicas: None,
            min: so["spec"]["minReplicaCount"].as_i64().unwrap_or(1),
            max: so["spec"]["maxReplicaCount"].as_i64().unwrap_or(0),
            targets: trigger_targets(so),
            by: keda_hpa(),
        }),
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

/// Replicas and bounds from a live HPA, with `targets` from
/// [`hpa_targets`] or [`trigger_targets`].
fn of_hpa(hpa: &HorizontalPodAutoscaler, targets: Vec<Target>, by: ScaledBy) -> Autoscaler {
    let status = hpa.status.as_ref();
    let current = status.and_then(|s| s.current_replicas).unwrap_or(0);
    let desired = status.map_or(0, |s| s.desired_replicas);
    let spec = hpa.spec.as_ref();
    Autoscaler {
        replicas: Some((current, desired)),
        min: spec.and_then(|s| s.min_replicas).unwrap_or(1).into(),
        max: spec.map_or(0, |s| s.max_replicas).into(),
        targets,
        by,
    }
}

/// Each resource and pods metric of an HPA.
fn hpa_targets(hpa: &HorizontalPodAutoscaler) -> Vec<Target> {
    let metrics = hpa.spec.as_ref().and_then(|s| s.metrics.as_ref());
    metrics
        .into_iter()
        .flatten()
        .filter_map(|m| {
            if let Some(r) = &m.resource {
                return Some(Target::Utilization {
                    resource: r.name.clone(),
                    percent: r.target.average_utilization?.to_string(),
                });
            }
            let p = m.pods.as_ref()?;
            Some(Target::Value {
                metric: p.metric.name.clone(),
                value: p.target.average_value.as_ref()?.0.clone(),
            })
        })
        .collect()
}

/// Each trigger of a rendered ScaledObject (KEDA's HPA names its metrics
/// after trigger indexes, so the ScaledObject says more).
fn trigger_targets(scaled_object: &Value) -> Vec<Target> {
    let triggers = scaled_object["spec"]["triggers"].as_array();
    triggers
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let meta = &t["metadata"];
            match t["type"].as_str()? {
                "cpu" => Some(Target::Utilization {
                    resource: "cpu".to_owned(),
                    percent: meta["value"].as_str()?.to_owned(),
                }),
                _ => Some(Target::Value {
                    metric: t["name"].as_str().or(t["type"].as_str())?.to_owned(),
                    value: meta["threshold"].as_str()?.to_owned(),
                }),
            }
        })
        .collect()
}
