//! `modelctl validate` over every fixture: each valid fixture passes; each
//! invalid fixture exits 1 with a frame at the line and column its
//! `# expect: LINE:COL` header names, and its whole output is pinned by a
//! snapshot (`tests/it/snapshots/it__validate_fixtures__<fixture>.snap`).
//!
//! Fixture headers: `# rule:` says which rule the file breaks; `# with: FILE`
//! adds another spec to the run (for rules across files); `# config: FILE`
//! checks it against another `modelctl.toml` than `valid/modelctl.toml`;
//! files named `config-*.toml` are checked as `modelctl.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs `modelctl validate ARGS` in `tests/fixtures`; (exit code, stdout, stderr).
fn validate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .arg("validate")
        .args(args)
        .current_dir(fixtures())
        .env("NO_COLOR", "1")
        .env_remove("MODELCTL_ROOT")
        .output()
        .expect("modelctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn invalid_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("invalid"))
        .expect("invalid fixtures")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(str::trim)
}

/// The arguments that check one invalid fixture.
fn args_for(file: &str) -> Vec<String> {
    let rel = format!("invalid/{file}");
    let bytes = std::fs::read(fixtures().join(&rel)).expect("fixture");
    let text = String::from_utf8_lossy(&bytes);
    if file.starts_with("config-") {
        return vec!["--config".into(), rel, "valid/serve-minimal.toml".into()];
    }
    let config = header(&text, "config").unwrap_or("valid/modelctl.toml");
    let mut args = vec!["--config".to_owned(), config.to_owned()];
    args.extend(header(&text, "with").map(str::to_owned));
    args.push(rel);
    args
}

#[test]
fn valid_fixtures_pass() {
    let mut args = vec!["--config".to_owned(), "valid/modelctl.toml".to_owned()];
    for e in std::fs::read_dir(fixtures().join("valid")).expect("valid fixtures") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") && name != "modelctl.toml" {
            args.push(format!("valid/{name}"));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = validate(&args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn there_are_at_least_thirty_invalid_fixtures() {
    assert!(invalid_fixtures().len() >= 30);
}

#[test]
fn invalid_fixtures_fail_at_the_expected_position() {
    let mut failures = Vec::new();
    for file in invalid_fixtures() {
        let args = args_for(&file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = validate(&args);
        let bytes = std::fs::read(fixtures().join("invalid").join(&file)).expect("fixture");
        let text = String::from_utf8_lossy(&bytes);
        let at = header(&text, "expect").map_or_else(
            || format!("invalid/{file}:1:"),
            |pos| format!("invalid/{file}:{pos}"),
        );
        if code != 1 || !err.contains(&format!("--> {at}")) || !out.is_empty() {
            failures.push(format!(
                "{file}: exit {code}, wanted a frame at {at}\n{err}"
            ));
        }
        let stem = file.trim_end_matches(".toml");
        insta::assert_snapshot!(stem, err);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_format_lists_every_diagnostic() {
    let (code, out, err) = validate(&[
        "--config",
        "valid/modelctl.toml",
        "--format",
        "json",
        "invalid/several-errors.toml",
    ]);
    assert_eq!(code, 1);
    assert!(err.is_empty(), "{err}");
    insta::assert_snapshot!("several-errors-json", out);
}

#[test]
fn github_format_annotates_each_error() {
    let (code, out, _) = validate(&[
        "--config",
        "valid/modelctl.toml",
        "--format",
        "github",
        "invalid/several-errors.toml",
        "invalid/unknown-environment.toml",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.lines().all(|l| l.starts_with("::error file=invalid/")),
        "{out}"
    );
    insta::assert_snapshot!("several-errors-github", out);
}

#[test]
fn errors_across_files_are_reported_together() {
    let (code, _, err) = validate(&[
        "--config",
        "invalid/config-unknown-key.toml",
        "invalid/several-errors.toml",
        "invalid/replicas-min-exceeds-max.toml",
        "valid/train-minimal.toml",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--> invalid/config-unknown-key.toml:8:1"),
        "{err}"
    );
    assert!(
        err.contains("--> invalid/several-errors.toml:15:45"),
        "{err}"
    );
    assert!(
        err.contains("--> invalid/replicas-min-exceeds-max.toml:6:20"),
        "{err}"
    );
    assert!(err.ends_with("error: 7 errors in 3 files\n"), "{err}");
}

#[test]
fn a_directory_is_an_io_error() {
    let (code, _, err) = validate(&["--config", "valid/modelctl.toml", "valid"]);
    assert_eq!(code, 2);
    assert!(err.contains("`valid` is a directory"), "{err}");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let (code, _, err) = validate(&["--config", "valid/modelctl.toml", "no-such-spec.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read `no-such-spec.toml`"), "{err}");
}
