//! `modelctl apply [--env E] [--prune] [--wait] [--timeout D] [--dry-run]
//! [--force-conflicts]`: server-side apply of the rendered objects in stages,
//! opt-in prune, and an optional wait for the serving rollouts (and, with
//! `--wait-training`, the training Jobs too). Exit 0, or 2 on any error.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::cluster_events::apply_line;
use super::shared::{connect, requests_line, scan_line, warn_of_queues};
use super::wait_display::WaitDisplay;
use crate::cluster::apply::{Applied, ApplyOptions, apply};
use crate::cluster::diff::DEFAULT_CONCURRENCY;
use crate::cluster::wait::{to_wait_for, wait};
use crate::environment::{Selection, prepare, runtime};

/// What `apply` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The environment and cluster.
    pub target: Selection,
    /// Delete managed objects that are no longer rendered.
    pub prune: bool,
    /// Wait for the serving Deployments' rollouts.
    pub wait: bool,
    /// Wait for the training Jobs to complete as well (implies `wait`).
    pub wait_training: bool,
    /// How long a wait may take.
    pub timeout: Duration,
    /// Ask the server to validate everything, change nothing.
    pub dry_run: bool,
    /// Take over fields another field manager owns.
    pub force_conflicts: bool,
    /// Send every object, not only those that are new or differ.
    pub exact: bool,
    /// Say how the cluster was read and what was sent.
    pub verbose: bool,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let timeout = settings.timeout;
    let prepared = prepare(root, &settings.target)?;
    let options = ApplyOptions {
        dry_run: settings.dry_run,
        force_conflicts: settings.force_conflicts,
        prune: settings.prune,
        concurrency: DEFAULT_CONCURRENCY,
        exact: settings.exact,
    };
    let env = prepared.target.env.clone();
    runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        let objects = prepared.objects();
        warn_of_queues(&cluster, &objects).await?;
        let progress = |event| eprintln!("{}", apply_line(&event));
        let outcome = apply(&cluster, &prepared.target, &objects, &options, &progress)
            .await
            .with_context(|| format!("applying environment `{env}`"))?;
        let count = |a: Applied| outcome.applied.iter().filter(|(_, x)| *x == a).count();
        eprintln!(
            "{}applied {} object(s) to `{env}`: {} created, {} configured, {} unchanged, {} pruned",
            if settings.dry_run { "(dry run) " } else { "" },
            outcome.applied.len(),
            count(Applied::Created),
            count(Applied::Configured),
            count(Applied::Unchanged),
            outcome.pruned.len()
        );
        if settings.verbose {
            if let Some(scan) = &outcome.scan {
                eprintln!("{}", scan_line(scan));
            }
            eprintln!("{}", requests_line(&cluster.requests()));
        }
        if (settings.wait || settings.wait_training) && !settings.dry_run {
            let applied: Vec<_> = outcome.applied.iter().map(|(k, _)| k.clone()).collect();
            let keys = to_wait_for(&applied, settings.wait_training);
            let display = WaitDisplay::new(std::io::stderr().is_terminal());
            wait(&cluster, &keys, timeout, &|event| display.show(event))
                .await
                .context(if settings.wait_training {
                    "waiting for rollouts and training Jobs"
                } else {
                    "waiting for rollouts"
                })?;
            eprintln!(
                "{}",
                if settings.wait_training {
                    "every Deployment is ready and every Job complete"
                } else {
                    "every Deployment is ready"
                }
            );
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
