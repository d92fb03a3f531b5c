//! `modelctl diff [--env E] [--context C] [--format text|markdown|json]`:
//! server-side apply dry run of every rendered object against the cluster.
//! Exit 0 when nothing would change, 1 when something would, 2 on errors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{DiffArgs, OutputFormat};
use crate::cluster::diff::{DiffOptions, diff};
use crate::cluster::report::{ReportFormat, render, summary};

use super::target::{prepare, runtime};

/// Runs the command.
pub fn run(root: &Path, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &args.target)?;
    let format = match args.format {
        OutputFormat::Text => ReportFormat::Text {
            color: crate::term::colour(&std::io::stdout()),
        },
        OutputFormat::Markdown => ReportFormat::Markdown,
        OutputFormat::Json => ReportFormat::Json,
    };
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
    print!("{}", render(&report, format));
    if !matches!(format, ReportFormat::Text { .. }) {
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
