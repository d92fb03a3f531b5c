//! Stage 3: rules that relate several values of one file ([`model`],
//! [`config`]) or several files ([`repo`]). They run on typed, already
//! well-formed values and locate the offending token in the spanned tree.
//!
//! Every bound a rule enforces is a documented constant here. Bounds on a
//! single value (a GPU count, a replica count, a batch size) are not rules:
//! they live in the value's type in [`crate::values`], which carries them
//! into the JSON Schema.

use std::path::Path;

use toml::de::DeTable;

use crate::diag::{Diagnostic, Report, Stage};
use crate::locate::{Target, locate};

pub(crate) mod config;
pub(crate) mod env;
pub(crate) mod model;
pub(crate) mod repo;

/// Most combinations a sweep grid may have (one training pod each).
pub const MAX_SWEEP_COMBINATIONS: u64 = 256;

/// Reports rule violations in one file, locating them in its tree.
pub(crate) struct Checker<'a, 't> {
    pub file: &'a Path,
    pub tree: &'a DeTable<'t>,
    pub report: &'a mut Report,
}

impl Checker<'_, '_> {
    /// Reports a violation at the value (or key) at `path`.
    pub fn error(
        &mut self,
        path: &[&str],
        target: Target,
        message: String,
        help: impl Into<String>,
    ) {
        let span = locate(self.tree, path, target);
        self.report
            .push(Diagnostic::new(self.file, Some(span), Stage::Rule, message).with_help(help));
    }
}
