//! `modelctl status [--env E] [--format text|json]`: one row per model with
//! ready/desired replicas, the served model URI, route host, autoscaler and
//! last training run, read from the live cluster.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::shared::{ReportFormat, connect};
use crate::cluster::status::{Autoscaler, ModelStatus, ScaledBy, Target, status};
use crate::environment::{Selection, prepare, runtime};
use crate::reconcile::progress::RunState;

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
    let rows: Vec<Row> = rows.iter().map(Row::of).collect();
    match settings.format {
        ReportFormat::Json => {
            crate::term::out(&format!("{}\n", serde_json::to_string_pretty(&rows)?))
        }
        ReportFormat::Markdown => crate::term::out(&table(&rows, true)),
        ReportFormat::Text => crate::term::out(&table(&rows, false)),
    }
    Ok(ExitCode::SUCCESS)
}

/// One model's row as `status` shows it (and as `--format json` writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The model.
    pub model: String,
    /// Ready pods of the serving Deployment.
    pub ready: Option<i32>,
    /// Desired pods.
    pub desired: Option<i32>,
    /// The model URI the live Deployment serves.
    pub model_uri: Option<String>,
    /// The route host.
    pub route: Option<String>,
    /// `current/desired (min-max, targets)`, with `via KEDA` when a
    /// ScaledObject scales the model.
    pub autoscaler: Option<String>,
    /// `job state`: the newest training Job and where it stands.
    pub last_run: Option<String>,
}

impl Row {
    /// Words one row of [`status`].
    pub fn of(status: &ModelStatus) -> Row {
        Row {
            model: status.model.clone(),
            ready: status.ready,
            desired: status.desired,
            model_uri: status.model_uri.clone(),
            route: status.route.clone(),
            autoscaler: status.autoscaler.as_ref().map(autoscaler_words),
            last_run: status
                .last_run
                .as_ref()
                .map(|run| format!("{} {}", run.job, run_state_words(run.state.clone()))),
        }
    }
}

/// `2/2 (2-10, cpu 70%)`; `2/2 (2-10, inflight 8) via KEDA`; `(2-10,
/// inflight 8) via KEDA, no HPA `keda-hpa-digits` yet`.
fn autoscaler_words(a: &Autoscaler) -> String {
    let targets: String = a
        .targets
        .iter()
        .map(|t| match t {
            Target::Utilization { resource, percent } => format!(", {resource} {percent}%"),
            Target::Value { metric, value } => format!(", {metric} {value}"),
        })
        .collect();
    let bounds = format!("({}-{}{targets})", a.min, a.max);
    match (a.replicas, &a.by) {
        (Some((current, desired)), ScaledBy::Hpa) => format!("{current}/{desired} {bounds}"),
        (Some((current, desired)), ScaledBy::Keda { .. }) => {
            format!("{current}/{desired} {bounds} via KEDA")
        }
        (None, ScaledBy::Keda { hpa }) => format!("{bounds} via KEDA, no HPA `{hpa}` yet"),
        (None, ScaledBy::Hpa) => bounds,
    }
}

/// `complete`, `failed`, `running (1/3 done)`, `pending`, `queued (<Kueue's
/// reason>)`, `admitted`, `preempted (<reason>)`.
fn run_state_words(state: RunState) -> String {
    let with = |word: &str, reason: Option<String>| match reason {
        Some(reason) => format!("{word} ({reason})"),
        None => word.to_owned(),
    };
    match state {
        RunState::Complete => "complete".to_owned(),
        RunState::Failed => "failed".to_owned(),
        RunState::Running { done, total } => format!("running ({done}/{total} done)"),
        RunState::Pending => "pending".to_owned(),
        RunState::Queued(reason) => with("queued", reason),
        RunState::Admitted => "admitted".to_owned(),
        RunState::Preempted(reason) => with("preempted", reason),
    }
}

/// Aligned columns, or a Markdown table.
fn table(rows: &[Row], markdown: bool) -> String {
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
