//! The cluster diff's per-object results folded into one [`DiffReport`]:
//! both sides of each object as a diff shows them ([`Sides`]), the objects
//! that could not be compared (one message per missing namespace and per
//! kind not served, rather than one per object), and the objects `--prune`
//! would delete.
//!
//! Pure: `cluster::diff` gathers the results with its requests and hands
//! them here, so the folding is tested without the API server test double.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ClusterError;
use super::normalize::{is_secret, mask_secret, normalize, normalize_pair};
use crate::manifest_diff::{DiffReport, Drift, ObjectFailure};
use crate::object::ObjectKey;

/// The old side of a cluster diff: the live objects.
pub const LIVE: &str = "live";
/// The new side of a cluster diff: the objects as the apply would leave them.
pub const APPLIED: &str = "applied";

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

/// What became of one rendered object: its key (none when it has none) and
/// both sides, or why they could not be had.
pub type Outcome = (Option<ObjectKey>, Result<Sides, ClusterError>);

impl Sides {
    /// Both sides of `object` from its live state (none when it does not
    /// exist) and what the dry run merged, with the drift it found.
    pub fn of(
        key: ObjectKey,
        object: &Value,
        live: Option<Value>,
        (merged, drift): (Value, Vec<Drift>),
    ) -> Sides {
        let Some(live) = live else {
            return Sides::created(key, object);
        };
        let (mut before, mut after) = normalize_pair(&live, &merged, object);
        // What Kueue wrote into a queued Job is sent back as it is live, so
        // it never changes; its fields are Kueue's, and not shown.
        let kueue = super::kueue::written_paths(object);
        if !kueue.is_empty() {
            super::fields::remove_paths(&mut before, &kueue);
            super::fields::remove_paths(&mut after, &kueue);
        }
        if is_secret(object) {
            mask_secret(Some(&mut before), &mut after);
        }
        Sides {
            key,
            live: Some(before),
            applied: after,
            drift,
        }
    }

    /// A new object, shown whole as rendered.
    pub fn created(key: ObjectKey, object: &Value) -> Sides {
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

    /// An object the local comparison found unchanged: a report shows
    /// nothing of it but its name, model and source, so only its labels and
    /// annotations are kept (a fleet's diff would otherwise copy and print
    /// thousands of objects to throw them away).
    pub fn unchanged(key: ObjectKey, object: &Value) -> Sides {
        let mut metadata = serde_json::Map::new();
        for field in ["labels", "annotations"] {
            if let Some(value) = object.get("metadata").and_then(|m| m.get(field)) {
                metadata.insert(field.to_owned(), value.clone());
            }
        }
        let shown = serde_json::json!({ "metadata": metadata });
        Sides {
            key,
            live: Some(shown.clone()),
            applied: shown,
            drift: Vec::new(),
        }
    }
}

/// The error for an object whose kind the cluster does not serve.
pub fn not_served(object: &Value) -> ClusterError {
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

/// Folds the outcomes of `objects` (one each, in rendered order) of
/// environment `env` into a report, and returns the keys rendered. An
/// object whose namespace is rendered too but does not exist yet is shown
/// as created along with it; errors about one object are collected in the
/// report; any other error (connection, credentials, permissions) is
/// returned.
pub fn fold_outcomes(
    env: &str,
    objects: &[Value],
    outcomes: Vec<Outcome>,
) -> Result<(DiffReport, BTreeSet<ObjectKey>), ClusterError> {
    let new_namespaces: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace"))
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    let mut report = DiffReport::new(LIVE, APPLIED);
    let mut not_served: BTreeMap<(String, String), Vec<ObjectKey>> = BTreeMap::new();
    let mut missing_namespaces: BTreeMap<String, Vec<ObjectKey>> = BTreeMap::new();
    let mut rendered = BTreeSet::new();
    for ((key, outcome), object) in outcomes.into_iter().zip(objects) {
        if let Some(key) = &key {
            rendered.insert(key.clone());
        }
        let sides = match outcome {
            Ok(sides) => sides,
            Err(ClusterError::KindNotServed { kind, api_version }) => {
                not_served
                    .entry((kind, api_version))
                    .or_default()
                    .extend(key);
                continue;
            }
            // The namespace is rendered too and does not exist yet: the
            // object would be created along with it.
            Err(ClusterError::NamespaceMissing {
                namespace,
                object: k,
            }) if new_namespaces.contains(namespace.as_str()) => Sides::created(k, object),
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
    add_grouped_failures(&mut report, env, missing_namespaces, not_served);
    Ok((report, rendered))
}

/// One failure per missing namespace and per kind not served, naming how
/// many objects it keeps from being applied.
fn add_grouped_failures(
    report: &mut DiffReport,
    env: &str,
    missing_namespaces: BTreeMap<String, Vec<ObjectKey>>,
    not_served: BTreeMap<(String, String), Vec<ObjectKey>>,
) {
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
    for ((kind, api_version), objects) in not_served {
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
}

/// Adds to `report` the live objects `--prune` would delete, as removals.
pub fn add_pruned(report: &mut DiffReport, env: &str, doomed: Vec<(ObjectKey, Value)>) {
    for (key, live) in doomed {
        let mut shown = normalize(&live);
        if is_secret(&live) {
            mask_secret(None, &mut shown);
        }
        report.compare(env, key, Some(&shown), None);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifest_diff::Change;

    fn object(kind: &str, namespace: &str, name: &str) -> Value {
        let api_version = if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        };
        json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
        })
    }

    fn outcome(object: &Value, result: Result<Sides, ClusterError>) -> Outcome {
        (ObjectKey::of(object).ok(), result)
    }

    fn key(object: &Value) -> ObjectKey {
        ObjectKey::of(object).unwrap()
    }

    #[test]
    fn unchanged_created_and_changed_objects_are_compared_in_order() {
        let same = object("ConfigMap", "ml", "same");
        let new = object("ConfigMap", "ml", "new");
        let changed = object("Deployment", "ml", "digits");
        let mut live = changed.clone();
        live["spec"] = json!({"replicas": 1});
        let mut merged = changed.clone();
        merged["spec"] = json!({"replicas": 2});
        let outcomes = vec![
            outcome(&same, Ok(Sides::unchanged(key(&same), &same))),
            outcome(&new, Ok(Sides::created(key(&new), &new))),
            outcome(
                &changed,
                Ok(Sides::of(
                    key(&changed),
                    &changed,
                    Some(live),
                    (merged, vec![]),
                )),
            ),
        ];
        let objects = [same, new, changed];
        let (report, rendered) = fold_outcomes("lab", &objects, outcomes).unwrap();
        let changes: Vec<(&str, Change)> = report
            .objects
            .iter()
            .map(|d| (d.key.name.as_str(), d.change))
            .collect();
        assert_eq!(
            changes,
            [
                ("same", Change::Unchanged),
                ("new", Change::Added),
                ("digits", Change::Changed)
            ]
        );
        assert_eq!(rendered.len(), 3);
        assert!(report.errors.is_empty());
    }

    #[test]
    fn kinds_not_served_and_missing_namespaces_are_reported_once_each() {
        let routes: Vec<Value> = (0..3)
            .map(|i| {
                json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                       "metadata": {"name": format!("r{i}"), "namespace": "ml"}})
            })
            .collect();
        let elsewhere = [
            object("ConfigMap", "gone", "a"),
            object("ConfigMap", "gone", "b"),
        ];
        let mut outcomes: Vec<Outcome> = routes
            .iter()
            .map(|r| outcome(r, Err(not_served(r))))
            .collect();
        outcomes.extend(elsewhere.iter().map(|o| {
            let err = ClusterError::NamespaceMissing {
                object: key(o),
                namespace: "gone".to_owned(),
            };
            outcome(o, Err(err))
        }));
        let objects: Vec<Value> = routes.iter().chain(&elsewhere).cloned().collect();
        let (report, rendered) = fold_outcomes("lab", &objects, outcomes).unwrap();
        assert!(report.objects.is_empty());
        assert_eq!(rendered.len(), 5);
        let errors: Vec<(usize, &str)> = report
            .errors
            .iter()
            .map(|e| (e.objects.len(), e.error.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    2,
                    "namespace \"gone\" does not exist: 2 object(s) cannot be applied; create it first"
                ),
                (
                    3,
                    "HTTPRoute (gateway.networking.k8s.io/v1) is not served by this cluster: install its CRD; 3 object(s) cannot be applied"
                ),
            ]
        );
    }

    #[test]
    fn an_object_in_a_namespace_rendered_alongside_is_created_with_it() {
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new"}});
        let inside = object("ConfigMap", "new", "a");
        let missing = ClusterError::NamespaceMissing {
            object: key(&inside),
            namespace: "new".to_owned(),
        };
        let outcomes = vec![
            outcome(&namespace, Ok(Sides::created(key(&namespace), &namespace))),
            outcome(&inside, Err(missing)),
        ];
        let (report, _) = fold_outcomes("lab", &[namespace, inside], outcomes).unwrap();
        assert!(report.errors.is_empty());
        assert!(report.objects.iter().all(|d| d.change == Change::Added));
        assert_eq!(report.objects.len(), 2);
    }

    #[test]
    fn per_object_errors_are_collected_and_others_end_the_fold() {
        let a = object("ConfigMap", "ml", "a");
        let invalid = ClusterError::Invalid {
            object: key(&a),
            causes: vec![],
        };
        let objects = [a];
        let a = &objects[0];
        let (report, _) = fold_outcomes("lab", &objects, vec![outcome(a, Err(invalid))]).unwrap();
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].objects, [key(a)]);
        let denied = fold_outcomes(
            "lab",
            &objects,
            vec![outcome(a, Err(ClusterError::Unauthorized))],
        );
        assert!(matches!(denied, Err(ClusterError::Unauthorized)));
    }

    #[test]
    fn objects_prune_would_delete_show_as_removed_with_secrets_masked() {
        let mut report = DiffReport::new(LIVE, APPLIED);
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "s", "namespace": "ml", "uid": "u"},
                            "data": {"token": "c2VjcmV0"}});
        add_pruned(&mut report, "lab", vec![(key(&secret), secret)]);
        let [removed] = report.objects.as_slice() else {
            panic!("one object: {:?}", report.objects);
        };
        assert_eq!(removed.change, Change::Removed);
        let before = removed.before.as_deref().unwrap_or_default();
        assert!(
            before.contains("***") && !before.contains("c2VjcmV0"),
            "{before}"
        );
        assert!(!before.contains("uid"), "{before}");
    }
}
