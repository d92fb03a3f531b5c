//! The published CRDs vendored in `tests/fixtures/crds/`, as strict
//! validators: every served version's `openAPIV3Schema`, with unknown fields
//! rejected as the API server's strict field validation does.

use std::collections::BTreeMap;
use std::fs;

use serde_json::{Value, json};

use super::example_root;

/// As the API server's strict field validation: objects that name their
/// properties accept no others; `nullable` admits null.
pub fn strict(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        if let Some(items) = schema.as_array_mut() {
            items.iter_mut().for_each(strict);
        }
        return;
    };
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve {
        map.insert("additionalProperties".into(), json!(false));
    }
    if map.get("nullable") == Some(&json!(true))
        && let Some(Value::String(ty)) = map.get("type").cloned()
    {
        map.insert("type".into(), json!([ty, "null"]));
    }
    map.values_mut().for_each(strict);
}

/// The validators of every served version of the vendored CRDs, by
/// `(apiVersion, kind)`.
pub fn crd_validators() -> BTreeMap<(String, String), jsonschema::Validator> {
    let dir = example_root().join("tests/fixtures/crds");
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(&dir).expect("tests/fixtures/crds exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let crd: Value = serde_yaml::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let group = crd["spec"]["group"].as_str().expect("a group");
        let kind = crd["spec"]["names"]["kind"].as_str().expect("a kind");
        for version in crd["spec"]["versions"].as_array().expect("versions") {
            if version["served"] != json!(true) {
                continue;
            }
            let mut schema = version["schema"]["openAPIV3Schema"].clone();
            strict(&mut schema);
            let validator = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{}: schema does not compile: {e}", path.display()));
            let api_version = format!("{group}/{}", version["name"].as_str().unwrap());
            out.insert((api_version, kind.to_owned()), validator);
        }
    }
    out
}

/// Why `object` does not validate against the vendored CRD of its kind
/// (empty when it does).
pub fn errors(
    validators: &BTreeMap<(String, String), jsonschema::Validator>,
    object: &Value,
) -> Vec<String> {
    let key = (
        object["apiVersion"].as_str().unwrap_or_default().to_owned(),
        object["kind"].as_str().unwrap_or_default().to_owned(),
    );
    let Some(validator) = validators.get(&key) else {
        return vec![format!("no vendored CRD for {} {}", key.0, key.1)];
    };
    validator
        .iter_errors(object)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}
