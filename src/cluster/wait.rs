//! `--wait`: watches Deployments until the new ReplicaSet's pods are all
//! ready (the readiness probe turns true once the model is loaded and warmed
//! up) and Jobs until they complete, sending a [`WaitEvent`] whenever one's
//! progress moves (the command draws them). On timeout it names what is
//! still not ready and why, from the pods' state and the Warning events
//! (read here, judged in [`crate::reconcile::progress`]).

use std::time::Duration;

use futures::{StreamExt, future};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, watcher};

use super::connect::Cluster;
use crate::object::ObjectKey;
use crate::reconcile::ClusterError;
use crate::reconcile::progress::{
    NotReady, PodState, Progress, Warning, deployment_progress, job_progress, pod_ready, pod_state,
};

/// What [`wait`] tells its caller as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEvent {
    /// The objects about to be watched, before any progress.
    Watching(Vec<ObjectKey>),
    /// One object's progress moved.
    Progress {
        /// The Deployment or Job.
        object: ObjectKey,
        /// Where it stands now.
        progress: Progress,
    },
}

/// Whether `wait` watches objects of this key: Deployments and Jobs.
pub fn is_waited_for(key: &ObjectKey) -> bool {
    is_serving(key) || is_training(key)
}

fn is_serving(key: &ObjectKey) -> bool {
    (key.api_version.as_str(), key.kind.as_str()) == ("apps/v1", "Deployment")
}

fn is_training(key: &ObjectKey) -> bool {
    (key.api_version.as_str(), key.kind.as_str()) == ("batch/v1", "Job")
}

/// What `apply --wait` waits for among the applied `keys`: the serving
/// Deployments, and the training Jobs only when `training` is asked for. A
/// training run takes hours (a wait for it would time out), and a Job that
/// failed once stays failed, so waiting for every Job would fail every later
/// apply.
pub fn to_wait_for(keys: &[ObjectKey], training: bool) -> Vec<ObjectKey> {
    keys.iter()
        .filter(|k| is_serving(k) || (training && is_training(k)))
        .cloned()
        .collect()
}

/// Waits for every Deployment and Job among `keys` (others are ignored);
/// `events` hears which are watched and each change of their progress.
pub async fn wait(
    cluster: &Cluster,
    keys: &[ObjectKey],
    timeout: Duration,
    events: &(dyn Fn(WaitEvent) + Sync),
) -> Result<(), ClusterError> {
    let watched: Vec<&ObjectKey> = keys.iter().filter(|k| is_waited_for(k)).collect();
    if watched.is_empty() {
        return Ok(());
    }
    events(WaitEvent::Watching(
        watched.iter().map(|k| (*k).clone()).collect(),
    ));
    let watches = watched.iter().map(|key| watch_one(cluster, key, events));
    let results = match tokio::time::timeout(timeout, future::join_all(watches)).await {
        Ok(results) => results,
        Err(_) => {
            let mut pending = Vec::new();
            for key in &watched {
                if let Some(why) = not_ready(cluster, key).await? {
                    pending.push(why);
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            return Err(ClusterError::Timeout { timeout, pending });
        }
    };
    let errors: Vec<ClusterError> = results.into_iter().filter_map(Result::err).collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors
            .into_iter()
            .next()
            .unwrap_or(ClusterError::Several(Vec::new()))),
        _ => Err(ClusterError::Several(errors)),
    }
}

/// Watches one object until it is ready or failed.
async fn watch_one(
    cluster: &Cluster,
    key: &ObjectKey,
    events: &(dyn Fn(WaitEvent) + Sync),
) -> Result<(), ClusterError> {
    let namespace = key.namespace.as_deref().unwrap_or("default");
    let client = cluster.client().clone();
    if key.kind == "Deployment" {
        let api: Api<Deployment> = Api::namespaced(client, namespace);
        follow(api, key, deployment_progress, events).await
    } else {
        let api: Api<Job> = Api::namespaced(client, namespace);
        follow(api, key, job_progress, events).await
    }
}

/// Follows the watch of one object by name until `progress` says it is done.
async fn follow<K>(
    api: Api<K>,
    key: &ObjectKey,
    progress: fn(&K) -> Progress,
    events: &(dyn Fn(WaitEvent) + Sync),
) -> Result<(), ClusterError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
    let mut stream = watcher(api, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut last = None;
    while let Some(event) = stream.next().await {
        let object = match event {
            Ok(object) => object,
            Err(err) => {
                fatal_watch_error(err, key)?;
                continue;
            }
        };
        let now = progress(&object);
        if last.as_ref() != Some(&now) {
            events(WaitEvent::Progress {
                object: key.clone(),
                progress: now.clone(),
            });
            last = Some(now.clone());
        }
        match now {
            Progress::Ready => return Ok(()),
            Progress::Failed(reason) => {
                return Err(ClusterError::Failed {
                    object: key.clone(),
                    reason,
                });
            }
            Progress::Pending { .. } => {}
        }
    }
    Ok(())
}

/// Credentials and permission errors end the wait; anything else the watcher
/// retries with backoff (an expired resourceVersion re-lists).
fn fatal_watch_error(err: watcher::Error, key: &ObjectKey) -> Result<(), ClusterError> {
    let inner = match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        _ => return Ok(()),
    };
    match &inner {
        kube::Error::Api(s) if matches!(s.code, 401 | 403) => Err(ClusterError::classify(
            inner,
            Some(key),
            &format!("watching {key}"),
        )),
        _ => Ok(()),
    }
}

/// Why `key` is not ready yet, or `None` when it is.
pub async fn not_ready(
    cluster: &Cluster,
    key: &ObjectKey,
) -> Result<Option<NotReady>, ClusterError> {
    let namespace = key
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let client = cluster.client().clone();
    let classify = |e| ClusterError::classify(e, Some(key), &format!("reading {key}"));
    let (progress, selector) = if key.kind == "Deployment" {
        let d = Api::<Deployment>::namespaced(client.clone(), &namespace)
            .get(&key.name)
            .await
            .map_err(classify)?;
        let labels = d
            .spec
            .as_ref()
            .and_then(|s| s.selector.match_labels.clone())
            .unwrap_or_default();
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (deployment_progress(&d), selector.join(","))
    } else {
        let job = Api::<Job>::namespaced(client.clone(), &namespace)
            .get(&key.name)
            .await
            .map_err(classify)?;
        (
            job_progress(&job),
            format!("batch.kubernetes.io/job-name={}", key.name),
        )
    };
    if progress == Progress::Ready {
        return Ok(None);
    }
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(classify)?;
    let pods: Vec<PodState> = pods
        .items
        .iter()
        .filter(|p| !pod_ready(p))
        .take(5)
        .map(pod_state)
        .collect();
    let events = Api::<CoreEvent>::namespaced(client, &namespace);
    let mut warnings = Vec::new();
    let names = std::iter::once(&key.name).chain(pods.iter().map(|p| &p.name));
    for name in names {
        let found = events
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .map_err(classify)?;
        warnings.extend(Warning::of(&found.items, name));
    }
    Ok(Some(NotReady {
        object: key.clone(),
        progress,
        pods,
        warnings,
    }))
}
