//! The gRPC surface: `inference.GRPCInferenceService` of the Open
//! Inference Protocol on its own port (`--grpc-port`), served by tonic
//! over the same [`AppState`] as HTTP, so gRPC and HTTP requests share one
//! model, one batching queue, one readiness and one set of metrics.
//!
//! This module owns serving (listener, message size limit, graceful stop);
//! the RPCs are in [`service`], the status codes in [`status`], and the
//! messages with their tensor conversion in [`crate::protocol::grpc`].

pub mod service;
pub mod status;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::protocol::grpc::proto::grpc_inference_service_server::GrpcInferenceServiceServer;
use crate::state::AppState;

/// Serves gRPC on `listener` until `shutdown` completes, then finishes the
/// calls in flight.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Messages are bounded like HTTP bodies (`--max-body`); a larger one is
    // refused before it is decoded.
    let max_body = state.max_body;
    let service = GrpcInferenceServiceServer::new(service::Inference::new(state))
        .max_decoding_message_size(max_body);
    // Small responses must not wait on Nagle's algorithm.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .context("serving gRPC")
}
