//! `modelctl train MODEL [--env E] [--follow]`: starts an ad-hoc training
//! run now (the rendered Job under a unique name, deleted a day after it
//! finishes, after the ConfigMap it mounts) and, with `--follow`, streams its
//! logs and exits with its result.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use super::cluster_events::log_line;
use super::shared::{connect, job_end};
use crate::cluster::logs::stream_logs;
use crate::cluster::train::{apply_run_inputs, start_run};
use crate::environment::{Selection, prepare, runtime};
use crate::reconcile::adhoc_run::{adhoc_job, mounted_config_maps, unique_suffix};

/// What `train` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model.
    pub model: String,
    /// The environment and cluster.
    pub target: Selection,
    /// Stream the run's logs until it ends; exit with its result.
    pub follow: bool,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, &settings.target)?;
    let Some(rendered) = prepared
        .manifests
        .iter()
        .find(|m| m.model == settings.model && m.object["kind"] == "Job")
    else {
        bail!(
            "model `{}` has no training Job in environment `{}` (does models/{}.toml have a [train] section?)",
            settings.model,
            prepared.target.env,
            settings.model
        );
    };
    let job = adhoc_job(&rendered.object, &unique_suffix())?;
    let objects = prepared.objects();
    let inputs = mounted_config_maps(&job, &objects);
    let namespace = prepared.namespace_of(&settings.model).to_owned();
    runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        apply_run_inputs(&cluster, &inputs)
            .await
            .context("applying the training run's start script")?;
        let key = start_run(&cluster, &job)
            .await
            .context("starting the training run")?;
        eprintln!("started {key}");
        if !settings.follow {
            return Ok(ExitCode::SUCCESS);
        }
        let print = |line| crate::term::out(&format!("{}\n", log_line(&line)));
        let end = stream_logs(
            &cluster,
            &namespace,
            &key.name,
            true,
            Duration::from_secs(2),
            &print,
        )
        .await
        .with_context(|| format!("following {key}"))?;
        Ok(job_end(&end, &key.to_string()))
    })
}
