//! Manifest diffs: which objects were added, removed or changed between two
//! renders (or a render and a cluster), each with a unified diff of its YAML,
//! and the report printed as text, markdown or JSON.
//!
//! Owns object identity for diffs and the diff text; knows nothing of Git or
//! clusters. `diff --base` feeds it two renders; the cluster diff can feed it
//! live objects through [`ObjectDiff::between`].

use std::collections::BTreeMap;

use serde::Serialize;
use similar::TextDiff;

use crate::compile::Manifest;
use crate::compile::files::object_yaml;

mod format;

pub use format::{ColorChoice, diff_line, fenced_diff, markdown, paint, text, to_json};

/// Which object: environment, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    /// The environment (or any grouping the caller uses).
    pub env: String,
    /// `Deployment`, `HTTPRoute`, …
    pub kind: String,
    /// The namespace; `None` for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectId {
    /// The identity of `object` in `env`.
    pub fn of(env: &str, object: &serde_json::Value) -> ObjectId {
        let text = |p: &str| object.pointer(p).and_then(serde_json::Value::as_str);
        ObjectId {
            env: env.to_owned(),
            kind: text("/kind").unwrap_or_default().to_owned(),
            namespace: text("/metadata/namespace").map(str::to_owned),
            name: text("/metadata/name").unwrap_or_default().to_owned(),
        }
    }

    /// `Kind namespace/name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only on the new side.
    Added,
    /// Only on the old side.
    Removed,
    /// On both sides, different.
    Changed,
}

impl Change {
    /// `added`, `removed`, `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectDiff {
    /// Which object.
    #[serde(flatten)]
    pub id: ObjectId,
    /// The model it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The spec file it comes from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Added, removed or changed.
    pub change: Change,
    /// Unified diff of the object's YAML (old side to new side).
    pub diff: String,
}

impl ObjectDiff {
    /// The diff of one object given as YAML on either side; `None` when both
    /// sides are the same (or both missing).
    pub fn between(
        id: ObjectId,
        old: Option<&str>,
        new: Option<&str>,
        labels: (&str, &str),
    ) -> Option<ObjectDiff> {
        let change = match (old, new) {
            (None, None) => return None,
            (Some(a), Some(b)) if a == b => return None,
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(_), Some(_)) => Change::Changed,
        };
        let diff = unified(
            old.unwrap_or_default(),
            new.unwrap_or_default(),
            labels.0,
            labels.1,
        );
        Some(ObjectDiff {
            id,
            model: None,
            source: None,
            change,
            diff,
        })
    }
}

/// The objects that differ between two sides, and how many are the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    /// What the old side is (`HEAD~1`).
    pub base: String,
    /// What the new side is (`work tree`).
    pub head: String,
    /// Objects that differ, by environment, model, kind and name.
    pub changes: Vec<ObjectDiff>,
    /// Objects on both sides with the same content.
    pub unchanged: usize,
}

impl DiffReport {
    /// An empty report comparing `base` with `head`.
    pub fn new(base: &str, head: &str) -> DiffReport {
        DiffReport {
            base: base.to_owned(),
            head: head.to_owned(),
            changes: Vec::new(),
            unchanged: 0,
        }
    }

    /// Adds the differences between two renders of environment `env`.
    pub fn add_env(&mut self, env: &str, old: &[Manifest], new: &[Manifest]) {
        let index = |ms: &[Manifest]| -> BTreeMap<ObjectId, (String, String, String)> {
            ms.iter()
                .map(|m| {
                    let source = m.source.to_string_lossy().replace('\\', "/");
                    (
                        ObjectId::of(env, &m.object),
                        (m.model.clone(), source, object_yaml(&m.object)),
                    )
                })
                .collect()
        };
        let old = index(old);
        let new = index(new);
        let mut ids: Vec<&ObjectId> = old.keys().chain(new.keys()).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let (a, b) = (old.get(id), new.get(id));
            let labels = (self.base.as_str(), self.head.as_str());
            match ObjectDiff::between(
                id.clone(),
                a.map(|x| x.2.as_str()),
                b.map(|x| x.2.as_str()),
                labels,
            ) {
                Some(mut diff) => {
                    let (model, source, _) = b.or(a).cloned().unwrap_or_default();
                    diff.model = Some(model);
                    diff.source = Some(source);
                    self.changes.push(diff);
                }
                None => self.unchanged += 1,
            }
        }
        self.changes.sort_by(|x, y| {
            (&x.id.env, &x.model, &x.id.kind, &x.id.name)
                .cmp(&(&y.id.env, &y.model, &y.id.kind, &y.id.name))
        });
    }

    /// How many objects were added, removed and changed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |c: Change| self.changes.iter().filter(|d| d.change == c).count();
        (
            count(Change::Added),
            count(Change::Removed),
            count(Change::Changed),
        )
    }

    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A unified diff (3 lines of context) from `old` to `new`, headed
/// `--- old_label` / `+++ new_label`; empty when they are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_is_no_change() {
        let id = ObjectId::of(
            "prod",
            &serde_json::json!({"kind": "Service", "metadata": {"name": "a"}}),
        );
        assert!(ObjectDiff::between(id, Some("x\n"), Some("x\n"), ("a", "b")).is_none());
    }

    #[test]
    fn changed_text_gives_a_unified_diff() {
        let id = ObjectId::of(
            "prod",
            &serde_json::json!({"kind": "Service", "metadata": {"name": "a"}}),
        );
        let d = ObjectDiff::between(
            id,
            Some("a: 1\nb: 2\n"),
            Some("a: 1\nb: 3\n"),
            ("old", "new"),
        )
        .expect("differs");
        assert_eq!(d.change, Change::Changed);
        assert_eq!(
            d.diff,
            "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"
        );
    }
}
