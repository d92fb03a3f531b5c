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
    normalize_for(object, None)
}

/// [`normalize`], keeping the fields `rendered` sets whoever owns them: a
/// field another manager took over shows its live value next to ours.
pub fn normalize_for(object: &Value, rendered: Option<&Value>) -> Value {
    let mut out = object.clone();
    let mut others = owned_by_others_only(object);
    if let Some(rendered) = rendered {
        others.retain(|path| !has_path(rendered, path));
    }
    remove_paths(&mut out, &others);
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
    out
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
