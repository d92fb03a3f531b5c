//! `diff` against the cluster: for every rendered object a server-side apply
//! dry run next to a GET of the live object, run concurrently, compared after
//! [`normalize`]; plus the managed objects that `--prune` would delete.
//!
//! Returns the one diff model, [`DiffReport`], with `live` as the old side
//! and `applied` (what the dry run says the server would store) as the new
//! one. Printing it is the command's job.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use kube::api::{Patch, PatchParams};
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::error::ClusterError;
use super::inventory::Target;
use super::normalize::{is_secret, mask_secret, normalize};
use super::prune;
use crate::manifest_diff::{DiffReport, ObjectFailure};
use crate::object::ObjectKey;
use crate::object::labels::MANAGER;

/// How many requests run at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// The old side of a cluster diff: the live objects.
pub const LIVE: &str = "live";
/// The new side of a cluster diff: the objects as the apply would leave them.
pub const APPLIED: &str = "applied";

/// Options of [`diff`].
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Dry-run with `force=true` (what `apply --force-conflicts` would do).
    pub force_conflicts: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            concurrency: DEFAULT_CONCURRENCY,
            force_conflicts: false,
        }
    }
}

/// Both sides of one object as a diff shows them: server fields dropped,
/// Secret values masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Sides {
    /// Which object.
    pub key: ObjectKey,
    /// The live object; none when it does not exist yet.
    pub live: Option<Value>,
    /// The object as the apply would leave it.
    pub applied: Value,
}

/// Diffs `objects` (whole rendered objects) against the cluster: every
/// object in rendered order, then the objects `--prune` would delete.
/// Connection, credential and permission errors end the run; errors about
/// one object are collected in the report.
pub async fn diff(
    cluster: &Cluster,
    target: &Target,
    objects: &[Value],
    options: &DiffOptions,
) -> Result<DiffReport, ClusterError> {
    let env = target.env.as_str();
    let new_namespaces: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let outcomes: Vec<(Option<ObjectKey>, Result<Sides, ClusterError>)> = stream::iter(objects)
        .map(|object| async {
            let key = ObjectKey::of(object).ok();
            (key, preview(cluster, object, options.force_conflicts).await)
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await;

    let mut report = DiffReport::new(LIVE, APPLIED);
    let mut missing: BTreeMap<(String, String), Vec<ObjectKey>> = BTreeMap::new();
    let mut missing_namespaces: BTreeMap<String, Vec<ObjectKey>> = BTreeMap::new();
    let mut rendered = BTreeSet::new();
    for ((key, outcome), object) in outcomes.into_iter().zip(objects) {
        if let Some(key) = &key {
            rendered.insert(key.clone());
        }
        let sides = match outcome {
            Ok(sides) => sides,
            Err(ClusterError::KindNotServed { kind, api_version }) => {
                missing.entry((kind, api_version)).or_default().extend(key);
                continue;
            }
            // The namespace is rendered too and does not exist yet: the
            // object would be created along with it.
            Err(ClusterError::NamespaceMissing {
                namespace,
                object: k,
            }) if new_namespaces.contains(&namespace) => create(k, object),
            // One message per missing namespace, not one per object.
            Err(ClusterError::NamespaceMissing {
                namespace,
                object: k,
            }) => {
                missing_namespaces.entry(namespace).or_default().push(k);
                continue;
            }
            Err(err) if err.is_per_object() => {
                report.errors.push(ObjectFailure {
                    env: env.to_owned(),
                    objects: key.into_iter().collect(),
                    error: err.to_string(),
                });
                continue;
            }
            Err(err) => return Err(err),
        };
        report.compare(env, sides.key, sides.live.as_ref(), Some(&sides.applied));
    }
    for (namespace, objects) in missing_namespaces {
        let error = format!(
            "namespace {namespace:?} does not exist: {} object(s) cannot be applied; create it first",
            objects.len()
        );
        report.errors.push(ObjectFailure {
            env: env.to_owned(),
            objects,
            error,
        });
    }
    for ((kind, api_version), objects) in missing {
        let error = format!(
            "{kind} ({api_version}) is not served by this cluster: install its CRD; {} object(s) cannot be applied",
            objects.len()
        );
        report.errors.push(ObjectFailure {
            env: env.to_owned(),
            objects,
            error,
        });
    }
    let doomed = prune::candidate_objects(cluster, target, &rendered, options.concurrency).await?;
    for (key, live) in doomed {
        let mut shown = normalize(&live);
        if is_secret(&live) {
            mask_secret(None, &mut shown);
        }
        report.compare(env, key, Some(&shown), None);
    }
    Ok(report)
}

/// Dry-runs one object and reads the live one.
pub async fn preview(
    cluster: &Cluster,
    object: &Value,
    force: bool,
) -> Result<Sides, ClusterError> {
    let key = ObjectKey::of(object)?;
    let api = cluster.api_for(&key).await?;
    let mut params = PatchParams::apply(MANAGER).dry_run();
    if force {
        params = params.force();
    }
    let patch = Patch::Apply(object);
    let (live, merged) = futures::join!(
        api.get_opt(&key.name),
        api.patch(&key.name, &params, &patch)
    );
    let merged = merged
        .map_err(|e| ClusterError::classify(e, Some(&key), &format!("dry-run apply of {key}")))?;
    let live =
        live.map_err(|e| ClusterError::classify(e, Some(&key), &format!("reading {key}")))?;
    let Some(live) = live else {
        return Ok(create(key, object));
    };
    let mut before = normalize(&to_json(&live, &key.api_version, &key.kind));
    let mut after = normalize(&to_json(&merged, &key.api_version, &key.kind));
    if is_secret(object) {
        mask_secret(Some(&mut before), &mut after);
    }
    Ok(Sides {
        key,
        live: Some(before),
        applied: after,
    })
}

/// A new object, shown whole as rendered.
fn create(key: ObjectKey, object: &Value) -> Sides {
    let mut shown = normalize(object);
    if is_secret(object) {
        mask_secret(None, &mut shown);
    }
    Sides {
        key,
        live: None,
        applied: shown,
    }
}
