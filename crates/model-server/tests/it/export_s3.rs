//! `model-export` and the model download against a real S3 protocol
//! endpoint (moto on 127.0.0.1), credentials and endpoint from the
//! environment as in a pod: the upload of every file, the verification,
//! `run.json`, the termination message, and the failures a user meets
//! (missing bucket, no credentials, an empty model directory, malformed
//! metrics). Skipped with one line when moto is not installed.

use crate::common;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::s3::Moto;
use modelctl_spec::ExportReport;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// A model directory as a training run leaves it, and the workspace around it.
pub(crate) fn workspace(dir: &Path, metrics: Option<&str>) {
    let out = dir.join("workspace/out");
    std::fs::create_dir_all(out.join("tokenizer")).unwrap();
    std::fs::write(out.join("model.onnx"), b"not really onnx").unwrap();
    std::fs::write(out.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    if let Some(metrics) = metrics {
        std::fs::write(out.join("metrics.json"), metrics).unwrap();
    }
    std::fs::create_dir_all(dir.join("workspace/.modelctl")).unwrap();
    std::fs::write(
        dir.join("workspace/.modelctl/started"),
        "2026-12-01T10:00:00Z\n",
    )
    .unwrap();
}

pub(crate) fn plan(dir: &Path, output: &str) {
    let plan = serde_json::json!({
        "model": "tagger",
        "code": {"git": "https://git.example.com/ml/tagger.git", "rev": "main"},
        "sweep": true,
        "runs": [
            {"params": {"learning-rate": "0.1"}, "output": output},
            {"params": {"learning-rate": "0.2"}, "output": output},
        ],
    });
    std::fs::write(dir.join("export.json"), plan.to_string()).unwrap();
}

/// Runs `model-export` for index 1 of the plan with one retry; returns its
/// output and its termination message, read as `modelctl runs` reads it.
fn export(dir: &Path, env: &[(&str, String)], unset: &[&str]) -> (Output, ExportReport) {
    export_with_retries(dir, env, unset, 1)
}

/// As [`export`], with `retries` retries per file.
pub(crate) fn export_with_retries(
    dir: &Path,
    env: &[(&str, String)],
    unset: &[&str],
    retries: usize,
) -> (Output, ExportReport) {
    let log = dir.join("termination-log");
    let _ = std::fs::remove_file(&log);
    let mut command = Command::new(env!("CARGO_BIN_EXE_model-export"));
    command
        .arg(format!("--plan={}", dir.join("export.json").display()))
        .arg(format!(
            "--model-dir={}",
            dir.join("workspace/out").display()
        ))
        .arg(format!("--workspace={}", dir.join("workspace").display()))
        .arg(format!("--retries={retries}"))
        .env("MODELCTL_RUN", "tagger-train-0a1b2c3d")
        .env("JOB_COMPLETION_INDEX", "1")
        .env("TERMINATION_LOG", &log)
        .envs(env.iter().map(|(k, v)| (k, v)));
    for name in unset {
        command.env_remove(name);
    }
    let output = command.output().expect("model-export runs");
    let text = std::fs::read_to_string(&log).expect("a termination message");
    assert!(text.len() <= 4096);
    let report = ExportReport::parse(&text)
        .unwrap_or_else(|| panic!("`modelctl runs` cannot read the message {text}"));
    // What the binary wrote holds nothing the reader drops or coerces.
    let written: Value = serde_json::from_str(&text).expect("the message is JSON");
    assert_eq!(
        written,
        serde_json::to_value(&report).expect("the report serializes"),
        "the message as written: {text}"
    );
    (output, report)
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_export_uploads_every_file_and_records_the_run_beside_it() {
    let Some(moto) = Moto::start("the_export_uploads_every_file_and_records_the_run_beside_it")
    else {
        return;
    };
    moto.create_bucket("models");
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), Some(r#"{"accuracy": 0.91, "epochs": 3}"#));
    plan(dir.path(), "s3://models/tagger/{{ run }}/");
    let (out, message) = export(dir.path(), &moto.env(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = "tagger-train-0a1b2c3d-1";
    let prefix = format!("tagger/{run}");
    assert_eq!(
        message,
        ExportReport {
            run: Some(run.to_owned()),
            output: Some(format!("s3://models/{prefix}")),
            model: Some(format!("s3://models/{prefix}/model.onnx")),
            params: Some([("learning-rate".to_owned(), "0.2".to_owned())].into()),
            metrics: Some(
                [
                    ("accuracy".to_owned(), Number::from_f64(0.91).unwrap()),
                    ("epochs".to_owned(), Number::from(3)),
                ]
                .into()
            ),
            ..ExportReport::default()
        }
    );
    let objects = moto.objects("models", &prefix);
    assert_eq!(
        objects.keys().cloned().collect::<Vec<_>>(),
        [
            "metrics.json",
            "model.onnx",
            "run.json",
            "tokenizer/vocab.txt"
        ]
        .map(|k| format!("{prefix}/{k}"))
    );
    assert_eq!(objects[&format!("{prefix}/tokenizer/vocab.txt")], b"a\nb\n");
    let record: Value = serde_json::from_slice(&objects[&format!("{prefix}/run.json")]).unwrap();
    assert_eq!(record["model"], "tagger");
    assert_eq!(record["run"], run);
    assert_eq!(record["index"], 1);
    assert_eq!(record["params"]["learning-rate"], "0.2");
    assert_eq!(
        record["code"]["git"],
        "https://git.example.com/ml/tagger.git"
    );
    assert_eq!(record["start"], "2026-12-01T10:00:00Z");
    assert!(record["end"].as_str().unwrap().ends_with('Z'));
    assert_eq!(record["metrics"]["accuracy"], 0.91);
    let files = record["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let model = files.iter().find(|f| f["path"] == "model.onnx").unwrap();
    assert_eq!(model["size"], 15);
    assert_eq!(model["sha256"], sha256(b"not really onnx"));
}

#[test]
fn a_missing_bucket_fails_the_export_and_says_so() {
    let Some(moto) = Moto::start("a_missing_bucket_fails_the_export_and_says_so") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), None);
    plan(dir.path(), "s3://no-such-bucket/tagger/{{ run }}");
    let (out, message) = export(dir.path(), &moto.env(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(message.run.as_deref(), Some("tagger-train-0a1b2c3d-1"));
    let error = message.error.unwrap();
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("NoSuchBucket"), "{error}");
}

#[test]
fn no_credentials_fail_the_export_with_a_hint() {
    let Some(moto) = Moto::start("no_credentials_fail_the_export_with_a_hint") else {
        return;
    };
    moto.create_bucket("models");
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), None);
    plan(dir.path(), "s3://models/tagger/{{ run }}");
    // No keys, and an instance metadata service that refuses connections.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metadata = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut env = moto.env();
    env.retain(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"));
    env.push(("AWS_METADATA_ENDPOINT", metadata));
    let (out, message) = export(
        dir.path(),
        &env,
        &[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let error = message.error.unwrap();
    assert!(error.contains("no credentials"), "{error}");
    assert!(error.contains("env-from"), "{error}");
    assert!(moto.objects("models", "tagger").is_empty());
}

#[test]
fn an_empty_model_directory_fails_the_export() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace/out")).unwrap();
    let target = dir.path().join("exported");
    plan(
        dir.path(),
        &format!("file://{}/{{{{ run }}}}", target.display()),
    );
    let (out, message) = export(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let error = message.error.unwrap();
    assert!(error.contains("holds no files"), "{error}");
    assert!(!target.exists());
}

#[test]
fn malformed_metrics_are_named_and_the_model_is_still_exported() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), Some(r#"{"accuracy": "high"}"#));
    let target = dir.path().join("exported");
    plan(dir.path(), &format!("{}/{{{{ run }}}}", target.display()));
    let (out, message) = export(dir.path(), &[], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("metrics.json: metric `accuracy` is a string, expected a number"),
        "{stderr}"
    );
    assert_eq!(message.metrics, Some(Default::default()));
    let record: Value = serde_json::from_slice(
        &std::fs::read(target.join("tagger-train-0a1b2c3d-1/run.json")).unwrap(),
    )
    .unwrap();
    assert!(
        record["metrics-error"]
            .as_str()
            .unwrap()
            .contains("`accuracy` is a string"),
        "{record}"
    );
    assert!(target.join("tagger-train-0a1b2c3d-1/model.onnx").is_file());
}

#[tokio::test]
async fn the_server_downloads_an_s3_model_with_credentials_from_the_environment() {
    let Some(moto) =
        Moto::start("the_server_downloads_an_s3_model_with_credentials_from_the_environment")
    else {
        return;
    };
    let model = std::fs::read(common::model_path("digits-mlp.onnx")).unwrap();
    moto.create_bucket_with("serving", &[("digits/v1/model.onnx", &model)]);
    let server = common::Server::start_with_env(
        "tract",
        "s3://serving/digits/v1/model.onnx",
        &["--warmup", "1"],
        &moto.env(),
    );
    server.wait_ready().await;
    let digits = common::digits();
    let response = common::client()
        .post(server.url("/v2/models/digits/infer"))
        .json(&common::infer_body("digits-mlp.onnx", &digits.inputs[..1]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn the_server_reports_a_missing_s3_model_as_not_found() {
    let Some(moto) = Moto::start("the_server_reports_a_missing_s3_model_as_not_found") else {
        return;
    };
    moto.create_bucket("serving");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server =
        common::Server::start_with_env("tract", "s3://serving/digits/none.onnx", &[], &moto.env());
    let body = runtime.block_on(server.wait_not_ready_with("not found"));
    assert!(body.contains("s3://serving/digits/none.onnx"), "{body}");
}
