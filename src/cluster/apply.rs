//! `apply`: server-side apply with field manager `modelctl`, stage by stage
//! (Namespaces first, Jobs last; objects of one stage concurrently), then the
//! opt-in prune and the inventory update. Only objects that are new or that
//! the fast path's comparison flags ([`scan`]) are sent, unless `exact`,
//! `force_conflicts` or a missing inventory asks for all of them.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::error::ClusterError;
use super::inventory::{self, Target};
use super::prune;
use super::scan::{Found, ScanCounts, scan};
use crate::object::ObjectKey;
use crate::object::labels::MANAGER;

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
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyOutcome {
    /// Every rendered object, in apply order.
    pub applied: Vec<(ObjectKey, Applied)>,
    /// Objects deleted by `--prune`.
    pub pruned: Vec<ObjectKey>,
    /// What the fast path's scan found; none when every object was applied.
    pub scan: Option<ScanCounts>,
}

/// Applies `objects` in stages; `progress` hears one line per object.
/// Stops after the first stage with a failure (later stages depend on it).
pub async fn apply(
    cluster: &Cluster,
    target: &Target,
    objects: &[Value],
    options: &ApplyOptions,
    progress: &(dyn Fn(&str) + Sync),
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
    let mut known: BTreeMap<ObjectKey, Found> = BTreeMap::new();
    if !options.exact && !options.force_conflicts && !previous.is_empty() {
        let (found, pages) = scan(cluster, objects, false).await?;
        outcome.scan = Some(ScanCounts::of(objects, &found, pages));
        for (object, found) in objects.iter().zip(found) {
            if let (Ok(key), Found::Same(_) | Found::Differs { .. }) =
                (ObjectKey::of(object), &found)
            {
                known.insert(key, found);
            }
        }
    }
    let known = &known;
    let mut start = 0;
    while start < keyed.len() {
        let stage = stage_of(&keyed[start].0.kind);
        let end = keyed[start..]
            .iter()
            .position(|(k, _)| stage_of(&k.kind) != stage)
            .map_or(keyed.len(), |n| start + n);
        let results: Vec<(ObjectKey, Result<Applied, ClusterError>)> =
            stream::iter(&keyed[start..end])
                .map(|(key, object)| async move {
                    let result = match known.get(key) {
                        Some(Found::Same(_)) => Ok(Applied::Unchanged),
                        Some(Found::Differs { live, .. }) => {
                            apply_one(cluster, key, object, options, Some(live)).await
                        }
                        _ => apply_one(cluster, key, object, options, None).await,
                    };
                    if let Ok(applied) = &result {
                        let dry = if options.dry_run { " (dry run)" } else { "" };
                        progress(&format!("{key} {}{dry}", word(*applied)));
                    }
                    (key.clone(), result)
                })
                .buffered(options.concurrency.max(1))
                .collect()
                .await;
        let mut errors = Vec::new();
        for (key, result) in results {
            match result {
                Ok(applied) => outcome.applied.push((key, applied)),
                Err(err) => errors.push(err),
            }
        }
        if !errors.is_empty() {
            // What did get applied is modelctl's now: record it so a later
            // prune can find it, then report every distinct failure once
            // (a kind that is not served fails the same way for each object).
            if !options.dry_run {
                let mut known = previous.clone();
                known.extend(outcome.applied.iter().map(|(k, _)| k.clone()));
                if known != previous {
                    inventory::write(cluster, target, &known, false).await?;
                }
            }
            let mut seen = BTreeSet::new();
            errors.retain(|e| seen.insert(e.to_string()));
            return Err(match errors.len() {
                1 => errors.remove(0),
                _ => ClusterError::Several(errors),
            });
        }
        start = end;
    }

    let mut kept = rendered.clone();
    if options.prune {
        let mut doomed = prune::candidates(cluster, target, &rendered, options.concurrency).await?;
        doomed.sort_by_key(|k| std::cmp::Reverse(stage_of(&k.kind)));
        for key in doomed {
            match prune::delete(cluster, &key, options.dry_run).await {
                Ok(()) => {
                    let dry = if options.dry_run { " (dry run)" } else { "" };
                    progress(&format!("{key} pruned{dry}"));
                    outcome.pruned.push(key);
                }
                Err(err) => {
                    kept.insert(key);
                    return Err(err);
                }
            }
        }
    } else {
        kept.extend(previous.iter().cloned());
    }
    if !options.dry_run && kept != previous {
        inventory::write(cluster, target, &kept, false).await?;
    }
    Ok(outcome)
}

fn word(applied: Applied) -> &'static str {
    match applied {
        Applied::Created => "created",
        Applied::Configured => "configured",
        Applied::Unchanged => "unchanged",
    }
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
    let result = api
        .patch(&key.name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| ClusterError::classify(e, Some(key), &format!("applying {key}")))?;
    let result = to_json(&result, &key.api_version, &key.kind);
    let version = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
    Ok(match live {
        None => Applied::Created,
        Some(live) if !options.dry_run && version(&live) == version(&result) => Applied::Unchanged,
        Some(live) if options.dry_run && same_content(&live, &result) => Applied::Unchanged,
        Some(_) => Applied::Configured,
    })
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
