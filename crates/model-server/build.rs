//! Generates the gRPC service of the Open Inference Protocol from
//! `proto/open_inference_grpc.proto`.
//!
//! The `.proto` is parsed by `protox`, a protobuf compiler written in Rust,
//! and its descriptors are handed to `tonic-prost-build`, so building this
//! crate needs no `protoc` on the machine (nor in the image's build stage).
//! The client is generated too, without transport code: the tests and the
//! load generator drive it over their own channel.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/open_inference_grpc.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        // Tensor contents stay shared buffers: decoding takes no copy.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
