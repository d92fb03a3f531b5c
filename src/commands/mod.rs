//! One module per subcommand; each returns the exit code of its outcome
//! (0 ok, 1 "found something": invalid, stale, differs) or an error (exit 2).

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { .. } => not_built("validate"),
        Command::Schema { .. } => not_built("schema"),
        Command::Render { .. } => not_built("render"),
        Command::Diff { .. } => not_built("diff"),
        Command::Apply { .. } => not_built("apply"),
        Command::Status { .. } => not_built("status"),
        Command::Train { .. } => not_built("train"),
        Command::Logs { .. } => not_built("logs"),
    }
}

fn not_built(name: &str) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`modelctl {name}` is not built yet")
}
