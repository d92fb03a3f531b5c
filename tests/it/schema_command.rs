//! `modelctl schema`: writes `schemas/`, and `--check` exits 1 with a diff
//! when the files are stale or missing.

use std::path::Path;
use std::process::Command;

fn schema(dir: &Path, check: bool) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelctl"));
    cmd.arg("-C").arg(dir).arg("schema");
    if check {
        cmd.arg("--check");
    }
    let out = cmd.output().expect("modelctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_fails_when_missing_then_passes_after_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, out, err) = schema(dir.path(), true);
    assert_eq!(code, 1);
    assert!(out.contains("+++ b/schemas/model.schema.json"), "{out}");
    assert!(
        err.contains("2 schema file(s) in schemas/ are stale"),
        "{err}"
    );

    let (code, _, err) = schema(dir.path(), false);
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("schemas/config.schema.json").is_file());

    let (code, out, _) = schema(dir.path(), true);
    assert_eq!(code, 0);
    assert!(out.is_empty());
}

#[test]
fn check_shows_a_diff_of_a_hand_edit() {
    let dir = tempfile::tempdir().expect("temp dir");
    schema(dir.path(), false);
    let path = dir.path().join("schemas/model.schema.json");
    let text = std::fs::read_to_string(&path).expect("schema");
    std::fs::write(&path, text.replacen("\"title\"", "\"tytle\"", 1)).expect("edit");
    let (code, out, _) = schema(dir.path(), true);
    assert_eq!(code, 1);
    assert!(
        out.contains("-  \"tytle\"") && out.contains("+  \"title\""),
        "{out}"
    );
}
