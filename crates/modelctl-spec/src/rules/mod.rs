//! Stage 3: rules that relate several values of one file ([`model`],
//! [`config`]) or several files ([`repo`]). They run on typed, already
//! well-formed values and locate the offending token in the spanned tree.
//!
//! Every bound a rule enforces is a documented constant here.

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
/// Most GPUs one pod may request (the largest common node has 8).
pub const MAX_GPUS_PER_POD: u32 = 8;
/// Largest `serve.batching.max-batch`.
pub const MAX_BATCH: u32 = 4096;
/// Longest `serve.batching.max-delay`, in milliseconds.
pub const MAX_BATCH_DELAY_MS: u128 = 10_000;
/// Most retries of a training run.
pub const MAX_RETRIES: u32 = 100;
/// Most replicas of a serving Deployment.
pub const MAX_REPLICAS: u32 = 1000;
/// Longest model name: generated object names (`<model>-train-<hash8>`) must
/// stay within Kubernetes' 63 characters.
pub const MAX_MODEL_NAME: usize = 48;

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
