//! `modelctl logs`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::LogsArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &LogsArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl logs` is not built yet")
}
