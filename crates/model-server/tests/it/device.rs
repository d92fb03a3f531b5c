//! `--device`: a GPU that cannot be used ends the process at start with a
//! message naming the device, the library and the reason; it never serves
//! on the CPU instead. Runs against the CPU-only ONNX Runtime of the test
//! environment, which has no CUDA execution provider.

use crate::common;
use std::process::{Command, Output};

fn start(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args([
            "--model-name=digits-mlp",
            "--port=0",
            "--host=127.0.0.1",
            "--drain=0s",
        ])
        .arg(format!(
            "--model-uri={}",
            common::model_path("digits-mlp.onnx")
        ))
        .args(args)
        .output()
        .expect("model-server starts")
}

#[test]
fn cuda_without_its_provider_fails_to_start() {
    common::require_ort("ort");
    let library = std::env::var("ORT_DYLIB_PATH").expect("checked by require_ort");
    let output = start(&["--backend=ort", "--device=cuda"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--device cuda"), "{stderr}");
    assert!(stderr.contains(&library), "{stderr}");
    assert!(stderr.contains("no CUDA execution provider"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn tract_on_cuda_is_rejected_at_start() {
    let output = start(&["--backend=tract", "--device=cuda"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--backend tract cannot run on --device cuda"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn cuda_with_a_missing_library_names_the_path() {
    let output = Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args([
            "--model-name=digits-mlp",
            "--model-uri=/nonexistent.onnx",
            "--port=0",
            "--device=cuda",
            "--ort-dylib-path=/nonexistent/libonnxruntime.so",
        ])
        .output()
        .expect("model-server starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so"),
        "{stderr}"
    );
}
