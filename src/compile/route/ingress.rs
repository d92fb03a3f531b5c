//! `networking.k8s.io/v1` Ingress for `route.kind = "ingress"`.
//!
//! An Ingress cannot split traffic by weight, so a canary gets a second
//! Ingress `<model>-canary` with the ingress-nginx canary annotations
//! (`canary: "true"`, `canary-weight`), the convention most controllers read.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use modelctl_spec::model::Route;

use super::backend::Backend;
use crate::compile::Ctx;
use crate::compile::labels::{self, Component, Track};

/// The Ingresses of `route`: one per backend, the canary's annotated with its weight.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    route: &Route,
    backends: &[Backend],
    version: &str,
) -> Vec<Ingress> {
    let mut out = Vec::new();
    for (index, backend) in backends.iter().enumerate() {
        let track = if index == 0 {
            Track::Stable
        } else {
            Track::Canary
        };
        let mut metadata = labels::metadata(
            ctx,
            &track.object_name(ctx.name()),
            labels::labels(ctx, Component::Serve, Some(track), version),
        );
        if track == Track::Canary {
            let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
            annotations.insert(
                "nginx.ingress.kubernetes.io/canary".to_owned(),
                "true".to_owned(),
            );
            annotations.insert(
                "nginx.ingress.kubernetes.io/canary-weight".to_owned(),
                backend.weight.to_string(),
            );
        }
        out.push(Ingress {
            metadata,
            spec: Some(IngressSpec {
                ingress_class_name: ctx.env.route.ingress_class.clone(),
                rules: Some(vec![IngressRule {
                    host: Some(route.host.as_str().to_owned()),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![HTTPIngressPath {
                            path: Some(route.path_or_root().to_owned()),
                            path_type: "Prefix".to_owned(),
                            backend: IngressBackend {
                                service: Some(IngressServiceBackend {
                                    name: backend.service.clone(),
                                    port: Some(ServiceBackendPort {
                                        name: Some("http".to_owned()),
                                        ..ServiceBackendPort::default()
                                    }),
                                }),
                                ..IngressBackend::default()
                            },
                        }],
                    }),
                }]),
                ..IngressSpec::default()
            }),
            ..Ingress::default()
        });
    }
    out
}
