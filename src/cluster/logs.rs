//! The logs of a training run's pods, for `modelctl train --follow` and
//! `modelctl logs`: per pod, the `train` init container's (after the code
//! fetch), then the `export` container's, each line sent as a [`LogLine`]
//! labelled with the completion index for sweeps. How a line reads on the
//! terminal is the command's business.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};

use super::connect::Cluster;
use crate::reconcile::ClusterError;
use crate::reconcile::progress::{Progress, job_progress};

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
