//! `modelctl diff [--env E] [--context C] [--format text|markdown|json]`:
//! server-side apply dry run of every rendered object against the cluster,
//! printed by the same renderer as `diff --base`.
//! Exit 0 when nothing would change, 1 when something would, 2 on errors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::diff_output::print_report;
use super::target::{prepare, runtime};
use crate::cli::{DiffArgs, OutputFormat};
use crate::cluster::diff::{DiffOptions, diff};
use crate::manifest_diff::summary;

/// Runs the command.
pub fn run(root: &Path, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &args.target)?;
    let report = runtime()?.block_on(async {
        let cluster = prepared.connect().await?;
        diff(
            &cluster,
            &prepared.target,
            &prepared.objects(),
            &DiffOptions::default(),
        )
        .await
        .with_context(|| format!("diffing environment `{}`", prepared.target.env))
    })?;
    print_report(&report, args.format);
    if args.format != OutputFormat::Text {
        eprintln!("{}", summary(&report));
    }
    Ok(if report.has_errors() {
        ExitCode::from(2)
    } else if report.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
