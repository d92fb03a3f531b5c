//! The fast path's local comparison: would a server-side apply of a rendered
//! object change its live counterpart? Decided from the live object alone
//! (as a LIST returns it), with the `managedFields` entry of field manager
//! `modelctl` (FieldsV1) saying which fields modelctl owns.
//!
//! The answer may be "differs" where a dry run would show nothing (the dry
//! run then decides, and the object is reported unchanged); it must never be
//! "same" where a dry run would show a change. So every rule errs towards
//! "differs":
//!
//! 1. modelctl must have applied the object before, in the same apiVersion.
//! 2. Every field modelctl owns must still be rendered; one that is not would
//!    be removed by the next apply.
//! 3. Every field the rendered object sets must be owned by modelctl (else the
//!    apply takes it over or conflicts) and hold the same value live.
//!    Quantities compare by value (`0.5` = `500m`), numbers by value
//!    (`1` = `1.0`), unless another manager owns the field too: its
//!    conflict check takes another spelling for another value; a field
//!    owned as a whole (an atomic list or struct) compares whole.
//!
//! Fields only other managers own (an HPA's replica count, defaults, status)
//! are not looked at: a diff does not show them either. Nor are the fields
//! Kueue writes into a Job in its queue ([`super::kueue`]), whoever owns them.

use serde_json::{Map, Value};

use super::fields::{find_item, has_path, loose_eq, owned_paths, remove_paths};
use super::kueue;
use crate::object::labels::MANAGER;

/// The answer of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Applying the rendered object changes nothing.
    Same,
    /// Applying it may change something: why (for `--verbose`).
    Differs(Difference),
}

/// Why [`compare`] flagged an object (the first reason found). Field paths
/// are written as `.spec.template.spec.containers[name="server"].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The live object is being deleted.
    Deleting,
    /// modelctl has not applied it (no `Apply` entry of its field manager).
    NotApplied,
    /// modelctl applied it in another apiVersion.
    OtherApiVersion,
    /// modelctl's managedFields entry is malformed (no FieldsV1, or
    /// metadata that is not a map).
    Malformed,
    /// A field modelctl owns is no longer rendered.
    NoLongerRendered(String),
    /// A rendered field is not owned by modelctl.
    NotOwned(String),
    /// A rendered field is not set in the live object.
    NotSetLive(String),
    /// A rendered list would be reordered.
    Reordered(String),
    /// A rendered field holds another value live.
    ValueDiffers(String),
}

/// Compares a rendered object with the live one (see the module doc).
pub fn compare(rendered: &Value, live: &Value) -> Verdict {
    match check(rendered, live) {
        Ok(()) => Verdict::Same,
        Err(why) => Verdict::Differs(why),
    }
}

fn check(rendered: &Value, live: &Value) -> Result<(), Difference> {
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(Difference::Deleting);
    }
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e.get("manager").and_then(Value::as_str) == Some(MANAGER)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
                && e.get("subresource").is_none()
        })
        .collect();
    let [entry] = ours.as_slice() else {
        return Err(Difference::NotApplied);
    };
    if entry.get("apiVersion") != rendered.get("apiVersion") {
        return Err(Difference::OtherApiVersion);
    }
    let fields = entry.get("fieldsV1").ok_or(Difference::Malformed)?;
    let tree = fields.as_object().ok_or(Difference::Malformed)?;
    // Fields other managers own too: for those, a value the server holds in
    // another spelling (`500m` rendered as `0.5`) is a change of value to
    // the conflict check, so only the same spelling counts as the same.
    let shared: Vec<Vec<String>> = entries
        .iter()
        .filter(|e| e.get("manager").and_then(Value::as_str) != Some(MANAGER))
        .filter(|e| e.get("subresource").is_none())
        .filter_map(|e| e.get("fieldsV1"))
        .flat_map(owned_paths)
        .collect();

    // Kueue's fields are out of both rules: its webhook's `suspend` may be
    // recorded as modelctl's, and its tolerations differ from ours.
    let kueue = kueue::written_paths(rendered);
    let stripped;
    let rendered = if kueue.is_empty() {
        rendered
    } else {
        let mut copy = rendered.clone();
        remove_paths(&mut copy, &kueue);
        stripped = copy;
        &stripped
    };

    // Rule 2: nothing modelctl owns is dropped.
    for path in owned_paths(fields) {
        if kueue.iter().any(|k| path.starts_with(k)) {
            continue;
        }
        if !has_path(rendered, &path) {
            return Err(Difference::NoLongerRendered(display(&path)));
        }
    }

    // Rule 3: everything rendered is owned and equal.
    let mut path = Vec::new();
    for (key, value) in rendered.as_object().into_iter().flatten() {
        if matches!(key.as_str(), "apiVersion" | "kind" | "status") {
            continue;
        }
        path.push(format!("f:{key}"));
        if key == "metadata" {
            let meta = value.as_object().ok_or(Difference::Malformed)?;
            let node = child(tree, &format!("f:{key}"));
            for (mk, mv) in meta {
                if matches!(mk.as_str(), "name" | "namespace") {
                    continue;
                }
                path.push(format!("f:{mk}"));
                let node = node.and_then(|n| child(n, &format!("f:{mk}")));
                let live_value = live.get("metadata").and_then(|m| m.get(mk));
                covered(mv, node, live_value, &mut path, &shared)?;
                path.pop();
            }
        } else {
            covered(
                value,
                child(tree, &format!("f:{key}")),
                live.get(key),
                &mut path,
                &shared,
            )?;
        }
        path.pop();
    }
    Ok(())
}

fn child<'a>(node: &'a Map<String, Value>, element: &str) -> Option<&'a Map<String, Value>> {
    node.get(element).and_then(Value::as_object)
}

/// Rule 3 for one rendered value, `node` being modelctl's FieldsV1 node at
/// its path (none when modelctl does not own it).
fn covered(
    rendered: &Value,
    node: Option<&Map<String, Value>>,
    live: Option<&Value>,
    path: &mut Vec<String>,
    shared: &[Vec<String>],
) -> Result<(), Difference> {
    let Some(node) = node else {
        return Err(Difference::NotOwned(display(path)));
    };
    let Some(live) = live else {
        return Err(Difference::NotSetLive(display(path)));
    };
    let granular = node.keys().any(|k| k != ".");
    match rendered {
        Value::Object(map) if granular && !map.is_empty() => {
            for (key, value) in map {
                let element = format!("f:{key}");
                path.push(element.clone());
                covered(value, child(node, &element), live.get(key), path, shared)?;
                path.pop();
            }
            Ok(())
        }
        Value::Array(items) if granular && !items.is_empty() => {
            let live_items = live.as_array().map(Vec::as_slice).unwrap_or_default();
            let mut last = None;
            for (index, item) in items.iter().enumerate() {
                let element = node
                    .keys()
                    .find(|k| names_item(k, item, index))
                    .ok_or_else(|| Difference::NotOwned(format!("{}[{index}]", display(path))))?;
                let at = find_item(live_items, element)
                    .ok_or_else(|| Difference::NotSetLive(format!("{}[{index}]", display(path))))?;
                if last.is_some_and(|l| at <= l) {
                    return Err(Difference::Reordered(display(path)));
                }
                last = Some(at);
                path.push(element.clone());
                covered(
                    item,
                    child(node, element),
                    Some(&live_items[at]),
                    path,
                    shared,
                )?;
                path.pop();
            }
            Ok(())
        }
        _ if rendered == live => Ok(()),
        _ if same_value(rendered, live, path) && !shared_near(shared, path) => Ok(()),
        _ => Err(Difference::ValueDiffers(display(path))),
    }
}

/// Whether another manager owns `path`, a field inside it, or a struct
/// holding it.
fn shared_near(shared: &[Vec<String>], path: &[String]) -> bool {
    shared
        .iter()
        .any(|p| p.starts_with(path) || path.starts_with(p))
}

/// Whether a FieldsV1 list element (`k:{…}`, `v:…`, `i:N`) names `item`.
fn names_item(element: &str, item: &Value, index: usize) -> bool {
    if let Some(key) = element.strip_prefix("k:") {
        let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
            return false;
        };
        return key
            .iter()
            .all(|(k, v)| item.get(k).is_some_and(|found| loose_eq(found, v)));
    }
    if let Some(value) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(value).is_ok_and(|v| loose_eq(item, &v));
    }
    element
        .strip_prefix("i:")
        .and_then(|i| i.parse::<usize>().ok())
        == Some(index)
}

/// Equality by value: numbers numerically, resource quantities by amount,
/// containers element by element.
fn same_value(rendered: &Value, live: &Value, path: &[String]) -> bool {
    match (rendered, live) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => {
            a == b || (is_quantity_field(path) && same_quantity(a, b))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y, path))
        }
        (Value::Object(a), Value::Object(b)) => {
            let defaulted = defaults(path)
                .iter()
                .filter(|(k, v)| !a.contains_key(*k) && b.get(*k) == Some(v))
                .count();
            a.len() + defaulted == b.len()
                && a.iter().all(|(k, x)| {
                    b.get(k).is_some_and(|y| {
                        let mut inner = path.to_vec();
                        inner.push(format!("f:{k}"));
                        same_value(x, y, &inner)
                    })
                })
        }
        _ => rendered == live,
    }
}

/// Fields the API server fills in inside structs that are owned (and so
/// compared) whole: left out of the rendered struct, the default counts as
/// set.
fn defaults(path: &[String]) -> &'static [(&'static str, Value)] {
    static FIELD_REF: std::sync::LazyLock<[(&str, Value); 1]> =
        std::sync::LazyLock::new(|| [("apiVersion", Value::from("v1"))]);
    match path.last().map(String::as_str) {
        Some("f:fieldRef") => FIELD_REF.as_slice(),
        _ => &[],
    }
}

/// Fields the API server stores as canonical quantities: resource requests
/// and limits, quota `hard`, autoscaler targets.
fn is_quantity_field(path: &[String]) -> bool {
    let last = |n: usize| {
        path.len()
            .checked_sub(n)
            .and_then(|i| path.get(i))
            .map(String::as_str)
    };
    matches!(last(2), Some("f:limits" | "f:requests" | "f:hard"))
        || (matches!(last(1), Some("f:averageValue" | "f:value")) && last(2) == Some("f:target"))
}

fn same_quantity(a: &str, b: &str) -> bool {
    use modelctl_spec::values::quantity_value;
    match (quantity_value(a), quantity_value(b)) {
        (Some(x), Some(y)) => (x - y).abs() <= f64::EPSILON * 8.0 * x.abs().max(y.abs()),
        _ => false,
    }
}

/// `.spec.template.spec.containers[name="server"].image`, for messages.
fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        match element.strip_prefix("f:") {
            Some(field) => {
                out.push('.');
                out.push_str(field);
            }
            None => {
                let inner = element.split_once(':').map_or(element.as_str(), |(_, v)| v);
                out.push('[');
                out.push_str(inner);
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "digits", "namespace": "ml", "labels": {"a": "1"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "server", "image": "v1", "args": ["--port=8080"],
                 "resources": {"limits": {"cpu": "1.5", "memory": "1Gi"}}}
            ]}}}
        })
    }

    fn ours() -> Value {
        json!({
            "f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"server\"}": {".": {}, "f:name": {}, "f:image": {}, "f:args": {},
                    "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}}}
            }}}}
        })
    }

    fn live(fields: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "digits", "namespace": "ml", "labels": {"a": "1", "b": "x"},
                "managedFields": [
                    {"manager": "modelctl", "operation": "Apply", "apiVersion": "apps/v1", "fieldsV1": fields},
                    {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:b": {}}}}}
                ]},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "server", "image": "v1", "args": ["--port=8080"], "imagePullPolicy": "IfNotPresent",
                 "resources": {"limits": {"cpu": "1500m", "memory": "1073741824"}}},
                {"name": "sidecar", "image": "proxy"}
            ]}}}
        })
    }

    #[test]
    fn defaults_and_fields_of_others_are_no_change() {
        assert_eq!(compare(&rendered(), &live(ours())), Verdict::Same);
    }

    #[test]
    fn a_respelt_quantity_another_manager_shares_differs() {
        // Alone, modelctl's `1.5` is the live `1500m`; shared with another
        // manager, the server's conflict check takes it for a new value.
        let mut object = live(ours());
        object["metadata"]["managedFields"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({"manager": "hotfix", "operation": "Apply", "apiVersion": "apps/v1",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"server\"}": {".": {}, "f:name": {},
                        "f:resources": {"f:limits": {"f:cpu": {}}}}}}}}}}),
            );
        assert!(
            matches!(compare(&rendered(), &object), Verdict::Differs(Difference::ValueDiffers(path)) if path.contains("cpu")),
            "{:?}",
            compare(&rendered(), &object)
        );
    }

    #[test]
    fn a_changed_value_differs() {
        let mut r = rendered();
        r["spec"]["template"]["spec"]["containers"][0]["image"] = json!("v2");
        assert!(
            matches!(compare(&r, &live(ours())), Verdict::Differs(Difference::ValueDiffers(path)) if path.contains("image"))
        );
    }

    #[test]
    fn a_field_no_longer_rendered_differs() {
        let mut r = rendered();
        r["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("args");
        assert!(
            matches!(compare(&r, &live(ours())), Verdict::Differs(Difference::NoLongerRendered(path)) if path.contains("args"))
        );
    }

    #[test]
    fn a_field_taken_by_another_manager_differs() {
        let mut fields = ours();
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"server\"}"]
            .as_object_mut()
            .unwrap()
            .remove("f:image");
        assert!(
            matches!(compare(&rendered(), &live(fields)), Verdict::Differs(Difference::NotOwned(path)) if path.contains("image"))
        );
    }

    #[test]
    fn a_new_field_differs() {
        let mut r = rendered();
        r["metadata"]["labels"]["c"] = json!("3");
        assert!(matches!(compare(&r, &live(ours())), Verdict::Differs(_)));
    }

    #[test]
    fn an_atomic_list_compares_whole() {
        let mut l = live(ours());
        l["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--port=8080", "--x"]);
        assert!(matches!(compare(&rendered(), &l), Verdict::Differs(_)));
    }

    #[test]
    fn never_applied_by_modelctl_differs() {
        let mut l = live(ours());
        l["metadata"]["managedFields"][0]["manager"] = json!("kubectl");
        assert!(matches!(compare(&rendered(), &l), Verdict::Differs(_)));
    }

    #[test]
    fn quantities_compare_by_amount_only_where_the_server_canonicalises() {
        let at = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(same_value(
            &json!("0.5"),
            &json!("500m"),
            &at(&["f:resources", "f:requests", "f:cpu"])
        ));
        assert!(!same_value(
            &json!("0.5"),
            &json!("500m"),
            &at(&["f:env", "f:value"])
        ));
        assert!(!same_value(
            &json!("1Gi"),
            &json!("1G"),
            &at(&["f:limits", "f:memory"])
        ));
        assert!(same_value(&json!(1), &json!(1.0), &[]));
    }

    #[test]
    fn server_defaults_inside_whole_structs_count_as_set() {
        let at = vec!["f:valueFrom".to_owned(), "f:fieldRef".to_owned()];
        let rendered = json!({"fieldPath": "metadata.name"});
        let stored = json!({"fieldPath": "metadata.name", "apiVersion": "v1"});
        assert!(same_value(&rendered, &stored, &at));
        let other = json!({"fieldPath": "metadata.name", "apiVersion": "v2"});
        assert!(!same_value(&rendered, &other, &at));
    }

    #[test]
    fn what_kueue_writes_into_a_queued_job_is_no_change() {
        let tolerations = json!([{"key": "nvidia.com/gpu", "operator": "Exists"}]);
        let rendered = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "m-train-1", "labels": {"kueue.x-k8s.io/queue-name": "gpu"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "tolerations": tolerations}}}
        });
        let mut live = rendered.clone();
        live["spec"]["suspend"] = json!(true);
        live["spec"]["template"]["spec"]["nodeSelector"] = json!({"pool": "a100"});
        live["spec"]["template"]["spec"]["tolerations"] = json!([
            {"key": "nvidia.com/gpu", "operator": "Exists"},
            {"key": "pool", "operator": "Equal", "value": "a100", "effect": "NoSchedule"}
        ]);
        // Kueue's webhook ran inside modelctl's create, so `suspend` is
        // recorded as modelctl's; the admission's Update took the
        // tolerations and wrote the node selector.
        live["metadata"]["managedFields"] = json!([
            {"manager": "modelctl", "operation": "Apply", "apiVersion": "batch/v1",
             "fieldsV1": {"f:metadata": {"f:labels": {"f:kueue.x-k8s.io/queue-name": {}}},
                          "f:spec": {"f:suspend": {}, "f:template": {"f:spec": {"f:restartPolicy": {}}}}}},
            {"manager": "kueue", "operation": "Update", "apiVersion": "batch/v1",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {}, "f:tolerations": {}}}}}}
        ]);
        assert_eq!(compare(&rendered, &live), Verdict::Same);

        // The same Job outside a queue: the taken tolerations are a change.
        let mut plain = rendered.clone();
        plain["metadata"]["labels"] = json!({});
        let mut plain_live = live.clone();
        plain_live["metadata"]["labels"] = json!({});
        plain_live["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"] =
            json!({"f:labels": {}});
        assert!(matches!(compare(&plain, &plain_live), Verdict::Differs(_)));
        // Anything else modelctl renders still counts in a queued Job.
        live["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        assert!(matches!(compare(&rendered, &live), Verdict::Differs(_)));
    }
}
