//! What Kueue writes into a training Job it manages, and how modelctl keeps
//! out of its way. Kueue's webhook suspends a Job that names a LocalQueue
//! (`kueue.x-k8s.io/queue-name`); on admission Kueue writes the flavour's
//! node selector and tolerations into the suspended Job and resumes it, and
//! on preemption suspends it again and restores them. None of that is drift
//! or a reason to apply: a change of the training spec is a new Job anyway,
//! since the Job's name carries the hash of all of it.
//!
//! So for a Job in a queue the local comparison ignores these fields, and
//! what an apply or its dry run sends carries their live values: the server
//! then sees nothing to change in them, and never hands them back to
//! modelctl's values (which would, on a suspended Job, undo an admission).

use serde_json::Value;

use super::fields::FieldPath;
use crate::object::labels::KUEUE_QUEUE;

/// The fields Kueue writes into a Job, as `FieldsV1` paths.
const WRITTEN: [&[&str]; 3] = [
    &["f:spec", "f:suspend"],
    &["f:spec", "f:template", "f:spec", "f:nodeSelector"],
    &["f:spec", "f:template", "f:spec", "f:tolerations"],
];

/// Whether `object` is a Job that names a Kueue LocalQueue.
pub fn is_queued_job(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Job")
        && object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("batch/"))
        && crate::object::labels::label(object, KUEUE_QUEUE).is_some()
}

/// The paths of `rendered` that Kueue may write (none unless it is a Job in
/// a queue).
pub fn written_paths(rendered: &Value) -> Vec<FieldPath> {
    if !is_queued_job(rendered) {
        return Vec::new();
    }
    WRITTEN
        .iter()
        .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

/// `rendered` to send to the server, with the live value of each field
/// Kueue writes in place of the rendered one (and left out where it is not
/// set live), when `rendered` is a Job in a queue. Anything else is sent as
/// rendered.
pub fn with_live_admission(rendered: &Value, live: Option<&Value>) -> Value {
    let mut body = rendered.clone();
    let Some(live) = live.filter(|_| is_queued_job(rendered)) else {
        return body;
    };
    for path in WRITTEN {
        let (parent, field) = pointer_parts(path);
        let value = live.pointer(&format!("{parent}/{field}")).cloned();
        let Some(target) = body.pointer_mut(&parent).and_then(Value::as_object_mut) else {
            continue;
        };
        match value {
            Some(Value::Null) | None => {
                target.remove(&field);
            }
            Some(value) => {
                target.insert(field, value);
            }
        }
    }
    body
}

/// A `FieldsV1` path of plain fields as a JSON pointer to its parent, and
/// the field's name.
fn pointer_parts(path: &[&str]) -> (String, String) {
    let names: Vec<&str> = path
        .iter()
        .map(|p| p.strip_prefix("f:").unwrap_or(p))
        .collect();
    let (field, parent) = names.split_last().expect("a path has a field");
    let pointer = parent.iter().map(|p| format!("/{p}")).collect::<String>();
    (pointer, (*field).to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(labels: Value, pod: Value) -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "m-train-1", "labels": labels},
            "spec": {"template": {"spec": pod}}
        })
    }

    #[test]
    fn only_jobs_in_a_queue_have_fields_kueue_writes() {
        let queued = job(json!({KUEUE_QUEUE: "gpu"}), json!({}));
        assert_eq!(written_paths(&queued).len(), 3);
        assert!(written_paths(&job(json!({}), json!({}))).is_empty());
        let mut deployment = queued.clone();
        deployment["kind"] = json!("Deployment");
        deployment["apiVersion"] = json!("apps/v1");
        assert!(written_paths(&deployment).is_empty());
    }

    #[test]
    fn the_body_carries_what_kueue_wrote_live() {
        let ours = json!([{"key": "nvidia.com/gpu", "operator": "Exists"}]);
        let rendered = job(json!({KUEUE_QUEUE: "gpu"}), json!({"tolerations": ours, "restartPolicy": "Never"}));
        let mut live = rendered.clone();
        live["spec"]["suspend"] = json!(true);
        live["spec"]["template"]["spec"]["nodeSelector"] = json!({"pool": "a100"});
        live["spec"]["template"]["spec"]["tolerations"] =
            json!([{"key": "nvidia.com/gpu", "operator": "Exists"}, {"key": "spot", "operator": "Exists"}]);
        let body = with_live_admission(&rendered, Some(&live));
        assert_eq!(body["spec"]["suspend"], true);
        assert_eq!(body["spec"]["template"]["spec"]["nodeSelector"], json!({"pool": "a100"}));
        assert_eq!(body["spec"]["template"]["spec"]["tolerations"], live["spec"]["template"]["spec"]["tolerations"]);
        assert_eq!(body["spec"]["template"]["spec"]["restartPolicy"], "Never");
        // A field Kueue cleared is left out, not sent as rendered.
        let mut restored = live.clone();
        restored["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("tolerations");
        let body = with_live_admission(&rendered, Some(&restored));
        assert!(body["spec"]["template"]["spec"].get("tolerations").is_none());
        // Not created yet, or not queued: sent as rendered.
        assert_eq!(with_live_admission(&rendered, None), rendered);
        let plain = job(json!({}), json!({"tolerations": ours}));
        assert_eq!(with_live_admission(&plain, Some(&live)), plain);
    }
}
