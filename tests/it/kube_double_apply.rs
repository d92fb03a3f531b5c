//! The test double's own imitation of server-side apply, checked: its
//! reading of FieldsV1 trees, its removal of fields, and the order in which
//! it merges lists of named items (read from a real kube-apiserver).

use crate::kube_double::field_set::{FieldPath, paths_in, remove_all};
use crate::kube_double::store::merge_named;
use serde_json::{Value, json};

#[test]
fn reads_leaves_and_marked_nodes() {
    let tree = json!({
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {"f:containers": {"k:{\"name\":\"s\"}": {".": {}, "f:image": {}}}}
    });
    let mut paths = paths_in(&tree);
    paths.sort();
    let p = |s: &[&str]| s.iter().map(|e| e.to_string()).collect::<FieldPath>();
    assert_eq!(
        paths,
        vec![
            p(&["f:metadata", "f:labels"]),
            p(&["f:metadata", "f:labels", "f:a"]),
            p(&["f:spec", "f:containers", "k:{\"name\":\"s\"}"]),
            p(&["f:spec", "f:containers", "k:{\"name\":\"s\"}", "f:image"]),
        ]
    );
}

#[test]
fn removal_drops_what_it_empties() {
    let mut object = json!({
        "metadata": {"labels": {"a": "1"}},
        "spec": {"containers": [{"name": "s", "image": "i"}, {"name": "t", "image": "j"}]}
    });
    let p = |s: &[&str]| s.iter().map(|e| e.to_string()).collect::<FieldPath>();
    remove_all(
        &mut object,
        &[
            p(&["f:metadata", "f:labels", "f:a"]),
            p(&["f:spec", "f:containers", "k:{\"name\":\"s\"}", "f:image"]),
            p(&["f:spec", "f:containers", "k:{\"name\":\"s\"}", "f:name"]),
        ],
    );
    assert_eq!(
        object,
        json!({"spec": {"containers": [{"name": "t", "image": "j"}]}})
    );
}

fn named(names: &str) -> Vec<Value> {
    names.split(',').map(|n| json!({"name": n})).collect()
}

fn names(items: &[Value]) -> String {
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    names.join(",")
}

/// Orders read from kube-apiserver 1.36 (a Deployment's env, applied
/// by two field managers in turn).
#[test]
fn named_lists_merge_in_the_real_servers_order() {
    for (live, applied, merged) in [
        ("A,B", "A,X", "A,B,X"),
        ("A,B,X", "B,A", "B,X,A"),
        ("B,X,A", "A,C,B", "X,A,C,B"),
        ("X,A,C,B", "C,A", "X,C,B,A"),
        ("X,C,A", "A,B", "X,C,A,B"),
    ] {
        let out = merge_named(&named(live), &named(applied));
        assert_eq!(names(&out), merged, "{applied} applied over {live}");
    }
}
