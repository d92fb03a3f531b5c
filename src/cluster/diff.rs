//! `diff` against the cluster: for every rendered object a server-side apply
//! dry run next to a GET of the live object, run concurrently, compared after
//! [`normalize`]; plus the managed objects that `--prune` would delete.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use super::connect::{Cluster, to_json};
use super::error::ClusterError;
use super::inventory::Target;
use super::normalize::{is_secret, mask_secret, normalize, to_yaml};
use super::object::{FIELD_MANAGER, ObjectKey};
use super::prune;

/// How many requests run at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// What applying one object would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// It does not exist yet.
    Create,
    /// It exists and would change.
    Update,
    /// It exists and would stay the same.
    Unchanged,
}

/// One object's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Create, update or unchanged.
    pub change: Change,
    /// The live object as compared (YAML, Secret values masked); none when new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The object after the apply (YAML, Secret values masked).
    pub after: String,
    /// Unified diff from `before` to `after` (empty when unchanged; the
    /// whole object as additions when new).
    pub diff: String,
}

/// An object the dry run rejected.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectFailure {
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Why (conflict, invalid field, …).
    pub error: String,
}

/// A kind the cluster does not serve, with the objects of that kind.
#[derive(Debug, Clone, Serialize)]
pub struct MissingKind {
    /// `HTTPRoute`.
    pub kind: String,
    /// `gateway.networking.k8s.io/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The rendered objects of that kind.
    pub objects: Vec<ObjectKey>,
}

/// Everything `diff` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    /// Every rendered object, in rendered order.
    pub objects: Vec<ObjectDiff>,
    /// Managed objects no longer rendered.
    pub prune: Vec<ObjectKey>,
    /// Kinds the cluster does not serve.
    pub missing_kinds: Vec<MissingKind>,
    /// Objects the server rejected.
    pub errors: Vec<ObjectFailure>,
}

impl DiffReport {
    /// Whether applying would change anything.
    pub fn has_changes(&self) -> bool {
        !self.prune.is_empty() || self.objects.iter().any(|o| o.change != Change::Unchanged)
    }

    /// Whether some objects could not be checked.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || !self.missing_kinds.is_empty()
    }
}

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

/// Diffs `objects` (whole rendered objects) against the cluster. Connection,
/// credential and permission errors end the run; errors about one object are
/// collected in the report.
pub async fn diff(
    cluster: &Cluster,
    target: &Target,
    objects: &[Value],
    options: &DiffOptions,
) -> Result<DiffReport, ClusterError> {
    let new_namespaces: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let outcomes: Vec<(Option<ObjectKey>, Result<ObjectDiff, ClusterError>)> =
        stream::iter(objects)
            .map(|object| async {
                let key = ObjectKey::of(object).ok();
                (key, preview(cluster, object, options.force_conflicts).await)
            })
            .buffered(options.concurrency.max(1))
            .collect()
            .await;

    let mut report = DiffReport::default();
    let mut missing: BTreeMap<(String, String), Vec<ObjectKey>> = BTreeMap::new();
    let mut missing_namespaces: BTreeMap<String, Vec<ObjectKey>> = BTreeMap::new();
    let mut rendered = BTreeSet::new();
    for ((key, outcome), object) in outcomes.into_iter().zip(objects) {
        if let Some(key) = &key {
            rendered.insert(key.clone());
        }
        match outcome {
            Ok(found) => report.objects.push(found),
            Err(ClusterError::KindNotServed { kind, api_version }) => {
                missing.entry((kind, api_version)).or_default().extend(key);
            }
            // The namespace is rendered too and does not exist yet: the
            // object would be created along with it.
            Err(ClusterError::NamespaceMissing {
                namespace,
                object: k,
            }) if new_namespaces.contains(&namespace) => {
                report.objects.push(create(k, object));
            }
            // One message per missing namespace, not one per object.
            Err(ClusterError::NamespaceMissing {
                namespace,
                object: k,
            }) => {
                missing_namespaces.entry(namespace).or_default().push(k);
            }
            Err(err) if err.is_per_object() => report.errors.push(ObjectFailure {
                key: key.unwrap_or_default(),
                error: err.to_string(),
            }),
            Err(err) => return Err(err),
        }
    }
    for (namespace, objects) in missing_namespaces {
        report.errors.push(ObjectFailure {
            key: objects[0].clone(),
            error: format!(
                "namespace {namespace:?} does not exist: {} object(s) cannot be applied; create it first",
                objects.len()
            ),
        });
    }
    report.missing_kinds = missing
        .into_iter()
        .map(|((kind, api_version), objects)| MissingKind {
            kind,
            api_version,
            objects,
        })
        .collect();
    report.prune = prune::candidates(cluster, target, &rendered, options.concurrency).await?;
    Ok(report)
}

/// Dry-runs one object and compares it with the live one.
pub async fn preview(
    cluster: &Cluster,
    object: &Value,
    force: bool,
) -> Result<ObjectDiff, ClusterError> {
    let key = ObjectKey::of(object)?;
    let api = cluster.api_for(&key).await?;
    let mut params = PatchParams::apply(FIELD_MANAGER).dry_run();
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
    let (before, after) = (to_yaml(&before), to_yaml(&after));
    let (change, diff) = if before == after {
        (Change::Unchanged, String::new())
    } else {
        (Change::Update, unified(&key, Some(&before), &after))
    };
    Ok(ObjectDiff {
        key,
        change,
        before: Some(before),
        after,
        diff,
    })
}

/// A new object, shown whole as rendered.
fn create(key: ObjectKey, object: &Value) -> ObjectDiff {
    let mut shown = normalize(object);
    if is_secret(object) {
        mask_secret(None, &mut shown);
    }
    let after = to_yaml(&shown);
    let diff = unified(&key, None, &after);
    ObjectDiff {
        key,
        change: Change::Create,
        before: None,
        after,
        diff,
    }
}

/// A unified diff (3 lines of context) from the live to the applied object.
fn unified(key: &ObjectKey, before: Option<&str>, after: &str) -> String {
    let name = key.to_string();
    let (old_name, new_name) = match before {
        Some(_) => (format!("live/{name}"), format!("applied/{name}")),
        None => ("/dev/null".to_owned(), format!("applied/{name}")),
    };
    TextDiff::from_lines(before.unwrap_or(""), after)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &new_name)
        .to_string()
}
