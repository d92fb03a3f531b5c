//! What `[gitops] tool` adds to each rendered object so the controller that
//! syncs `generated/<env>/` delivers it as `modelctl apply` would.
//!
//! - `argocd`: `argocd.argoproj.io/sync-wave` = the kind's stage in
//!   [`crate::object::stage`] (ConfigMaps before Jobs, Deployments before
//!   routes), and on training objects `sync-options: Prune=false` with
//!   `compare-options: IgnoreExtraneous`, so a run superseded by a new
//!   spec hash keeps its pods and logs and does not hold the application
//!   out of sync.
//! - `flux`: `kustomize.toolkit.fluxcd.io/prune: disabled` on training
//!   objects. Flux has no per-object ordering; it applies Namespaces and
//!   CRDs first and the rest together.
//! - `none`: nothing.
//!
//! Pure: reads the object's kind and labels, adds annotations, nothing else.

use modelctl_spec::GitopsTool;
use serde_json::{Map, Value};

use super::labels::Component;
use crate::object::labels::{COMPONENT, label};
use crate::object::stage::stage_of;

/// Argo CD's sync-wave annotation: lower waves are applied (and healthy) first.
pub const ARGOCD_SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// Argo CD's per-object sync options.
pub const ARGOCD_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// Argo CD's per-object compare options.
pub const ARGOCD_COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
/// Flux kustomize-controller's per-object prune switch.
pub const FLUX_PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";

/// The annotations `tool` needs on `object`, by name.
pub fn annotations_for(tool: GitopsTool, object: &Value) -> Vec<(&'static str, String)> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let training = label(object, COMPONENT) == Some(Component::Train.as_str());
    match tool {
        GitopsTool::None => Vec::new(),
        GitopsTool::Argocd => {
            let mut out = vec![(ARGOCD_SYNC_WAVE, stage_of(kind).to_string())];
            if training {
                out.push((ARGOCD_SYNC_OPTIONS, "Prune=false".to_owned()));
                out.push((ARGOCD_COMPARE_OPTIONS, "IgnoreExtraneous".to_owned()));
            }
            out
        }
        GitopsTool::Flux if training => vec![(FLUX_PRUNE, "disabled".to_owned())],
        GitopsTool::Flux => Vec::new(),
    }
}

/// Adds the annotations `tool` needs to `object`'s metadata.
pub(crate) fn annotate(tool: GitopsTool, object: &mut Value) {
    let add = annotations_for(tool, object);
    if add.is_empty() {
        return;
    }
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        for (key, value) in add {
            annotations.insert(key.to_owned(), Value::String(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: &str, component: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": kind,
            "metadata": {"name": "m", "labels": {COMPONENT: component}}
        })
    }

    #[test]
    fn none_adds_nothing() {
        let mut job = object("Job", "train");
        let before = job.clone();
        annotate(GitopsTool::None, &mut job);
        assert_eq!(job, before);
    }

    #[test]
    fn argocd_waves_follow_the_apply_stages_and_training_is_not_pruned() {
        let mut job = object("Job", "train");
        annotate(GitopsTool::Argocd, &mut job);
        let a = &job["metadata"]["annotations"];
        assert_eq!(a[ARGOCD_SYNC_WAVE], "8");
        assert_eq!(a[ARGOCD_SYNC_OPTIONS], "Prune=false");
        assert_eq!(a[ARGOCD_COMPARE_OPTIONS], "IgnoreExtraneous");
        let mut deployment = object("Deployment", "serve");
        annotate(GitopsTool::Argocd, &mut deployment);
        let a = deployment["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(a[ARGOCD_SYNC_WAVE], "4");
        assert!(!a.contains_key(ARGOCD_SYNC_OPTIONS));
    }

    #[test]
    fn flux_disables_pruning_of_training_objects_only() {
        let mut config = object("ConfigMap", "train");
        annotate(GitopsTool::Flux, &mut config);
        assert_eq!(config["metadata"]["annotations"][FLUX_PRUNE], "disabled");
        let mut service = object("Service", "serve");
        annotate(GitopsTool::Flux, &mut service);
        assert!(service["metadata"].get("annotations").is_none());
    }
}
