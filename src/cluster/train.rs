//! Training runs for `modelctl train` and `status`: the latest Job of a
//! model, and starting ad-hoc runs (the objects are built in
//! [`crate::reconcile::adhoc_run`]: the rendered Job under a unique name,
//! applied after the ConfigMaps it mounts). Their logs are
//! [`super::logs`]'; the history `modelctl runs` lists is
//! [`super::run_history`]'s.

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::Value;

use super::connect::Cluster;
use crate::object::ObjectKey;
use crate::object::labels::{COMPONENT, MANAGER, NAME};
use crate::reconcile::ClusterError;

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

/// Applies what a run mounts ([`mounted_config_maps`](crate::reconcile::adhoc_run::mounted_config_maps)), server-side with
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
