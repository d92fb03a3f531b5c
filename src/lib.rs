//! modelctl: compile per-model TOML specs into Kubernetes manifests, diff them
//! against a revision or a live cluster, and apply them.
//!
//! Layers: `modelctl-spec` (types and validation) → [`compile`] (pure: specs
//! to objects) → [`cluster`] (the only code that talks to a Kubernetes API,
//! and only code that sends requests), beside [`reconcile`] (pure: what the
//! cluster layer decides without a request: comparing and normalizing live
//! objects, classifying the server's answers, the Role the requests need).
//! [`object`] (which object, modelctl's labels) is the leaf all use;
//! [`manifest_diff`] is the one per-object diff model and its formats.
//! [`commands`] ties them to the command line, words the cluster layer's
//! events and does all the printing.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compile;
pub mod manifest_diff;
pub mod object;
pub mod reconcile;
pub mod spec_edit;
pub mod term;
