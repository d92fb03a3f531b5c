//! `modelctl status [--env E] [--format text|json]`: one row per model with
//! ready/desired replicas, the served model URI, route host, autoscaler and
//! last training run, read from the live cluster.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::shared::{ReportFormat, connect};
use crate::cluster::status::{ModelStatus, status};
use crate::environment::{Selection, prepare, runtime};

/// What `status` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The environment and cluster.
    pub target: Selection,
    /// A table (text or Markdown) or JSON.
    pub format: ReportFormat,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &settings.target)?;
    let objects: Vec<(String, serde_json::Value)> = prepared
        .manifests
        .iter()
        .map(|m| (m.model.clone(), m.object.clone()))
        .collect();
    let rows = runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        status(&cluster, &prepared.target.namespace, &objects)
            .await
            .with_context(|| {
                format!(
                    "reading the status of environment `{}`",
                    prepared.target.env
                )
            })
    })?;
    match settings.format {
        ReportFormat::Json => {
            crate::term::out(&format!("{}\n", serde_json::to_string_pretty(&rows)?))
        }
        ReportFormat::Markdown => crate::term::out(&table(&rows, true)),
        ReportFormat::Text => crate::term::out(&table(&rows, false)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Aligned columns, or a Markdown table.
fn table(rows: &[ModelStatus], markdown: bool) -> String {
    let header = [
        "MODEL",
        "READY",
        "MODEL URI",
        "ROUTE",
        "AUTOSCALER",
        "LAST RUN",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.model.clone(),
                match (r.ready, r.desired) {
                    (Some(ready), Some(desired)) => format!("{ready}/{desired}"),
                    _ => dash(),
                },
                r.model_uri.clone().unwrap_or_else(dash),
                r.route.clone().unwrap_or_else(dash),
                r.autoscaler.clone().unwrap_or_else(dash),
                r.last_run.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    let mut out = String::new();
    if markdown {
        out.push_str(&format!(
            "| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for row in &cells {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        return out;
    }
    out.push_str(&crate::term::aligned_table(&header, &cells));
    out
}
