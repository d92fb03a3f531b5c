//! `modelctl validate` on input that is not a spec at all: huge, binary,
//! empty, deeply nested, a directory. Each gets a clear error naming the
//! file, never a panic.

use std::path::Path;
use std::process::Command;

/// Runs `modelctl -C DIR validate ARGS`; (exit code, stderr).
fn validate(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .arg("-C")
        .arg(dir)
        .arg("validate")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("modelctl runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("models")).expect("models/");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/modelctl.toml"),
        dir.path().join("modelctl.toml"),
    )
    .expect("config");
    std::fs::write(dir.path().join("models").join(name), bytes).expect("spec");
    dir
}

#[test]
fn ten_megabyte_file_is_refused() {
    let big = "# padding\n".repeat(1024 * 1024);
    let dir = repo_with("big.toml", big.as_bytes());
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: `models/big.toml` is larger than 1024 KiB"),
        "{err}"
    );
}

#[test]
fn binary_file_is_refused() {
    let dir = repo_with("blob.toml", b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--> models/blob.toml:1:"), "{err}");
}

#[test]
fn file_with_nul_bytes_is_binary() {
    let dir = repo_with("nul.toml", b"[serve]\nmodel = \"a\0b\"\n");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: the file is binary, not TOML\n --> models/nul.toml:2:11"),
        "{err}"
    );
}

#[test]
fn empty_file_has_no_sections() {
    let dir = repo_with("empty.toml", b"");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "error: the spec has neither `[train]` nor `[serve]`\n --> models/empty.toml:1:1"
        ),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("[serve]\nmodel = {}\n", "[".repeat(1_000_000));
    let dir = repo_with("deep.toml", text.as_bytes());
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("nested more than 32 levels deep\n --> models/deep.toml:2:41"),
        "{err}"
    );
}

#[test]
fn directory_named_like_a_spec_is_an_io_error() {
    let dir = repo_with("ok.toml", b"[serve]\nmodel = \"m.onnx\"\n");
    std::fs::create_dir(dir.path().join("models/dir.toml")).expect("dir");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: `models/dir.toml` is a directory"),
        "{err}"
    );
}

#[test]
fn missing_models_directory_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read `modelctl.toml`"), "{err}");
    assert!(err.contains("cannot list `models/`"), "{err}");
}

#[test]
fn valid_repository_exits_zero() {
    let dir = repo_with("ok.toml", b"[serve]\nmodel = \"m.onnx\"\n");
    let (code, err) = validate(dir.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "ok: modelctl.toml and 1 model spec are valid\n");
}
