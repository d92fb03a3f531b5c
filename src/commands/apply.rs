//! `modelctl apply`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ApplyArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl apply` is not built yet")
}
