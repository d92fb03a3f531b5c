//! A whole repository of specs: `modelctl.toml` plus `models/*.toml`, loaded,
//! validated, and resolved per environment.
//!
//! PROVISIONAL: a first loader without diagnostics; the validation work
//! replaces its error type with the full report while keeping these signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::model::ModelSpec;
use crate::values::ModelName;

/// One input file: its path as shown to users (relative to the repo root,
/// e.g. `models/digits.toml`) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path shown in messages and generated-file headers.
    pub path: PathBuf,
    /// The file's contents.
    pub text: String,
}

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

impl Model {
    /// The spec for environment `env` (every environment of the config has one).
    pub fn spec_for(&self, env: &str) -> Option<&ModelSpec> {
        self.resolved.get(env)
    }
}

/// Loads `<root>/modelctl.toml` and `<root>/models/*.toml`.
pub fn load_repo(root: &Path) -> Result<Repo, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(root.join(p)).map_err(|e| format!("reading {}: {e}", p.display()))
    };
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: read(Path::new("modelctl.toml"))?,
    };
    let mut models = Vec::new();
    let dir = root.join("models");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            let path = PathBuf::from("models").join(&name);
            models.push(Source {
                text: read(&path)?,
                path,
            });
        }
    }
    load_sources(&config, &models)
}

/// Validates a repository given as in-memory sources (used for `diff --base`).
pub fn load_sources(config: &Source, models: &[Source]) -> Result<Repo, String> {
    let config: Config =
        toml::from_str(&config.text).map_err(|e| format!("{}: {e}", config.path.display()))?;
    let mut out = Vec::new();
    for src in models {
        let stem = src
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name: ModelName = stem
            .parse()
            .map_err(|e| format!("{}: {e}", src.path.display()))?;
        let spec: ModelSpec =
            toml::from_str(&src.text).map_err(|e| format!("{}: {e}", src.path.display()))?;
        let mut resolved = BTreeMap::new();
        for env in config.env_names() {
            let mut base = toml::Table::try_from(&spec).map_err(|e| e.to_string())?;
            base.remove("env");
            if let Some(over) = spec.env.get(env) {
                merge(&mut base, over);
            }
            let r: ModelSpec = toml::Value::Table(base)
                .try_into()
                .map_err(|e| format!("{} [env.{env}]: {e}", src.path.display()))?;
            resolved.insert(env.to_owned(), r);
        }
        out.push(Model {
            name,
            source: src.path.clone(),
            spec,
            resolved,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Repo {
        config,
        models: out,
    })
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}
