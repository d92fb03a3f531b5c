//! The HTTP surface: routes of the Open Inference Protocol (KServe V2
//! REST), TF Serving's `:predict`, and Prometheus `/metrics`, plus the
//! middleware that counts and times every request and the one that serves
//! all of it under `--path-prefix` too.

pub mod error;
pub mod handlers;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower::{Layer, Service};

use crate::config::PathPrefix;
use crate::state::AppState;

/// The server's router, reachable both at the root and under `prefix`.
///
/// The prefix is taken off before routing (a layer on the router itself
/// would run after it), so every route, the metrics' route labels and the
/// 404 for unknown paths are the same with and without it.
pub fn app(
    state: Arc<AppState>,
    prefix: PathPrefix,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    middleware::from_fn_with_state(prefix, strip_prefix).layer(router(state))
}

/// Rewrites `/prefix/rest?query` to `/rest?query`; other paths pass as they are.
async fn strip_prefix(
    State(prefix): State<PathPrefix>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(rest) = prefix.strip(request.uri().path()) {
        let rewritten = match request.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_owned(),
        };
        if let Ok(path_and_query) = PathAndQuery::try_from(rewritten) {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(path_and_query);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    next.run(request).await
}

/// The server's router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2/health/live", get(handlers::live))
        .route("/v2/health/ready", get(handlers::ready))
        .route("/v2", get(handlers::server_metadata))
        .route("/v2/models/{model}", get(handlers::model_metadata))
        .route("/v2/models/{model}/ready", get(handlers::model_ready))
        .route("/v2/models/{model}/infer", post(handlers::infer))
        .route(
            "/v2/models/{model}/versions/{version}",
            get(handlers::model_metadata),
        )
        .route(
            "/v2/models/{model}/versions/{version}/ready",
            get(handlers::model_ready),
        )
        .route(
            "/v2/models/{model}/versions/{version}/infer",
            post(handlers::infer),
        )
        .route("/v1/models/{target}", post(handlers::predict))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Records each request's route, status and latency, and counts inference
/// requests in flight.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // Inference requests (V2 infer, V1 predict) count as in flight until
    // answered; health checks and scrapes do not.
    let in_flight = (route.ends_with("/infer") || route.contains("/v1/models/"))
        .then(|| state.metrics.in_flight());
    let response = next.run(request).await;
    drop(in_flight);
    state.metrics.observe_request(
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
