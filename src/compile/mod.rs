//! Compile: pure functions from a validated [`Repo`] and an environment to
//! Kubernetes objects. No I/O, no cluster, cannot fail on user input.
//!
//! PROVISIONAL: the object builders land with the render work; [`Manifest`]
//! and the signature of [`render_env`] are the contract `render`, `diff` and
//! `src/cluster/` build on.

use std::path::PathBuf;

use modelctl_spec::Repo;

/// One rendered object and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The model the object belongs to.
    pub model: String,
    /// Path under `generated/<env>/`: `<model>/<kind>-<name>.yaml`.
    pub file: PathBuf,
    /// The spec file it came from (`models/<model>.toml`).
    pub source: PathBuf,
    /// The whole object: `apiVersion`, `kind`, `metadata` (name, namespace,
    /// labels, annotations) and the rest, as JSON with sorted keys.
    pub object: serde_json::Value,
}

/// Every object of every model for environment `env`, in apply order per model.
/// Returns `None` when the config has no such environment.
pub fn render_env(repo: &Repo, env: &str) -> Option<Vec<Manifest>> {
    let _settings = repo.config.env(env)?;
    Some(Vec::new())
}
