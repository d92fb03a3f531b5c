//! Training runs for `modelctl train` and `status`: the latest Job of a
//! model, and ad-hoc runs (the rendered Job under a unique name with
//! `ttlSecondsAfterFinished`, after the ConfigMaps it mounts). Their logs are
//! [`super::logs`]'; the history `modelctl runs` lists is
//! [`super::run_history`]'s.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, Patch, PatchParams};
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
