//! The double's own reading of `FieldsV1` trees and removal of field paths,
//! written apart from `modelctl::reconcile::fields` on purpose: the double
//! is the oracle the fast diff is checked against, so it must not share the
//! code under test (a bug there would otherwise be made on both sides).
//!
//! It knows only what the double itself writes: `f:<field>` elements and
//! `k:{"name":...}` elements for items of lists of named objects, with `.`
//! marking a node owned as a whole.

use serde_json::{Map, Value};

/// A path in a `FieldsV1` tree, one raw element per step.
pub type FieldPath = Vec<String>;

/// The paths a `FieldsV1` tree names: each leaf, and each node marked `.`.
pub fn paths_in(tree: &Value) -> Vec<FieldPath> {
    let mut out = Vec::new();
    let mut stack: Vec<(FieldPath, &Value)> = vec![(Vec::new(), tree)];
    while let Some((at, node)) = stack.pop() {
        let Some(children) = node.as_object() else {
            continue;
        };
        if children.is_empty() {
            if !at.is_empty() {
                out.push(at);
            }
            continue;
        }
        if children.contains_key(".") {
            out.push(at.clone());
        }
        for (element, child) in children.iter().filter(|(k, _)| *k != ".") {
            let mut next = at.clone();
            next.push(element.clone());
            stack.push((next, child));
        }
    }
    out
}

/// Removes each of `paths` from `object`; a map or list left empty by a
/// removal goes too. A path inside another one goes with that one.
pub fn remove_all(object: &mut Value, paths: &[FieldPath]) {
    for path in paths {
        let inside = paths
            .iter()
            .any(|other| other.len() < path.len() && path.starts_with(other));
        if !inside {
            remove_one(object, path);
        }
    }
}

fn remove_one(node: &mut Value, path: &[String]) {
    let Some((element, rest)) = path.split_first() else {
        return;
    };
    if let Some(field) = element.strip_prefix("f:") {
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if rest.is_empty() {
            map.remove(field);
        } else if let Some(child) = map.get_mut(field) {
            remove_one(child, rest);
            if emptied(child) {
                map.remove(field);
            }
        }
    } else if let Some(key) = element.strip_prefix("k:") {
        let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
            return;
        };
        let Some(items) = node.as_array_mut() else {
            return;
        };
        let Some(at) = items
            .iter()
            .position(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))
        else {
            return;
        };
        if rest.is_empty() {
            items.remove(at);
        } else {
            remove_one(&mut items[at], rest);
            if emptied(&items[at]) {
                items.remove(at);
            }
        }
    }
}

fn emptied(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}
