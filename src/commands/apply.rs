//! `modelctl apply [--env E] [--prune] [--wait] [--timeout D] [--dry-run]
//! [--force-conflicts]`: server-side apply of the rendered objects in stages,
//! opt-in prune, and an optional wait for the serving rollouts (and, with
//! `--wait-training`, the training Jobs too). Exit 0, or 2 on any error.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};

use super::cluster_events::apply_line;
use super::shared::{connect, scan_line};
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
    /// How long a wait may take, as written on the command line (`5m`).
    pub timeout: String,
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
pub fn run(root: &Path, args: &Settings) -> anyhow::Result<ExitCode> {
    let timeout =
        parse_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
    let prepared = prepare(root, &args.target)?;
    let options = ApplyOptions {
        dry_run: args.dry_run,
        force_conflicts: args.force_conflicts,
        prune: args.prune,
        concurrency: DEFAULT_CONCURRENCY,
        exact: args.exact,
    };
    let env = prepared.target.env.clone();
    runtime()?.block_on(async {
        let cluster = connect(&prepared).await?;
        let progress = |event| eprintln!("{}", apply_line(&event));
        let outcome = apply(
            &cluster,
            &prepared.target,
            &prepared.objects(),
            &options,
            &progress,
        )
        .await
        .with_context(|| format!("applying environment `{env}`"))?;
        let count = |a: Applied| outcome.applied.iter().filter(|(_, x)| *x == a).count();
        eprintln!(
            "{}applied {} object(s) to `{env}`: {} created, {} configured, {} unchanged, {} pruned",
            if args.dry_run { "(dry run) " } else { "" },
            outcome.applied.len(),
            count(Applied::Created),
            count(Applied::Configured),
            count(Applied::Unchanged),
            outcome.pruned.len()
        );
        if args.verbose {
            if let Some(scan) = &outcome.scan {
                eprintln!("{}", scan_line(scan));
            }
            eprintln!("sent {}", cluster.requests());
        }
        if (args.wait || args.wait_training) && !args.dry_run {
            let applied: Vec<_> = outcome.applied.iter().map(|(k, _)| k.clone()).collect();
            let keys = to_wait_for(&applied, args.wait_training);
            let display = WaitDisplay::new(std::io::stderr().is_terminal());
            wait(&cluster, &keys, timeout, &|event| display.show(event))
                .await
                .context(if args.wait_training {
                    "waiting for rollouts and training Jobs"
                } else {
                    "waiting for rollouts"
                })?;
            eprintln!(
                "{}",
                if args.wait_training {
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

/// `90`, `30s`, `5m`, `1h`, `1h30m`.
pub(crate) fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => bail!("unknown unit {c:?}: write durations like 90s, 5m or 1h30m"),
        };
        let n: u64 = number
            .parse()
            .with_context(|| format!("a number must come before {c:?}"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        bail!("a unit must follow the number: write durations like 90s, 5m or 1h30m");
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("5m3").is_err());
    }
}
