//! `modelctl runs MODEL [--env E] [--format text|json] [--best]`: the
//! model's training runs, newest first, one row per run (a sweep's trials
//! each): Job, index, parameters, start, duration, status, metrics and the
//! exported model's URI, read from the cluster only. `--best` keeps the best
//! succeeded run by the spec's `[train] objective`: exit 2 when the spec
//! declares none, 1 when no succeeded run reported its metric.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;

use super::shared::{fetch_runs, no_best, no_objective};
use crate::cluster::run_history::{RunStatus, TrainingRun, best};
use crate::environment::{Selection, prepare};

/// What `runs` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model.
    pub model: String,
    /// The environment and cluster.
    pub target: Selection,
    /// How the runs are written.
    pub format: Format,
    /// Only the best succeeded run by the spec's `[train] objective`.
    pub best: bool,
}

/// How `runs` writes the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Text,
    /// Machine-readable JSON.
    Json,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &settings.target)?;
    let objective = prepared.objectives.get(&settings.model).cloned();
    if settings.best && objective.is_none() {
        bail!("{}", no_objective(&settings.model));
    }
    let namespace = &prepared.target.namespace;
    let runs = fetch_runs(&prepared, &settings.model)?;
    let shown: Vec<TrainingRun> = match &objective {
        Some(o) if settings.best => match best(&runs, o.metric.as_str(), o.goal) {
            Some(run) => vec![run.clone()],
            None => {
                eprintln!("{}", no_best(&settings.model, o, &runs));
                return Ok(ExitCode::from(1));
            }
        },
        _ => runs,
    };
    if shown.is_empty() {
        eprintln!(
            "no training runs of `{}` in namespace {namespace}",
            settings.model
        );
    }
    match settings.format {
        Format::Json => {
            crate::term::out(&format!("{}\n", serde_json::to_string_pretty(&shown)?));
        }
        Format::Text => crate::term::out(&table(&shown)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `1h02m`, `45s`.
fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, _) => format!("{h}h{min:02}m"),
    }
}

/// `k=v k=v`, keys in order.
fn pairs<V: std::fmt::Display>(map: &std::collections::BTreeMap<String, V>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Aligned columns.
fn table(rows: &[TrainingRun]) -> String {
    let header = [
        "RUN", "JOB", "INDEX", "PARAMS", "STARTED", "DURATION", "STATUS", "METRICS", "OUTPUT",
    ];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            let status = match &r.error {
                Some(why) if r.status == RunStatus::Failed => {
                    format!("failed ({why})")
                }
                _ => r.status.to_string(),
            };
            let mut metrics = pairs(&r.metrics);
            if r.truncated {
                metrics.push_str(" (truncated)");
            }
            [
                r.run.clone(),
                r.job.clone(),
                r.index.map_or_else(dash, |i| i.to_string()),
                Some(pairs(&r.params))
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(dash),
                r.started.clone().unwrap_or_else(dash),
                r.duration_seconds.map_or_else(dash, duration),
                status,
                Some(metrics)
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(dash),
                r.output.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    crate::term::aligned_table(&header, &cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(125), "2m05s");
        assert_eq!(duration(3 * 3600 + 7 * 60 + 9), "3h07m");
    }
}
