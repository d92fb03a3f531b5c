//! The process: bind the ports, start the model in the background, serve
//! HTTP and gRPC, and on SIGTERM (or Ctrl-C) shut down gracefully: turn not
//! ready, keep serving for `--drain` so load balancers notice, then stop
//! accepting connections on both ports and finish every request already
//! accepted.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::{AppState, Phase};
use crate::{grpc, http, lifecycle};

/// Runs the server until SIGTERM (or SIGINT) has shut it down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    // The runtime's listeners first, so no signal can be missed by them;
    // then a flag set in the signal handler itself, so readiness turns
    // false the moment SIGTERM arrives, even while the runtime is busy.
    let stop = StopSignals::listen().context("listening for SIGTERM and SIGINT")?;
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, server.state.stop_flag())
            .with_context(|| format!("installing the handler for signal {signal}"))?;
    }
    server.serve(stop.recv()).await
}

/// A bound server whose model is loading in the background.
pub struct Server {
    config: Arc<Config>,
    listener: TcpListener,
    grpc_listener: Option<TcpListener>,
    address: SocketAddr,
    state: Arc<AppState>,
}

impl Server {
    /// Binds the ports (HTTP, and gRPC unless `--grpc-port 0`) and starts
    /// downloading, loading and warming up the model; requests are answered
    /// once [`Server::serve`] runs.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let config = Arc::new(config);
        let address = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let address = listener.local_addr().context("reading the bound address")?;
        tracing::info!(%address, model = %config.model_name, "listening");
        let grpc_listener = match config.grpc_port {
            0 => None,
            port => {
                let address = SocketAddr::new(config.host, port);
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address} for gRPC"))?;
                tracing::info!(%address, "gRPC listening");
                Some(listener)
            }
        };
        let metrics = Arc::new(Metrics::new());
        let state = Arc::new(AppState::new(
            config.model_name.clone(),
            config.max_body,
            metrics,
        ));
        tokio::spawn(lifecycle::start(config.clone(), state.clone()));
        Ok(Server {
            config,
            listener,
            grpc_listener,
            address,
            state,
        })
    }

    /// The address the HTTP server listens on (the real port for `--port 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `stop` completes, then shuts down gracefully: not
    /// ready, still serving for `--drain`, then no new connections on
    /// either port and every request in flight finished.
    pub async fn serve(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let drain = self.config.drain;
        let shutdown_state = self.state.clone();
        // Both servers stop accepting when the drain time is over.
        let (stopping, stop_accepting) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            tracing::info!(
                drain_ms = drain.as_millis() as u64,
                "shutdown signal received; not ready, draining"
            );
            shutdown_state.set_phase(Phase::Draining);
            tokio::time::sleep(drain).await;
            tracing::info!("no longer accepting connections; finishing in-flight requests");
            let _ = stopping.send(true);
        });
        let shutdown = move || {
            let mut stop_accepting = stop_accepting.clone();
            async move {
                // An error means the sender is gone: stop as well.
                let _ = stop_accepting.wait_for(|stop| *stop).await;
            }
        };
        // Small JSON responses must not wait on Nagle's algorithm.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let app = http::app(self.state.clone(), self.config.path_prefix.clone());
        let serve_http = async {
            axum::serve(listener, app.into_make_service())
                .with_graceful_shutdown(shutdown())
                .await
                .context("serving HTTP")
        };
        let serve_grpc = async {
            match self.grpc_listener {
                Some(listener) => grpc::serve(listener, self.state.clone(), shutdown()).await,
                None => Ok(()),
            }
        };
        tokio::try_join!(serve_http, serve_grpc)?;
        tracing::info!("all requests finished; exiting");
        Ok(())
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened for from creation on.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
