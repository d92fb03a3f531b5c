//! `metadata.managedFields`: which field manager owns which field. Reads the
//! `FieldsV1` trees and removes from an object the fields that only other
//! managers own (the HPA's replica count, a controller's annotations), so a
//! diff shows what modelctl changes and nothing else.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::object::labels::MANAGER;

/// A path in a `FieldsV1` tree: raw elements such as `f:spec`,
/// `k:{"name":"server"}`, `v:"x"`, `i:0`. The node itself has no `.` element.
pub type FieldPath = Vec<String>;

/// Every path one `FieldsV1` tree owns (leaves and `.`-marked nodes).
pub fn owned_paths(tree: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

fn walk(node: &Value, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
    let Some(map) = node.as_object() else {
        return;
    };
    if map.is_empty() && !prefix.is_empty() {
        out.push(prefix.clone());
        return;
    }
    for (key, child) in map {
        if key == "." {
            out.push(prefix.clone());
            continue;
        }
        prefix.push(key.clone());
        walk(child, prefix, out);
        prefix.pop();
    }
}

/// The paths owned by other managers and not by modelctl (nor below a
/// modelctl-owned path), read from the object's own `managedFields`.
pub fn owned_by_others_only(object: &Value) -> Vec<FieldPath> {
    let Some(entries) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut ours: HashSet<FieldPath> = HashSet::new();
    let mut theirs: Vec<FieldPath> = Vec::new();
    for entry in entries {
        let Some(tree) = entry.get("fieldsV1") else {
            continue;
        };
        let paths = owned_paths(tree);
        // Status subresource entries are stripped with `status` anyway.
        if entry.get("subresource").and_then(Value::as_str) == Some("status") {
            continue;
        }
        if entry.get("manager").and_then(Value::as_str) == Some(MANAGER) {
            ours.extend(paths);
        } else {
            theirs.extend(paths);
        }
    }
    let mut out: Vec<FieldPath> = theirs
        .into_iter()
        .filter(|p| !ours.iter().any(|q| q.starts_with(p)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a FieldsV1 path names something (not null) in `object`.
pub fn has_path(object: &Value, path: &[String]) -> bool {
    let mut node = object;
    for element in path {
        let next = if let Some(field) = element.strip_prefix("f:") {
            node.get(field)
        } else {
            node.as_array()
                .and_then(|items| find_item(items, element).map(|i| &items[i]))
        };
        match next {
            Some(Value::Null) | None => return false,
            Some(found) => node = found,
        }
    }
    true
}

/// Removes `paths` from `object`, dropping maps and lists the removal empties.
pub fn remove_paths(object: &mut Value, paths: &[FieldPath]) {
    // A path below another one goes with it. Removed on its own first, it
    // could take the key field of a list item (`k:{"name":"x"}` then
    // `f:name`), after which the item is no longer found and half of it
    // stays.
    let mut sorted: Vec<&FieldPath> = paths.iter().collect();
    sorted.sort_by_key(|p| p.len());
    let mut removed: Vec<&FieldPath> = Vec::new();
    for path in sorted {
        if removed.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        remove_path(object, path);
        removed.push(path);
    }
}

fn remove_path(node: &mut Value, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    match node {
        Value::Object(map) => {
            let Some(name) = first.strip_prefix("f:") else {
                return false;
            };
            if rest.is_empty() {
                return map.remove(name).is_some();
            }
            let Some(child) = map.get_mut(name) else {
                return false;
            };
            let removed = remove_path(child, rest);
            if removed && is_empty_container(child) {
                map.remove(name);
            }
            removed
        }
        Value::Array(items) => {
            let Some(index) = find_item(items, first) else {
                return false;
            };
            if rest.is_empty() {
                items.remove(index);
                return true;
            }
            let removed = remove_path(&mut items[index], rest);
            if removed && is_empty_container(&items[index]) {
                items.remove(index);
            }
            removed
        }
        _ => false,
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Finds the list item a `k:`, `v:` or `i:` element names.
pub(crate) fn find_item(items: &[Value], element: &str) -> Option<usize> {
    if let Some(key) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        return items.iter().position(|item| {
            key.iter()
                .all(|(k, v)| item.get(k).is_some_and(|found| loose_eq(found, v)))
        });
    }
    if let Some(value) = element.strip_prefix("v:") {
        let value: Value = serde_json::from_str(value).ok()?;
        return items.iter().position(|item| loose_eq(item, &value));
    }
    if let Some(index) = element.strip_prefix("i:") {
        let index: usize = index.parse().ok()?;
        return (index < items.len()).then_some(index);
    }
    None
}

/// Equality that treats `8080` and `"8080"` alike (keys are written as JSON
/// but ports may be int-or-string).
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    a == b
        || match (a, b) {
            (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
                n.to_string() == *s
            }
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Value {
        json!({
            "metadata": {
                "annotations": {"deployment.kubernetes.io/revision": "1", "keep": "x"},
                "managedFields": [
                    {"manager": "modelctl", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:annotations": {"f:keep": {}}},
                        "f:spec": {"f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"server\"}": {".": {}, "f:name": {}, "f:args": {}}
                        }}}}
                    }},
                    {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {
                        "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}
                    }},
                    {"manager": "other-team", "operation": "Apply", "fieldsV1": {
                        "f:spec": {"f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"server\"}": {".": {}, "f:name": {}, "f:image": {}}
                        }}}}
                    }}
                ]
            },
            "spec": {"template": {"spec": {"containers": [
                {"name": "server", "image": "hotfix", "args": ["--port=8080"]}
            ]}}}
        })
    }

    #[test]
    fn removes_fields_only_other_managers_own() {
        let mut obj = object();
        let paths = owned_by_others_only(&obj);
        remove_paths(&mut obj, &paths);
        assert_eq!(obj["metadata"]["annotations"], json!({"keep": "x"}));
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"],
            json!([{"name": "server", "args": ["--port=8080"]}])
        );
    }

    #[test]
    fn a_list_item_goes_whole_with_its_key_field() {
        let mut obj = json!({"env": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]});
        let path = |rest: &[&str]| {
            let mut p: FieldPath = vec!["f:env".into(), "k:{\"name\":\"b\"}".into()];
            p.extend(rest.iter().map(|e| e.to_string()));
            p
        };
        remove_paths(
            &mut obj,
            &[path(&["f:name"]), path(&["f:value"]), path(&[])],
        );
        assert_eq!(obj, json!({"env": [{"name": "a", "value": "1"}]}));
    }

    #[test]
    fn shared_list_items_stay() {
        let paths = owned_by_others_only(&object());
        let item: FieldPath = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"server\"}",
        ]
        .map(str::to_owned)
        .to_vec();
        assert!(!paths.contains(&item));
    }
}
