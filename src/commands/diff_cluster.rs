//! `modelctl diff [--env E] [--context C] [--format text|markdown|json]
//! [--exact] [--verbose]`: the rendered objects against the cluster (read
//! once per kind, dry runs only where something differs; every object with
//! `--exact`), printed by the same renderer as `diff --base`.
//! Exit 0 when nothing would change, 1 when something would, 2 on errors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::shared::{
    ReportFormat, connect, print_report, requests_line, scan_line, warn_of_queues,
};
use crate::cluster::diff::{DiffOptions, diff_counted};
use crate::environment::{Selection, prepare, runtime};
use crate::manifest_diff::summary;

/// What `diff` against a cluster does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The environment and cluster.
    pub target: Selection,
    /// How the report is written.
    pub format: ReportFormat,
    /// Dry-run every object instead of only those that differ.
    pub exact: bool,
    /// Say how the cluster was read.
    pub verbose: bool,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &settings.target)?;
    let options = DiffOptions {
        exact: settings.exact,
        ..DiffOptions::default()
    };
    let report = runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        let objects = prepared.objects();
        warn_of_queues(&cluster, &objects).await?;
        let (report, scan) = diff_counted(&cluster, &prepared.target, &objects, &options)
            .await
            .with_context(|| format!("diffing environment `{}`", prepared.target.env))?;
        if settings.verbose {
            if let Some(scan) = &scan {
                eprintln!("{}", scan_line(scan));
            }
            eprintln!("{}", requests_line(&cluster.requests()));
        }
        anyhow::Ok(report)
    })?;
    print_report(&report, settings.format);
    if settings.format != ReportFormat::Text {
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
