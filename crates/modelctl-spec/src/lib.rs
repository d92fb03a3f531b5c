//! modelctl's spec language: the types of `models/<name>.toml` and
//! `modelctl.toml`, parsing with positions, and validation in three stages:
//!
//! 1. TOML syntax and types ([`document`], then serde with
//!    `deny_unknown_fields`);
//! 2. single values, inside the newtypes of [`values`];
//! 3. rules across fields and files ([`rules`]).
//!
//! Every problem becomes a [`Diagnostic`] with a file, a span, a message and
//! a hint; [`load_repo`] and [`load_sources`] return all of them in one
//! [`Report`]. Everything downstream (compile, cluster) sees only a [`Repo`]
//! that passed every rule. This crate does no network I/O and knows nothing
//! of Kubernetes clients.
//!
//! It also holds what the binaries beside `modelctl` share with it: the
//! duration grammar ([`values::parse_duration`]) that model-server's flags
//! read, and the export's termination message ([`ExportReport`]) that
//! `model-export` writes and `modelctl runs` reads.

pub mod config;
mod deserialize;
pub mod diag;
pub mod document;
pub mod export_report;
mod locate;
mod merge;
pub mod model;
pub mod pipeline;
pub mod profiles;
pub mod read;
pub mod reference;
pub mod repo;
pub mod rules;
pub mod schema;
pub mod values;

pub use config::{
    AutoscalingConfig, AutoscalingProvider, Config, EnvSettings, GitopsConfig, GitopsTool,
    RouteKind, ScrapeMode, UnknownEnvironment,
};
pub use diag::{Diagnostic, Report, Stage};
pub use export_report::{ExportReport, TERMINATION_LIMIT};
pub use model::ModelSpec;
pub use pipeline::{check_sources, load_sources};
pub use read::{RepoSources, Source, read_repo, read_source};
pub use repo::{Model, ModelEnv, Repo, RepoEnv};

use std::path::Path;

/// Reads ([`read_repo`]) and validates ([`check_sources`])
/// `<root>/modelctl.toml` and `<root>/models/*.toml`.
pub fn load_repo(root: &Path) -> Result<Repo, Report> {
    let (sources, mut report) = read_repo(root);
    let (repo, checked) = check_sources(sources.config.as_ref(), &sources.models);
    report.extend(checked);
    report.sort();
    match repo {
        Some(repo) if report.is_empty() => Ok(repo),
        _ => Err(report),
    }
}
