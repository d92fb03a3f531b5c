//! `modelctl diff cluster`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::DiffArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &DiffArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl diff` is not built yet")
}
