//! In-process compute floor: per-sample inference time for every ONNX model
//! in the fixtures directory, on each backend, at batch 1, 8, 32 and 128.
//! No HTTP, no batching queue: this is the floor the served figures are
//! compared against.
//!
//! Run: `ORT_DYLIB_PATH=… cargo bench -p model-server --bench compute`
//! (`MODEL_DIR` overrides the model directory, `BENCH_SECONDS` the time
//! spent per cell, `THREADS` the engine threads).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use model_server::backend::{self, BackendKind, LoadOptions};

const BATCHES: [usize; 4] = [1, 8, 32, 128];

fn main() {
    let dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
        });
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut models: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read model directory {}: {e}", dir.display());
            std::process::exit(2);
        }
    };
    models.sort();
    let options = LoadOptions {
        threads,
        ort_dylib: None,
        device: model_server::backend::Device::Cpu,
    };
    println!("per-sample compute time in µs ({threads} engine thread(s), {seconds}s per cell)");
    println!(
        "{:<24} {:<6} {:>9} {:>9} {:>9} {:>9}",
        "model", "engine", "b=1", "b=8", "b=32", "b=128"
    );
    for model in &models {
        let name = model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for kind in [BackendKind::Ort, BackendKind::Tract] {
            let label = match kind {
                BackendKind::Ort => "ort",
                BackendKind::Tract => "tract",
            };
            let loaded = match backend::load(kind, model, &options) {
                Ok(b) => b,
                Err(e) => {
                    println!("{name:<24} {label:<6} load failed: {e}");
                    continue;
                }
            };
            let mut cells = Vec::new();
            for batch in BATCHES {
                let inputs: Vec<_> = loaded
                    .signature()
                    .inputs
                    .iter()
                    .map(|s| s.zeros(batch))
                    .collect();
                for _ in 0..3 {
                    if let Err(e) = loaded.run(inputs.clone()) {
                        println!("{name:<24} {label:<6} run failed at batch {batch}: {e}");
                        std::process::exit(1);
                    }
                }
                let budget = Duration::from_secs_f64(seconds);
                let start = Instant::now();
                let mut runs = 0u64;
                while start.elapsed() < budget {
                    let _ = loaded.run(inputs.clone());
                    runs += 1;
                }
                let per_sample = start.elapsed().as_secs_f64() * 1e6 / (runs as f64 * batch as f64);
                cells.push(format!("{per_sample:>9.2}"));
            }
            println!("{name:<24} {label:<6} {}", cells.join(" "));
        }
    }
}
