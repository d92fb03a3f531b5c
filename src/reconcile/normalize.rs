//! What a diff compares: an object without the fields the server writes
//! (`managedFields`, `resourceVersion`, `uid`, `generation`,
//! `creationTimestamp`, `status`) and without the fields only other field
//! managers own (unless modelctl renders them: then they are drift, and
//! shown); Secret values masked.

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use serde_json::{Map, Value};

use super::fields::{has_path, owned_by_others_only, remove_paths};

/// The masked form of a Secret value.
pub const MASK: &str = "***";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The object as a diff shows it.
pub fn normalize(object: &Value) -> Value {
    strip(object, &owned_by_others_only(object))
}

/// Both sides of a diff, [`normalize`]d, from the live object and what a
/// dry run of `rendered` merged: a field that only other managers own on
/// either side is left out of both, unless `rendered` sets it (a field
/// another manager took over then shows its live value next to ours).
///
/// Either side, because a field modelctl stops rendering that another
/// manager co-owns stays where it is: the apply only gives up modelctl's
/// share of it. The live side still lists it as modelctl's, the merged side
/// as the other manager's alone; dropping it from one side only would show
/// a removal that the apply does not make.
pub fn normalize_pair(live: &Value, merged: &Value, rendered: &Value) -> (Value, Value) {
    let mut others = owned_by_others_only(live);
    others.extend(owned_by_others_only(merged));
    others.sort();
    others.dedup();
    others.retain(|path| !has_path(rendered, path));
    (strip(live, &others), strip(merged, &others))
}

/// [`normalize`], less `others` (fields only other managers own).
fn strip(object: &Value, others: &[super::fields::FieldPath]) -> Value {
    let mut out = object.clone();
    remove_paths(&mut out, others);
    drop_server_fields(&mut out);
    out
}

fn drop_server_fields(out: &mut Value) {
    if let Some(map) = out.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(key);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LAST_APPLIED);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
}

/// Whether the object is a core/v1 Secret.
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Masks the values of a Secret's `data` and `stringData`. With `before`,
/// a changed value shows as `*** (before)` / `*** (after)`, an unchanged one
/// as `***` on both sides, so the diff tells whether it changed and not what
/// it is.
pub fn mask_secret(before: Option<&mut Value>, after: &mut Value) {
    let before_data: Map<String, Value> = before
        .as_ref()
        .map(|b| secret_values(b))
        .unwrap_or_default();
    let after_data = secret_values(after);
    let mask =
        |object: &mut Value, own: &Map<String, Value>, other: &Map<String, Value>, side: &str| {
            for field in ["data", "stringData"] {
                if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
                    for (key, value) in map.iter_mut() {
                        let changed = other.get(key).is_some_and(|o| Some(o) != own.get(key));
                        *value = if changed {
                            Value::String(format!("{MASK} ({side})"))
                        } else {
                            Value::String(MASK.to_owned())
                        };
                    }
                }
            }
        };
    if let Some(before) = before {
        mask(before, &before_data, &after_data, "before");
    }
    mask(after, &after_data, &before_data, "after");
}

/// `data` plus `stringData` (base64-encoded, as the server stores it).
fn secret_values(object: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(data) = object.get("data").and_then(Value::as_object) {
        out.extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(data) = object.get("stringData").and_then(Value::as_object) {
        for (k, v) in data {
            let encoded = v.as_str().map(base64_encode).map(Value::String);
            out.insert(k.clone(), encoded.unwrap_or_else(|| v.clone()));
        }
    }
    out
}

/// Standard base64 with padding, as Kubernetes stores Secret data.
fn base64_encode(text: &str) -> String {
    BASE64_STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_are_dropped() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "7", "creationTimestamp": "t",
                          "managedFields": []},
            "data": {"k": "v"}, "status": {}
        });
        assert_eq!(
            normalize(&live),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
        );
    }

    fn with_owners(labels: Value, owners: &[(&str, &[&str])]) -> Value {
        let entries: Vec<Value> = owners
            .iter()
            .map(|(manager, keys)| {
                let fields: serde_json::Map<String, Value> =
                    keys.iter().map(|k| (format!("f:{k}"), json!({}))).collect();
                json!({"manager": manager, "operation": "Apply",
                       "fieldsV1": {"f:metadata": {"f:labels": fields}}})
            })
            .collect();
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "a", "labels": labels, "managedFields": entries}})
    }

    #[test]
    fn a_co_owned_field_modelctl_stops_rendering_is_not_shown_removed() {
        // modelctl and `hotfix` both own label `b`; the render drops it, so
        // the apply leaves it to `hotfix` and the object does not change.
        let live = with_owners(
            json!({"a": "1", "b": "2"}),
            &[("modelctl", &["a", "b"]), ("hotfix", &["b"])],
        );
        let merged = with_owners(
            json!({"a": "1", "b": "2"}),
            &[("modelctl", &["a"]), ("hotfix", &["b"])],
        );
        let rendered = json!({"metadata": {"name": "a", "labels": {"a": "1"}}});
        let (before, after) = normalize_pair(&live, &merged, &rendered);
        assert_eq!(before, after);
        assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn a_field_only_modelctl_owned_and_no_longer_rendered_is_shown_removed() {
        let live = with_owners(json!({"a": "1", "b": "2"}), &[("modelctl", &["a", "b"])]);
        let merged = with_owners(json!({"a": "1"}), &[("modelctl", &["a"])]);
        let rendered = json!({"metadata": {"name": "a", "labels": {"a": "1"}}});
        let (before, after) = normalize_pair(&live, &merged, &rendered);
        assert_eq!(before["metadata"]["labels"], json!({"a": "1", "b": "2"}));
        assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn a_field_another_manager_took_over_shows_both_values() {
        let live = with_owners(json!({"a": "hotfix"}), &[("hotfix", &["a"])]);
        let merged = with_owners(json!({"a": "1"}), &[("modelctl", &["a"])]);
        let rendered = json!({"metadata": {"name": "a", "labels": {"a": "1"}}});
        let (before, after) = normalize_pair(&live, &merged, &rendered);
        assert_eq!(before["metadata"]["labels"], json!({"a": "hotfix"}));
        assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn secret_mask_tells_changed_from_unchanged() {
        let mut before = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "Mg=="}});
        let mut after = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "Mw=="}});
        mask_secret(Some(&mut before), &mut after);
        assert_eq!(before["data"], json!({"a": "***", "b": "*** (before)"}));
        assert_eq!(after["data"], json!({"a": "***", "b": "*** (after)"}));
    }

    #[test]
    fn string_data_compares_as_base64() {
        assert_eq!(
            base64_encode("AKIAIOSFODNN7EXAMPLE"),
            "QUtJQUlPU0ZPRE5ON0VYQU1QTEU="
        );
        let mut before = json!({"kind": "Secret", "data": {"a": "MQ=="}});
        let mut after = json!({"kind": "Secret", "stringData": {"a": "1"}});
        mask_secret(Some(&mut before), &mut after);
        assert_eq!(after["stringData"], json!({"a": "***"}));
    }
}
