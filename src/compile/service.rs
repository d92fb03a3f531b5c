//! The Service in front of one serving track: port 80 to the server's `http`
//! port, and port 8081 (`appProtocol: kubernetes.io/h2c`) to its `grpc` port.
//!
//! Owns the Service's shape; the port numbers are [`super::ports`]'s, where
//! the routes read them too.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::labels::{self, Component, Track};
use super::ports::{GRPC_SERVICE_PORT, SERVICE_PORT};

/// The Service selecting the pods of `track`.
pub(crate) fn build(ctx: &Ctx<'_>, track: Track, version: &str) -> Service {
    let name = track.object_name(ctx.name());
    Service {
        metadata: labels::metadata(
            ctx,
            &name,
            labels::labels(ctx, Component::Serve, Some(track), version),
        ),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(labels::selector(ctx, Component::Serve, Some(track))),
            ports: Some(vec![
                ServicePort {
                    name: Some("http".to_owned()),
                    port: SERVICE_PORT,
                    target_port: Some(IntOrString::String("http".to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some("grpc".to_owned()),
                    port: GRPC_SERVICE_PORT,
                    target_port: Some(IntOrString::String("grpc".to_owned())),
                    protocol: Some("TCP".to_owned()),
                    app_protocol: Some("kubernetes.io/h2c".to_owned()),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
