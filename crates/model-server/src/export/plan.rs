//! The export plan: what modelctl renders into the training ConfigMap as
//! `export.json`, and the one run of it this pod exports.
//!
//! Owns the plan's format and how a run is chosen: the run name is
//! `$MODELCTL_RUN` (the Job's name), plus `-<index>` in a sweep, where
//! `$JOB_COMPLETION_INDEX` picks the parameters and the output. The output
//! template's `{{ run }}` was left for this step to fill in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What stands for the run name in a planned output URI.
pub const RUN_PLACEHOLDER: &str = "{{ run }}";

/// The whole plan, as rendered by modelctl.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Plan {
    /// The model's name.
    pub model: String,
    /// Where the training code came from.
    #[serde(default)]
    pub code: Option<CodeRef>,
    /// Whether the Job is a sweep (an Indexed Job).
    #[serde(default)]
    pub sweep: bool,
    /// One entry per completion index (exactly one without a sweep).
    pub runs: Vec<PlannedRun>,
    /// How many workers (nodes) run the training: every worker's pod runs
    /// `model-export`, and only worker 0 exports.
    #[serde(default = "one")]
    pub workers: u32,
}

fn one() -> u32 {
    1
}

/// The training code's source, recorded in `run.json`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CodeRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The commit the checkout ended on, read from the workspace at export time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// One completion index: its parameters and its output template.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PlannedRun {
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub output: Option<String>,
}

/// The run this pod exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub name: String,
    pub index: Option<usize>,
    pub params: BTreeMap<String, String>,
    /// The output URI with the run filled in, without a trailing `/`.
    pub output: Option<String>,
}

impl Plan {
    /// Parses `export.json`.
    pub fn parse(text: &str) -> Result<Plan, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Whether the worker at completion `index` exports: every pod of a
    /// one-node run does, and worker 0 of a multi-node run alone (the
    /// others wrote no model).
    pub fn exports(&self, index: Option<&str>) -> Result<bool, String> {
        if self.workers <= 1 {
            return Ok(true);
        }
        let text = index.ok_or(
            "JOB_COMPLETION_INDEX is not set: a multi-node run is an Indexed Job".to_owned(),
        )?;
        let index: u32 = text
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX `{text}` is not an index"))?;
        if index >= self.workers {
            return Err(format!(
                "worker {index} is not one of the run's {} workers",
                self.workers
            ));
        }
        Ok(index == 0)
    }

    /// The run named from `job` (the Job's name) and, in a sweep, `index`
    /// (`$JOB_COMPLETION_INDEX` as set by Kubernetes).
    pub fn run(&self, job: &str, index: Option<&str>) -> Result<Run, String> {
        let position = if self.sweep {
            let text = index.ok_or(
                "JOB_COMPLETION_INDEX is not set: a sweep runs as an Indexed Job".to_owned(),
            )?;
            let position: usize = text
                .trim()
                .parse()
                .map_err(|_| format!("JOB_COMPLETION_INDEX `{text}` is not an index"))?;
            Some(position)
        } else {
            None
        };
        let planned = self.runs.get(position.unwrap_or(0)).ok_or_else(|| {
            format!(
                "index {} is not in the plan ({} runs)",
                position.unwrap_or(0),
                self.runs.len()
            )
        })?;
        let name = match position {
            Some(i) => format!("{job}-{i}"),
            None => job.to_owned(),
        };
        let output = planned.output.as_ref().map(|template| {
            template
                .replace(RUN_PLACEHOLDER, &name)
                .trim_end_matches('/')
                .to_owned()
        });
        Ok(Run {
            name,
            index: position,
            params: planned.params.clone(),
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWEEP: &str = r#"{"model": "m", "sweep": true, "runs": [
        {"params": {"lr": "0.1"}, "output": "s3://b/m/{{ run }}/lr-0.1/"},
        {"params": {"lr": "0.2"}, "output": "s3://b/m/{{ run }}/lr-0.2"}]}"#;

    #[test]
    fn worker_zero_alone_exports_a_multi_node_run() {
        let plan = Plan::parse(
            r#"{"model": "m", "workers": 3, "runs": [{"output": "s3://b/{{ run }}"}]}"#,
        )
        .unwrap();
        assert_eq!(plan.exports(Some("0")), Ok(true));
        assert_eq!(plan.exports(Some("2")), Ok(false));
        assert!(
            plan.exports(Some("3"))
                .unwrap_err()
                .contains("not one of the run's 3 workers")
        );
        assert!(
            plan.exports(None)
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX is not set")
        );
        // Every worker names the run after the Job, without an index.
        assert_eq!(plan.run("m-train-1", Some("2")).unwrap().name, "m-train-1");
        let single = Plan::parse(r#"{"model": "m", "runs": [{}]}"#).unwrap();
        assert_eq!(single.exports(None), Ok(true));
    }

    #[test]
    fn a_sweep_index_picks_its_parameters_and_output() {
        let plan = Plan::parse(SWEEP).unwrap();
        let run = plan.run("m-train-0a1b2c3d", Some("1")).unwrap();
        assert_eq!(run.name, "m-train-0a1b2c3d-1");
        assert_eq!(run.params["lr"], "0.2");
        assert_eq!(
            run.output.as_deref(),
            Some("s3://b/m/m-train-0a1b2c3d-1/lr-0.2")
        );
        let first = plan.run("j", Some("0")).unwrap();
        assert_eq!(first.output.as_deref(), Some("s3://b/m/j-0/lr-0.1"));
    }

    #[test]
    fn a_sweep_without_an_index_or_outside_the_plan_is_refused() {
        let plan = Plan::parse(SWEEP).unwrap();
        assert!(
            plan.run("j", None)
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX")
        );
        assert!(
            plan.run("j", Some("2"))
                .unwrap_err()
                .contains("index 2 is not in the plan")
        );
        assert!(
            plan.run("j", Some("x"))
                .unwrap_err()
                .contains("is not an index")
        );
    }

    #[test]
    fn a_single_run_is_named_after_the_job() {
        let plan = Plan::parse(r#"{"model": "m", "runs": [{"output": null}]}"#).unwrap();
        let run = plan.run("m-train-1", Some("5")).unwrap();
        assert_eq!(run.name, "m-train-1");
        assert_eq!(run.index, None);
        assert_eq!(run.output, None);
    }
}
