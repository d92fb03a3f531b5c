//! The cluster commands end to end: the `modelctl` binary renders this
//! repository's example models and talks to the test double through a
//! kubeconfig, the way an operator runs it.

use crate::kube_double;

use std::path::Path;
use std::process::Output;

use kube_double::KubeDouble;

struct Cli {
    double: KubeDouble,
    dir: tempfile::TempDir,
}

impl Cli {
    async fn start() -> Cli {
        let double = KubeDouble::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("kubeconfig"), double.kubeconfig_yaml())
            .expect("writing kubeconfig");
        Cli { double, dir }
    }

    /// Runs `modelctl -C <repo> <args>` with the double's kubeconfig.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
            .await
    }

    /// Runs `modelctl -C <root> <args>` with the double's kubeconfig.
    async fn run_in(&self, root: &Path, args: &[&str]) -> Output {
        let kubeconfig = self.dir.path().join("kubeconfig");
        let root = root.to_path_buf();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
                .arg("-C")
                .arg(root)
                .args(&args)
                .env("KUBECONFIG", kubeconfig)
                .env("NO_COLOR", "1")
                .output()
                .expect("running modelctl")
        })
        .await
        .expect("joining the command")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_apply_diff_is_idempotent() {
    let cli = Cli::start().await;
    let first = cli
        .run(&["diff", "--env", "production", "--context", "admin"])
        .await;
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("+ Deployment ml/digits added (models/digits.toml)"),
        "{}",
        text(&first.stdout)
    );

    let markdown = cli
        .run(&[
            "diff",
            "--env",
            "production",
            "--context",
            "admin",
            "--format",
            "markdown",
        ])
        .await;
    assert_eq!(
        markdown.status.code(),
        Some(1),
        "{}",
        text(&markdown.stderr)
    );
    let md = text(&markdown.stdout);
    assert!(
        md.starts_with("### modelctl diff: `live` → `applied`\n"),
        "{md}"
    );
    assert!(
        md.contains("| production | `Deployment ml/digits` | digits | added |"),
        "{md}"
    );

    let apply = cli
        .run(&["apply", "--env", "production", "--context", "admin"])
        .await;
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    assert!(
        text(&apply.stderr).contains("Deployment ml/digits created"),
        "{}",
        text(&apply.stderr)
    );
    assert!(
        cli.double
            .object("/apis/apps/v1/namespaces/ml/deployments/digits")
            .is_some()
    );

    let second = cli
        .run(&[
            "diff",
            "--env",
            "production",
            "--context",
            "admin",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}\n{}",
        text(&second.stdout),
        text(&second.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).expect("JSON report");
    assert_eq!(report["changes"], serde_json::json!([]), "{report:#}");
    assert!(
        report["summary"]["unchanged"].as_u64() > Some(0),
        "{report:#}"
    );

    let status = cli
        .run(&[
            "status",
            "--env",
            "production",
            "--context",
            "admin",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON rows");
    let digits = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "digits")
        .expect("a digits row");
    assert!(
        digits["model_uri"].as_str().is_some_and(|u| !u.is_empty()),
        "{digits}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_exits_2_naming_the_deployment() {
    let cli = Cli::start().await;
    let out = cli
        .run(&[
            "apply",
            "--env",
            "production",
            "--context",
            "admin",
            "--wait",
            "--timeout",
            "1s",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("timed out after 1s waiting for"),
        "{stderr}"
    );
    assert!(stderr.contains("Deployment ml/digits: 0/"), "{stderr}");
}

/// A repository holding only the training half of the digits model.
fn training_only_repo(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("models")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(example.join("modelctl.toml"), root.join("modelctl.toml")).unwrap();
    let digits = std::fs::read_to_string(example.join("models/digits.toml")).unwrap();
    let train = &digits[..digits.find("[serve]").expect("digits is served")];
    std::fs::write(root.join("models/digits.toml"), train).unwrap();
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_wait_does_not_wait_for_training_jobs_unless_asked() {
    let cli = Cli::start().await;
    let root = training_only_repo(cli.dir.path());
    let env = ["--env", "production", "--context", "admin"];
    let first = cli.run_in(&root, &[&["apply"][..], &env].concat()).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let job_path = cli
        .double
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.contains("/jobs/digits-train-"))
        .map(|r| r.path)
        .expect("apply created the Job");
    // The run failed (a bad trial, an image that is gone): it stays failed.
    let mut job = cli.double.object(&job_path).expect("the Job is stored");
    job["status"] = serde_json::json!({
        "failed": 1,
        "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit"}]
    });
    cli.double.seed([job]);

    let wait = cli
        .run_in(
            &root,
            &[&["apply", "--wait", "--timeout", "1s"][..], &env].concat(),
        )
        .await;
    assert_eq!(wait.status.code(), Some(0), "{}", text(&wait.stderr));
    assert!(
        !cli.double
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/jobs") && r.query.contains_key("watch")),
        "--wait watched a Job"
    );

    let training = cli
        .run_in(
            &root,
            &[&["apply", "--wait-training", "--timeout", "1s"][..], &env].concat(),
        )
        .await;
    assert_eq!(training.status.code(), Some(2));
    let stderr = text(&training.stderr);
    assert!(stderr.contains("BackoffLimitExceeded"), "{stderr}");
    assert!(stderr.contains("Job ml/digits-train-"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_problems_exit_2_with_a_clear_message() {
    let cli = Cli::start().await;
    let denied = cli
        .run(&["diff", "--env", "production", "--context", "unprivileged"])
        .await;
    assert_eq!(denied.status.code(), Some(2));
    assert!(
        text(&denied.stderr).contains("permission denied: unprivileged may not"),
        "{}",
        text(&denied.stderr)
    );

    let unknown = cli
        .run(&["apply", "--env", "production", "--context", "invalid"])
        .await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("401 Unauthorized"),
        "{}",
        text(&unknown.stderr)
    );

    let missing = cli
        .run(&[
            "status",
            "--env",
            "production",
            "--context",
            "no-such-context",
        ])
        .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no cluster to talk to"),
        "{}",
        text(&missing.stderr)
    );

    let no_env = cli.run(&["diff", "--context", "admin"]).await;
    assert_eq!(no_env.status.code(), Some(2));
    assert!(
        text(&no_env.stderr).contains("choose one with --env"),
        "{}",
        text(&no_env.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_of_a_model_without_training_fails_before_the_cluster() {
    let cli = Cli::start().await;
    let out = cli
        .run(&[
            "train",
            "no-such-model",
            "--env",
            "production",
            "--context",
            "admin",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no training Job"),
        "{}",
        text(&out.stderr)
    );
    assert!(cli.double.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_applies_the_configmap_its_job_mounts_before_the_job() {
    let cli = Cli::start().await;
    let out = cli
        .run(&[
            "train",
            "digits",
            "--env",
            "production",
            "--context",
            "admin",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let patches: Vec<String> = cli
        .double
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path)
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(
        patches[0].starts_with("/api/v1/namespaces/ml/configmaps/digits-train-"),
        "{patches:?}"
    );
    assert!(
        patches[1].starts_with("/apis/batch/v1/namespaces/ml/jobs/digits-train-"),
        "{patches:?}"
    );
    let job = cli.double.object(&patches[1]).expect("the Job is stored");
    let mounted = job["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|v| v["configMap"]["name"].as_str())
        .expect("the Job mounts a ConfigMap");
    assert_eq!(
        patches[0],
        format!("/api/v1/namespaces/ml/configmaps/{mounted}")
    );
    assert!(cli.double.object(&patches[0]).is_some());
}
