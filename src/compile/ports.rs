//! The serving ports, in one place: what `model-server` listens on in the
//! pod, and what its Service exposes to routes.
//!
//! A leaf: the Deployment, the Service, the route objects and the
//! scrape annotations all read these, and this module reads nothing.

/// The port `model-server` listens on (named `http`).
pub const SERVER_PORT: i32 = 8080;
/// The port `model-server` serves gRPC on (named `grpc`; `--grpc-port`).
pub const GRPC_PORT: i32 = 8081;
/// The Service port HTTP routes send traffic to (to the pod's `http` port).
pub const SERVICE_PORT: i32 = 80;
/// The Service port GRPCRoutes send cleartext HTTP/2 to (to the pod's
/// `grpc` port): the same number as the server's.
pub const GRPC_SERVICE_PORT: i32 = GRPC_PORT;
