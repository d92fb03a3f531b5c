//! `diff` against the cluster. The fast path reads each kind once per
//! namespace ([`scan`]) and compares locally; only objects it flags get a
//! server-side apply dry run, which yields the exact diff shown, and objects
//! not listed get a GET and a dry run. `--exact` dry-runs every object. Both
//! paths compare after [`normalize`](crate::reconcile::normalize), show
//! fields another manager took over as drift, and add the managed objects
//! that `--prune` would delete.
//!
//! Sends the requests only: the results are folded into the one diff model,
//! [`DiffReport`], by [`fold_outcomes`] (pure), with `live` as the old side
//! and `applied` (what the dry run says the server would store) as the new
//! one. Printing it is the command's job.

use futures::{StreamExt, stream};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::connect::{Cluster, to_json};
use super::inventory::Target;
use super::prune;
use super::scan::{Found, ScanCounts, scan};
use crate::manifest_diff::{DiffReport, Drift};
use crate::object::ObjectKey;
use crate::object::labels::MANAGER;
pub use crate::reconcile::outcomes::{APPLIED, LIVE};
use crate::reconcile::outcomes::{Outcome, Sides, add_pruned, fold_outcomes, not_served};
use crate::reconcile::{ClusterError, kueue};

/// How many requests run at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

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
    let (found, counts) = if options.exact {
        (vec![Found::Unlisted; objects.len()], None)
    } else {
        let (found, pages) = scan(cluster, objects).await?;
        let counts = ScanCounts::of(objects, &found, pages);
        (found, Some(counts))
    };
    let outcomes = preview_all(cluster, objects, found, options).await;
    let (mut report, rendered) = fold_outcomes(env, objects, outcomes)?;
    let doomed = prune::candidate_objects(cluster, target, &rendered, options.concurrency).await?;
    add_pruned(&mut report, env, doomed);
    Ok((report, counts))
}

/// Both sides of every object, from what the scan `found`: an unchanged
/// object as listed, a flagged one dry-run, an unlisted one read and
/// dry-run; `options.concurrency` at once, in rendered order.
async fn preview_all(
    cluster: &Cluster,
    objects: &[Value],
    found: Vec<Found>,
    options: &DiffOptions,
) -> Vec<Outcome> {
    let force = options.force_conflicts;
    stream::iter(objects.iter().zip(found))
        .map(|(object, found)| async move {
            let key = ObjectKey::of(object).ok();
            let outcome = match found {
                Found::Same => ObjectKey::of(object)
                    .map(|key| Sides::unchanged(key, object))
                    .map_err(ClusterError::from),
                Found::Differs { live, .. } => preview_listed(cluster, object, live, force).await,
                Found::Unlisted => preview(cluster, object, force).await,
                Found::NotServed => Err(not_served(object)),
            };
            (key, outcome)
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await
}

/// Dry-runs one object and reads the live one.
pub async fn preview(
    cluster: &Cluster,
    object: &Value,
    force: bool,
) -> Result<Sides, ClusterError> {
    let key = ObjectKey::of(object)?;
    let api = cluster.api_for(&key).await?;
    let read = |api: &Api<DynamicObject>| {
        let key = &key;
        let api = api.clone();
        async move {
            api.get_opt(&key.name)
                .await
                .map_err(|e| ClusterError::classify(e, Some(key), &format!("reading {key}")))
                .map(|live| live.map(|live| to_json(&live, &key.api_version, &key.kind)))
        }
    };
    if kueue::is_queued_job(object) {
        // What is sent carries the live values of Kueue's fields, so the
        // read comes first.
        let live = read(&api).await?;
        let body = kueue::with_live_admission(object, live.as_ref());
        let applied = dry_run(&api, &key, &body, force).await?;
        return Ok(Sides::of(key, object, live, applied));
    }
    let (live, applied) = futures::join!(read(&api), dry_run(&api, &key, object, force));
    Ok(Sides::of(key, object, live?, applied?))
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
    let body = kueue::with_live_admission(object, Some(&live));
    let applied = dry_run(&api, &key, &body, force).await?;
    Ok(Sides::of(key, object, Some(live), applied))
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
            let mut drift: Vec<Drift> = conflicts
                .into_iter()
                .map(|c| Drift {
                    field: c.field,
                    manager: c.manager,
                })
                .collect();
            // The server lists conflicts in no fixed order; a report must
            // read the same from one run to the next.
            drift.sort_by(|a, b| (&a.field, &a.manager).cmp(&(&b.field, &b.manager)));
            Ok((merged, drift))
        }
        Err(err) => Err(err),
    }
}
