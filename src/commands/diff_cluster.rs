//! `modelctl diff [--env E] [--context C] [--format text|markdown|json]
//! [--exact] [--verbose]`: the rendered objects against the cluster (read
//! once per kind, dry runs only where something differs; every object with
//! `--exact`), printed by the same renderer as `diff --base`.
//! Exit 0 when nothing would change, 1 when something would, 2 on errors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::apply::scan_line;
use super::diff_output::print_report;
use super::target::{prepare, runtime};
use crate::cli::{DiffArgs, OutputFormat};
use crate::cluster::diff::{DiffOptions, diff_counted};
use crate::manifest_diff::summary;

/// Runs the command.
pub fn run(root: &Path, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &args.target)?;
    let options = DiffOptions {
        exact: args.exact,
        ..DiffOptions::default()
    };
    let report = runtime()?.block_on(async {
        let cluster = prepared.connect().await?;
        let (report, scan) =
            diff_counted(&cluster, &prepared.target, &prepared.objects(), &options)
                .await
                .with_context(|| format!("diffing environment `{}`", prepared.target.env))?;
        if args.verbose {
            if let Some(scan) = &scan {
                eprintln!("{}", scan_line(scan));
            }
            eprintln!("sent {}", cluster.requests());
        }
        anyhow::Ok(report)
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
