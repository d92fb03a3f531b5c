//! Gateway API references shared by the HTTPRoute and the GRPCRoute: the
//! parent Gateway of the environment's route settings, and the weighted
//! Service backends. A leaf below both route kinds.

use serde::Serialize;

use super::backend::Backend;
use crate::compile::Ctx;

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

/// The weighted Service references of `backends`, at Service port `port`.
pub(crate) fn backend_refs(backends: &[Backend], port: i32) -> Vec<BackendRef> {
    backends
        .iter()
        .map(|b| BackendRef {
            group: "",
            kind: "Service",
            name: b.service.clone(),
            port,
            weight: b.weight,
        })
        .collect()
}
