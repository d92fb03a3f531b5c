//! `modelctl runs` end to end against the test double: every run of a model
//! (a sweep's trials each, an older Job from before the export container,
//! a failed ad-hoc run), newest first, from Jobs, pods and the export's
//! termination messages; `--best` by the spec's objective.

use crate::kube_double;

use std::path::Path;
use std::process::Output;

use kube_double::{KubeDouble, runs};

/// Runs `modelctl -C root args…` with the double's kubeconfig.
async fn modelctl(double: &KubeDouble, root: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, double.kubeconfig_yaml()).unwrap();
    let root = root.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
            .arg("-C")
            .arg(root)
            .args(&args)
            .args(["--env", "production", "--context", "admin"])
            .env("KUBECONFIG", &kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .expect("running modelctl")
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_lists_every_trial_newest_job_first() {
    let double = KubeDouble::start().await;
    runs::seed(&double);
    let out = modelctl(&double, example(), &["runs", "image-tagging"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!("runs_table", text(&out.stdout));
    // Reads Jobs and pods only: two lists, nothing else.
    let reads: Vec<String> = double
        .requests()
        .iter()
        .filter(|r| r.path.contains("/namespaces/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        reads,
        [
            "GET /apis/batch/v1/namespaces/ml/jobs",
            "GET /api/v1/namespaces/ml/pods"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_json_carries_params_metrics_and_the_model() {
    let double = KubeDouble::start().await;
    runs::seed(&double);
    let out = modelctl(
        &double,
        example(),
        &["runs", "image-tagging", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            runs::FAILED_JOB.to_owned(),
            format!("{}-0", runs::SWEEP_JOB),
            format!("{}-1", runs::SWEEP_JOB),
            format!("{}-2", runs::SWEEP_JOB),
            format!("{}-3", runs::SWEEP_JOB),
            runs::OLD_JOB.to_owned(),
        ]
    );
    let statuses: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "failed",
            "succeeded",
            "failed",
            "running",
            "succeeded",
            "succeeded"
        ]
    );
    assert_eq!(rows[1]["model"], runs::BEST_MODEL);
    assert_eq!(rows[1]["metrics"]["val_accuracy"], 0.9412);
    assert_eq!(rows[1]["duration_seconds"], 4320);
    // A trial that failed before exporting: parameters from the Job's
    // annotation, the reason from the container that failed: its whole
    // termination message (a log tail), which the text table cuts.
    assert_eq!(rows[2]["params"]["learning-rate"], "0.01");
    assert_eq!(
        rows[2]["error"],
        "container train exited 1:\nTraceback (most recent call last):\nRuntimeError: CUDA out of memory"
    );
    assert_eq!(rows[3]["params"]["batch-size"], "128");
    assert!(rows[0]["error"].as_str().unwrap().contains("access denied"));
    // The old Job: what its status says.
    assert_eq!(rows[5]["started"], "2026-11-20T10:00:01Z");
    assert_eq!(rows[5]["duration_seconds"], 42030);
    assert!(rows[5]["model"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_is_the_succeeded_run_with_the_best_objective() {
    let double = KubeDouble::start().await;
    runs::seed(&double);
    let out = modelctl(
        &double,
        example(),
        &["runs", "image-tagging", "--best", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["model"], runs::BEST_MODEL);
}

/// A copy of the example repository with `edit` applied to image-tagging.
fn repo_with(dir: &Path, from: &str, to: &str) -> std::path::PathBuf {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::copy(example().join("modelctl.toml"), root.join("modelctl.toml")).unwrap();
    for entry in std::fs::read_dir(example().join("models")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let text = if path.ends_with("image-tagging.toml") {
            assert!(text.contains(from), "{from}");
            text.replace(from, to)
        } else {
            text
        };
        std::fs::write(root.join("models").join(path.file_name().unwrap()), text).unwrap();
    }
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_without_an_objective_or_a_metric_is_a_clear_error() {
    let double = KubeDouble::start().await;
    runs::seed(&double);
    let dir = tempfile::tempdir().unwrap();
    let objective = "objective = { metric = \"val_accuracy\", goal = \"max\" }\n";
    let none = repo_with(dir.path(), objective, "");
    let out = modelctl(&double, &none, &["runs", "image-tagging", "--best"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("declares no objective to rank runs by"),
        "{}",
        text(&out.stderr)
    );
    assert!(double.requests().is_empty(), "refused before the cluster");

    let dir = tempfile::tempdir().unwrap();
    let other = repo_with(dir.path(), "val_accuracy", "val_f1");
    let out = modelctl(&double, &other, &["runs", "image-tagging", "--best"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "no succeeded run of `image-tagging` reported `val_f1` (6 run(s), 3 succeeded)"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimising_picks_the_lowest_value() {
    let double = KubeDouble::start().await;
    runs::seed(&double);
    let dir = tempfile::tempdir().unwrap();
    let root = repo_with(
        dir.path(),
        "metric = \"val_accuracy\", goal = \"max\"",
        "metric = \"val_loss\", goal = \"min\"",
    );
    let out = modelctl(
        &double,
        &root,
        &["runs", "image-tagging", "--best", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["metrics"]["val_loss"], 0.2081);
}
