//! The generated `start.sh` run for real by `sh`, moved into a temporary
//! workspace with `MODELCTL_WORKSPACE` and `MODELCTL_CONFIG_DIR`: steps run in
//! order, a sweep index gets its parameters, the model stays in `MODEL_DIR`
//! for the `export` container (tests/it/train_export_job.rs runs both), placed
//! code (cloned or extracted) is not installed again, and a failing step is named.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::render_support;

use render_support::render_trainee;

/// Renders a one-model repo whose `[train]` table is `train`, writes the
/// training ConfigMap's files to `dir/config`, and returns their names.
fn write_config(dir: &Path, train: &str) -> Vec<String> {
    let manifests = render_trainee(format!("[train]\nimage = \"python:3.12-slim\"\n{train}"));
    let cm = manifests
        .iter()
        .find(|m| m.kind() == "ConfigMap")
        .expect("a ConfigMap");
    let data = cm.object["data"].as_object().unwrap();
    fs::create_dir_all(dir.join("config")).unwrap();
    for (name, text) in data {
        fs::write(dir.join("config").join(name), text.as_str().unwrap()).unwrap();
    }
    data.keys().cloned().collect()
}

fn run_start(dir: &Path, index: Option<u32>) -> Output {
    let mut command = Command::new("sh");
    command
        .arg(dir.join("config/start.sh"))
        .env("MODELCTL_WORKSPACE", dir.join("workspace"))
        .env("MODELCTL_CONFIG_DIR", dir.join("config"))
        .env("MODELCTL_RUN", "trainee-train-0123abcd")
        .env_remove("MODEL_DIR")
        .env_remove("MODEL_OUTPUT");
    if let Some(index) = index {
        command.env("JOB_COMPLETION_INDEX", index.to_string());
    }
    fs::create_dir_all(dir.join("workspace")).unwrap();
    command.output().expect("sh runs")
}

#[test]
fn a_sweep_index_trains_with_its_parameters_and_leaves_the_model_for_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let files = write_config(
        tmp.path(),
        "command = [\"sh\", \"-c\", \"echo lr=$LEARNING_RATE bs=$BATCH_SIZE out=$MODEL_OUTPUT > $MODEL_DIR/model.txt\"]\n\
         evaluate = [\"sh\", \"-c\", \"test -s $MODEL_DIR/model.txt\"]\n\
         output = \"s3://models/{{ run }}\"\n\
         [train.sweep]\ngrid = { learning-rate = [\"0.1\", \"0.2\"], batch-size = [\"8\", \"16\"] }\n",
    );
    assert!(files.contains(&"sweep-3.env".to_owned()), "{files:?}");
    assert!(files.contains(&"export.json".to_owned()), "{files:?}");

    let out = run_start(tmp.path(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Index 1 of batch-size × learning-rate, the last parameter fastest; the
    // code sees the output, and the model stays in MODEL_DIR for `export`.
    let model = fs::read_to_string(tmp.path().join("workspace/out/model.txt")).unwrap();
    assert_eq!(
        model,
        "lr=0.2 bs=8 out=s3://models/trainee-train-0123abcd-1\n"
    );
    let started = fs::read_to_string(tmp.path().join("workspace/.modelctl/started")).unwrap();
    assert!(started.trim_end().ends_with('Z'), "{started}");
    let steps: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("modelctl: step "))
        .collect();
    assert_eq!(
        steps,
        [
            "modelctl: step parameters",
            "modelctl: step train",
            "modelctl: step evaluate"
        ]
    );
    assert!(stderr.contains("the model is in"), "{stderr}");
}

#[test]
fn an_index_outside_the_grid_fails_in_the_parameters_step() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        "command = [\"true\"]\n[train.sweep]\ngrid = { seed = [\"1\", \"2\"] }\n",
    );
    let out = run_start(tmp.path(), Some(7));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("index 7 is not in"), "{stderr}");
    assert!(
        stderr.contains("modelctl: step parameters failed with exit code 1"),
        "{stderr}"
    );
}

#[test]
fn a_failing_step_is_named_with_its_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        "command = [\"sh\", \"-c\", \"echo trained\"]\nevaluate = [\"sh\", \"-c\", \"exit 3\"]\n",
    );
    let out = run_start(tmp.path(), None);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("modelctl: step evaluate failed with exit code 3"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "trained\n");
}

#[test]
fn code_placed_by_the_init_container_is_not_installed_again() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        "code = { git = \"https://git.invalid/none.git\", rev = \"main\", dir = \"src\" }\n\
         command = [\"sh\", \"-c\", \"pwd\"]\n",
    );
    fs::create_dir_all(tmp.path().join("workspace/code/.git")).unwrap();
    fs::create_dir_all(tmp.path().join("workspace/code/src")).unwrap();
    let out = run_start(tmp.path(), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("code already in"), "{stderr}");
    let pwd = String::from_utf8_lossy(&out.stdout);
    assert!(pwd.trim_end().ends_with("workspace/code/src"), "{pwd}");
}

#[test]
fn an_archive_placed_by_the_init_container_is_not_downloaded_again() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        "code = { archive = \"https://code.invalid/none.tar.gz\", dir = \"none-1.0\" }\n\
         command = [\"sh\", \"-c\", \"pwd\"]\n",
    );
    fs::create_dir_all(tmp.path().join("workspace/code/none-1.0")).unwrap();
    let out = run_start(tmp.path(), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("code already in"), "{stderr}");
    assert!(!stderr.contains("downloading"), "{stderr}");
    let pwd = String::from_utf8_lossy(&out.stdout);
    assert!(pwd.trim_end().ends_with("workspace/code/none-1.0"), "{pwd}");
}

#[test]
fn arguments_reach_the_command_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        "command = [\"printf\", \"%s|\", \"it's\", \"$HOME\", \"a b\", \"\"]\n",
    );
    let out = run_start(tmp.path(), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "it's|$HOME|a b||");
}
