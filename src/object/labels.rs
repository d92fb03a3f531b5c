//! The names of modelctl's labels and annotations, the value marking what it
//! manages, and reading a label off a JSON object.
//!
//! Owns the names only. Which labels an object gets, and which go into
//! immutable selectors, is `compile::labels`' business.

use serde_json::Value;

/// Who manages an object: the `managed-by` label's value and the field
/// manager of every server-side apply modelctl makes.
pub const MANAGER: &str = "modelctl";
/// `app.kubernetes.io/name`: the model.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/component`: `train` or `serve`.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/part-of`: `part-of` of `modelctl.toml`.
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// `app.kubernetes.io/managed-by`: always [`MANAGER`].
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label selector matching the objects modelctl manages.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=modelctl";
/// `app.kubernetes.io/version`: a hash of what the object runs.
pub const VERSION: &str = "app.kubernetes.io/version";
/// `modelctl.io/track`: `stable` or `canary` (serving pods only).
pub const TRACK: &str = "modelctl.io/track";
/// `modelctl.io/train-hash`: the hash in a training Job's name.
pub const TRAIN_HASH: &str = "modelctl.io/train-hash";
/// `modelctl.io/run`: `adhoc` on runs `modelctl train` started.
pub const RUN: &str = "modelctl.io/run";
/// Annotation naming the spec file an object came from.
pub const SOURCE: &str = "modelctl.io/source";
/// Annotation on a sweep's Job: the JSON list of each trial's parameters
/// (name to value), in completion-index order.
pub const SWEEP: &str = "modelctl.io/sweep";
/// Annotation on a multi-node run's Job: how many workers (nodes) it spans.
pub const NODES: &str = "modelctl.io/nodes";
/// Label putting a Job in a Kueue LocalQueue.
pub const KUEUE_QUEUE: &str = "kueue.x-k8s.io/queue-name";
/// Label giving a Job a Kueue WorkloadPriorityClass.
pub const KUEUE_PRIORITY: &str = "kueue.x-k8s.io/priority-class";
/// Annotation naming the owning team (`owner` of the spec).
pub const OWNER: &str = "modelctl.io/owner";

/// A label of an object, if set.
pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// An annotation of an object, if set.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// Whether the object carries `app.kubernetes.io/managed-by: modelctl`.
pub fn is_managed(object: &Value) -> bool {
    label(object, MANAGED_BY) == Some(MANAGER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_matches_the_label_and_its_value() {
        assert_eq!(MANAGED_SELECTOR, format!("{MANAGED_BY}={MANAGER}"));
        let object = json!({"metadata": {"labels": {MANAGED_BY: MANAGER}}});
        assert!(is_managed(&object));
        assert!(!is_managed(
            &json!({"metadata": {"labels": {MANAGED_BY: "helm"}}})
        ));
    }
}
