//! `modelctl validate`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ValidateArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl validate` is not built yet")
}
