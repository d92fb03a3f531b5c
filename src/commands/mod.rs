//! One module per subcommand; each receives the root and its own resolved
//! `Settings` (built by [`crate::cli`], never a clap type) and returns the
//! exit code of its outcome (0 ok, 1 "found something": invalid, stale,
//! differs) or an error (exit 2).
//!
//! The only layer that prints: reports on stdout, messages and progress on
//! stderr. Commands do not call each other: what two of them say alike is in
//! [`shared`], and work two of them need is a library module
//! ([`crate::environment`], [`crate::generated_dir`]).

pub mod apply;
mod cluster_events;
pub mod diff_base;
pub mod diff_cluster;
pub mod logs;
pub mod new;
pub mod promote;
pub mod rbac;
pub mod render;
pub mod runs;
pub mod schema;
pub mod shared;
pub mod status;
pub mod train;
pub mod validate;
mod wait_display;
