//! The one model of a manifest diff and its one set of formats, shared by both
//! diffs: `diff --base REV` (two renders) and `diff --env E` (the rendered
//! objects against the live cluster).
//!
//! - [`model`]: [`DiffReport`], one [`ObjectDiff`] per object compared (its
//!   [`ObjectKey`](crate::object::ObjectKey), environment, model, source
//!   spec, [`Change`], both sides as YAML and the unified diff) and the
//!   objects that could not be compared.
//! - [`two_renders`]: the diff of two renders of an environment.
//! - [`mod@format`]: text (coloured on a terminal), markdown for a pull-request
//!   comment, or JSON, for either diff alike.
//!
//! Objects are shown as YAML by the writer of `generated/`
//! ([`crate::compile::to_yaml`]), so a diffed object reads like its file.
//! Knows nothing of Git or clusters: callers hand it JSON objects.

pub mod format;
pub mod model;
pub mod two_renders;

pub use format::{ColorChoice, Format, diff_line, fenced_diff, paint, render, summary};
pub use model::{Change, Counts, DiffReport, Drift, ObjectDiff, ObjectFailure, unified};
