//! `modelctl render`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::RenderArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &RenderArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl render` is not built yet")
}
