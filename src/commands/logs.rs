//! `modelctl logs MODEL [--env E] [--follow]`: the logs of the model's latest
//! training run, init containers (the code fetch) first, every line prefixed
//! with the sweep index (or pod) and the container; with `--follow`, until
//! the Job ends, exiting 1 when it failed.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::cluster_events::log_line;
use super::shared::{connect, job_end};
use crate::cluster::logs::stream_logs;
use crate::cluster::train::latest_run;
use crate::environment::{Selection, prepare, runtime};

/// What `logs` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model.
    pub model: String,
    /// The environment and cluster.
    pub target: Selection,
    /// Keep streaming until the run ends.
    pub follow: bool,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &settings.target)?;
    let namespace = prepared.namespace_of(&settings.model).to_owned();
    runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        let job = latest_run(&cluster, &namespace, &settings.model)
            .await?
            .ok_or_else(|| {
                anyhow!(
                    "no training run of `{}` in namespace {namespace}",
                    settings.model
                )
            })?;
        let name = job.metadata.name.clone().unwrap_or_default();
        eprintln!("logs of Job {namespace}/{name}");
        let print = |line| crate::term::out(&format!("{}\n", log_line(&line)));
        let end = stream_logs(
            &cluster,
            &namespace,
            &name,
            settings.follow,
            Duration::from_secs(2),
            &print,
        )
        .await
        .with_context(|| format!("reading the logs of Job {namespace}/{name}"))?;
        Ok(job_end(&end, &format!("Job {namespace}/{name}")))
    })
}
