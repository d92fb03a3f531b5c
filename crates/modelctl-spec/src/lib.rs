//! modelctl's spec language: the types of `models/<name>.toml` and
//! `modelctl.toml`, parsing with positions, and validation.
//!
//! Everything downstream (compile, cluster) sees only a [`Repo`] that passed
//! every rule. This crate does no network I/O and knows nothing of Kubernetes
//! clients.

pub mod config;
pub mod model;
pub mod repo;
pub mod values;

pub use config::{Config, EnvSettings, RouteKind};
pub use model::ModelSpec;
pub use repo::{Model, Repo, Source, load_repo, load_sources};
