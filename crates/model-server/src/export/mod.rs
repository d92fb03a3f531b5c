//! `model-export`: the main container of a training Job. After the training
//! init container has written the model into `$MODEL_DIR` (an emptyDir the
//! two share), it uploads every file to the run's output through
//! `object_store`, verifies what it wrote, writes `run.json` beside the
//! model, and leaves a compact report ([`ExportReport`]) as its termination message.
//!
//! Owns the order of those steps and the exit status: 0 exported (or, with
//! no output configured, recorded), 1 failed (the reason also in the
//! termination message), 2 a usage error.

pub mod plan;
pub mod record;
pub mod upload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use clap::Parser;
use modelctl_spec::ExportReport;
use url::Url;

use crate::config::LogFormat;
use plan::{Plan, Run};
use record::{METRICS_FILE, RUN_FILE, RunRecord};
use upload::{Uploaded, Uploader};

/// Export a trained model from $MODEL_DIR to the run's output and record the run.
#[derive(Debug, Clone, Parser)]
#[command(name = "model-export", version, about)]
pub struct ExportConfig {
    /// The export plan modelctl renders into the training ConfigMap.
    #[arg(
        long,
        env = "MODELCTL_EXPORT_PLAN",
        default_value = "/etc/modelctl/export.json"
    )]
    pub plan: PathBuf,

    /// The directory the training wrote the model into.
    #[arg(long, env = "MODEL_DIR", default_value = "/workspace/out")]
    pub model_dir: PathBuf,

    /// The training pod's workspace (start time and the code's checkout).
    #[arg(long, env = "MODELCTL_WORKSPACE", default_value = "/workspace")]
    pub workspace: PathBuf,

    /// The run: the Job's name (a sweep adds `-<index>`).
    #[arg(long, env = "MODELCTL_RUN")]
    pub run: String,

    /// The completion index of an Indexed Job (set by Kubernetes).
    #[arg(long, env = "JOB_COMPLETION_INDEX")]
    pub index: Option<String>,

    /// Where the report is written for the pod status.
    #[arg(long, env = "TERMINATION_LOG", default_value = "/dev/termination-log")]
    pub termination_log: PathBuf,

    /// Retries with exponential backoff and jitter on transient upload errors, per file.
    #[arg(long, env = "EXPORT_RETRIES", default_value_t = 5)]
    pub retries: usize,

    /// The first retry's delay; later ones double it (tests shorten it).
    #[arg(long, env = "EXPORT_RETRY_DELAY", default_value = "500ms", value_parser = humantime::parse_duration, hide = true)]
    pub retry_delay: Duration,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Entry point of the `model-export` binary.
pub fn main() -> ExitCode {
    let config = ExportConfig::parse();
    crate::logging::init(config.log_format);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    let (run, result) = runtime.block_on(export(&config));
    let (message, code) = match result {
        Ok(report) => (report.to_message(), ExitCode::SUCCESS),
        Err(error) => {
            tracing::error!(run = %run, error = %error, "export failed");
            (
                ExportReport::failure(&run, &error).to_message(),
                ExitCode::from(1),
            )
        }
    };
    if let Err(e) = std::fs::write(&config.termination_log, &message) {
        tracing::warn!(path = %config.termination_log.display(), error = %e, "cannot write the termination message");
    }
    code
}

/// Runs the export; returns the run name (for the failure message) and the
/// report, or the error as one line.
pub async fn export(config: &ExportConfig) -> (String, Result<ExportReport, String>) {
    let plan = match std::fs::read_to_string(&config.plan)
        .map_err(|e| e.to_string())
        .and_then(|text| Plan::parse(&text))
    {
        Ok(plan) => plan,
        Err(e) => {
            return (
                config.run.clone(),
                Err(format!("reading the plan {}: {e}", config.plan.display())),
            );
        }
    };
    let run = match plan.run(&config.run, config.index.as_deref()) {
        Ok(run) => run,
        Err(e) => return (config.run.clone(), Err(e)),
    };
    let name = run.name.clone();
    match plan.exports(config.index.as_deref()) {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(run = %name, worker = ?config.index, "worker 0 of this multi-node run exports the model; this worker has nothing to upload");
            return (
                name.clone(),
                Ok(ExportReport {
                    run: Some(name),
                    ..ExportReport::default()
                }),
            );
        }
        Err(e) => return (name, Err(e)),
    }
    (name, export_run(config, &plan, run).await)
}

async fn export_run(config: &ExportConfig, plan: &Plan, run: Run) -> Result<ExportReport, String> {
    let (metrics, metrics_error) = match record::read_metrics(&config.model_dir) {
        Ok(metrics) => (metrics.unwrap_or_default(), None),
        Err(e) => {
            tracing::error!(error = %e, "metrics are not recorded; {METRICS_FILE} must be a flat JSON object of numbers");
            (BTreeMap::new(), Some(e))
        }
    };
    let Some(output) = run.output.clone() else {
        tracing::info!(run = %run.name, "no output configured: the run is recorded, nothing is uploaded");
        return Ok(ExportReport {
            run: Some(run.name),
            params: Some(run.params),
            metrics: Some(metrics),
            ..ExportReport::default()
        });
    };
    let (uploader, uploaded) = upload_model(config, &output).await?;
    let mut code = plan.code.clone();
    if let Some(code) = code.as_mut() {
        code.commit = checkout_commit(&config.workspace.join("code"));
    }
    let start = read_start(&config.workspace);
    let end = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let record = RunRecord {
        model: &plan.model,
        run: &run.name,
        index: run.index,
        params: &run.params,
        code: code.as_ref(),
        output: &output,
        start: start.as_deref(),
        end: &end,
        files: &uploaded,
        metrics: &metrics,
        metrics_error: metrics_error.as_deref(),
    };
    let mut text = serde_json::to_vec_pretty(&record).expect("the record serializes");
    text.push(b'\n');
    uploader
        .put_bytes(RUN_FILE, Bytes::from(text))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(run = %run.name, output = %output, files = uploaded.len(), "exported");
    Ok(ExportReport {
        model: record::single_onnx(&output, &uploaded),
        run: Some(run.name),
        output: Some(output),
        params: Some(run.params),
        metrics: Some(metrics),
        ..ExportReport::default()
    })
}

/// Uploads every file of the model directory (but a `run.json` of its
/// own) to `output` and verifies what was written; returns the uploader,
/// for the run record, and the files.
async fn upload_model(
    config: &ExportConfig,
    output: &str,
) -> Result<(Uploader, Vec<Uploaded>), String> {
    let mut files = upload::list_files(&config.model_dir).map_err(|e| e.to_string())?;
    if files.iter().any(|f| f == RUN_FILE) {
        tracing::warn!("{RUN_FILE} in the model directory is replaced by the run record");
        files.retain(|f| f != RUN_FILE);
    }
    if files.is_empty() {
        return Err(upload::UploadError::Empty {
            dir: config.model_dir.clone(),
        }
        .to_string());
    }
    let url = output_url(output)?;
    let (store, prefix) =
        crate::store::open(&url).map_err(|e| format!("output `{output}`: {e}"))?;
    let uploader = Uploader {
        store,
        prefix,
        uri: output.to_owned(),
        retries: config.retries,
        min_delay: config.retry_delay,
    };
    let mut uploaded: Vec<Uploaded> = Vec::with_capacity(files.len());
    for file in &files {
        let done = uploader
            .upload_file(&config.model_dir, file)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(file = %done.path, bytes = done.size, sha256 = %done.sha256, "uploaded");
        uploaded.push(done);
    }
    uploader
        .verify(&uploaded)
        .await
        .map_err(|e| e.to_string())?;
    Ok((uploader, uploaded))
}

/// The output as a URL; a plain absolute path is a `file://` URL.
fn output_url(output: &str) -> Result<Url, String> {
    if output.starts_with('/') {
        return Url::from_directory_path(output)
            .map_err(|()| format!("output `{output}` is not an absolute path"));
    }
    Url::parse(output).map_err(|e| format!("output `{output}` is not a URI: {e}"))
}

/// The time the training step started, as `start.sh` recorded it.
fn read_start(workspace: &Path) -> Option<String> {
    let text = std::fs::read_to_string(workspace.join(".modelctl/started")).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The commit a Git checkout is on, read from `.git` without running git.
fn checkout_commit(checkout: &Path) -> Option<String> {
    let git = checkout.join(".git");
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let is_commit = |s: &str| s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let Some(reference) = head.strip_prefix("ref: ") else {
        return is_commit(head).then(|| head.to_owned());
    };
    if let Ok(commit) = std::fs::read_to_string(git.join(reference)) {
        let commit = commit.trim();
        return is_commit(commit).then(|| commit.to_owned());
    }
    let packed = std::fs::read_to_string(git.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (commit, name) = line.split_once(' ')?;
        (name == reference && is_commit(commit)).then(|| commit.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_is_read_from_a_detached_head_a_ref_or_packed_refs() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        let sha = "4f2c9e1aa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";
        std::fs::write(git.join("HEAD"), format!("{sha}\n")).unwrap();
        assert_eq!(checkout_commit(dir.path()).as_deref(), Some(sha));
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(
            git.join("packed-refs"),
            format!("# pack-refs\n{sha} refs/heads/main\n"),
        )
        .unwrap();
        assert_eq!(checkout_commit(dir.path()).as_deref(), Some(sha));
        std::fs::write(git.join("refs/heads/main"), format!("{}\n", "a".repeat(40))).unwrap();
        assert_eq!(checkout_commit(dir.path()), Some("a".repeat(40)));
        assert_eq!(checkout_commit(&dir.path().join("none")), None);
    }

    #[test]
    fn plain_paths_are_file_urls() {
        assert_eq!(output_url("/runs/r1").unwrap().as_str(), "file:///runs/r1/");
        assert_eq!(output_url("s3://b/r1").unwrap().as_str(), "s3://b/r1");
    }
}
