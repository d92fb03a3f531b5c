//! `serve.route` to the route object of the configured kind: Gateway API
//! HTTPRoute (and GRPCRoute with `grpc = true`), OpenShift Route or Ingress,
//! with weighted backends when a canary runs.
//!
//! Owns the choice of kind, at the top: each kind's shape lives in its own
//! file, and they share only the leaves below them ([`backend`] for the
//! traffic split, [`gateway`] for Gateway API references), never this
//! module. The path a route matches is the spec's
//! ([`Route::path_or_root`]).

use modelctl_spec::RouteKind;
use modelctl_spec::model::Route;

use super::{Ctx, Manifest};

mod backend;
mod gateway;
mod grpcroute;
mod httproute;
mod ingress;
mod openshift;

pub(crate) use backend::{Backend, backends};

/// Appends the route objects to `out`.
pub(crate) fn render(
    ctx: &Ctx<'_>,
    route: &Route,
    backends: &[Backend],
    version: &str,
    out: &mut Vec<Manifest>,
) {
    match ctx.env.route.kind {
        RouteKind::Gateway => {
            out.push(ctx.manifest(&httproute::build(ctx, route, backends, version)));
            if route.grpc {
                out.push(ctx.manifest(&grpcroute::build(ctx, route, backends, version)));
            }
        }
        RouteKind::Openshift => {
            out.push(ctx.manifest(&openshift::build(ctx, route, backends, version)));
        }
        RouteKind::Ingress => {
            for ingress in ingress::build(ctx, route, backends, version) {
                out.push(ctx.manifest(&ingress));
            }
        }
    }
}
