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
//! [`environment`] (one environment rendered, ready to connect) and
//! [`generated_dir`] (syncing `generated/` on disk) are the work several
//! commands share. [`cli`] resolves the command line into each command's
//! settings and runs it; [`commands`] words the cluster layer's events and
//! does all the printing, with [`term`].
//!
//! Printing is a lint, not a habit: `print!`/`eprint!` and friends are
//! denied everywhere but in [`commands`] and [`term`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod cluster;
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod commands;
pub mod compile;
pub mod environment;
pub mod generated_dir;
pub mod manifest_diff;
pub mod object;
pub mod reconcile;
pub mod spec_edit;
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub mod term;
