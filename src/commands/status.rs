//! `modelctl status`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::StatusArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl status` is not built yet")
}
