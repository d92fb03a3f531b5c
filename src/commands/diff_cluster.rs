//! `modelctl diff [--env E] [--context C] [--format text|markdown|json]`:
//! server-side apply dry run of every rendered object against the cluster.
//! Exit 0 when nothing would change, 1 when something would, 2 on errors.
//!
//! Also holds what every cluster command does first: load and render the
//! repo for one environment, pick the kubeconfig context, connect.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use modelctl_spec::load_repo;

use crate::cli::{DiffArgs, DiffFormat};
use crate::cluster::diff::{DiffOptions, diff};
use crate::cluster::report::{ReportFormat, render, summary};
use crate::cluster::{Cluster, Target};
use crate::compile::{Manifest, render_env};

/// One environment, rendered and ready to talk to its cluster.
pub(crate) struct Prepared {
    /// Environment name and namespace.
    pub target: Target,
    /// The kubeconfig context (`--context`, else the environment's).
    pub context: Option<String>,
    /// Everything rendered for the environment.
    pub manifests: Vec<Manifest>,
}

/// Loads the repo and renders environment `env` (or the only one there is).
/// Fails, before any cluster call, when the specs are invalid.
pub(crate) fn prepare(
    root: &Path,
    env: Option<&str>,
    context: Option<&str>,
) -> anyhow::Result<Prepared> {
    let repo = load_repo(root).map_err(|report| {
        anyhow!("{report}\nthe specs are invalid; nothing was sent to the cluster")
    })?;
    let names: Vec<String> = repo.config.env_names().map(str::to_owned).collect();
    let env = match env {
        Some(env) if names.iter().any(|n| n == env) => env.to_owned(),
        Some(env) => bail!(
            "unknown environment `{env}`; modelctl.toml defines: {}",
            names.join(", ")
        ),
        None if names.len() == 1 => names[0].clone(),
        None => bail!(
            "several environments ({}): choose one with --env",
            names.join(", ")
        ),
    };
    let settings = repo
        .config
        .env(&env)
        .with_context(|| format!("environment `{env}` vanished"))?;
    let manifests =
        render_env(&repo, &env).with_context(|| format!("rendering environment `{env}` failed"))?;
    Ok(Prepared {
        target: Target {
            env,
            namespace: settings.namespace.to_string(),
        },
        context: context.map(str::to_owned).or(settings.context.clone()),
        manifests,
    })
}

impl Prepared {
    /// The rendered objects.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.manifests.iter().map(|m| m.object.clone()).collect()
    }

    /// Connects to the environment's cluster.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        eprintln!(
            "environment `{}`: namespace {}, kubeconfig context {}",
            self.target.env,
            self.target.namespace,
            self.context.as_deref().unwrap_or("(current)")
        );
        Cluster::connect(self.context.as_deref())
            .await
            .with_context(|| {
                format!(
                    "connecting to the cluster of environment `{}`",
                    self.target.env
                )
            })
    }
}

/// A runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs the command.
pub fn run(root: &Path, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(root, args.env.as_deref(), args.context.as_deref())?;
    let format = match args.format {
        DiffFormat::Text => ReportFormat::Text {
            color: colour_stdout(),
        },
        DiffFormat::Markdown => ReportFormat::Markdown,
        DiffFormat::Json => ReportFormat::Json,
    };
    let report = runtime()?.block_on(async {
        let cluster = prepared.connect().await?;
        diff(
            &cluster,
            &prepared.target,
            &prepared.objects(),
            &DiffOptions::default(),
        )
        .await
        .with_context(|| format!("diffing environment `{}`", prepared.target.env))
    })?;
    print!("{}", render(&report, format));
    if !matches!(format, ReportFormat::Text { .. }) {
        eprintln!("{}", summary(&report));
    }
    Ok(if report.has_errors() {
        ExitCode::from(2)
    } else if report.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
