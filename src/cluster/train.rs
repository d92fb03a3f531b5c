//! Training runs: the latest Job of a model, ad-hoc runs (`modelctl train`:
//! the rendered Job under a unique name with `ttlSecondsAfterFinished`), and
//! their pods' logs (the `train` init container's, then the `export`
//! container's), each line sent as a [`LogLine`] labelled with the
//! completion index for sweeps. How a line reads is the command's business.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::connect::Cluster;
use super::wait::{Progress, job_progress};
use crate::object::ObjectKey;
use crate::object::labels::{COMPONENT, MANAGER, NAME, RUN};
use crate::reconcile::ClusterError;

/// How long a finished ad-hoc run is kept before the TTL controller deletes it.
pub const ADHOC_TTL_SECONDS: i64 = 86_400;

/// The newest training Job of `model` in `namespace`, if any.
pub async fn latest_run(
    cluster: &Cluster,
    namespace: &str,
    model: &str,
) -> Result<Option<Job>, ClusterError> {
    let api: Api<Job> = Api::namespaced(cluster.client().clone(), namespace);
    let selector = format!("{NAME}={model},{COMPONENT}=train");
    let jobs = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| {
            ClusterError::classify(
                e,
                None,
                &format!("listing the training Jobs of {model} in {namespace}"),
            )
        })?;
    Ok(jobs.items.into_iter().max_by(|a, b| {
        let key = |j: &Job| {
            (
                j.metadata.creation_timestamp.clone(),
                j.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    }))
}

/// A word for a Job's state: `complete`, `failed`, `running`, `pending`.
pub fn run_state(job: &Job) -> String {
    match job_progress(job) {
        Progress::Ready => "complete".to_owned(),
        Progress::Failed(_) => "failed".to_owned(),
        Progress::Pending { done, total } => {
            let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
            if active > 0 {
                format!("running ({done}/{total} done)")
            } else {
                "pending".to_owned()
            }
        }
    }
}

/// The ad-hoc run object: the rendered Job with a unique name, the
/// `modelctl.io/run: adhoc` label and `ttlSecondsAfterFinished`.
pub fn adhoc_job(rendered: &Value, suffix: &str) -> Result<Value, ClusterError> {
    let key = ObjectKey::of(rendered)?;
    if key.kind != "Job" {
        return Err(ClusterError::BadObject(format!("{key} is not a Job")));
    }
    let base: String = key.name.chars().take(63 - 1 - suffix.len()).collect();
    let name = format!("{}-{suffix}", base.trim_end_matches('-'));
    let mut job = rendered.clone();
    job["metadata"]["name"] = json!(name);
    if let Some(labels) = job
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.insert(RUN.to_owned(), json!("adhoc"));
    } else {
        job["metadata"]["labels"] = json!({ RUN: "adhoc" });
    }
    job["spec"]["ttlSecondsAfterFinished"] = json!(ADHOC_TTL_SECONDS);
    Ok(job)
}

/// Five lowercase base-36 characters, different on every call.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{nanos}-{}", std::process::id()).as_bytes());
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    digest
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % 36] as char)
        .collect()
}

/// The ConfigMaps among `objects` that the pods of `job` mount (the
/// generated `start.sh`). A run whose pods mount a ConfigMap that does not
/// exist never starts, so a run applies them first; their names carry the
/// hash of the training spec, so applying one never changes what another
/// run reads.
pub fn mounted_config_maps<'a>(job: &Value, objects: &'a [Value]) -> Vec<&'a Value> {
    let volumes = job
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array);
    let mounted: BTreeSet<&str> = volumes
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
        .collect();
    objects
        .iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some("ConfigMap")
                && o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| mounted.contains(name))
        })
        .collect()
}

/// Applies what a run mounts ([`mounted_config_maps`]), server-side with
/// field manager modelctl.
pub async fn apply_run_inputs(cluster: &Cluster, inputs: &[&Value]) -> Result<(), ClusterError> {
    for input in inputs {
        let key = ObjectKey::of(input)?;
        apply_object(cluster, &key, input, "applying").await?;
    }
    Ok(())
}

/// Creates the run (server-side apply) and returns its key.
pub async fn start_run(cluster: &Cluster, job: &Value) -> Result<ObjectKey, ClusterError> {
    let key = ObjectKey::of(job)?;
    apply_object(cluster, &key, job, "creating").await?;
    Ok(key)
}

async fn apply_object(
    cluster: &Cluster,
    key: &ObjectKey,
    object: &Value,
    doing: &str,
) -> Result<(), ClusterError> {
    let api = cluster.api_for(key).await?;
    api.patch(
        &key.name,
        &PatchParams::apply(MANAGER),
        &Patch::Apply(object),
    )
    .await
    .map_err(|e| ClusterError::classify(e, Some(key), &format!("{doing} {key}")))?;
    Ok(())
}

const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// One line of one container's log, as [`stream_logs`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Which pod: its completion index (`2`) in an Indexed Job (a sweep),
    /// else its name.
    pub pod: String,
    /// The container (`train`, `export`).
    pub container: String,
    /// The line, without its newline.
    pub text: String,
}

/// (pod, container) whose log has been read to its end.
type Read = BTreeSet<(String, String)>;

/// Streams the logs of every pod of Job `name`: per pod, its init
/// containers in order and then its containers, each line sent to `out`
/// with the completion index (or, outside a sweep, the pod name) and the
/// container; containers that have not started are skipped until they do.
/// With `follow`, the running container is followed and the Job until it
/// ends. Returns the Job's final progress.
pub async fn stream_logs(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    follow: bool,
    poll: Duration,
    out: &(dyn Fn(LogLine) + Sync),
) -> Result<Progress, ClusterError> {
    let jobs: Api<Job> = Api::namespaced(cluster.client().clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(cluster.client().clone(), namespace);
    let doing = |what: &str| format!("{what} of Job {namespace}/{name}");
    let mut done = Read::new();
    loop {
        let job = jobs
            .get(name)
            .await
            .map_err(|e| ClusterError::classify(e, None, &doing("reading")))?;
        let progress = job_progress(&job);
        let finished = !matches!(progress, Progress::Pending { .. });
        let list = pods
            .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
            .await
            .map_err(|e| ClusterError::classify(e, None, &doing("listing the pods")))?;
        let mut items = list.items;
        items.sort_by_key(|p| (prefix(p), p.metadata.creation_timestamp.clone()));
        let follow_now = follow && !finished;
        let streams = items
            .iter()
            .map(|pod| read_pod(&pods, namespace, pod, &done, follow_now, out));
        let read: Vec<Read> = futures::stream::iter(streams)
            .buffer_unordered(16)
            .try_collect()
            .await?;
        done.extend(read.into_iter().flatten());
        if finished || !follow {
            return Ok(progress);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Reads (or, with `follow`, follows) the logs of one pod's containers in
/// the order they run, skipping those in `done` and stopping at the first
/// that has not started. Returns the containers read to their end.
async fn read_pod(
    pods: &Api<Pod>,
    namespace: &str,
    pod: &Pod,
    done: &Read,
    follow: bool,
    out: &(dyn Fn(LogLine) + Sync),
) -> Result<Read, ClusterError> {
    let pod_name = pod_name(pod);
    let tag = prefix(pod);
    let mut read = Read::new();
    for container in containers(pod) {
        if !container.started || done.contains(&(pod_name.clone(), container.name.clone())) {
            continue;
        }
        let params = LogParams {
            container: Some(container.name.clone()),
            follow: follow && !container.ended,
            ..LogParams::default()
        };
        let reader = pods.log_stream(&pod_name, &params).await.map_err(|e| {
            ClusterError::classify(
                e,
                None,
                &format!(
                    "reading the logs of container {} of pod {namespace}/{pod_name}",
                    container.name
                ),
            )
        })?;
        let mut lines = reader.lines();
        while let Some(line) = lines.try_next().await.map_err(|e| {
            ClusterError::BadObject(format!("reading the logs of pod {pod_name}: {e}"))
        })? {
            out(LogLine {
                pod: tag.clone(),
                container: container.name.clone(),
                text: line,
            });
        }
        // A followed stream ends when its container does; one read
        // without following is complete only when it had ended.
        if container.ended || params.follow {
            read.insert((pod_name.clone(), container.name.clone()));
        } else {
            // Later containers have not run past this one yet.
            break;
        }
    }
    Ok(read)
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// `0`, `1`, … for Indexed Jobs, else the pod name.
fn prefix(pod: &Pod) -> String {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INDEX_ANNOTATION).cloned())
        .unwrap_or_else(|| pod_name(pod))
}

/// One container of a pod, in the order it runs.
struct ContainerState {
    name: String,
    /// It has run (its log exists).
    started: bool,
    /// It has terminated: its log is complete.
    ended: bool,
}

/// The pod's init containers, then its containers, with whether each has
/// started and ended: from its container status, or, for a pod without
/// statuses, from the pod's phase (bound to a node and past Pending: every
/// container ran, and the init containers ended).
fn containers(pod: &Pod) -> Vec<ContainerState> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let bound = spec.node_name.is_some();
    let pod_ran = bound && phase != "Pending";
    let pod_ended = matches!(phase, "Succeeded" | "Failed");
    let statuses = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .collect::<Vec<_>>();
    let inits = spec.init_containers.iter().flatten().map(|c| (c, true));
    inits
        .chain(spec.containers.iter().map(|c| (c, false)))
        .map(|(c, init)| {
            let found = statuses.iter().find(|s| s.name == c.name);
            let (started, ended) = match found.and_then(|s| s.state.as_ref()) {
                Some(state) => {
                    let before = found
                        .and_then(|s| s.last_state.as_ref())
                        .is_some_and(|l| l.terminated.is_some());
                    (
                        bound && (state.running.is_some() || state.terminated.is_some() || before),
                        state.terminated.is_some(),
                    )
                }
                None => (pod_ran, pod_ended || (init && pod_ran)),
            };
            ContainerState {
                name: c.name.clone(),
                started,
                ended,
            }
        })
        .collect()
}
