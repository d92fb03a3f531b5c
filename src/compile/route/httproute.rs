//! Gateway API `gateway.networking.k8s.io/v1` HTTPRoute, as small typed
//! structs (the kind is not in `k8s-openapi`).
//!
//! Owns the HTTPRoute's shape; the parent Gateway and backend references
//! are [`super::gateway`]'s. Every field the CRD would default is written
//! out, so a server-side apply dry run returns the spec as sent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use modelctl_spec::model::Route;
use serde::Serialize;

use super::backend::Backend;
use super::gateway::{BackendRef, ParentRef, backend_refs, parent_refs};
use crate::compile::Ctx;
use crate::compile::labels::{self, Component, Track};
use crate::compile::ports::SERVICE_PORT;

/// An HTTPRoute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    /// `gateway.networking.k8s.io/v1`.
    pub api_version: &'static str,
    /// `HTTPRoute`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// The routing rules.
    pub spec: HttpRouteSpec,
}

/// `spec` of an HTTPRoute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways the route attaches to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<ParentRef>,
    /// Host names matched.
    pub hostnames: Vec<String>,
    /// Rules: matches and the backends they send to.
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Request matches.
    pub matches: Vec<Match>,
    /// Weighted backends.
    pub backend_refs: Vec<BackendRef>,
}

/// A request match.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    /// The path match.
    pub path: PathMatch,
}

/// A path match.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    /// `PathPrefix`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// The prefix.
    pub value: String,
}

/// The HTTPRoute of `route` sending to `backends`.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    route: &Route,
    backends: &[Backend],
    version: &str,
) -> HttpRoute {
    HttpRoute {
        api_version: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, Some(Track::Stable), version),
        ),
        spec: HttpRouteSpec {
            parent_refs: parent_refs(ctx),
            hostnames: vec![route.host.as_str().to_owned()],
            rules: vec![Rule {
                matches: vec![Match {
                    path: PathMatch {
                        type_: "PathPrefix",
                        value: route.path_or_root().to_owned(),
                    },
                }],
                backend_refs: backend_refs(backends, SERVICE_PORT),
            }],
        },
    }
}
