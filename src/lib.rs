//! modelctl: compile per-model TOML specs into Kubernetes manifests, diff them
//! against a revision or a live cluster, and apply them.
//!
//! Layers: `modelctl-spec` (types and validation) → [`compile`] (pure: specs
//! to objects) → [`cluster`] (the only code that talks to a Kubernetes API).
//! [`commands`] ties them to the command line.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compile;
pub mod manifest_diff;
pub mod term;
