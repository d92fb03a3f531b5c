//! Model startup, one logged step at a time: download → load → warm up →
//! ready. A failed step leaves the server alive and not ready, with the
//! reason in the logs and in the readiness response, so a pod's events
//! say why it never turned ready.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::backend::{self, Backend, LoadOptions};
use crate::batcher::{Batcher, Placement};
use crate::cache::PredictionCache;
use crate::config::Config;
use crate::download;
use crate::state::{AppState, Model, Phase};

/// Brings the model up; on failure records it in `state` and returns.
pub async fn start(config: Arc<Config>, state: Arc<AppState>) {
    if let Err(reason) = bring_up(&config, &state).await {
        tracing::error!(model = %config.model_name, error = %reason, "model failed to start; staying up, not ready");
        state.set_phase(Phase::Failed(reason));
    }
}

async fn bring_up(config: &Config, state: &AppState) -> Result<(), String> {
    let file = download_step(config, state).await?;
    let loaded = load_step(config, state, file).await?;
    warm_up_step(config, state, &loaded).await?;
    serve(config, state, loaded);
    Ok(())
}

/// Downloads the model into the cache; returns the local file.
async fn download_step(config: &Config, state: &AppState) -> Result<PathBuf, String> {
    let name = &config.model_name;
    state.set_phase(Phase::Downloading);
    tracing::info!(model = %name, uri = %config.model_uri, cache_dir = %config.cache_dir.display(), "downloading model");
    let started = Instant::now();
    let file = download::fetch(
        &config.model_uri,
        &config.cache_dir,
        config.download_retries,
    )
    .await
    .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.download_seconds.set(seconds);
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    tracing::info!(model = %name, file = %file.display(), bytes, seconds, "model downloaded");
    Ok(file)
}

/// Loads `file` with the configured backend, off the async threads.
async fn load_step(
    config: &Config,
    state: &AppState,
    file: PathBuf,
) -> Result<Arc<dyn Backend>, String> {
    let name = &config.model_name;
    state.set_phase(Phase::Loading);
    tracing::info!(model = %name, backend = ?config.backend, device = %config.device, threads = config.threads, "loading model");
    let started = Instant::now();
    let options = LoadOptions {
        threads: config.threads,
        ort_dylib: config.ort_dylib_path.clone(),
        device: config.device,
    };
    let kind = config.backend;
    let loaded = tokio::task::spawn_blocking(move || backend::load(kind, &file, &options))
        .await
        .map_err(|e| format!("loading task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.load_seconds.set(seconds);
    let describe = |specs: &[backend::TensorSpec]| {
        specs
            .iter()
            .map(|s| format!("{}:{}{:?}", s.name, s.datatype, s.shape))
            .collect::<Vec<_>>()
            .join(" ")
    };
    tracing::info!(
        model = %name,
        seconds,
        inputs = %describe(&loaded.signature().inputs),
        outputs = %describe(&loaded.signature().outputs),
        "model loaded"
    );
    Ok(loaded)
}

/// Runs `--warmup` batches of zeros, alternating single rows and full
/// batches so both paths are primed.
async fn warm_up_step(
    config: &Config,
    state: &AppState,
    loaded: &Arc<dyn Backend>,
) -> Result<(), String> {
    state.set_phase(Phase::WarmingUp);
    let started = Instant::now();
    let max_batch = config.max_batch as usize;
    for round in 0..config.warmup {
        let rows = if round % 2 == 0 { 1 } else { max_batch };
        let inputs = loaded
            .signature()
            .inputs
            .iter()
            .map(|spec| spec.zeros(rows))
            .collect();
        let engine = loaded.clone();
        tokio::task::spawn_blocking(move || engine.run(inputs))
            .await
            .map_err(|e| format!("warm-up task failed: {e}"))?
            .map_err(|e| format!("warm-up batch {round} ({rows} rows) failed: {e}"))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.warmup_seconds.set(seconds);
    tracing::info!(model = %config.model_name, batches = config.warmup, seconds, "model warmed up");
    Ok(())
}

/// Puts the loaded model behind its batcher and turns ready.
fn serve(config: &Config, state: &AppState, loaded: Arc<dyn Backend>) {
    let max_batch = config.max_batch as usize;
    let placement = if config.single_thread() {
        Placement::Inline
    } else {
        Placement::Blocking
    };
    let batcher = Batcher::new(
        loaded,
        max_batch,
        config.max_delay,
        placement,
        state.metrics.clone(),
    )
    .with_shedding(
        config.max_queue.map(|rows| rows as usize),
        config.request_timeout,
    );
    state.set_model(Arc::new(Model {
        name: config.model_name.clone(),
        backend: config.backend,
        batcher,
        cache: PredictionCache::new(config.cache_entries),
    }));
    state.set_phase(Phase::Ready);
    tracing::info!(
        model = %config.model_name,
        max_batch,
        max_delay_us = config.max_delay.as_micros() as u64,
        cache_entries = config.cache_entries,
        max_queue = config.max_queue,
        request_timeout_ms = config.request_timeout.map(|t| t.as_millis() as u64),
        "model ready"
    );
}
