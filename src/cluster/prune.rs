//! What `--prune` deletes: objects in the cluster that carry the
//! `managed-by=modelctl` label, are listed in the environment's inventory,
//! and are no longer rendered. An object missing either mark is never
//! touched, and nothing is pruned when rendering produced nothing.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{DeleteParams, ListParams};
use serde_json::Value;

use super::connect::Cluster;
use super::inventory::{self, Target};
use crate::object::ObjectKey;
use crate::object::labels::{MANAGED_SELECTOR, is_managed};
use crate::reconcile::ClusterError;

/// Objects that exist, are ours (label and inventory), and are not rendered.
/// Kinds the cluster no longer serves are skipped (nothing of theirs exists).
pub async fn candidates(
    cluster: &Cluster,
    target: &Target,
    rendered: &BTreeSet<ObjectKey>,
    concurrency: usize,
) -> Result<Vec<ObjectKey>, ClusterError> {
    let found = candidate_objects(cluster, target, rendered, concurrency).await?;
    Ok(found.into_iter().map(|(key, _)| key).collect())
}

/// [`candidates`] with each live object as the server returned it (with
/// `apiVersion` and `kind` set), in key order.
pub async fn candidate_objects(
    cluster: &Cluster,
    target: &Target,
    rendered: &BTreeSet<ObjectKey>,
    concurrency: usize,
) -> Result<Vec<(ObjectKey, Value)>, ClusterError> {
    let inventory = inventory::read(cluster, target).await?;
    let orphans: BTreeSet<&ObjectKey> = inventory
        .iter()
        .filter(|k| !rendered.contains(*k) && !target.is_inventory(k))
        .collect();
    if orphans.is_empty() {
        return Ok(Vec::new());
    }
    // One list per kind and namespace an orphan is in: prune reads and
    // deletes only in namespaces this environment applied to (its inventory
    // says which), never across the cluster.
    let mut kinds: BTreeMap<(&str, &str, &str), Vec<&ObjectKey>> = BTreeMap::new();
    for key in &orphans {
        let namespace = key
            .namespace
            .as_deref()
            .unwrap_or(target.namespace.as_str());
        kinds
            .entry((key.api_version.as_str(), key.kind.as_str(), namespace))
            .or_default()
            .push(key);
    }
    let found: Vec<Vec<(ObjectKey, Value)>> = stream::iter(kinds.into_keys())
        .map(|(api_version, kind, namespace)| list_managed(cluster, namespace, api_version, kind))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut out: Vec<(ObjectKey, Value)> = found
        .into_iter()
        .flatten()
        .filter(|(k, _)| orphans.contains(k))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The live objects of one kind in `namespace` (all of them, for a
/// cluster-scoped kind) carrying the managed-by label, with their keys.
async fn list_managed(
    cluster: &Cluster,
    namespace: &str,
    api_version: &str,
    kind: &str,
) -> Result<Vec<(ObjectKey, Value)>, ClusterError> {
    let (api, namespaced) = match cluster.api_in(api_version, kind, namespace).await {
        Ok(found) => found,
        Err(ClusterError::KindNotServed { .. }) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let list = api
        .list(&ListParams::default().labels(MANAGED_SELECTOR))
        .await
        .map_err(|err| {
            ClusterError::classify(
                err,
                None,
                &format!("listing {kind} ({api_version}) in namespace {namespace}"),
            )
        })?;
    Ok(list
        .items
        .iter()
        .filter_map(|item| {
            let mut value = serde_json::to_value(item).ok()?;
            // The server filtered by label; check again so a double or a
            // proxy that ignores the selector cannot widen what is deleted.
            if !is_managed(&value) {
                return None;
            }
            // List items may leave out their type; the key says it.
            value["apiVersion"] = Value::from(api_version);
            value["kind"] = Value::from(kind);
            let key = ObjectKey {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                namespace: namespaced.then(|| namespace.to_owned()),
                name: item.metadata.name.clone()?,
            };
            Some((key, value))
        })
        .collect())
}

/// Deletes one object (background propagation); a missing object is fine.
pub async fn delete(cluster: &Cluster, key: &ObjectKey, dry_run: bool) -> Result<(), ClusterError> {
    let api = cluster.api_for(key).await?;
    let mut params = DeleteParams::background();
    if dry_run {
        params = params.dry_run();
    }
    match api.delete(&key.name, &params).await {
        Ok(_) => Ok(()),
        Err(err) if crate::reconcile::error::is_not_found(&err) => Ok(()),
        Err(err) => Err(ClusterError::classify(
            err,
            Some(key),
            &format!("deleting {key}"),
        )),
    }
}
