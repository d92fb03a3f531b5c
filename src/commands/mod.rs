//! One module per subcommand; each returns the exit code of its outcome
//! (0 ok, 1 "found something": invalid, stale, differs) or an error (exit 2).
//! The only layer that prints: reports on stdout, messages and progress on
//! stderr.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub mod apply;
mod cluster_events;
pub mod diff_base;
pub mod diff_cluster;
mod diff_output;
pub mod logs;
pub mod new;
pub mod promote;
pub mod rbac;
pub mod render;
pub mod runs;
pub mod schema;
pub mod status;
mod target;
pub mod train;
pub mod validate;
mod wait_display;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let root = cli.root.as_path();
    match &cli.command {
        Command::Validate(args) => validate::run(root, args),
        Command::Schema(args) => schema::run(root, args),
        Command::Render(args) => render::run(root, args),
        Command::Diff(args) if args.base.is_some() => diff_base::run(root, args),
        Command::Diff(args) => diff_cluster::run(root, args),
        Command::Apply(args) => apply::run(root, args),
        Command::Status(args) => status::run(root, args),
        Command::Train(args) => train::run(root, args),
        Command::Logs(args) => logs::run(root, args),
        Command::Runs(args) => runs::run(root, args),
        Command::Promote(args) => promote::run(root, args),
        Command::Rbac(args) => rbac::run(root, args),
        Command::New(args) => new::run(root, args),
    }
}
