//! `apply`: server-side apply with field manager `modelctl`, stage by stage
//! (Namespaces first, Jobs last; objects of one stage concurrently), then the
//! opt-in prune and the inventory update. Only objects that are new or that
//! the fast path's comparison flags ([`scan`]) are sent, unless `exact`,
//! `force_conflicts` or a missing inventory asks for all of them. Each
//! object applied or pruned is told to the caller as an [`ApplyEvent`]; the
//! command words it.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::inventory::{self, Target};
use super::prune;
use super::scan::{Found, ScanCounts, scan};
use crate::object::ObjectKey;
use crate::object::labels::MANAGER;
use crate::reconcile::{ClusterError, kueue};

pub use crate::object::stage::stage_of;

/// What applying did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applied {
    /// It was created.
    Created,
    /// It changed.
    Configured,
    /// The server wrote nothing (same resourceVersion).
    Unchanged,
}

/// Options of [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Ask the server to validate everything and change nothing.
    pub dry_run: bool,
    /// Take over fields other managers own.
    pub force_conflicts: bool,
    /// Delete managed objects no longer rendered.
    pub prune: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Apply every object, not only those the local comparison flags.
    pub exact: bool,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    /// Every rendered object, in apply order.
    pub applied: Vec<(ObjectKey, Applied)>,
    /// Objects deleted by `--prune`.
    pub pruned: Vec<ObjectKey>,
    /// What the fast path's scan found; none when every object was applied.
    pub scan: Option<ScanCounts>,
}

/// What [`apply`] tells its caller as it goes, one event per object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyEvent {
    /// One object was applied (in a dry run: validated, nothing changed).
    Applied {
        /// Which object.
        object: ObjectKey,
        /// What applying did to it.
        applied: Applied,
        /// It was a dry run.
        dry_run: bool,
    },
    /// One object was deleted by the prune (in a dry run: would be).
    Pruned {
        /// Which object.
        object: ObjectKey,
        /// It was a dry run.
        dry_run: bool,
    },
}

/// Applies `objects` in stages; `events` hears of each object applied or
/// pruned. Stops after the first stage with a failure (later stages depend
/// on it).
pub async fn apply(
    cluster: &Cluster,
    target: &Target,
    objects: &[Value],
    options: &ApplyOptions,
    events: &(dyn Fn(ApplyEvent) + Sync),
) -> Result<ApplyOutcome, ClusterError> {
    let mut keyed = Vec::with_capacity(objects.len());
    for object in objects {
        keyed.push((ObjectKey::of(object)?, object));
    }
    if options.prune && keyed.is_empty() {
        return Err(ClusterError::PruneRefused(
            "nothing was rendered for this environment".to_owned(),
        ));
    }
    keyed.sort_by_key(|(key, _)| stage_of(&key.kind));
    let rendered: BTreeSet<ObjectKey> = keyed.iter().map(|(k, _)| k.clone()).collect();
    // Read before any write, so a failure here changes nothing.
    let previous = inventory::read(cluster, target).await?;

    let mut outcome = ApplyOutcome::default();
    // Only created or changed objects are sent, unless asked to take fields
    // over or there is no inventory (a first apply, or an adoption).
    let mut known = BTreeMap::new();
    if !options.exact && !options.force_conflicts && !previous.is_empty() {
        let (found, counts) = scan_known(cluster, objects).await?;
        known = found;
        outcome.scan = Some(counts);
    }
    for stage in keyed.chunk_by(|(a, _), (b, _)| stage_of(&a.kind) == stage_of(&b.kind)) {
        let results = apply_stage(cluster, stage, &known, options, events).await;
        let mut errors = Vec::new();
        for (key, result) in results {
            match result {
                Ok(applied) => outcome.applied.push((key, applied)),
                Err(err) => errors.push(err),
            }
        }
        if !errors.is_empty() {
            // What did get applied is modelctl's now: record it so a later
            // prune can find it (if the server still answers), then report
            // every distinct failure once, and how far the apply got.
            let mut inventory_error = None;
            if !options.dry_run {
                let mut known = previous.clone();
                known.extend(outcome.applied.iter().map(|(k, _)| k.clone()));
                if known != previous {
                    inventory_error = inventory::write(cluster, target, &known, false)
                        .await
                        .err()
                        .map(Box::new);
                }
            }
            return Err(ClusterError::Interrupted {
                applied: outcome.applied.len(),
                failed: errors.len(),
                total: keyed.len(),
                cause: Box::new(distinct(errors)),
                inventory: inventory_error,
            });
        }
    }

    let mut kept = rendered.clone();
    if options.prune {
        prune_unrendered(cluster, target, &rendered, options, events, &mut outcome).await?;
    } else {
        kept.extend(previous.iter().cloned());
    }
    if !options.dry_run && kept != previous {
        inventory::write(cluster, target, &kept, false).await?;
    }
    Ok(outcome)
}

/// The fast path's scan: the live state of every rendered object that
/// exists, by key, and what the scan found.
async fn scan_known(
    cluster: &Cluster,
    objects: &[Value],
) -> Result<(BTreeMap<ObjectKey, Found>, ScanCounts), ClusterError> {
    let (found, pages) = scan(cluster, objects).await?;
    let counts = ScanCounts::of(objects, &found, pages);
    let mut known = BTreeMap::new();
    for (object, found) in objects.iter().zip(found) {
        if let (Ok(key), Found::Same | Found::Differs { .. }) = (ObjectKey::of(object), &found) {
            known.insert(key, found);
        }
    }
    Ok((known, counts))
}

/// Applies the objects of one stage concurrently, sending an event for each
/// one applied; an object the scan found unchanged is not sent.
async fn apply_stage(
    cluster: &Cluster,
    stage: &[(ObjectKey, &Value)],
    known: &BTreeMap<ObjectKey, Found>,
    options: &ApplyOptions,
    events: &(dyn Fn(ApplyEvent) + Sync),
) -> Vec<(ObjectKey, Result<Applied, ClusterError>)> {
    stream::iter(stage)
        .map(|(key, object)| async move {
            let result = match known.get(key) {
                Some(Found::Same) => Ok(Applied::Unchanged),
                Some(Found::Differs { live, .. }) => {
                    apply_one(cluster, key, object, options, Some(live)).await
                }
                _ => apply_one(cluster, key, object, options, None).await,
            };
            if let Ok(applied) = &result {
                events(ApplyEvent::Applied {
                    object: key.clone(),
                    applied: *applied,
                    dry_run: options.dry_run,
                });
            }
            (key.clone(), result)
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await
}

/// Every distinct failure once (a kind that is not served fails the same
/// way for each object).
fn distinct(mut errors: Vec<ClusterError>) -> ClusterError {
    let mut seen = BTreeSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    match errors.len() {
        1 => errors.remove(0),
        _ => ClusterError::Several(errors),
    }
}

/// `--prune`: deletes the managed objects no longer rendered, the last
/// stage first, and records them in `outcome`. Stops at the first failure.
async fn prune_unrendered(
    cluster: &Cluster,
    target: &Target,
    rendered: &BTreeSet<ObjectKey>,
    options: &ApplyOptions,
    events: &(dyn Fn(ApplyEvent) + Sync),
    outcome: &mut ApplyOutcome,
) -> Result<(), ClusterError> {
    let mut doomed = prune::candidates(cluster, target, rendered, options.concurrency).await?;
    doomed.sort_by_key(|k| std::cmp::Reverse(stage_of(&k.kind)));
    for key in doomed {
        prune::delete(cluster, &key, options.dry_run).await?;
        events(ApplyEvent::Pruned {
            object: key.clone(),
            dry_run: options.dry_run,
        });
        outcome.pruned.push(key);
    }
    Ok(())
}

/// Applies one object; compares resourceVersions to tell what happened.
/// `listed` is the live object when a LIST already returned it; otherwise
/// the object is read first.
async fn apply_one(
    cluster: &Cluster,
    key: &ObjectKey,
    object: &Value,
    options: &ApplyOptions,
    listed: Option<&Value>,
) -> Result<Applied, ClusterError> {
    let api = cluster.api_for(key).await?;
    let live = match listed {
        Some(live) => Some(live.clone()),
        None => api
            .get_opt(&key.name)
            .await
            .map_err(|e| ClusterError::classify(e, Some(key), &format!("reading {key}")))?
            .map(|live| to_json(&live, &key.api_version, &key.kind)),
    };
    let mut params = PatchParams::apply(MANAGER);
    if options.force_conflicts {
        params = params.force();
    }
    if options.dry_run {
        params = params.dry_run();
    }
    // A Job in a Kueue queue keeps what Kueue wrote into it.
    let body = kueue::with_live_admission(object, live.as_ref());
    let result = api
        .patch(&key.name, &params, &Patch::Apply(&body))
        .await
        .map_err(|e| ClusterError::classify(e, Some(key), &format!("applying {key}")))?;
    let result = to_json(&result, &key.api_version, &key.kind);
    let version = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
    Ok(match live {
        None => Applied::Created,
        Some(live) if !options.dry_run && version(&live) == version(&result) => Applied::Unchanged,
        // Another writer (a controller updating status, Kueue) may have
        // moved the version between the read and the apply: the apply
        // changed nothing when modelctl's own entry in managedFields (whose
        // time moves with every change it makes) and everything but status
        // are as they were.
        Some(live)
            if !options.dry_run
                && our_entry(&live).is_some()
                && our_entry(&live) == our_entry(&result)
                && same_spec(&live, &result) =>
        {
            Applied::Unchanged
        }
        Some(live) if options.dry_run && same_content(&live, &result) => Applied::Unchanged,
        Some(_) => Applied::Configured,
    })
}

/// modelctl's server-side apply entry in an object's managedFields.
fn our_entry(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| {
            e["manager"] == MANAGER && e["operation"] == "Apply" && e.get("subresource").is_none()
        })
}

/// Whether two versions of an object differ only in what other writers'
/// bookkeeping moves: status, resourceVersion, managedFields, generation.
fn same_spec(live: &Value, result: &Value) -> bool {
    let strip = |o: &Value| {
        let mut v = o.clone();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("status");
        }
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("generation");
            meta.remove("resourceVersion");
        }
        v
    };
    strip(live) == strip(result)
}

/// For dry runs (the resourceVersion never moves): whether the object the
/// server would store equals the live one, apart from managedFields and the
/// type fields a list leaves out.
fn same_content(live: &Value, result: &Value) -> bool {
    let strip = |o: &Value| {
        let mut v = o.clone();
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("generation");
        }
        v
    };
    strip(live) == strip(result)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(rv: &str, our_time: &str, suspend: bool, active: i64) -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "resourceVersion": rv, "managedFields": [
                {"manager": "modelctl", "operation": "Apply", "time": our_time, "fieldsV1": {"f:spec": {}}},
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": rv}
            ]},
            "spec": {"suspend": suspend},
            "status": {"active": active}
        })
    }

    #[test]
    fn another_writers_status_update_is_not_our_change() {
        let live = job("1", "t1", true, 0);
        // The controller wrote status between the read and the apply.
        let result = job("2", "t1", true, 1);
        assert!(our_entry(&live) == our_entry(&result) && same_spec(&live, &result));
        // Our apply changed the spec: our entry's time moved, and so did the spec.
        let changed = job("3", "t2", false, 1);
        assert!(our_entry(&live) != our_entry(&changed));
        assert!(!same_spec(&live, &changed));
        // Another writer changed the spec: not ours, but not "unchanged" either.
        let theirs = job("4", "t1", false, 0);
        assert!(!same_spec(&live, &theirs));
        // No entry of ours (a list without managedFields): never assumed unchanged.
        let bare = json!({"metadata": {"name": "j"}});
        assert!(our_entry(&bare).is_none());
    }
}
