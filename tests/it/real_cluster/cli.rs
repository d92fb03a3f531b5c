//! The `modelctl` binary on a scratch repository of the example models,
//! against the real cluster: diff, apply, prune, conflicts, status, train
//! and `apply --wait`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::real_bed::{Scratch, eventually, managers};

const ALL_MODELS: &[&str] = &["ads-bidding", "digits", "image-tagging", "translation"];
const SERVING: &str = "app.kubernetes.io/name=digits,app.kubernetes.io/component=serve";
const TRAINING: &str = "app.kubernetes.io/name=digits,app.kubernetes.io/component=train";

/// `Kind namespace/name` of every object a progress output says was `verb`.
fn objects_said(output: &str, verb: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|l| l.strip_suffix(&format!(" {verb}")))
        .filter(|o| o.split(' ').count() == 2 && o.contains('/'))
        .map(str::to_owned)
        .collect()
}

/// The `diff --format json` objects that differ (added, removed, changed).
fn changed(report: &Value) -> Vec<&Value> {
    report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .collect()
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn apply_then_diff_is_empty_after_the_controllers_ran() {
    let Some(s) = Scratch::new("idempotent").await else {
        return;
    };
    let repo = s.repo(ALL_MODELS);
    let (out, _) = repo.expect(1, &["diff"]).await;
    assert!(
        out.contains(&format!("+ Deployment {}/digits added", s.ns())),
        "{out}"
    );
    let (_, err) = repo.expect(0, &["apply"]).await;
    let created = objects_said(&err, "created");
    assert!(
        err.contains(&format!(
            "applied {n} object(s) to `test`: {n} created, 0 configured",
            n = created.len()
        )),
        "{err}"
    );

    // The autoscaler raises image-tagging from the Deployment's default of
    // one replica to its minimum, two, and owns `spec.replicas` from then on.
    let scaled = eventually("the HPA to scale image-tagging to 2", 90, || async {
        let d = s.get("apps/v1", "Deployment", "image-tagging").await?;
        (d["spec"]["replicas"] == 2).then_some(d)
    })
    .await;
    assert!(
        managers(&scaled).iter().any(|m| m != "modelctl"),
        "{:?}",
        managers(&scaled)
    );

    let (out, _) = repo.expect(0, &["diff", "--format", "json"]).await;
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert!(changed(&report).is_empty(), "{out}");
    assert_eq!(report["summary"]["removed"], 0, "{out}");
    assert_eq!(report["errors"], json!([]), "{out}");
    let (_, err) = repo.expect(0, &["apply"]).await;
    assert!(
        err.contains(&format!(
            "0 created, 0 configured, {} unchanged, 0 pruned",
            created.len()
        )),
        "{err}"
    );
    let (out, _) = repo.expect(0, &["status", "--format", "json"]).await;
    let rows: Value = serde_json::from_str(&out).expect("JSON rows");
    let row = |model: &str| {
        rows.as_array()
            .and_then(|r| r.iter().find(|r| r["model"] == model))
            .unwrap_or_else(|| panic!("no {model} row in {out}"))
    };
    assert_eq!(row("image-tagging")["desired"], 2, "{out}");
    assert!(
        row("image-tagging")["autoscaler"]
            .as_str()
            .is_some_and(|a| a.ends_with(" (2-20, cpu 70%)")),
        "{out}"
    );
    assert_eq!(row("ads-bidding")["desired"], 24, "{out}");
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn spec_change_shows_in_diff() {
    let Some(s) = Scratch::new("change").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    repo.expect(0, &["apply"]).await;
    repo.edit(
        "digits",
        "2026-11-25/digits-mlp.onnx",
        "2026-11-28/digits-mlp.onnx",
    );
    let (out, _) = repo.expect(1, &["diff"]).await;
    assert!(
        out.contains(&format!("~ Deployment {}/digits changed", s.ns())),
        "{out}"
    );
    let line = |sign: char, date: &str| {
        out.lines()
            .any(|l| l.starts_with(sign) && l.contains(&format!("/digits/{date}/digits-mlp.onnx")))
    };
    assert!(line('-', "2026-11-25") && line('+', "2026-11-28"), "{out}");
    // The serving objects' version label follows the serving spec; the
    // training Job and its ConfigMap are named for the training spec.
    assert!(
        out.contains("0 added, 0 removed, 4 changed, 2 unchanged"),
        "{out}"
    );
    assert!(
        !out.contains("~ Job ") && !out.contains("~ ConfigMap "),
        "{out}"
    );

    // A dry run tells the same and changes nothing.
    let (_, err) = repo.expect(0, &["apply", "--dry-run"]).await;
    assert!(
        err.contains(
            "(dry run) applied 6 object(s) to `test`: 0 created, 4 configured, 2 unchanged"
        ),
        "{err}"
    );
    repo.expect(1, &["diff"]).await;

    let (_, err) = repo.expect(0, &["apply"]).await;
    assert!(
        err.contains(&format!("Deployment {}/digits configured", s.ns())),
        "{err}"
    );
    repo.expect(0, &["diff"]).await;
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn missing_namespace_is_named_by_diff_and_apply() {
    let Some(s) = Scratch::new("no-namespace").await else {
        return;
    };
    let absent = format!("{}-absent", s.ns());
    let repo = s.repo_in(&absent, &["digits"]);
    let expected = format!("namespace {absent:?} does not exist");
    let (out, err) = repo.expect(2, &["diff"]).await;
    assert!(out.contains(&expected), "{out}\n{err}");
    let (_, err) = repo.expect(2, &["apply"]).await;
    assert!(err.contains(&expected), "{err}");
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn prune_deletes_a_removed_model_and_keeps_foreign_objects() {
    let Some(s) = Scratch::new("prune").await else {
        return;
    };
    let repo = s.repo(&["digits", "image-tagging"]);
    let (_, err) = repo.expect(0, &["apply"]).await;
    let created = objects_said(&err, "created");
    let (removed, kept): (BTreeSet<String>, BTreeSet<String>) = created
        .into_iter()
        .partition(|o| o.contains("/image-tagging"));
    assert!(removed.len() >= 5 && kept.len() >= 5, "{err}");

    // Not modelctl's: a ConfigMap without our label, and a Service with our
    // label that modelctl never applied (it is not in the inventory).
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "team-notes"}, "data": {"owner": "team-images"}});
    s.apply_as("other-team", foreign, false).await;
    let lookalike = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "image-tagging-legacy", "labels": {
            "app.kubernetes.io/managed-by": "modelctl", "app.kubernetes.io/name": "image-tagging"}},
        "spec": {"ports": [{"port": 80}]}});
    s.apply_as("other-team", lookalike, false).await;

    std::fs::remove_file(repo.spec("image-tagging")).expect("removing the spec");
    let (out, _) = repo.expect(1, &["diff"]).await;
    let would = objects_said(
        &out.lines()
            .filter_map(|l| l.strip_prefix("- ")?.split_once(" removed"))
            .map(|(object, _)| format!("{object} listed\n"))
            .collect::<String>(),
        "listed",
    );
    assert_eq!(would, removed, "{out}");

    let (_, err) = repo.expect(0, &["apply", "--prune"]).await;
    assert_eq!(objects_said(&err, "pruned"), removed, "{err}");
    for object in &removed {
        let (kind, name) = object.split_once(' ').expect("Kind ns/name");
        let name = name.rsplit('/').next().expect("name");
        let api_version = match kind {
            "Deployment" => "apps/v1",
            "Job" => "batch/v1",
            "HorizontalPodAutoscaler" => "autoscaling/v2",
            "PodDisruptionBudget" => "policy/v1",
            "HTTPRoute" | "GRPCRoute" => "gateway.networking.k8s.io/v1",
            "ScaledObject" => "keda.sh/v1alpha1",
            "PodMonitor" => "monitoring.coreos.com/v1",
            _ => "v1",
        };
        let live = s.get(api_version, kind, name).await;
        assert!(
            live.is_none_or(|o| o["metadata"]["deletionTimestamp"].is_string()),
            "{object} was not pruned"
        );
    }
    assert!(s.get("apps/v1", "Deployment", "digits").await.is_some());
    assert!(s.get("v1", "ConfigMap", "team-notes").await.is_some());
    assert!(
        s.get("v1", "Service", "image-tagging-legacy")
            .await
            .is_some()
    );
    let inventory = s
        .get("v1", "ConfigMap", "modelctl-inventory-test")
        .await
        .expect("the inventory");
    let listed = inventory["data"]["objects"].as_str().unwrap_or_default();
    assert!(
        listed.contains(" digits") && !listed.contains("image-tagging"),
        "{listed}"
    );
    repo.expect(0, &["diff"]).await;
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn drift_by_another_manager_is_a_diff_and_apply_refuses_it() {
    let Some(s) = Scratch::new("conflict").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    repo.expect(0, &["apply"]).await;
    let live = s
        .get("apps/v1", "Deployment", "digits")
        .await
        .expect("digits");
    let container = &live["spec"]["template"]["spec"]["containers"][0];
    let ours = container["image"].as_str().expect("image").to_owned();
    // Another team hot-fixes the image with a server-side apply of its own.
    let hotfix = json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "digits"},
    "spec": {"template": {"spec": {"containers": [
        {"name": container["name"], "image": "registry.example.com/ml/model-server:0.1.1-hotfix"}
    ]}}}});
    s.apply_as("other-team", hotfix, true).await;

    // A diff shows the drift: their value against ours, and who owns it now.
    let (out, err) = repo.expect(1, &["diff"]).await;
    assert!(
        out.contains(".image is now owned by \"other-team\"")
            && out.contains("-        image: registry.example.com/ml/model-server:0.1.1-hotfix")
            && out.contains(&format!("+        image: {ours}")),
        "{out}\n{err}"
    );
    let (exact, _) = repo.expect(1, &["diff", "--exact"]).await;
    assert_eq!(exact, out);
    let (_, err) = repo.expect(2, &["apply"]).await;
    assert!(
        err.contains(&format!(
            "Deployment {}/digits: conflict with another field manager",
            s.ns()
        )) && err.contains(".image is owned by \"other-team\"")
            && err.contains("--force-conflicts"),
        "{err}"
    );
    let image = |d: Option<Value>| {
        d.expect("digits")["spec"]["template"]["spec"]["containers"][0]["image"].clone()
    };
    assert_eq!(
        image(s.get("apps/v1", "Deployment", "digits").await),
        "registry.example.com/ml/model-server:0.1.1-hotfix"
    );

    repo.expect(0, &["apply", "--force-conflicts"]).await;
    assert_eq!(image(s.get("apps/v1", "Deployment", "digits").await), ours);
    repo.expect(0, &["diff"]).await;
    s.finish().await;
}

/// The `status --format json` row of `digits`.
async fn digits_row(repo: &crate::real_bed::Repo) -> Value {
    let (out, _) = repo.expect(0, &["status", "--format", "json"]).await;
    let rows: Value = serde_json::from_str(&out).expect("JSON rows");
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["model"] == "digits"))
        .cloned()
        .unwrap_or_else(|| panic!("no digits row in {out}"))
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn status_reports_replicas_route_and_last_run() {
    let Some(s) = Scratch::new("status").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    repo.expect(0, &["apply"]).await;
    let row = digits_row(&repo).await;
    assert_eq!(row["desired"], 2, "{row}");
    assert_eq!(row["ready"], 0, "{row}");
    assert_eq!(
        row["model_uri"],
        "https://models.example.com/digits/2026-11-25/digits-mlp.onnx"
    );
    assert_eq!(row["route"], "digits.ml.example.com");
    let job = s.pods(TRAINING).await.first().and_then(|p| {
        p.metadata
            .labels
            .as_ref()?
            .get("batch.kubernetes.io/job-name")
            .cloned()
    });
    let run = row["last_run"].as_str().expect("a last run").to_owned();
    assert!(run.starts_with("digits-train-"), "{row}");
    assert!(!run.ends_with(" complete"), "{row}");

    let serving = eventually("two serving pods", 60, || async {
        let pods = s.pods(SERVING).await;
        (pods.len() == 2).then_some(pods.len())
    })
    .await;
    assert_eq!(s.make_pods_ready(SERVING).await, serving);
    eventually("the training pod", 60, || async {
        (!s.pods(TRAINING).await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(s.make_pods_succeed(TRAINING).await, 1);
    let row = eventually("status 2/2 and a complete run", 60, || async {
        let row = digits_row(&repo).await;
        (row["ready"] == 2 && row["last_run"].as_str()?.ends_with(" complete")).then_some(row)
    })
    .await;
    assert!(
        job.is_none_or(|j| row["last_run"] == format!("{j} complete")),
        "{row}"
    );

    let (table, _) = repo.expect(0, &["status"]).await;
    let line = table
        .lines()
        .find(|l| l.starts_with("digits "))
        .unwrap_or_else(|| panic!("no digits line in:\n{table}"));
    assert!(
        line.contains(" 2/2 ")
            && line.contains("digits.ml.example.com")
            && line.ends_with(" complete"),
        "{table}"
    );
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn train_creates_its_job_and_the_configmap_it_mounts() {
    let Some(s) = Scratch::new("train").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    // Nothing applied before: the run must bring what it mounts.
    let (_, err) = repo.expect(0, &["train", "digits"]).await;
    let started = |err: &str| {
        err.lines()
            .find_map(|l| l.strip_prefix(&format!("started Job {}/", s.ns())))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no `started Job` line in:\n{err}"))
    };
    let name = started(&err);
    assert!(name.starts_with("digits-train-"), "{name}");
    let job = s.get("batch/v1", "Job", &name).await.expect("the Job");
    assert_eq!(job["metadata"]["labels"]["modelctl.io/run"], "adhoc");
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 86_400);
    assert_eq!(managers(&job).first().map(String::as_str), Some("modelctl"));
    let volumes = job["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes");
    let mounted: Vec<&str> = volumes
        .iter()
        .filter_map(|v| v["configMap"]["name"].as_str())
        .collect();
    assert!(!mounted.is_empty(), "{job}");
    for name in mounted {
        let cm = s
            .get("v1", "ConfigMap", name)
            .await
            .unwrap_or_else(|| panic!("the Job mounts ConfigMap {name}, which does not exist"));
        assert!(cm["data"]["start.sh"].is_string(), "{cm}");
        assert!(managers(&cm).contains(&"modelctl".to_owned()), "{cm}");
    }
    // The Job controller makes its pod (it stays Pending: there is no kubelet).
    let selector = format!("batch.kubernetes.io/job-name={name}");
    eventually("the run's pod", 60, || async {
        (s.pods(&selector).await.len() == 1).then_some(())
    })
    .await;

    let (_, err) = repo.expect(0, &["train", "digits"]).await;
    assert_ne!(started(&err), name, "a second run gets a name of its own");
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn apply_wait_returns_once_pods_are_ready_and_wait_training_once_jobs_complete() {
    let Some(s) = Scratch::new("wait").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    // `--wait` waits for the serving pods only: the training pod is left
    // running and the command still returns.
    let waiting = repo.run(&["apply", "--wait", "--timeout", "3m"]);
    let kubelet = async {
        let serving = eventually("two serving pods", 60, || async {
            let pods = s.pods(SERVING).await;
            (pods.len() == 2).then_some(pods.len())
        })
        .await;
        assert_eq!(s.make_pods_ready(SERVING).await, serving);
    };
    let (out, ()) = tokio::join!(waiting, kubelet);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("every Deployment is ready"), "{err}");
    assert!(
        !err.lines()
            .any(|l| l.starts_with("Job ") && l.contains(" ready")),
        "no wait for the Job: {err}"
    );
    assert!(!err.contains("every Job complete"), "{err}");
    // `--wait-training` waits for the training Job as well, until it completes.
    let waiting = repo.run(&["apply", "--wait-training", "--timeout", "3m"]);
    let kubelet = async {
        eventually("the training pod", 60, || async {
            (!s.pods(TRAINING).await.is_empty()).then_some(())
        })
        .await;
        s.make_pods_succeed(TRAINING).await
    };
    let (out, succeeded) = tokio::join!(waiting, kubelet);
    assert_eq!(succeeded, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("every Deployment is ready and every Job complete"),
        "{err}"
    );
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn the_role_rbac_prints_is_enough_for_apply_diff_prune_and_status() {
    let Some(s) = Scratch::new("rbac").await else {
        return;
    };
    let mut repo = s.repo(&["digits", "image-tagging"]);
    let user = "modelctl-rbac-test";
    // The Role and RoleBinding, printed for this environment and applied
    // by the administrator.
    let (yaml, _) = repo.expect(0, &["rbac", "--user", user]).await;
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML"))
        .collect();
    assert_eq!(docs.len(), 2, "{yaml}");
    for doc in docs {
        s.apply_as(crate::real_bed::TEST_MANAGER, doc, true).await;
    }

    // Everything the commands do, as that user: creating every object,
    // reading, diffing, changing, pruning.
    repo.impersonate(user);
    repo.expect(0, &["apply"]).await;
    repo.expect(0, &["diff"]).await;
    repo.expect(0, &["diff", "--exact"]).await;
    repo.expect(0, &["status"]).await;
    repo.edit("digits", "warmup = 4", "warmup = 5");
    let _ = std::fs::remove_file(repo.spec("image-tagging"));
    repo.expect(1, &["diff"]).await;
    repo.expect(0, &["apply", "--prune"]).await;
    repo.expect(0, &["diff"]).await;
    s.finish().await;
}
