//! The HTTP surface: routes of the Open Inference Protocol (KServe V2
//! REST), TF Serving's `:predict`, and Prometheus `/metrics`, plus the
//! middleware that counts and times every request and the one that serves
//! all of it under `--path-prefix` too.

pub mod error;
pub mod handlers;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::{get, post};
use futures::future::{BoxFuture, Either};
use tower::Service;

use self::handlers::ModelRef;
use crate::config::PathPrefix;
use crate::metrics::InFlight;
use crate::state::AppState;

/// The server's HTTP service, reachable both at the root and under `prefix`.
///
/// The prefix is taken off before routing, so every route, the metrics'
/// route labels and the 404 for unknown paths are the same with and without
/// it. Inference requests (`POST .../infer`, the hot path) go straight to
/// their handler; everything else goes through the [`router`].
pub fn app(
    state: Arc<AppState>,
    prefix: PathPrefix,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    Front {
        router: router(state.clone()),
        state,
        prefix: Arc::new(prefix),
    }
}

/// The service in front of the router: strips the path prefix and serves
/// V2 inference requests without the router's per-request layers (route
/// matching, extractors, two middleware futures), which cost as much as the
/// HTTP/1 stack itself on a single-row request. The answers, metrics and
/// errors are the router's: the same handler code, observed the same way.
#[derive(Clone)]
struct Front {
    state: Arc<AppState>,
    prefix: Arc<PathPrefix>,
    router: Router,
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready, and so is the inference path.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        strip_prefix(&self.prefix, &mut request);
        if request.method() == Method::POST
            && let Some((target, route)) = infer_target(request.uri().path())
        {
            let state = self.state.clone();
            return Either::Left(Box::pin(async move {
                let observation = Observation::start(&state, route, true);
                let response = handlers::infer_request(state.clone(), target, request)
                    .await
                    .unwrap_or_else(IntoResponse::into_response);
                observation.finish(response.status());
                Ok(response)
            }));
        }
        Either::Right(self.router.call(request))
    }
}

/// The model and the route of a V2 inference path, as the router would
/// match it: `/v2/models/{model}/infer` or
/// `/v2/models/{model}/versions/{version}/infer`. `None` for anything else,
/// including percent-encoded names, which the router decodes.
fn infer_target(path: &str) -> Option<(ModelRef, &'static str)> {
    let rest = path.strip_prefix("/v2/models/")?.strip_suffix("/infer")?;
    if rest.contains('%') {
        return None;
    }
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    match rest.split_once("/versions/") {
        Some((model, version)) if segment(model) && segment(version) => Some((
            ModelRef::new(model, Some(version.to_owned())),
            "/v2/models/{model}/versions/{version}/infer",
        )),
        _ if segment(rest) => Some((ModelRef::new(rest, None), "/v2/models/{model}/infer")),
        _ => None,
    }
}

/// Rewrites `/prefix/rest?query` to `/rest?query`; other paths stay as they are.
fn strip_prefix(prefix: &PathPrefix, request: &mut Request) {
    let Some(rest) = prefix.strip(request.uri().path()) else {
        return;
    };
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
/// requests in flight (the router's requests; [`Front`] observes the
/// inference requests it serves itself).
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    // Inference requests (V2 infer, V1 predict) count as in flight until
    // answered; health checks and scrapes do not.
    let inference = route.ends_with("/infer") || route.starts_with("/v1/models/");
    let observation = Observation::start(&state, &route, inference);
    let response = next.run(request).await;
    observation.finish(response.status());
    response
}

/// One request being served: counted in flight while it lives if it is an
/// inference request, then recorded with its route, status and latency.
struct Observation<'a> {
    state: &'a AppState,
    route: &'a str,
    start: Instant,
    in_flight: Option<InFlight>,
}

impl<'a> Observation<'a> {
    fn start(state: &'a AppState, route: &'a str, inference: bool) -> Observation<'a> {
        Observation {
            state,
            route,
            start: Instant::now(),
            in_flight: inference.then(|| state.metrics.in_flight()),
        }
    }

    fn finish(self, status: StatusCode) {
        drop(self.in_flight);
        self.state.metrics.observe_request(
            self.route,
            status.as_u16(),
            self.start.elapsed().as_secs_f64(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Option<(String, Option<String>, &'static str)> {
        infer_target(path).map(|(t, route)| (t.model, t.version, route))
    }

    #[test]
    fn infer_paths_are_matched_as_the_router_matches_them() {
        assert_eq!(
            target("/v2/models/digits/infer"),
            Some(("digits".into(), None, "/v2/models/{model}/infer"))
        );
        assert_eq!(
            target("/v2/models/digits/versions/7/infer"),
            Some((
                "digits".into(),
                Some("7".into()),
                "/v2/models/{model}/versions/{version}/infer"
            ))
        );
    }

    #[test]
    fn other_paths_are_left_to_the_router() {
        for path in [
            "/v2/models/digits",
            "/v2/models/digits/ready",
            "/v2/models//infer",
            "/v2/models/a/b/infer",
            "/v2/models/digits/versions//infer",
            "/v2/models/digits/versions/1/2/infer",
            "/v2/models/dig%69ts/infer",
            "/v2/models/digits/infer/",
            "/v1/models/digits:predict",
            "/bidding/v2/models/digits/infer",
        ] {
            assert!(infer_target(path).is_none(), "{path}");
        }
    }
}
