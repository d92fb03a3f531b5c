//! `modelctl diff --base REV`: renders a Git revision and the work tree and
//! reports exactly the objects a spec change touched, in text, markdown and
//! JSON, with exit codes 0 (same), 1 (differ), 2 (error).

use crate::render_support;

use std::fs;
use std::path::Path;
use std::process::Command;

use render_support::{code, copy_repo, example_root, modelctl};
use serde_json::Value;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// A Git repository holding the example repo, committed once.
fn committed_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), dir.path());
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "example"]);
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has {from}");
    fs::write(&path, text.replace(from, to)).unwrap();
}

fn json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = modelctl(dir, args);
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (code(&out), value)
}

fn touched(report: &Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c["env"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c["change"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn an_unchanged_work_tree_exits_0() {
    let repo = committed_example();
    let out = modelctl(repo.path(), &["diff", "--base", "HEAD"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("0 added, 0 removed, 0 changed"), "{stdout}");
}

#[test]
fn a_serving_change_touches_only_that_deployment() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "warmup = 4",
        "warmup = 8",
    );
    let (code, report) = json(repo.path(), &["diff", "--base", "HEAD", "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(
        touched(&report),
        vec![
            "production Deployment digits changed",
            "staging Deployment digits changed",
        ]
    );
    let diff = report["changes"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-        - --warmup=4\n+        - --warmup=8\n"),
        "{diff}"
    );
    assert_eq!(report["changes"][0]["model"], "digits");
    assert_eq!(report["changes"][0]["source"], "models/digits.toml");
    assert_eq!(report["summary"]["changed"], 2);
}

#[test]
fn an_environment_override_touches_only_that_environment() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/ads-bidding.toml",
        "serve.replicas = 2",
        "serve.replicas = 3",
    );
    let (code, report) = json(repo.path(), &["diff", "--base", "HEAD", "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(
        touched(&report),
        vec!["staging Deployment ads-bidding changed"]
    );

    let (code, report) = json(
        repo.path(),
        &[
            "diff",
            "--base",
            "HEAD",
            "--env",
            "production",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0);
    assert!(touched(&report).is_empty());
}

#[test]
fn a_training_change_replaces_the_job_and_its_configmap() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "timeout = \"30m\"",
        "timeout = \"45m\"",
    );
    let (_, report) = json(
        repo.path(),
        &[
            "diff",
            "--base",
            "HEAD",
            "--format",
            "json",
            "--env",
            "production",
        ],
    );
    let touched = touched(&report);
    assert_eq!(touched.len(), 4, "{touched:?}");
    assert_eq!(touched.iter().filter(|t| t.ends_with(" added")).count(), 2);
    assert_eq!(
        touched.iter().filter(|t| t.ends_with(" removed")).count(),
        2
    );
    assert!(touched.iter().all(|t| t.contains("digits-train-")));
}

#[test]
fn deleting_a_model_removes_its_objects() {
    let repo = committed_example();
    fs::remove_file(repo.path().join("models/ads-bidding.toml")).unwrap();
    let (code, report) = json(
        repo.path(),
        &[
            "diff",
            "--base",
            "HEAD",
            "--format",
            "json",
            "--env",
            "production",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        touched(&report),
        vec![
            "production Deployment ads-bidding removed",
            "production HTTPRoute ads-bidding removed",
            "production PodDisruptionBudget ads-bidding removed",
            "production PodMonitor ads-bidding removed",
            "production Service ads-bidding removed",
        ]
    );
}

#[test]
fn markdown_is_a_pull_request_comment() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "warmup = 4",
        "warmup = 8",
    );
    let out = modelctl(
        repo.path(),
        &["diff", "--base", "HEAD", "--format", "markdown"],
    );
    assert_eq!(code(&out), 1);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("### modelctl diff: `HEAD` → `work tree`\n"),
        "{md}"
    );
    assert!(
        md.contains("| production | `Deployment ml/digits` | digits | changed |"),
        "{md}"
    );
    assert!(md.contains("```diff\n--- HEAD\n+++ work tree\n"), "{md}");
    assert!(md.contains("<details>"), "{md}");
}

#[test]
fn the_work_tree_and_index_are_left_alone() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "warmup = 4",
        "warmup = 8",
    );
    let before = fs::read(repo.path().join("models/digits.toml")).unwrap();
    let status = |dir: &Path| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["status", "--porcelain"])
            .output()
            .unwrap()
            .stdout
    };
    let git_before = status(repo.path());
    modelctl(repo.path(), &["diff", "--base", "HEAD"]);
    assert_eq!(
        before,
        fs::read(repo.path().join("models/digits.toml")).unwrap()
    );
    assert_eq!(git_before, status(repo.path()));
}

#[test]
fn an_unknown_revision_exits_2() {
    let repo = committed_example();
    let out = modelctl(repo.path(), &["diff", "--base", "no-such-branch"]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`no-such-branch` is not a commit"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_work_tree_exits_2() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "replicas = 2",
        "replicas = \"two\"",
    );
    let out = modelctl(repo.path(), &["diff", "--base", "HEAD"]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("work tree are invalid"), "{stderr}");
    assert!(stderr.contains("models/digits.toml"), "{stderr}");
}

#[test]
fn a_repo_in_a_subdirectory_reads_the_base_from_that_subdirectory() {
    let top = tempfile::tempdir().unwrap();
    let sub = top.path().join("deploy/ml");
    copy_repo(&example_root(), &sub);
    git(top.path(), &["init", "--quiet"]);
    git(top.path(), &["add", "."]);
    git(top.path(), &["commit", "--quiet", "-m", "example"]);
    fs::remove_file(sub.join("models/translation.toml")).unwrap();
    let (code, report) = json(
        &sub,
        &[
            "diff", "--base", "HEAD", "--format", "json", "--env", "staging",
        ],
    );
    assert_eq!(code, 1);
    let touched = touched(&report);
    assert!(!touched.is_empty());
    assert!(
        touched
            .iter()
            .all(|t| t.contains("translation") && t.ends_with("removed")),
        "{touched:?}"
    );
}

#[test]
fn markdown_of_a_serving_change() {
    let repo = committed_example();
    edit(
        repo.path(),
        "models/digits.toml",
        "warmup = 4",
        "warmup = 8",
    );
    edit(
        repo.path(),
        "models/digits.toml",
        "replicas = 2",
        "replicas = 3",
    );
    let out = modelctl(
        repo.path(),
        &[
            "diff",
            "--base",
            "HEAD",
            "--env",
            "production",
            "--format",
            "markdown",
        ],
    );
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!("diff_base_markdown", String::from_utf8(out.stdout).unwrap());
}

#[test]
fn text_of_a_removed_model() {
    let repo = committed_example();
    fs::remove_file(repo.path().join("models/ads-bidding.toml")).unwrap();
    let out = modelctl(repo.path(), &["diff", "--base", "HEAD", "--env", "staging"]);
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!("diff_base_text", String::from_utf8(out.stdout).unwrap());
}

#[test]
fn outside_a_git_repository_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), dir.path());
    let out = modelctl(dir.path(), &["diff", "--base", "HEAD"]);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not inside a Git repository"),
        "{stderr}"
    );
}
