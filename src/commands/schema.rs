//! `modelctl schema`: not built yet.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::SchemaArgs;

/// Runs the command.
pub fn run(_root: &Path, _args: &SchemaArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl schema` is not built yet")
}
