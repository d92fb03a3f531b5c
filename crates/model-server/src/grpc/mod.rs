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
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tonic::service::Routes;
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
    let routes = Routes::new(service)
        .into_axum_router()
        .layer(middleware::from_fn(name_unimplemented));
    // Small responses must not wait on Nagle's algorithm.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .add_routes(Routes::from(routes))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .context("serving gRPC")
}

/// Gives an UNIMPLEMENTED answer (another service, or an RPC of the
/// protocol this server does not serve, such as the model repository or
/// statistics) a message naming the method and what is served instead.
async fn name_unimplemented(request: Request, next: Next) -> Response {
    let uri = request.uri().clone();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let unimplemented = headers
        .get("grpc-status")
        .is_some_and(|status| status == "12");
    if unimplemented && !headers.contains_key("grpc-message") {
        // grpc-message is percent-encoded: leave out anything that would need it.
        let method: String = uri
            .path()
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '%')
            .collect();
        let message = format!(
            "{method} is not implemented; model-server serves ServerLive, ServerReady, \
             ModelReady, ServerMetadata, ModelMetadata and ModelInfer of \
             inference.GRPCInferenceService"
        );
        if let Ok(value) = HeaderValue::from_str(&message) {
            headers.insert("grpc-message", value);
        }
    }
    response
}
