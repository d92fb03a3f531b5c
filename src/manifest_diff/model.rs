//! [`DiffReport`]: every object two sides were compared on, each an
//! [`ObjectDiff`] saying what changed and showing it as a unified diff of the
//! object's YAML, plus the objects that could not be compared.
//!
//! Owns the comparison of one object's two sides (as JSON) and the counts;
//! not where the sides come from, nor how the report is printed.

use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use crate::compile::to_yaml;
use crate::object::ObjectKey;
use crate::object::labels::{NAME, SOURCE, annotation, label};

/// What happened to an object between the old side and the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only on the new side: it would be created.
    Added,
    /// Only on the old side: it would be deleted (by the cluster diff: by
    /// `apply --prune`).
    Removed,
    /// On both sides, different.
    Changed,
    /// On both sides, the same.
    Unchanged,
}

impl Change {
    /// `added`, `removed`, `changed`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One object compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectDiff {
    /// The environment.
    pub env: String,
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// The model it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The spec file it comes from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Added, removed, changed or unchanged.
    pub change: Change,
    /// The old side as YAML; none when added, or unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The new side as YAML; none when removed, or unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Unified diff from `before` to `after`: empty when unchanged, the
    /// whole object as additions when added, as removals when removed.
    pub diff: String,
    /// Fields modelctl set that another field manager has since taken over
    /// (cluster diff only): `before` shows their value, `after` ours.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
}

/// One field another field manager took over from modelctl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The field (`.spec.template.spec.containers[name="server"].image`).
    pub field: String,
    /// The field manager that owns it now (`kubectl-edit`).
    pub manager: String,
}

impl ObjectDiff {
    /// Compares the two sides of one object, given as JSON (either may be
    /// missing), with the diff headed `--- old_label` / `+++ new_label`. The
    /// model and source are read from the object's labels and annotations.
    pub fn compare(
        env: &str,
        key: ObjectKey,
        old: Option<&Value>,
        new: Option<&Value>,
        labels: (&str, &str),
    ) -> ObjectDiff {
        let (before, after, change, diff) = match (old, new) {
            // Equal sides (most objects, most of the time): nothing to show
            // but the name, so no YAML is made.
            (Some(a), Some(b)) if a == b => (None, None, Change::Unchanged, String::new()),
            _ => {
                let before = old.map(to_yaml);
                let after = new.map(to_yaml);
                let change = match (&before, &after) {
                    (None, Some(_)) => Change::Added,
                    (Some(_), None) => Change::Removed,
                    (Some(a), Some(b)) if a != b => Change::Changed,
                    _ => Change::Unchanged,
                };
                let diff = unified(
                    before.as_deref().unwrap_or_default(),
                    after.as_deref().unwrap_or_default(),
                    labels.0,
                    labels.1,
                );
                (before, after, change, diff)
            }
        };
        let shown = new.or(old);
        let read = |f: fn(&Value) -> Option<&str>| shown.and_then(f).map(str::to_owned);
        ObjectDiff {
            env: env.to_owned(),
            key,
            model: read(|o| label(o, NAME)),
            source: read(|o| annotation(o, SOURCE)),
            change,
            before,
            after,
            diff,
            drift: Vec::new(),
        }
    }
}

/// Objects that could not be compared, and why. One failure may cover
/// several objects (every object of a kind the cluster does not serve).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectFailure {
    /// The environment.
    pub env: String,
    /// The objects concerned.
    pub objects: Vec<ObjectKey>,
    /// Why (a conflict, an invalid field, a missing CRD, …).
    pub error: String,
}

/// How many objects were added, removed, changed, unchanged, and could not
/// be compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Only on the new side.
    pub added: usize,
    /// Only on the old side.
    pub removed: usize,
    /// Different on the two sides.
    pub changed: usize,
    /// The same on both.
    pub unchanged: usize,
    /// Not compared (see the errors).
    pub failed: usize,
}

/// Every object compared between two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    /// What the old side is (`HEAD~1`, `live`).
    pub base: String,
    /// What the new side is (`work tree`, `applied`).
    pub head: String,
    /// Every object compared, unchanged ones included, in report order.
    pub objects: Vec<ObjectDiff>,
    /// Objects that could not be compared.
    pub errors: Vec<ObjectFailure>,
}

impl DiffReport {
    /// An empty report comparing `base` with `head`.
    pub fn new(base: &str, head: &str) -> DiffReport {
        DiffReport {
            base: base.to_owned(),
            head: head.to_owned(),
            objects: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Compares one object's two sides and adds the outcome; returns it so
    /// the caller can fill in what it knows better (model, source).
    pub fn compare(
        &mut self,
        env: &str,
        key: ObjectKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) -> &mut ObjectDiff {
        let labels = (self.base.as_str(), self.head.as_str());
        let diff = ObjectDiff::compare(env, key, old, new, labels);
        self.objects.push(diff);
        let last = self.objects.len() - 1;
        &mut self.objects[last]
    }

    /// The objects with one kind of change, in report order.
    pub fn with_change(&self, change: Change) -> impl Iterator<Item = &ObjectDiff> {
        self.objects.iter().filter(move |o| o.change == change)
    }

    /// The objects that differ, in report order, and those whose fields
    /// another manager took over while holding our values (drift alone: a
    /// plain apply would stop at the conflict).
    pub fn changes(&self) -> impl Iterator<Item = &ObjectDiff> {
        self.objects
            .iter()
            .filter(|o| o.change != Change::Unchanged || !o.drift.is_empty())
    }

    /// How many objects of each kind of change, and how many failed.
    pub fn counts(&self) -> Counts {
        let count = |c: Change| self.objects.iter().filter(|o| o.change == c).count();
        Counts {
            added: count(Change::Added),
            removed: count(Change::Removed),
            changed: count(Change::Changed),
            unchanged: count(Change::Unchanged),
            failed: self.errors.iter().map(|e| e.objects.len().max(1)).sum(),
        }
    }

    /// Whether anything differs.
    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
    }

    /// Whether some objects could not be compared.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
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
    use serde_json::json;

    fn service(port: u16) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "namespace": "ml",
                         "labels": {NAME: "a"}, "annotations": {SOURCE: "models/a.toml"}},
            "spec": {"ports": [{"port": port}]}
        })
    }

    fn key() -> ObjectKey {
        ObjectKey::of(&service(80)).unwrap()
    }

    #[test]
    fn same_object_is_unchanged_with_an_empty_diff() {
        let d = ObjectDiff::compare(
            "prod",
            key(),
            Some(&service(80)),
            Some(&service(80)),
            ("a", "b"),
        );
        assert_eq!(d.change, Change::Unchanged);
        assert_eq!(d.diff, "");
    }

    #[test]
    fn changed_object_gives_a_unified_diff_of_its_yaml() {
        let d = ObjectDiff::compare(
            "prod",
            key(),
            Some(&service(80)),
            Some(&service(81)),
            ("old", "new"),
        );
        assert_eq!(d.change, Change::Changed);
        assert!(d.diff.starts_with("--- old\n+++ new\n@@ "), "{}", d.diff);
        assert!(
            d.diff.contains("\n-  - port: 80\n+  - port: 81\n"),
            "{}",
            d.diff
        );
        assert_eq!(d.model.as_deref(), Some("a"));
        assert_eq!(d.source.as_deref(), Some("models/a.toml"));
    }

    #[test]
    fn one_side_missing_is_added_or_removed() {
        let added = ObjectDiff::compare("prod", key(), None, Some(&service(80)), ("a", "b"));
        assert_eq!(added.change, Change::Added);
        assert!(added.diff.contains("\n+kind: Service\n"), "{}", added.diff);
        let removed = ObjectDiff::compare("prod", key(), Some(&service(80)), None, ("a", "b"));
        assert_eq!(removed.change, Change::Removed);
        assert!(
            removed.diff.contains("\n-kind: Service\n"),
            "{}",
            removed.diff
        );
    }

    #[test]
    fn counts_cover_every_change_and_failure() {
        let mut report = DiffReport::new("a", "b");
        report.compare("prod", key(), None, Some(&service(80)));
        report.compare("prod", key(), Some(&service(80)), Some(&service(80)));
        report.errors.push(ObjectFailure {
            env: "prod".into(),
            objects: vec![key(), key()],
            error: "not served".into(),
        });
        let counts = report.counts();
        assert_eq!((counts.added, counts.unchanged, counts.failed), (1, 1, 2));
        assert!(report.has_changes() && report.has_errors());
    }
}
