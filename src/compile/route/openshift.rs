//! OpenShift `route.openshift.io/v1` Route, as small typed structs (the kind
//! is not in `k8s-openapi`): edge TLS, HTTP redirected to HTTPS, the canary
//! as an alternate backend.
//!
//! Owns the Route's shape. Fields the CRD would default are written out.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use modelctl_spec::model::Route;
use serde::Serialize;

use super::backend::Backend;
use crate::compile::Ctx;
use crate::compile::labels::{self, Component, Track};

/// An OpenShift Route.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenshiftRoute {
    /// `route.openshift.io/v1`.
    pub api_version: &'static str,
    /// `Route`.
    pub kind: &'static str,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// Host, path, backends, TLS.
    pub spec: RouteSpec,
}

/// `spec` of a Route.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The host name.
    pub host: String,
    /// The path prefix.
    pub path: String,
    /// The main backend.
    pub to: RouteTarget,
    /// Further weighted backends (the canary).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternate_backends: Vec<RouteTarget>,
    /// The Service port, by name.
    pub port: RoutePort,
    /// TLS termination.
    pub tls: RouteTls,
    /// `None`.
    pub wildcard_policy: &'static str,
}

/// A weighted Service.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTarget {
    /// `Service`.
    pub kind: &'static str,
    /// The Service.
    pub name: String,
    /// The relative weight (0 to 256).
    pub weight: u32,
}

/// The target port.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    /// The Service port's name.
    pub target_port: &'static str,
}

/// TLS settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTls {
    /// `edge`.
    pub termination: &'static str,
    /// `Redirect`.
    pub insecure_edge_termination_policy: &'static str,
}

/// The Route of `route` sending to `backends` (the first is the main one).
pub(crate) fn build(
    ctx: &Ctx<'_>,
    route: &Route,
    backends: &[Backend],
    version: &str,
) -> OpenshiftRoute {
    let target = |b: &Backend| RouteTarget {
        kind: "Service",
        name: b.service.clone(),
        weight: b.weight,
    };
    let (to, alternates) = match backends.split_first() {
        Some((first, rest)) => (target(first), rest.iter().map(target).collect()),
        None => (
            target(&Backend {
                service: ctx.name().to_owned(),
                weight: 100,
            }),
            Vec::new(),
        ),
    };
    OpenshiftRoute {
        api_version: "route.openshift.io/v1",
        kind: "Route",
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, Some(Track::Stable), version),
        ),
        spec: RouteSpec {
            host: route.host.as_str().to_owned(),
            path: route.path_or_root().to_owned(),
            to,
            alternate_backends: alternates,
            port: RoutePort {
                target_port: "http",
            },
            tls: RouteTls {
                termination: "edge",
                insecure_edge_termination_policy: "Redirect",
            },
            wildcard_policy: "None",
        },
    }
}
