//! A reader that stops early (`modelctl schema --reference | head -1`) ends
//! modelctl quietly with exit 0, never with a panic about a broken pipe.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "schema", "--reference"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running modelctl");
    // Close the reading end before modelctl writes its page of markdown.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waiting for modelctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
