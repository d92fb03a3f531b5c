//! `modelctl runs MODEL [--env E] [--format text|json] [--best]`: the
//! model's training runs, newest first, one row per run (a sweep's trials
//! each): Job, index, parameters, start, duration, status, metrics and the
//! exported model's URI, read from the cluster only. `--best` keeps the best
//! succeeded run by the spec's `[train] objective`: exit 2 when the spec
//! declares none, 1 when no succeeded run reported its metric.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use modelctl_spec::model::Objective;

use super::target::{Prepared, prepare, runtime};
use crate::cli::{RunsArgs, RunsFormat};
use crate::cluster::run_history::{TrainingRun, best, list_runs};

/// Every run of `model` in the target's namespace, newest first.
pub(super) fn fetch_runs(prepared: &Prepared, model: &str) -> anyhow::Result<Vec<TrainingRun>> {
    let namespace = &prepared.target.namespace;
    runtime()?.block_on(async {
        let cluster = prepared.connect().await?;
        list_runs(&cluster, namespace, model)
            .await
            .with_context(|| format!("listing the runs of `{model}` in {namespace}"))
    })
}

/// Runs the command.
pub fn run(root: &Path, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &args.target)?;
    let objective = prepared.objectives.get(&args.model).cloned();
    if args.best && objective.is_none() {
        bail!("{}", no_objective(&args.model));
    }
    let namespace = &prepared.target.namespace;
    let runs = fetch_runs(&prepared, &args.model)?;
    let shown: Vec<TrainingRun> = match &objective {
        Some(o) if args.best => match best(&runs, o.metric.as_str(), o.goal) {
            Some(run) => vec![run.clone()],
            None => {
                eprintln!("{}", no_best(&args.model, o, &runs));
                return Ok(ExitCode::from(1));
            }
        },
        _ => runs,
    };
    if shown.is_empty() {
        eprintln!(
            "no training runs of `{}` in namespace {namespace}",
            args.model
        );
    }
    match args.format {
        RunsFormat::Json => {
            crate::term::out(&format!("{}\n", serde_json::to_string_pretty(&shown)?));
        }
        RunsFormat::Text => crate::term::out(&table(&shown)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Why `--best` cannot choose: no objective.
pub(crate) fn no_objective(model: &str) -> String {
    format!(
        "models/{model}.toml declares no objective to rank runs by; add \
         `objective = {{ metric = \"val_accuracy\", goal = \"max\" }}` to its [train] section \
         (a key of the metrics.json your code writes), or name the run with --run"
    )
}

/// Why `--best` cannot choose: no succeeded run reported the metric.
pub(crate) fn no_best(model: &str, objective: &Objective, runs: &[TrainingRun]) -> String {
    let succeeded = runs
        .iter()
        .filter(|r| r.status == crate::cluster::run_history::RunStatus::Succeeded)
        .count();
    format!(
        "no succeeded run of `{model}` reported `{}` ({} run(s), {succeeded} succeeded); \
         the objective ranks by a key of the metrics.json the training code writes",
        objective.metric,
        runs.len()
    )
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
                Some(why) if r.status == crate::cluster::run_history::RunStatus::Failed => {
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
