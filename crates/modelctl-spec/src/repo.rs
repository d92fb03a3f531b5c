//! The validated repository: `modelctl.toml` and every model, each resolved
//! for every environment. Only [`crate::pipeline`] builds one, after every
//! stage passed; everything downstream (compile, cluster) reads it, one
//! environment at a time through [`Repo::environment`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, EnvSettings, UnknownEnvironment};
use crate::model::ModelSpec;
use crate::values::{ModelName, Namespace};

/// A validated repository.
#[derive(Debug, Clone)]
pub struct Repo {
    /// `modelctl.toml`.
    pub config: Config,
    /// Every model, sorted by name.
    pub models: Vec<Model>,
}

/// One validated model.
#[derive(Debug, Clone)]
pub struct Model {
    /// The model's name (the file stem).
    pub name: ModelName,
    /// The spec file's path relative to the repo root (`models/digits.toml`).
    pub source: PathBuf,
    /// The spec as written, `[env.*]` tables included.
    pub spec: ModelSpec,
    /// The spec resolved for each environment of `modelctl.toml` (overrides
    /// deep-merged; `env` empty).
    pub resolved: BTreeMap<String, ModelSpec>,
}

/// One environment of a repository: its settings, and every model with its
/// spec resolved for it. Made only by [`Repo::environment`], so a model's
/// spec here is always the one of this environment.
#[derive(Debug, Clone)]
pub struct RepoEnv<'r> {
    /// The environment's settings.
    pub settings: EnvSettings,
    /// Every model, sorted by name.
    pub models: Vec<ModelEnv<'r>>,
}

/// One model in one environment.
#[derive(Debug, Clone)]
pub struct ModelEnv<'r> {
    /// The model.
    pub model: &'r Model,
    /// Its spec with the environment's `[env.*]` overrides merged in.
    pub spec: &'r ModelSpec,
    /// The namespace its objects go to ([`namespace_of`]).
    pub namespace: Namespace,
}

/// The namespace of model `model` (spec `spec`, resolved for the
/// environment `settings`): the spec's `namespace`; else, for a model with
/// an `owner`, the environment's `owner-namespace` rendered over it; else
/// the environment's `namespace`. An error says why a rendered name is not
/// a namespace.
pub fn namespace_of(
    settings: &EnvSettings,
    model: &str,
    spec: &ModelSpec,
) -> Result<Namespace, String> {
    if let Some(ns) = &spec.namespace {
        return Ok(ns.clone());
    }
    let (Some(template), Some(owner)) = (&settings.owner_namespace, &spec.owner) else {
        return Ok(settings.namespace.clone());
    };
    let text = template.render(owner.as_str(), model, &settings.name)?;
    text.parse::<Namespace>().map_err(|e| {
        format!(
            "`{text}` is not a namespace name ({}; {})",
            e.message, e.help
        )
    })
}

impl Repo {
    /// Environment `name` of `modelctl.toml`, every model resolved for it;
    /// an error naming the known environments when there is no such one.
    pub fn environment(&self, name: &str) -> Result<RepoEnv<'_>, UnknownEnvironment> {
        let settings = self.config.environment(name)?;
        let models = self
            .models
            .iter()
            .map(|model| {
                // A repository resolves every model for every environment;
                // a model without this one would be a repository built by
                // hand, and is reported rather than rendered without its
                // overrides.
                let spec = model.resolved.get(name).ok_or_else(|| UnknownEnvironment {
                    name: name.to_owned(),
                    known: model.resolved.keys().cloned().collect(),
                })?;
                // Validation rendered the namespace of every model in every
                // environment; a repository built by hand falls back to the
                // environment's.
                let namespace = namespace_of(&settings, model.name.as_str(), spec)
                    .unwrap_or_else(|_| settings.namespace.clone());
                Ok(ModelEnv {
                    model,
                    spec,
                    namespace,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RepoEnv { settings, models })
    }
}

impl Model {
    /// The spec for environment `env` (every environment of the config has one).
    pub fn spec_for(&self, env: &str) -> Option<&ModelSpec> {
        self.resolved.get(env)
    }
}
