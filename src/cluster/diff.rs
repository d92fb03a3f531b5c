//! `diff` against the cluster. The fast path reads each kind once per
//! namespace ([`scan`]) and compares locally; only objects it flags get a
//! server-side apply dry run, which yields the exact diff shown, and objects
//! not listed get a GET and a dry run. `--exact` dry-runs every object. Both
//! paths compare after [`normalize`], show fields another manager took over
//! as drift, and add the managed objects that `--prune` would delete.
//!
//! Returns the one diff model, [`DiffReport`], with `live` as the old side
//! and `applied` (what the dry run says the server would store) as the new
//! one. Printing it is the command's job.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::error::ClusterError;
use super::inventory::Target;
use super::normalize::{is_secret, mask_secret, normalize, normalize_for};
use super::prune;
use super::scan::{Found, ScanCounts, scan};
use crate::manifest_diff::{DiffReport, Drift, ObjectFailure};
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
    /// Dry-run every object instead of only those the local comparison
    /// flags (`--exact`).
    pub exact: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            concurrency: DEFAULT_CONCURRENCY,
            force_conflicts: false,
            exact: false,
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
    /// Fields another manager took over, which the dry run took back.
    pub drift: Vec<Drift>,
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
    Ok(diff_counted(cluster, target, objects, options).await?.0)
}

/// [`diff`], with what the fast path's scan found (none with `exact`).
///
/// Unless `exact`, the cluster is read once per kind and namespace
/// ([`scan`]); only objects the local comparison flags, and objects not
/// listed, get a dry run. With `exact`, every object gets a GET and a dry run.
pub async fn diff_counted(
    cluster: &Cluster,
    target: &Target,
    objects: &[Value],
    options: &DiffOptions,
) -> Result<(DiffReport, Option<ScanCounts>), ClusterError> {
    let env = target.env.as_str();
    let new_namespaces: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let (found, counts) = if options.exact {
        (vec![Found::Unlisted; objects.len()], None)
    } else {
        let (found, pages) = scan(cluster, objects, true).await?;
        let counts = ScanCounts::of(objects, &found, pages);
        (found, Some(counts))
    };
    let force = options.force_conflicts;
    let outcomes: Vec<(Option<ObjectKey>, Result<Sides, ClusterError>)> =
        stream::iter(objects.iter().zip(found))
            .map(|(object, found)| async move {
                let key = ObjectKey::of(object).ok();
                let outcome = match found {
                    Found::Same(shown) => ObjectKey::of(object)
                        .map(|key| {
                            let shown = shown.unwrap_or_default();
                            Sides {
                                key,
                                live: Some(shown.clone()),
                                applied: shown,
                                drift: Vec::new(),
                            }
                        })
                        .map_err(ClusterError::from),
                    Found::Differs { live, .. } => {
                        preview_listed(cluster, object, live, force).await
                    }
                    Found::Unlisted => preview(cluster, object, force).await,
                    Found::NotServed => Err(not_served(object)),
                };
                (key, outcome)
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
        report
            .compare(env, sides.key, sides.live.as_ref(), Some(&sides.applied))
            .drift = sides.drift;
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
    Ok((report, counts))
}

/// Dry-runs one object and reads the live one.
pub async fn preview(
    cluster: &Cluster,
    object: &Value,
    force: bool,
) -> Result<Sides, ClusterError> {
    let key = ObjectKey::of(object)?;
    let api = cluster.api_for(&key).await?;
    let (live, applied) =
        futures::join!(api.get_opt(&key.name), dry_run(&api, &key, object, force));
    let live = live
        .map_err(|e| ClusterError::classify(e, Some(&key), &format!("reading {key}")))?
        .map(|live| to_json(&live, &key.api_version, &key.kind));
    sides(key, object, live, applied?)
}

/// Dry-runs one object whose live state a LIST already returned.
async fn preview_listed(
    cluster: &Cluster,
    object: &Value,
    live: Value,
    force: bool,
) -> Result<Sides, ClusterError> {
    let key = ObjectKey::of(object)?;
    let api = cluster.api_for(&key).await?;
    let applied = dry_run(&api, &key, object, force).await?;
    sides(key, object, Some(live), applied)
}

/// The server-side apply dry run: what the server would store. When fields
/// another manager took over conflict (and `force` is off), the forced dry
/// run instead, with the fields taken: a diff shows their live value
/// against ours, as drift, where `apply` would refuse.
async fn dry_run(
    api: &Api<DynamicObject>,
    key: &ObjectKey,
    object: &Value,
    force: bool,
) -> Result<(Value, Vec<Drift>), ClusterError> {
    let send = |force: bool| async move {
        let mut params = PatchParams::apply(MANAGER).dry_run();
        if force {
            params = params.force();
        }
        api.patch(&key.name, &params, &Patch::Apply(object))
            .await
            .map(|merged| to_json(&merged, &key.api_version, &key.kind))
            .map_err(|e| ClusterError::classify(e, Some(key), &format!("dry-run apply of {key}")))
    };
    match send(force).await {
        Ok(merged) => Ok((merged, Vec::new())),
        Err(ClusterError::Conflict { conflicts, .. }) if !force => {
            let merged = send(true).await?;
            let drift = conflicts
                .into_iter()
                .map(|c| Drift {
                    field: c.field,
                    manager: c.manager,
                })
                .collect();
            Ok((merged, drift))
        }
        Err(err) => Err(err),
    }
}

/// Both sides as a diff shows them.
fn sides(
    key: ObjectKey,
    object: &Value,
    live: Option<Value>,
    (merged, drift): (Value, Vec<Drift>),
) -> Result<Sides, ClusterError> {
    let Some(live) = live else {
        return Ok(create(key, object));
    };
    let mut before = normalize_for(&live, Some(object));
    let mut after = normalize_for(&merged, Some(object));
    if is_secret(object) {
        mask_secret(Some(&mut before), &mut after);
    }
    Ok(Sides {
        key,
        live: Some(before),
        applied: after,
        drift,
    })
}

/// The error for an object whose kind the cluster does not serve.
fn not_served(object: &Value) -> ClusterError {
    let read = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    ClusterError::KindNotServed {
        kind: read("kind"),
        api_version: read("apiVersion"),
    }
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
        drift: Vec::new(),
    }
}
