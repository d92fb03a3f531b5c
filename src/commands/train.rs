//! `modelctl train`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::TrainArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &TrainArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl train` is not built yet")
}
