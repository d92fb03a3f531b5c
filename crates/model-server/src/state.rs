//! The server's lifecycle state, shared by the HTTP handlers and the
//! startup and shutdown tasks: which phase the model is in, why it failed,
//! and, once loaded, the model itself.
//!
//! Readiness is true only in [`Phase::Ready`]; it turns false for good when
//! draining starts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::backend::BackendKind;
use crate::batcher::Batcher;
use crate::cache::PredictionCache;
use crate::metrics::Metrics;

/// Where the model is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Downloading,
    Loading,
    WarmingUp,
    Ready,
    /// Download or load failed; the process stays up so the reason shows.
    Failed(String),
    /// SIGTERM received: finishing in-flight work, not taking new work.
    Draining,
}

impl Phase {
    /// Why the server is not ready, for 503 bodies.
    pub fn describe(&self) -> String {
        match self {
            Phase::Downloading => "model is downloading".into(),
            Phase::Loading => "model is loading".into(),
            Phase::WarmingUp => "model is warming up".into(),
            Phase::Ready => "ready".into(),
            Phase::Failed(reason) => format!("model failed to load: {reason}"),
            Phase::Draining => "server is shutting down".into(),
        }
    }
}

/// A loaded, warmed-up model.
pub struct Model {
    pub name: String,
    pub backend: BackendKind,
    pub batcher: Batcher,
    pub cache: Option<PredictionCache>,
}

/// Shared state of one server process.
pub struct AppState {
    pub model_name: String,
    pub max_body: usize,
    pub metrics: Arc<Metrics>,
    phase: RwLock<Phase>,
    model: OnceLock<Arc<Model>>,
    /// Set from the signal handler itself the moment SIGTERM arrives, so
    /// readiness turns false then, even while every runtime thread is
    /// still busy and has not run the shutdown task yet.
    stop_requested: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(model_name: String, max_body: usize, metrics: Arc<Metrics>) -> AppState {
        AppState {
            model_name,
            max_body,
            metrics,
            phase: RwLock::new(Phase::Downloading),
            model: OnceLock::new(),
            stop_requested: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The flag a signal handler sets when shutdown is requested.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop_requested.clone()
    }

    pub fn phase(&self) -> Phase {
        let phase = self.phase.read().unwrap_or_else(|p| p.into_inner()).clone();
        if phase == Phase::Ready && self.stop_requested.load(Ordering::Acquire) {
            Phase::Draining
        } else {
            phase
        }
    }

    /// Moves to `next`, unless draining has begun (draining is final).
    pub fn set_phase(&self, next: Phase) {
        let mut phase = self.phase.write().unwrap_or_else(|p| p.into_inner());
        if *phase != Phase::Draining {
            *phase = next;
        }
        self.metrics.ready.set(i64::from(*phase == Phase::Ready));
    }

    pub fn is_ready(&self) -> bool {
        self.phase() == Phase::Ready
    }

    /// Installs the loaded model; readiness is set separately.
    pub fn set_model(&self, model: Arc<Model>) {
        let _ = self.model.set(model);
    }

    /// The model, once loaded (it stays available while draining so
    /// accepted requests finish).
    pub fn model(&self) -> Option<&Arc<Model>> {
        self.model.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_is_final() {
        let state = AppState::new("m".into(), 1, Arc::new(Metrics::new()));
        state.set_phase(Phase::Ready);
        assert!(state.is_ready());
        state.set_phase(Phase::Draining);
        state.set_phase(Phase::Ready);
        assert_eq!(state.phase(), Phase::Draining);
    }

    #[test]
    fn a_stop_request_ends_readiness_before_the_shutdown_task_runs() {
        let state = AppState::new("m".into(), 1, Arc::new(Metrics::new()));
        state.set_phase(Phase::Ready);
        state.stop_flag().store(true, Ordering::Release);
        assert_eq!(state.phase(), Phase::Draining);
        assert!(!state.is_ready());
    }
}
