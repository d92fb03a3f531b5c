//! The command line: clap definitions and dispatch. Each command lives in
//! [`crate::commands`]; this file only parses and maps results to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

/// Compile per-model TOML specs into Kubernetes manifests, diff and apply them.
#[derive(Debug, Parser)]
#[command(name = "modelctl", version, about)]
pub struct Cli {
    /// Repository root (holds `modelctl.toml` and `models/`).
    #[arg(
        long,
        short = 'C',
        global = true,
        default_value = ".",
        env = "MODELCTL_ROOT"
    )]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// rustc-style frames with a caret under the value.
    Human,
    /// One JSON document listing every diagnostic.
    Json,
    /// GitHub Actions `::error` annotations.
    Github,
}

/// Output format of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Unified diff, coloured on a terminal.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check specs and `modelctl.toml`.
    Validate {
        /// Files to check (default: `modelctl.toml` and `models/*.toml`).
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
        format: ValidateFormat,
    },
    /// Write (or verify with `--check`) the JSON Schemas in `schemas/`.
    Schema {
        /// Exit 1 with a diff when `schemas/` is stale; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Write (or verify with `--check`) the manifests in `generated/`.
    Render {
        /// Only this environment (default: all).
        #[arg(long)]
        env: Option<String>,
        /// Output directory (default: `generated/` under the root).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 1 with a diff when the output is stale; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Diff manifests against a Git revision (`--base`) or the live cluster.
    Diff {
        /// Git revision to compare the work tree with; no cluster needed.
        #[arg(long)]
        base: Option<String>,
        /// Environment (default: all for `--base`, required against a cluster
        /// when there are several).
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (overrides the environment's `context`).
        #[arg(long)]
        context: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Server-side apply the rendered manifests to the cluster.
    Apply {
        /// Environment.
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (overrides the environment's `context`).
        #[arg(long)]
        context: Option<String>,
        /// Delete managed objects that are no longer rendered.
        #[arg(long)]
        prune: bool,
        /// Wait for rollouts and Jobs to finish.
        #[arg(long)]
        wait: bool,
        /// How long `--wait` waits (`5m`).
        #[arg(long, default_value = "5m")]
        timeout: String,
        /// Ask the server to validate everything, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Take over fields another field manager owns.
        #[arg(long)]
        force_conflicts: bool,
    },
    /// One row per model: replicas, model URI, route, last training run.
    Status {
        /// Environment.
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (overrides the environment's `context`).
        #[arg(long)]
        context: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Start an ad-hoc training run now.
    Train {
        /// The model.
        model: String,
        /// Environment.
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (overrides the environment's `context`).
        #[arg(long)]
        context: Option<String>,
        /// Stream the run's logs until it ends; exit with its result.
        #[arg(long)]
        follow: bool,
    },
    /// Stream the logs of a model's latest training run.
    Logs {
        /// The model.
        model: String,
        /// Environment.
        #[arg(long)]
        env: Option<String>,
        /// kubeconfig context (overrides the environment's `context`).
        #[arg(long)]
        context: Option<String>,
        /// Keep streaming until the run ends.
        #[arg(long)]
        follow: bool,
    },
}

/// Parses the command line, runs the command and maps the result to an exit code.
/// Errors print as `error: …` with their causes, and exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
