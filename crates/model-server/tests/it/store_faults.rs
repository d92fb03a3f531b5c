//! Store faults, driven: the real `model-export` and `model-server` talk to
//! moto through [`FaultProxy`], which resets connections, answers 503 or
//! S3's `SlowDown`, cuts response bodies short, corrupts entity tags or
//! drops half of an upload, on the requests a test picks. Pinned here:
//! retries recover within `--retries`; exhausted retries fail the export
//! with the cause in its termination message; a size or entity-tag mismatch
//! fails the verification; a multipart upload (above 16 MiB) succeeds, and
//! is aborted when a part or the completion fails; an interrupted model
//! download is retried and never leaves a partial file under the cache's name.

use std::path::Path;

use serde_json::Value;

use crate::common;
use crate::common::faults::{Fault, FaultProxy, Rule};
use crate::common::s3::Moto;
use crate::export_s3::{export_with_retries, plan, sha256, workspace};

const RUN: &str = "tagger-train-0a1b2c3d-1";

/// Moto with a `models` bucket, a model directory and a plan exporting to
/// it; `None` when moto is missing.
fn setup(test: &str) -> Option<(Moto, tempfile::TempDir)> {
    let moto = Moto::start(test)?;
    moto.create_bucket("models");
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), None);
    plan(dir.path(), "s3://models/tagger/{{ run }}");
    Some((moto, dir))
}

/// The store's environment through `proxy`, with short retry delays.
fn env(moto: &Moto, proxy: &FaultProxy) -> Vec<(&'static str, String)> {
    let mut env = moto.env_via(&proxy.endpoint);
    env.push(("EXPORT_RETRY_DELAY", "10ms".to_owned()));
    env
}

/// A 17 MiB file in the model directory: two parts of a multipart upload.
fn large_file(dir: &Path) -> Vec<u8> {
    let bytes: Vec<u8> = (0..17 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(dir.join("workspace/out/weights.bin"), &bytes).unwrap();
    bytes
}

/// `run.json` as the export wrote it to the store.
fn run_record(moto: &Moto) -> Value {
    let key = format!("tagger/{RUN}/run.json");
    let objects = moto.objects("models", &key);
    serde_json::from_slice(&objects[&key]).expect("run.json is JSON")
}

#[test]
fn transient_faults_are_retried_within_the_retries() {
    let Some((moto, dir)) = setup("transient_faults_are_retried_within_the_retries") else {
        return;
    };
    for fault in [Fault::Reset, Fault::Unavailable, Fault::SlowDown] {
        let proxy = FaultProxy::start(
            &moto.endpoint,
            vec![Rule::new("PUT", "model.onnx", 2, fault)],
        );
        let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 2);
        assert!(
            out.status.success(),
            "{fault:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(message.error, None, "{fault:?}");
        assert_eq!(proxy.faults(), 2, "{fault:?}: {:#?}", proxy.seen());
        let stored = moto.objects("models", &format!("tagger/{RUN}/model.onnx"));
        assert_eq!(stored.values().next().unwrap(), b"not really onnx");
    }
}

#[test]
fn exhausted_retries_fail_the_export_with_the_cause() {
    let Some((moto, dir)) = setup("exhausted_retries_fail_the_export_with_the_cause") else {
        return;
    };
    for (fault, cause) in [
        (
            Fault::SlowDown,
            "SlowDown: Please reduce your request rate.",
        ),
        (Fault::Unavailable, "503"),
        (Fault::Reset, "connection closed before message completed"),
    ] {
        let proxy = FaultProxy::start(
            &moto.endpoint,
            vec![Rule::always("PUT", "model.onnx", fault)],
        );
        let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 1);
        assert_eq!(out.status.code(), Some(1), "{fault:?}");
        assert_eq!(message.run.as_deref(), Some(RUN));
        let error = message.error.unwrap();
        assert!(
            error.contains(&format!("uploading s3://models/tagger/{RUN}")),
            "{fault:?}: {error}"
        );
        assert!(
            error.contains("failed after 2 attempts"),
            "{fault:?}: {error}"
        );
        assert!(error.contains(cause), "{fault:?}: {error}");
        assert_eq!(proxy.faults(), 2, "{fault:?}");
    }
    assert!(
        moto.objects("models", &format!("tagger/{RUN}/run.json"))
            .is_empty()
    );
}

#[test]
fn an_entity_tag_that_differs_from_the_store_fails_the_verification() {
    let Some((moto, dir)) =
        setup("an_entity_tag_that_differs_from_the_store_fails_the_verification")
    else {
        return;
    };
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![Rule::new("PUT", "model.onnx", 1, Fault::CorruptETag)],
    );
    let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 1);
    assert_eq!(out.status.code(), Some(1));
    let error = message.error.unwrap();
    assert!(error.starts_with("verifying "), "{error}");
    assert!(
        error.contains("model.onnx has entity tag") && error.contains("the upload returned"),
        "{error}"
    );
    assert!(
        moto.objects("models", &format!("tagger/{RUN}/run.json"))
            .is_empty()
    );
}

#[test]
fn a_size_that_differs_from_the_upload_fails_the_verification() {
    let Some((moto, dir)) = setup("a_size_that_differs_from_the_upload_fails_the_verification")
    else {
        return;
    };
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![Rule::new("PUT", "model.onnx", 1, Fault::TruncateUpload)],
    );
    let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 1);
    assert_eq!(out.status.code(), Some(1));
    let error = message.error.unwrap();
    assert!(error.starts_with("verifying "), "{error}");
    assert!(
        error.contains("model.onnx has 7 bytes in the store, 15 were uploaded"),
        "{error}"
    );
}

#[test]
fn a_listing_cut_short_fails_the_verification() {
    let Some((moto, dir)) = setup("a_listing_cut_short_fails_the_verification") else {
        return;
    };
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![Rule::always("GET", "list-type=2", Fault::TruncateBody)],
    );
    let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 1);
    assert_eq!(out.status.code(), Some(1));
    let error = message.error.unwrap();
    assert!(error.starts_with("verifying "), "{error}");
    assert!(proxy.faults() >= 1);
}

#[test]
fn a_multipart_upload_above_16_mib_succeeds() {
    let Some((moto, dir)) = setup("a_multipart_upload_above_16_mib_succeeds") else {
        return;
    };
    let bytes = large_file(dir.path());
    let proxy = FaultProxy::start(&moto.endpoint, vec![]);
    let (out, message) = export_with_retries(dir.path(), &env(&moto, &proxy), &[], 1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(message.error, None);
    let parts = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "PUT" && s.target.contains("partNumber="))
        .count();
    assert_eq!(parts, 2, "{:#?}", proxy.seen());
    let record = run_record(&moto);
    let files = record["files"].as_array().unwrap();
    let weights = files.iter().find(|f| f["path"] == "weights.bin").unwrap();
    assert_eq!(weights["size"], bytes.len());
    assert_eq!(weights["sha256"], sha256(&bytes));
    assert!(moto.multipart_uploads("models").is_empty());
}

/// Runs the export of a 17 MiB file with `rules`; asserts that it fails
/// and leaves no multipart upload behind; returns the error and stderr.
fn failed_multipart(moto: &Moto, dir: &Path, rules: Vec<Rule>) -> (String, String) {
    large_file(dir);
    let proxy = FaultProxy::start(&moto.endpoint, rules);
    let (out, message) = export_with_retries(dir, &env(moto, &proxy), &[], 1);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let begun = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.target.contains("uploads"))
        .count();
    assert_eq!(begun, 2, "one upload per attempt: {:#?}", proxy.seen());
    (message.error.unwrap(), stderr)
}

#[test]
fn a_failed_part_aborts_the_multipart_upload() {
    let Some((moto, dir)) = setup("a_failed_part_aborts_the_multipart_upload") else {
        return;
    };
    let (error, _) = failed_multipart(
        &moto,
        dir.path(),
        vec![Rule::always("PUT", "partNumber=2", Fault::Unavailable)],
    );
    assert!(error.contains("failed after 2 attempts"), "{error}");
    assert_eq!(moto.multipart_uploads("models"), Vec::<String>::new());
}

#[test]
fn a_failed_completion_aborts_the_multipart_upload() {
    let Some((moto, dir)) = setup("a_failed_completion_aborts_the_multipart_upload") else {
        return;
    };
    let (error, _) = failed_multipart(
        &moto,
        dir.path(),
        vec![Rule::always("POST", "uploadId=", Fault::SlowDown)],
    );
    assert!(error.contains("SlowDown"), "{error}");
    assert_eq!(moto.multipart_uploads("models"), Vec::<String>::new());
}

#[test]
fn a_failed_abort_is_logged_and_the_cause_is_kept() {
    let Some((moto, dir)) = setup("a_failed_abort_is_logged_and_the_cause_is_kept") else {
        return;
    };
    let (error, stderr) = failed_multipart(
        &moto,
        dir.path(),
        vec![
            Rule::always("PUT", "partNumber=2", Fault::SlowDown),
            Rule::always("DELETE", "uploadId=", Fault::Unavailable),
        ],
    );
    assert!(error.contains("SlowDown"), "{error}");
    assert!(
        stderr.contains("aborting the multipart upload failed"),
        "{stderr}"
    );
    // The store keeps what the failed aborts could not remove.
    assert_eq!(moto.multipart_uploads("models").len(), 2);
}

/// The files in the server's cache directory.
fn cached(server: &common::Server) -> Vec<String> {
    std::fs::read_dir(server.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn an_interrupted_model_download_is_retried() {
    let Some(moto) = Moto::start("an_interrupted_model_download_is_retried") else {
        return;
    };
    let model = std::fs::read(common::model_path("digits-mlp.onnx")).unwrap();
    moto.create_bucket_with("serving", &[("digits/v1/model.onnx", &model)]);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![
            Rule::new("GET", "model.onnx", 1, Fault::TruncateBody),
            Rule::new("GET", "model.onnx", 1, Fault::Reset),
        ],
    );
    let server = common::Server::start_with_env(
        "tract",
        "s3://serving/digits/v1/model.onnx",
        &["--download-retries", "2"],
        &moto.env_via(&proxy.endpoint),
    );
    server.wait_ready().await;
    assert_eq!(proxy.faults(), 2, "{:#?}", proxy.seen());
    let files = cached(&server);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = server.cache_dir().join(&files[0]);
    assert_eq!(std::fs::read(file).unwrap(), model);
}

#[tokio::test]
async fn a_download_that_keeps_breaking_off_fails_start_up_and_leaves_no_file() {
    let Some(moto) =
        Moto::start("a_download_that_keeps_breaking_off_fails_start_up_and_leaves_no_file")
    else {
        return;
    };
    let model = std::fs::read(common::model_path("digits-mlp.onnx")).unwrap();
    moto.create_bucket_with("serving", &[("digits/v1/model.onnx", &model)]);
    let proxy = FaultProxy::start(
        &moto.endpoint,
        vec![Rule::always("GET", "model.onnx", Fault::TruncateBody)],
    );
    let server = common::Server::start_with_env(
        "tract",
        "s3://serving/digits/v1/model.onnx",
        &["--download-retries", "1"],
        &moto.env_via(&proxy.endpoint),
    );
    let body = server.wait_not_ready_with("failed after 2 attempts").await;
    assert!(body.contains("s3://serving/digits/v1/model.onnx"), "{body}");
    assert_eq!(proxy.faults(), 2);
    assert_eq!(cached(&server), Vec::<String>::new());
}
