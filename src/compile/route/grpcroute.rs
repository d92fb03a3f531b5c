//! Gateway API `gateway.networking.k8s.io/v1` GRPCRoute, as small typed
//! structs (the kind is not in `k8s-openapi`): gRPC for the route's host,
//! through the same Gateway as the HTTPRoute, to the Services' `grpc` port
//! with the same canary weights.
//!
//! Owns the GRPCRoute's shape; the parent Gateway and backend references
//! are [`super::gateway`]'s, shared with the HTTPRoute.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use modelctl_spec::model::Route;
use serde::Serialize;

use super::backend::Backend;
use super::gateway::{BackendRef, ParentRef, backend_refs, parent_refs};
use crate::compile::Ctx;
use crate::compile::labels::{self, Component, Track};
use crate::compile::ports::GRPC_SERVICE_PORT;

/// A GRPCRoute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRoute {
    /// `gateway.networking.k8s.io/v1`.
    pub api_version: &'static str,
    /// `GRPCRoute`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// The routing rules.
    pub spec: GrpcRouteSpec,
}

/// `spec` of a GRPCRoute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteSpec {
    /// The Gateways the route attaches to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentRef>,
    /// Host names matched.
    pub hostnames: Vec<String>,
    /// One rule: every gRPC call for the host, to the weighted backends.
    pub rules: Vec<GrpcRule>,
}

/// A rule without matches (it matches every call).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRule {
    /// Weighted backends.
    pub backend_refs: Vec<BackendRef>,
}

/// The GRPCRoute of `route` sending to `backends`.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    route: &Route,
    backends: &[Backend],
    version: &str,
) -> GrpcRoute {
    GrpcRoute {
        api_version: "gateway.networking.k8s.io/v1",
        kind: "GRPCRoute",
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, Some(Track::Stable), version),
        ),
        spec: GrpcRouteSpec {
            parent_refs: parent_refs(ctx),
            hostnames: vec![route.host.as_str().to_owned()],
            rules: vec![GrpcRule {
                backend_refs: backend_refs(backends, GRPC_SERVICE_PORT),
            }],
        },
    }
}
