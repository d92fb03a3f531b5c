//! The rendered training Job's containers run for real on this machine, one
//! after the other as the kubelet would: the `train` init container's
//! `start.sh` (with a tiny training command that writes a model and
//! `metrics.json` into `$MODEL_DIR`), then the `export` container's
//! `model-export` with the command, arguments and environment the Job
//! carries, into moto's S3 server on 127.0.0.1. The volumes are emulated by
//! mapping their mount paths onto a temporary directory; `envFrom` by the
//! endpoint's credentials; the field reference by the Job's name.
//!
//! Needs `model-export` built (`cargo build -p model-server --bin
//! model-export`; `cargo test --workspace` builds it) and moto installed
//! (skipped with one line otherwise, unless `MODELCTL_REQUIRE_MOTO=1`).

use crate::render_support;
#[path = "../../crates/model-server/tests/it/common/s3.rs"]
mod s3;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use render_support::render_trainee;
use s3::Moto;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `model-export` binary: `MODEL_EXPORT`, else the one beside this
/// test's build. Refuses one older than the crate's sources.
fn model_export() -> PathBuf {
    let path = std::env::var_os("MODEL_EXPORT").map_or_else(
        || {
            let exe = std::env::current_exe().unwrap();
            exe.parent().unwrap().parent().unwrap().join("model-export")
        },
        PathBuf::from,
    );
    let built = fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "no model-export at {}: run `cargo build -p model-server --bin model-export` \
                 (or set MODEL_EXPORT)",
                path.display()
            )
        });
    let newest =
        newest_source(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/model-server/src"));
    assert!(
        built >= newest,
        "{} is older than crates/model-server/src: run `cargo build -p model-server --bin model-export`",
        path.display()
    );
    path
}

fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let meta = entry.metadata().unwrap();
        let time = if meta.is_dir() {
            newest_source(&entry.path())
        } else {
            meta.modified().unwrap()
        };
        newest = newest.max(time);
    }
    newest
}

/// A container's path with the pod's mounts mapped onto `root`.
fn mapped(path: &str, root: &Path) -> String {
    for (mount, local) in [("/etc/modelctl", "config"), ("/workspace", "workspace")] {
        if let Some(rest) = path.strip_prefix(mount) {
            return format!("{}{rest}", root.join(local).display());
        }
    }
    path.to_owned()
}

/// `cmd` with the container's `env` (values, and the Job name for the
/// field reference) applied.
fn with_env(cmd: &mut Command, container: &Value, job: &str) {
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap();
        if let Some(value) = var["value"].as_str() {
            cmd.env(name, value);
        } else {
            let field = var["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap();
            assert_eq!(field, "metadata.labels['batch.kubernetes.io/job-name']");
            cmd.env(name, job);
        }
    }
}

#[test]
fn the_rendered_job_trains_then_exports_to_s3_and_records_the_run() {
    let Some(moto) = Moto::start("the_rendered_job_trains_then_exports_to_s3_and_records_the_run")
    else {
        return;
    };
    let export_binary = model_export();
    moto.create_bucket("runs");
    let manifests = render_trainee(
        "[train]\nimage = \"python:3.12-slim\"\n\
         command = [\"sh\", \"-c\", \"printf onnx-$LEARNING_RATE > $MODEL_DIR/model.onnx && printf '{\\\"loss\\\": 0.25, \\\"step\\\": 7}' > $MODEL_DIR/metrics.json\"]\n\
         output = \"s3://runs/{{ model }}/{{ run }}\"\n\
         env-from = [{ secret = \"s3-credentials\" }]\n\
         [train.sweep]\ngrid = { learning-rate = [\"0.1\", \"0.2\"] }\n"
            .to_owned(),
    );
    let job = manifests.iter().find(|m| m.kind() == "Job").unwrap();
    let config = manifests.iter().find(|m| m.kind() == "ConfigMap").unwrap();
    let job_name = job.name().to_owned();
    let pod = &job.object["spec"]["template"]["spec"];

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("config")).unwrap();
    fs::create_dir_all(root.join("workspace")).unwrap();
    for (name, text) in config.object["data"].as_object().unwrap() {
        fs::write(root.join("config").join(name), text.as_str().unwrap()).unwrap();
    }

    // The `train` init container.
    let train = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "train")
        .unwrap();
    let argv: Vec<String> = train["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| mapped(a.as_str().unwrap(), root))
        .collect();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("JOB_COMPLETION_INDEX", "1")
        .env("MODELCTL_WORKSPACE", root.join("workspace"))
        .env("MODELCTL_CONFIG_DIR", root.join("config"));
    with_env(&mut cmd, train, &job_name);
    let trained = cmd.output().unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );

    // The `export` container: its command and arguments, its environment,
    // the Secret of `env-from` standing for the endpoint's credentials.
    let export = &pod["containers"][0];
    assert_eq!(export["name"], "export");
    assert_eq!(export["terminationMessagePolicy"], "File");
    assert!(
        export["envFrom"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["secretRef"]["name"] == "s3-credentials")
    );
    assert_eq!(export["command"][0], "/usr/local/bin/model-export");
    let args: Vec<String> = export["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.split_once('=') {
                Some((flag, value)) => format!("{flag}={}", mapped(value, root)),
                None => a.to_owned(),
            }
        })
        .collect();
    let log = root.join("termination-log");
    let mut cmd = Command::new(&export_binary);
    cmd.args(&args)
        .env_clear()
        .env("JOB_COMPLETION_INDEX", "1")
        .env("TERMINATION_LOG", &log)
        .envs(moto.env());
    with_env(&mut cmd, export, &job_name);
    let exported = cmd.output().unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );

    let run = format!("{job_name}-1");
    let prefix = format!("trainee/{run}");
    let message: Value = serde_json::from_str(&fs::read_to_string(&log).unwrap()).unwrap();
    assert_eq!(
        message,
        serde_json::json!({
            "run": run,
            "output": format!("s3://runs/{prefix}"),
            "model": format!("s3://runs/{prefix}/model.onnx"),
            "params": {"learning-rate": "0.2"},
            "metrics": {"loss": 0.25, "step": 7},
        })
    );

    let objects = moto.objects("runs", &prefix);
    assert_eq!(objects[&format!("{prefix}/model.onnx")], b"onnx-0.2");
    let record: Value = serde_json::from_slice(&objects[&format!("{prefix}/run.json")]).unwrap();
    assert_eq!(record["run"], run.as_str());
    assert_eq!(record["model"], "trainee");
    assert_eq!(
        record["params"],
        serde_json::json!({"learning-rate": "0.2"})
    );
    assert_eq!(
        record["metrics"],
        serde_json::json!({"loss": 0.25, "step": 7})
    );
    assert!(record["start"].as_str().unwrap().ends_with('Z'), "{record}");
    let files: Vec<(String, String)> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let digest = |bytes: &[u8]| -> String {
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(
        files,
        [
            (
                "metrics.json".to_owned(),
                digest(br#"{"loss": 0.25, "step": 7}"#)
            ),
            ("model.onnx".to_owned(), digest(b"onnx-0.2")),
        ]
    );
}
