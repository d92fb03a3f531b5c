//! Training runs as the cluster holds them, for `runs` and `promote`: a
//! sweep whose trials succeeded, failed before exporting and still run, an
//! older Job from before the `export` container, and an ad-hoc run that
//! failed, each with the pods and termination messages the kubelet records.

use serde_json::{Value, json};

use super::KubeDouble;

/// The sweep's Job name.
pub const SWEEP_JOB: &str = "image-tagging-train-df06cae3";
/// The exported model of the sweep's best trial (index 0).
pub const BEST_MODEL: &str =
    "s3://ml-models/image-tagging/image-tagging-train-df06cae3-0/model.onnx";
/// The exported model of index 3 (succeeded, lower accuracy).
pub const OTHER_MODEL: &str =
    "s3://ml-models/image-tagging/image-tagging-train-df06cae3-3/model.onnx";
/// An older plain Job (one container `train`, no termination message).
pub const OLD_JOB: &str = "image-tagging-train-fa4b8d27";
/// An ad-hoc run whose export failed.
pub const FAILED_JOB: &str = "image-tagging-train-df06cae3-k2x9p";

fn labels(job: &str) -> Value {
    json!({
        "app.kubernetes.io/name": "image-tagging",
        "app.kubernetes.io/component": "train",
        "app.kubernetes.io/managed-by": "modelctl",
        "batch.kubernetes.io/job-name": job,
    })
}

fn job(name: &str, created: &str, spec: Value, status: Value, annotations: Value) -> Value {
    let mut labels = labels(name);
    labels
        .as_object_mut()
        .unwrap()
        .remove("batch.kubernetes.io/job-name");
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "creationTimestamp": created,
                     "labels": labels, "annotations": annotations},
        "spec": spec,
        "status": status,
    })
}

fn terminated(exit_code: i32, started: &str, finished: &str, message: Option<Value>) -> Value {
    let mut t = json!({"exitCode": exit_code, "startedAt": started, "finishedAt": finished,
                       "reason": if exit_code == 0 { "Completed" } else { "Error" }});
    if let Some(m) = message {
        t["message"] = json!(m.as_str().map_or_else(|| m.to_string(), str::to_owned));
    }
    json!({"terminated": t})
}

fn status(name: &str, state: Value) -> Value {
    json!({"name": name, "state": state, "ready": false, "restartCount": 0,
           "image": "img", "imageID": ""})
}

/// A pod of `job` (index `index`), with `phase` and container statuses.
fn pod(
    job: &str,
    index: Option<u32>,
    phase: &str,
    started: &str,
    inits: Value,
    mains: Value,
) -> Value {
    let name = match index {
        Some(i) => format!("{job}-{i}-abcde"),
        None => format!("{job}-abcde"),
    };
    let mut annotations = json!({});
    if let Some(i) = index {
        annotations["batch.kubernetes.io/job-completion-index"] = json!(i.to_string());
    }
    let init_names: Vec<Value> = inits
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"name": s["name"], "image": "img"}))
        .collect();
    let main_names: Vec<Value> = mains
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"name": s["name"], "image": "img"}))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml", "creationTimestamp": started,
                     "labels": labels(job), "annotations": annotations},
        "spec": {"nodeName": "gpu-1", "restartPolicy": "Never",
                 "initContainers": init_names, "containers": main_names},
        "status": {"phase": phase, "startTime": started,
                   "initContainerStatuses": inits, "containerStatuses": mains},
    })
}

/// The export's termination message of a sweep trial.
fn report(index: u32, lr: &str, batch: &str, accuracy: f64, loss: f64) -> Value {
    let run = format!("{SWEEP_JOB}-{index}");
    json!({
        "run": run,
        "output": format!("s3://ml-models/image-tagging/{run}"),
        "params": {"batch-size": batch, "learning-rate": lr},
        "metrics": {"val_accuracy": accuracy, "val_loss": loss},
        "model": format!("s3://ml-models/image-tagging/{run}/model.onnx"),
    })
    .to_string()
    .into()
}

/// Every object above.
pub fn objects() -> Vec<Value> {
    let sweep_annotation = json!({"modelctl.io/sweep":
        r#"[{"batch-size":"64","learning-rate":"0.001"},{"batch-size":"64","learning-rate":"0.01"},{"batch-size":"128","learning-rate":"0.001"},{"batch-size":"128","learning-rate":"0.01"}]"#});
    let ok_inits = |t0: &str, t1: &str| {
        json!([
            status("fetch-code", terminated(0, t0, t0, None)),
            status("train", terminated(0, t0, t1, None)),
        ])
    };
    vec![
        job(
            SWEEP_JOB,
            "2026-12-04T08:00:00Z",
            json!({"completionMode": "Indexed", "completions": 4, "parallelism": 2,
                   "backoffLimitPerIndex": 0, "template": {"spec": {"containers": []}}}),
            json!({"startTime": "2026-12-04T08:00:01Z", "active": 1, "succeeded": 2, "failed": 1,
                   "completedIndexes": "0,3", "failedIndexes": "1"}),
            sweep_annotation,
        ),
        // Index 0: succeeded, best accuracy.
        pod(SWEEP_JOB, Some(0), "Succeeded", "2026-12-04T08:00:05Z",
            ok_inits("2026-12-04T08:00:05Z", "2026-12-04T09:10:00Z"),
            json!([status("export", terminated(0, "2026-12-04T09:10:01Z", "2026-12-04T09:12:05Z",
                Some(report(0, "0.001", "64", 0.9412, 0.2081))))])),
        // Index 1: training crashed; the export never ran.
        pod(SWEEP_JOB, Some(1), "Failed", "2026-12-04T08:00:05Z",
            json!([
                status("fetch-code", terminated(0, "2026-12-04T08:00:05Z", "2026-12-04T08:00:09Z", None)),
                status("train", terminated(1, "2026-12-04T08:00:10Z", "2026-12-04T08:03:30Z",
                    Some(json!("Traceback (most recent call last):\nRuntimeError: CUDA out of memory")))),
            ]),
            json!([status("export", json!({"waiting": {"reason": "PodInitializing"}}))])),
        // Index 2: still training.
        pod(SWEEP_JOB, Some(2), "Pending", "2026-12-04T09:12:10Z",
            json!([
                status("fetch-code", terminated(0, "2026-12-04T09:12:10Z", "2026-12-04T09:12:14Z", None)),
                status("train", json!({"running": {"startedAt": "2026-12-04T09:12:15Z"}})),
            ]),
            json!([status("export", json!({"waiting": {"reason": "PodInitializing"}}))])),
        // Index 3: succeeded, lower accuracy.
        pod(SWEEP_JOB, Some(3), "Succeeded", "2026-12-04T08:03:40Z",
            ok_inits("2026-12-04T08:03:40Z", "2026-12-04T09:30:00Z"),
            json!([status("export", terminated(0, "2026-12-04T09:30:01Z", "2026-12-04T09:31:00Z",
                Some(report(3, "0.01", "128", 0.9127, 0.2511))))])),
        // An older run, from before the export container.
        job(
            OLD_JOB,
            "2026-11-20T10:00:00Z",
            json!({"completions": 1, "backoffLimit": 2, "template": {"spec": {"containers": []}}}),
            json!({"startTime": "2026-11-20T10:00:01Z", "completionTime": "2026-11-20T21:40:31Z", "succeeded": 1,
                   "conditions": [{"type": "Complete", "status": "True"}]}),
            json!({}),
        ),
        // An ad-hoc run whose upload failed.
        job(
            FAILED_JOB,
            "2026-12-04T12:00:00Z",
            json!({"completions": 1, "backoffLimit": 0, "template": {"spec": {"containers": []}}}),
            json!({"startTime": "2026-12-04T12:00:01Z", "failed": 1,
                   "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit"}]}),
            json!({}),
        ),
        pod(FAILED_JOB, None, "Failed", "2026-12-04T12:00:02Z",
            ok_inits("2026-12-04T12:00:02Z", "2026-12-04T13:00:00Z"),
            json!([status("export", terminated(1, "2026-12-04T13:00:01Z", "2026-12-04T13:00:09Z",
                Some(json!({"run": FAILED_JOB, "error": "uploading to s3://ml-models/image-tagging/image-tagging-train-df06cae3-k2x9p: access denied"}).to_string().into())))])),
    ]
}

/// Stores [`objects`] in the double.
pub fn seed(double: &KubeDouble) {
    double.seed(objects());
}
