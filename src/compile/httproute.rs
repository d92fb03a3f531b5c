//! Gateway API `gateway.networking.k8s.io/v1` HTTPRoute, as small typed
//! structs (the kind is not in `k8s-openapi`).
//!
//! Owns the HTTPRoute's shape. Every field the CRD would default is written
//! out, so a server-side apply dry run returns the spec as sent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use modelctl_spec::model::Route;
use serde::Serialize;

use super::Ctx;
use super::labels::{self, Component, Track};
use super::route::{Backend, path};
use super::service::SERVICE_PORT;

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

/// A reference to a Gateway.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// `gateway.networking.k8s.io`.
    pub group: &'static str,
    /// `Gateway`.
    pub kind: &'static str,
    /// The Gateway's name.
    pub name: String,
    /// The Gateway's namespace (the route's own when left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
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

/// A weighted Service backend.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// `""` (the core group).
    pub group: &'static str,
    /// `Service`.
    pub kind: &'static str,
    /// The Service.
    pub name: String,
    /// The Service port.
    pub port: i32,
    /// The relative weight.
    pub weight: u32,
}

/// The Gateway of the environment's route settings, as the parent of a route.
pub(crate) fn parent_refs(ctx: &Ctx<'_>) -> Vec<ParentRef> {
    let config = &ctx.env.route;
    config
        .gateway
        .iter()
        .map(|gateway| ParentRef {
            group: "gateway.networking.k8s.io",
            kind: "Gateway",
            name: gateway.clone(),
            namespace: config.gateway_namespace.clone(),
        })
        .collect()
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
                        value: path(route),
                    },
                }],
                backend_refs: backends
                    .iter()
                    .map(|b| BackendRef {
                        group: "",
                        kind: "Service",
                        name: b.service.clone(),
                        port: SERVICE_PORT,
                        weight: b.weight,
                    })
                    .collect(),
            }],
        },
    }
}
