//! What every cluster command does first: load and render the repo for one
//! environment (`--env`), pick the kubeconfig context (`--context`, else the
//! environment's), and connect. Invalid specs stop here, before any request.
//!
//! Returns data; saying which environment a command connects to is the
//! commands' (`commands::shared::connect`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use modelctl_spec::load_repo;
use modelctl_spec::model::Objective;

use crate::cluster::{Cluster, Target};
use crate::compile::{Manifest, render_env};

/// The environment and cluster a command asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The environment of `modelctl.toml`; may be left out when there is only one.
    pub env: Option<String>,
    /// The kubeconfig context, overriding the environment's `context`.
    pub context: Option<String>,
}

/// One environment, rendered and ready to talk to its cluster.
pub struct Prepared {
    /// Environment name and namespace.
    pub target: Target,
    /// The kubeconfig context (`--context`, else the environment's).
    pub context: Option<String>,
    /// Everything rendered for the environment.
    pub manifests: Vec<Manifest>,
    /// Each model's `[train] objective` in the environment, where declared.
    pub objectives: BTreeMap<String, Objective>,
    /// Each model's namespace in the environment (its own, its team's, or
    /// the environment's).
    pub namespaces: BTreeMap<String, String>,
}

/// Loads the repo and renders environment `env` (or the only one there is).
/// Fails, before any cluster call, when the specs are invalid.
pub fn prepare(root: &Path, selection: &Selection) -> anyhow::Result<Prepared> {
    let repo = load_repo(root).map_err(|report| {
        anyhow!("{report}\nthe specs are invalid; nothing was sent to the cluster")
    })?;
    let names: Vec<&str> = repo.config.env_names().collect();
    let name = match (selection.env.as_deref(), names.as_slice()) {
        (Some(env), _) => env,
        (None, [only]) => only,
        (None, _) => bail!(
            "several environments ({}): choose one with --env",
            names.join(", ")
        ),
    };
    let env = repo.environment(name)?;
    let manifests = render_env(&env);
    let objectives = env
        .models
        .iter()
        .filter_map(|m| {
            let objective = m.spec.train.as_ref()?.objective.clone()?;
            Some((m.model.name.to_string(), objective))
        })
        .collect();
    let namespaces = env
        .models
        .iter()
        .map(|m| (m.model.name.to_string(), m.namespace.to_string()))
        .collect();
    let settings = env.settings;
    Ok(Prepared {
        target: Target {
            env: settings.name.clone(),
            namespace: settings.namespace.to_string(),
        },
        context: selection.context.clone().or(settings.context.clone()),
        manifests,
        objectives,
        namespaces,
    })
}

impl Prepared {
    /// The namespace of `model` (the environment's for a model it does not
    /// have, so a message about it names a namespace).
    pub fn namespace_of(&self, model: &str) -> &str {
        self.namespaces
            .get(model)
            .map_or(self.target.namespace.as_str(), String::as_str)
    }

    /// Every namespace the environment's models use, and its own (which
    /// holds the inventory), sorted.
    pub fn all_namespaces(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.namespaces.values().map(String::as_str).collect();
        all.push(self.target.namespace.as_str());
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The rendered objects.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.manifests.iter().map(|m| m.object.clone()).collect()
    }

    /// Connects to the environment's cluster.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
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
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
