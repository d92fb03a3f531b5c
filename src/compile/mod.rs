//! Compile: pure functions from one environment of a validated repository
//! ([`RepoEnv`], chosen with `Repo::environment`) to Kubernetes objects. No
//! I/O, no cluster, cannot fail on user input, and no way to render a model
//! without its environment's overrides.
//!
//! One file per Kubernetes kind builds a typed `k8s-openapi` object (or a
//! small typed struct for the kinds `k8s-openapi` lacks); this module orders
//! them per model and turns each into a [`Manifest`]. [`files`] lays the
//! manifests out as the text of `generated/<env>/`.

use std::path::PathBuf;

use modelctl_spec::{EnvSettings, Model, ModelEnv, ModelSpec, RepoEnv};
use serde::Serialize;

use crate::object::ObjectKey;

pub mod files;
pub mod gitops;
pub mod labels;

mod configmap;
mod conflicts;
mod deployment;
mod env_from;
mod export;
mod fetch;
mod hash;
mod hpa;
mod job;
mod parallel;
mod pdb;
mod podmonitor;
mod ports;
mod random;
mod resources;
mod route;
mod scaledobject;
mod script;
mod security;
mod service;
mod serving;
pub mod sweep;
mod training;
mod volumes;
mod yaml;

pub use conflicts::{Conflict, conflicts};
pub use files::{
    EnvOutput, HEADER_PREFIX, KUSTOMIZATION, manifest_text, render_files, render_output,
};
pub use hash::hash8;
pub use hpa::{INFLIGHT_METRIC, QUEUE_METRIC};
pub use sweep::combinations;
pub use yaml::to_yaml;

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

impl Manifest {
    /// The object's `kind`.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    /// The object's `metadata.name`.
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// Which object this is. Compile always writes `apiVersion`, `kind` and
    /// `metadata.name`; a field that were missing would read as empty.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::of(&self.object).unwrap_or_else(|_| ObjectKey {
            api_version: self.object["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            kind: self.kind().to_owned(),
            namespace: self.object["metadata"]["namespace"]
                .as_str()
                .map(str::to_owned),
            name: self.name().to_owned(),
        })
    }
}

/// Every object of every model of environment `env`, in apply order per model.
pub fn render_env(env: &RepoEnv<'_>) -> Vec<Manifest> {
    let per_model = parallel::map(&env.models, |model| render_model(model, &env.settings));
    per_model.into_iter().flatten().collect()
}

/// Every object of one model for one environment, in apply order: training
/// (ConfigMap, Job), then serving (Deployments, Services, autoscaler,
/// disruption budget, route).
pub fn render_model(model: &ModelEnv<'_>, env: &EnvSettings) -> Vec<Manifest> {
    let ctx = Ctx {
        model: model.model,
        spec: model.spec,
        env,
        namespace: model.namespace.as_str(),
    };
    let spec = model.spec;
    let mut out = Vec::new();
    if let Some(train) = &spec.train {
        training::render(&ctx, train, &mut out);
    }
    if let Some(serve) = &spec.serve {
        serving::render(&ctx, serve, &mut out);
    }
    out
}

/// What every builder needs: the model, its spec resolved for the
/// environment, and the environment's settings.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The model.
    pub model: &'a Model,
    /// Its spec for this environment (`[env.*]` merged in).
    pub spec: &'a ModelSpec,
    /// The environment's settings.
    pub env: &'a EnvSettings,
    /// The model's namespace in this environment (the spec's, its owner's
    /// by the environment's template, else the environment's).
    pub namespace: &'a str,
}

impl Ctx<'_> {
    /// The model's name.
    pub fn name(&self) -> &str {
        self.model.name.as_str()
    }

    /// The namespace objects go to.
    pub fn namespace(&self) -> &str {
        self.namespace
    }

    /// Turns a typed object into a [`Manifest`] of this model.
    pub fn manifest<T: Serialize>(&self, object: &T) -> Manifest {
        // Typed Kubernetes objects have string map keys only, so turning them
        // into JSON cannot fail.
        let mut object =
            serde_json::to_value(object).expect("Kubernetes objects serialize to JSON");
        gitops::annotate(self.env.gitops, &mut object);
        let kind = object["kind"]
            .as_str()
            .unwrap_or("object")
            .to_ascii_lowercase();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        Manifest {
            model: self.name().to_owned(),
            file: PathBuf::from(self.name()).join(format!("{kind}-{name}.yaml")),
            source: self.model.source.clone(),
            object,
        }
    }
}
