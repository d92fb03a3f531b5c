//! modelctl: compile per-model TOML specs into Kubernetes manifests, diff them
//! against a revision or a live cluster, and apply them.
//!
//! Layers: `modelctl-spec` (types and validation) → [`compile`] (pure: specs
//! to objects) → [`cluster`] (the only code that talks to a Kubernetes API).
//! [`object`] (which object, modelctl's labels) is the leaf both use;
//! [`manifest_diff`] is the one per-object diff model and its renderer.
//! [`commands`] ties them to the command line and does all the printing.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compile;
pub mod manifest_diff;
pub mod object;
pub mod spec_edit;
pub mod term;
