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
    let namespace = prepared.namespace_of(&settings.model);
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
            let status = r.status.to_string();
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
    let mut out = crate::term::aligned_table(&header, &cells);
    out.push_str(&failures(rows));
    out.push_str(&waiting(rows));
    out
}

/// Under the table, why each queued or preempted run waits, as Kueue says
/// (one line per Job: a sweep's trials wait together).
fn waiting(rows: &[TrainingRun]) -> String {
    let mut out = String::new();
    let mut told = std::collections::BTreeSet::new();
    for run in rows {
        let word = match run.status {
            RunStatus::Queued => "queued",
            RunStatus::Preempted => "preempted",
            _ => continue,
        };
        if !told.insert(run.job.as_str()) {
            continue;
        }
        let reason = run
            .reason
            .as_deref()
            .unwrap_or("waiting for Kueue to admit it");
        out.push_str(&format!("\n{} {word}: {}\n", run.job, cut(reason)));
    }
    out
}

/// Lines of a failed run's error shown under the table, at most.
const ERROR_LINES: usize = 12;
/// Characters of one such line, at most.
const ERROR_WIDTH: usize = 160;

/// Under the table, why each failed run failed: the error's first line,
/// then its last lines (a training container's log tail), each cut to
/// [`ERROR_WIDTH`]. The table's STATUS column says only `failed`, so a
/// long message never widens it; `--format json` keeps the error whole.
fn failures(rows: &[TrainingRun]) -> String {
    let mut out = String::new();
    for run in rows.iter().filter(|r| r.status == RunStatus::Failed) {
        let Some(error) = run.error.as_deref() else {
            continue;
        };
        let mut lines = error.lines();
        let first = lines.next().unwrap_or_default();
        let first = first.trim_end_matches(':');
        out.push_str(&format!("\n{} failed: {}\n", run.run, cut(first)));
        let rest: Vec<&str> = lines.collect();
        let skipped = rest.len().saturating_sub(ERROR_LINES);
        if skipped > 0 {
            out.push_str(&format!("  … {skipped} earlier line(s)\n"));
        }
        for line in &rest[skipped..] {
            out.push_str(&format!("  {}\n", cut(line)));
        }
    }
    out
}

/// `line`, cut to [`ERROR_WIDTH`] characters with `…`.
fn cut(line: &str) -> String {
    match line.char_indices().nth(ERROR_WIDTH) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
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

    fn run(name: &str, status: RunStatus, error: Option<String>) -> TrainingRun {
        TrainingRun {
            reason: None,
            run: name.to_owned(),
            job: "j".to_owned(),
            index: None,
            params: Default::default(),
            started: None,
            duration_seconds: None,
            status,
            error,
            metrics: Default::default(),
            output: None,
            model: None,
            truncated: false,
        }
    }

    /// A failed run's log tail goes under the table, its last lines only,
    /// each cut short; the STATUS column stays one word.
    #[test]
    fn a_failed_runs_last_lines_go_under_the_table() {
        let log: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
        let long = "x".repeat(500);
        let error = format!("container train exited 1:\n{}\n{long}", log.join("\n"));
        let text = table(&[
            run("j-0", RunStatus::Succeeded, None),
            run("j-1", RunStatus::Failed, Some(error)),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].contains(" failed "), "{text}");
        assert!(!lines[2].contains("container"), "{text}");
        let under = &lines[4..];
        assert_eq!(under[0], "j-1 failed: container train exited 1");
        assert_eq!(under[1], "  … 9 earlier line(s)");
        assert_eq!(under[2], "  line 10");
        assert_eq!(under[13], format!("  {}…", "x".repeat(ERROR_WIDTH)));
        assert_eq!(under.len(), 14, "{text}");
    }

    #[test]
    fn queued_and_preempted_runs_say_why_under_the_table() {
        let mut queued = run("j-0", RunStatus::Queued, None);
        queued.reason =
            Some("Pending: insufficient quota for nvidia.com/gpu in flavor a100".to_owned());
        let mut other_trial = queued.clone();
        other_trial.run = "j-1".to_owned();
        let mut preempted = run("k", RunStatus::Preempted, None);
        preempted.job = "k".to_owned();
        let text = waiting(&[queued, other_trial, preempted]);
        assert_eq!(
            text,
            "\nj queued: Pending: insufficient quota for nvidia.com/gpu in flavor a100\n\nk preempted: waiting for Kueue to admit it\n"
        );
    }
}
