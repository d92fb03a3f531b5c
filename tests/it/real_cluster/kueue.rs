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
    let jobs = s.api("batch/v1", "Job").await;
    let listed = jobs
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/name=image-tagging"))
        .await
        .expect("listing Jobs");
    let [job] = listed.items.as_slice() else {
        panic!("one training Job, got {}", listed.items.len());
    };
    let name = job.metadata.name.clone().expect("a name");
    let job = serde_json::to_value(job).expect("JSON");
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
    // Even applied in full, the Job keeps what Kueue wrote.
    let (_, err) = repo.expect(0, &["apply", "--exact"]).await;
    assert!(err.contains("0 created, 0 configured"), "{err}");
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
