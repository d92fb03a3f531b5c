//! `model-server`: downloads one ONNX model, loads it with ONNX Runtime or
//! tract, warms it up and serves it over the Open Inference Protocol
//! (KServe V2), over HTTP and gRPC, and TF Serving's `:predict`, with
//! dynamic batching, a
//! precompute cache, Prometheus metrics and graceful shutdown.

pub mod admission;
pub mod backend;
pub mod batcher;
pub mod cache;
pub mod config;
pub mod download;
pub mod export;
pub mod grpc;
pub mod http;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod server;
pub mod state;
pub mod store;
pub mod tensor;

use std::process::ExitCode;

use clap::Parser;

/// Entry point of the `model-server` binary.
pub fn main() -> ExitCode {
    let config = config::Config::parse().with_resolved_threads();
    logging::init(config.log_format);
    // A GPU that cannot be used ends the process here, before the port is
    // bound: a pod that crash-loops says so, where a server running on the
    // CPU instead would hide it.
    let device_check = backend::LoadOptions {
        threads: config.threads,
        ort_dylib: config.ort_dylib_path.clone(),
        device: config.device,
    };
    if let Err(e) = backend::check_device(config.backend, &device_check) {
        tracing::error!(device = %config.device, error = %e, "cannot start on the requested device");
        return ExitCode::from(2);
    }
    tracing::info!(device = %config.device, backend = ?config.backend, "device");
    // TLS for model downloads uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `--threads` bounds the HTTP workers too, not only the engine. With one
    // thread, HTTP and the engine share it (see `batcher::Placement`).
    let mut builder = if config.single_thread() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(config.threads);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "server stopped");
            ExitCode::from(2)
        }
    }
}
