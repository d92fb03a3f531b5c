//! `serve.route` to the route object of the configured kind: Gateway API
//! HTTPRoute (and GRPCRoute with `grpc = true`), OpenShift Route or Ingress,
//! with weighted backends when a canary runs.
//!
//! Owns the choice of kind and the traffic split; each kind's shape lives
//! in its own file.

use modelctl_spec::RouteKind;
use modelctl_spec::model::Route;

use super::{Ctx, Manifest, grpcroute, httproute, ingress, openshift_route};

/// One Service receiving a share of the route's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    /// Service name.
    pub service: String,
    /// Percent of the traffic (all backends sum to 100).
    pub weight: u32,
}

/// The backends of a route: the main Service alone, or the main Service and
/// the canary's with `canary_weight` percent.
pub(crate) fn backends(model: &str, canary: Option<(String, u32)>) -> Vec<Backend> {
    match canary {
        None => vec![Backend {
            service: model.to_owned(),
            weight: 100,
        }],
        Some((service, weight)) => {
            let weight = weight.min(100);
            vec![
                Backend {
                    service: model.to_owned(),
                    weight: 100 - weight,
                },
                Backend { service, weight },
            ]
        }
    }
}

/// The path a route matches (`/` when left out).
pub(crate) fn path(route: &Route) -> String {
    route
        .path
        .as_ref()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

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
            out.push(ctx.manifest(&openshift_route::build(ctx, route, backends, version)));
        }
        RouteKind::Ingress => {
            for ingress in ingress::build(ctx, route, backends, version) {
                out.push(ctx.manifest(&ingress));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, backends};

    #[test]
    fn without_a_canary_the_main_service_gets_everything() {
        assert_eq!(
            backends("digits", None),
            [Backend {
                service: "digits".into(),
                weight: 100
            }]
        );
    }

    #[test]
    fn a_canary_takes_its_weight_from_the_main_service() {
        let b = backends("digits", Some(("digits-canary".into(), 10)));
        assert_eq!(
            b.iter().map(|b| b.weight).collect::<Vec<_>>(),
            [90, 10],
            "{b:?}"
        );
        assert_eq!(b[1].service, "digits-canary");
    }

    #[test]
    fn weights_never_exceed_100() {
        let b = backends("digits", Some(("digits-canary".into(), 250)));
        assert_eq!(b.iter().map(|b| b.weight).sum::<u32>(), 100);
    }
}
