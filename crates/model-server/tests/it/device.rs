//! `--device`: a GPU that cannot be used ends the process at start with a
//! message naming the device, the library and the reason; it never serves
//! on the CPU instead. Runs against the CPU-only ONNX Runtime of the test
//! environment, which has no CUDA execution provider, and, where
//! `ORT_GPU_DYLIB_PATH` names the `libonnxruntime.so` of the onnxruntime-gpu
//! wheel of `ci/requirements-gpu.txt` (its CUDA and cuDNN wheels beside it
//! under `site-packages/nvidia/`), against that build on a machine without a
//! GPU: a missing CUDA library, no driver, and a driver that sees no device
//! (a stand-in `libcuda.so.1`, `tests/fixtures/no-device-driver/`).

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// The onnxruntime-gpu library and the folders of the CUDA and cuDNN
/// libraries its provider loads; `None` (after one line on stderr) when
/// `ORT_GPU_DYLIB_PATH` is not set.
fn gpu_build(test: &str) -> Option<(PathBuf, Vec<PathBuf>)> {
    let Some(dylib) = std::env::var_os("ORT_GPU_DYLIB_PATH").map(PathBuf::from) else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "skipping {test}: ORT_GPU_DYLIB_PATH is not set (the libonnxruntime.so of \
                 ci/requirements-gpu.txt's onnxruntime-gpu)\n"
            )
            .as_bytes(),
        );
        return None;
    };
    let site_packages = dylib.ancestors().nth(3).expect("…/onnxruntime/capi/lib");
    let cuda_libs: Vec<PathBuf> = std::fs::read_dir(site_packages.join("nvidia"))
        .expect("the CUDA wheels beside onnxruntime-gpu (site-packages/nvidia)")
        .map(|entry| entry.unwrap().path().join("lib"))
        .filter(|lib| lib.is_dir())
        .collect();
    assert!(!cuda_libs.is_empty(), "no site-packages/nvidia/*/lib");
    Some((dylib, cuda_libs))
}

/// Starts model-server on `--device cuda` with `library_path` as
/// `LD_LIBRARY_PATH` and waits up to a minute for it to exit; one that is
/// still running then (up, never ready) is killed and the test fails.
fn start_cuda(dylib: &Path, library_path: &[PathBuf]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args([
            "--model-name=digits-mlp",
            "--port=0",
            "--grpc-port=0",
            "--host=127.0.0.1",
            "--drain=0s",
            "--backend=ort",
            "--device=cuda",
        ])
        .arg(format!(
            "--model-uri={}",
            common::model_path("digits-mlp.onnx")
        ))
        .env("ORT_DYLIB_PATH", dylib)
        .env(
            "LD_LIBRARY_PATH",
            std::env::join_paths(library_path).unwrap(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("model-server starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "model-server still running after 60 s on a device it cannot use:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_fails_naming(code: Option<i32>, stderr: &str, dylib: &Path, reason: &str) {
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--device cuda"), "{stderr}");
    assert!(stderr.contains(dylib.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains(reason), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// A machine with an NVIDIA driver has the real `libcuda.so.1`, which the
/// no-driver case cannot take away.
fn has_driver() -> bool {
    Path::new("/dev/nvidiactl").exists()
}

#[test]
fn gpu_build_without_the_cuda_libraries_fails_to_start() {
    let Some((dylib, _)) = gpu_build("gpu_build_without_the_cuda_libraries_fails_to_start") else {
        return;
    };
    let (code, stderr) = start_cuda(&dylib, &[]);
    assert_fails_naming(code, &stderr, &dylib, "cannot open shared object file");
}

#[test]
fn gpu_build_without_a_driver_fails_to_start() {
    let Some((dylib, cuda_libs)) = gpu_build("gpu_build_without_a_driver_fails_to_start") else {
        return;
    };
    if has_driver() {
        return;
    }
    let (code, stderr) = start_cuda(&dylib, &cuda_libs);
    assert_fails_naming(code, &stderr, &dylib, "libcuda.so.1");
}

/// The provider registers (the driver library loads) and fails only when a
/// session asks it for a device: the start-up check must create one.
#[test]
fn gpu_build_with_a_driver_that_sees_no_device_fails_to_start() {
    let Some((dylib, cuda_libs)) =
        gpu_build("gpu_build_with_a_driver_that_sees_no_device_fails_to_start")
    else {
        return;
    };
    if has_driver() {
        return;
    }
    let driver = tempfile::tempdir().unwrap();
    let source = common::models_dir().join("../no-device-driver/libcuda.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(driver.path().join("libcuda.so.1"))
        .arg(&source)
        .status()
        .expect("cc (a C compiler) builds the stand-in driver");
    assert!(status.success(), "cc {}", source.display());
    let mut library_path = vec![driver.path().to_path_buf()];
    library_path.extend(cuda_libs);
    let (code, stderr) = start_cuda(&dylib, &library_path);
    assert_fails_naming(code, &stderr, &dylib, "no CUDA-capable device is detected");
}
