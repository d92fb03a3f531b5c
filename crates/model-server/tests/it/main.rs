//! model-server's integration tests, one binary (`cargo test -p model-server
//! --test it`): each module drives the real `model-server` or
//! `model-export` binary on 127.0.0.1, and [`common`] holds the support
//! they share, compiled and linked once.
//!
//! Modules run once per backend where the engine matters (`ort::*`,
//! `tract::*` inside them); pick a suite with a filter, e.g.
//! `cargo test -p model-server --test it grpc::`.

mod binary_data;
mod common;
mod device;
mod export_s3;
mod grpc;
mod lifecycle;
mod path_prefix;
mod server;
mod shedding;
mod store_faults;
mod tensor_checks;
