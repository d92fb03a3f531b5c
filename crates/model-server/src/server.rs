//! The process: bind the port, start the model in the background, serve
//! HTTP, and on SIGTERM (or Ctrl-C) shut down gracefully: turn not ready,
//! keep serving for `--drain` so load balancers notice, then stop accepting
//! connections and finish every request already accepted.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::{AppState, Phase};
use crate::{http, lifecycle};

/// Runs the server until it has shut down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let address = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    tracing::info!(address = %bound, model = %config.model_name, "listening");

    let metrics = Arc::new(Metrics::new());
    let state = Arc::new(AppState::new(
        config.model_name.clone(),
        config.max_body,
        metrics,
    ));
    tokio::spawn(lifecycle::start(config.clone(), state.clone()));

    let drain = config.drain;
    let shutdown_state = state.clone();
    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!(
            drain_ms = drain.as_millis() as u64,
            "shutdown signal received; not ready, draining"
        );
        shutdown_state.set_phase(Phase::Draining);
        tokio::time::sleep(drain).await;
        tracing::info!("no longer accepting connections; finishing in-flight requests");
    };
    // Small JSON responses must not wait on Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    tracing::info!("all requests finished; exiting");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
