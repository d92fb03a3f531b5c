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

use k8s_openapi::api::batch::v1::Job;
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

/// `rendered` to send to the server when it is a Job in a queue: each field
/// Kueue writes is sent with its live value where modelctl owns it live
/// (the webhook's `suspend` recorded as modelctl's, tolerations not yet
/// taken), so applying leaves it as it is, and left out where modelctl does
/// not own it (or it is not set live), so modelctl takes nothing of Kueue's
/// over. Anything else is sent as rendered.
pub fn with_live_admission(rendered: &Value, live: Option<&Value>) -> Value {
    let mut body = rendered.clone();
    let Some(live) = live.filter(|_| is_queued_job(rendered)) else {
        return body;
    };
    let ours = ours(live);
    for path in WRITTEN {
        let (parent, field) = pointer_parts(path);
        let value = live.pointer(&format!("{parent}/{field}")).cloned();
        let owned = ours.iter().any(|p| {
            p.iter()
                .map(String::as_str)
                .take(path.len())
                .eq(path.iter().copied())
        });
        let Some(target) = body.pointer_mut(&parent).and_then(Value::as_object_mut) else {
            continue;
        };
        match value {
            Some(value) if owned && !value.is_null() => {
                target.insert(field, value);
            }
            _ => {
                target.remove(&field);
            }
        }
    }
    body
}

/// The paths modelctl's server-side apply owns in `live`.
fn ours(live: &Value) -> Vec<FieldPath> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            e.get("manager").and_then(Value::as_str) == Some(crate::object::labels::MANAGER)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        })
        .filter_map(|e| e.get("fieldsV1"))
        .flat_map(super::fields::owned_paths)
        .collect()
}

/// Where Kueue stands with a Job in its queue that has not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Waiting for quota: suspended and not admitted, with Kueue's reason
    /// when it gave one.
    Queued(Option<String>),
    /// Admitted: Kueue reserved the quota and resumes (or resumed) the Job,
    /// whose pods have not started yet.
    Admitted,
    /// Evicted by a Workload of higher priority (or another reclaim): the
    /// Job is suspended again and waits to be admitted anew.
    Preempted(Option<String>),
}

/// The Workload Kueue made for `job`, among `workloads` (as JSON, any
/// version): the one whose owner is the Job.
pub fn workload_of<'a>(job: &Job, workloads: &'a [Value]) -> Option<&'a Value> {
    let uid = job.metadata.uid.as_deref()?;
    workloads.iter().find(|w| {
        w.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|owners| {
                owners
                    .iter()
                    .any(|o| o.get("uid").and_then(Value::as_str) == Some(uid))
            })
    })
}

/// Where Kueue stands with `job`, from the Job and its Workload; `None`
/// for a Job outside a queue, or one whose pods run or ran (its own
/// status tells the rest).
pub fn admission(job: &Job, workload: Option<&Value>, pods_started: bool) -> Option<Admission> {
    let queued = job
        .metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(KUEUE_QUEUE));
    if !queued || pods_started {
        return None;
    }
    let suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
    let condition = |kind: &str| {
        workload?
            .pointer("/status/conditions")?
            .as_array()?
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    };
    let is_true =
        |c: Option<&Value>| c.and_then(|c| c.get("status")).and_then(Value::as_str) == Some("True");
    let said = |c: Option<&Value>| {
        let c = c?;
        let text = |k: &str| c.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        match (text("reason"), text("message")) {
            (Some(reason), Some(message)) => Some(format!("{reason}: {message}")),
            (reason, message) => reason.or(message).map(str::to_owned),
        }
    };
    let admitted = is_true(condition("Admitted"));
    if suspended && !admitted {
        for kind in ["Preempted", "Evicted"] {
            if is_true(condition(kind)) {
                return Some(Admission::Preempted(said(condition(kind))));
            }
        }
        // QuotaReserved is False with the reason while the Workload waits;
        // without a Workload, the Job's own Suspended condition.
        let reason = said(condition("QuotaReserved"))
            .or_else(|| said(condition("Pending")))
            .or_else(|| {
                let c = job
                    .status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.type_ == "Suspended" && c.status == "True")?;
                c.message.clone().or_else(|| c.reason.clone())
            });
        return Some(Admission::Queued(reason));
    }
    admitted.then_some(Admission::Admitted)
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

    fn typed(job: Value) -> Job {
        serde_json::from_value(job).unwrap()
    }

    fn workload(conditions: Value) -> Value {
        json!({
            "apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
            "metadata": {"name": "job-m-train-1-abcde", "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "m-train-1", "uid": "u1"}]},
            "status": {"conditions": conditions}
        })
    }

    #[test]
    fn kueue_tells_queued_admitted_and_preempted_apart() {
        let mut suspended = job(json!({KUEUE_QUEUE: "gpu"}), json!({}));
        suspended["metadata"]["uid"] = json!("u1");
        suspended["spec"]["suspend"] = json!(true);
        let j = typed(suspended.clone());
        let pending = workload(
            json!([{"type": "QuotaReserved", "status": "False", "reason": "Pending",
            "message": "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor a100, 8 more needed"}]),
        );
        let workloads = [pending.clone()];
        assert_eq!(workload_of(&j, &workloads), Some(&pending));
        assert_eq!(
            admission(&j, Some(&pending), false),
            Some(Admission::Queued(Some("Pending: couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor a100, 8 more needed".to_owned())))
        );
        // Before Kueue made its Workload: queued, with the Job's own word.
        let mut waiting = suspended.clone();
        waiting["status"] = json!({"conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended", "message": "Job suspended"}]});
        assert_eq!(
            admission(&typed(waiting), None, false),
            Some(Admission::Queued(Some("Job suspended".to_owned())))
        );
        assert_eq!(admission(&j, None, false), Some(Admission::Queued(None)));

        let admitted = workload(
            json!([{"type": "QuotaReserved", "status": "True"}, {"type": "Admitted", "status": "True"}]),
        );
        assert_eq!(
            admission(&j, Some(&admitted), false),
            Some(Admission::Admitted)
        );
        let mut resumed = suspended.clone();
        resumed["spec"]["suspend"] = json!(false);
        assert_eq!(
            admission(&typed(resumed.clone()), Some(&admitted), false),
            Some(Admission::Admitted)
        );
        // Once pods run, the Job's own status says the rest.
        assert_eq!(admission(&typed(resumed), Some(&admitted), true), None);

        let preempted = workload(json!([
            {"type": "Admitted", "status": "False"},
            {"type": "Evicted", "status": "True", "reason": "Preempted", "message": "Preempted to accommodate a workload (UID: u9) due to prioritization in the ClusterQueue"},
            {"type": "Preempted", "status": "True", "reason": "InClusterQueue", "message": "Preempted to accommodate a workload (UID: u9) due to prioritization in the ClusterQueue"}]));
        assert_eq!(
            admission(&j, Some(&preempted), false),
            Some(Admission::Preempted(Some("InClusterQueue: Preempted to accommodate a workload (UID: u9) due to prioritization in the ClusterQueue".to_owned())))
        );
        // Outside a queue Kueue has nothing to say.
        let mut plain = suspended.clone();
        plain["metadata"]["labels"] = json!({});
        assert_eq!(admission(&typed(plain), Some(&preempted), false), None);
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
        let rendered = job(
            json!({KUEUE_QUEUE: "gpu"}),
            json!({"tolerations": ours, "restartPolicy": "Never"}),
        );
        let mut live = rendered.clone();
        live["spec"]["suspend"] = json!(true);
        live["spec"]["template"]["spec"]["nodeSelector"] = json!({"pool": "a100"});
        live["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "nvidia.com/gpu", "operator": "Exists"}, {"key": "spot", "operator": "Exists"}]);
        // modelctl owns `suspend` (the webhook ran in its create) and no
        // longer owns the tolerations or the node selector.
        live["metadata"]["managedFields"] = json!([
            {"manager": "modelctl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:suspend": {}}}},
            {"manager": "kueue", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {}, "f:tolerations": {}}}}}}
        ]);
        let body = with_live_admission(&rendered, Some(&live));
        assert_eq!(body["spec"]["suspend"], true);
        assert!(
            body["spec"]["template"]["spec"]
                .get("nodeSelector")
                .is_none()
        );
        assert!(
            body["spec"]["template"]["spec"]
                .get("tolerations")
                .is_none()
        );
        assert_eq!(body["spec"]["template"]["spec"]["restartPolicy"], "Never");
        // Before the admission modelctl still owns its tolerations: sent
        // as they are live.
        live["metadata"]["managedFields"][0]["fieldsV1"] = json!({"f:spec": {"f:suspend": {}, "f:template": {"f:spec": {"f:nodeSelector": {}, "f:tolerations": {}}}}});
        let body = with_live_admission(&rendered, Some(&live));
        assert_eq!(
            body["spec"]["template"]["spec"]["nodeSelector"],
            json!({"pool": "a100"})
        );
        assert_eq!(
            body["spec"]["template"]["spec"]["tolerations"],
            live["spec"]["template"]["spec"]["tolerations"]
        );
        assert_eq!(body["spec"]["template"]["spec"]["restartPolicy"], "Never");
        // A field Kueue cleared is left out, not sent as rendered.
        let mut restored = live.clone();
        restored["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("tolerations");
        let body = with_live_admission(&rendered, Some(&restored));
        assert!(
            body["spec"]["template"]["spec"]
                .get("tolerations")
                .is_none()
        );
        // Not created yet, or not queued: sent as rendered.
        assert_eq!(with_live_admission(&rendered, None), rendered);
        let plain = job(json!({}), json!({"tolerations": ours}));
        assert_eq!(with_live_admission(&plain, Some(&live)), plain);
    }
}
