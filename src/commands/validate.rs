//! `modelctl validate [PATH…]`: runs every check of the spec language over
//! `modelctl.toml` and the model specs and reports every problem at once.
//!
//! Exit codes: 0 valid, 1 invalid, 2 a file could not be read. Human frames
//! go to stderr (coloured only on a terminal without `NO_COLOR`); JSON and
//! GitHub annotations are data and go to stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use modelctl_spec::diag::{github, human, json};
use modelctl_spec::read::model_files;
use modelctl_spec::{Report, Source, check_sources, read_source};

/// What `validate` checks and how it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Files to check (default: `modelctl.toml` and `models/*.toml`); a file
    /// named `modelctl.toml` is read as the repository settings.
    pub paths: Vec<PathBuf>,
    /// Repository settings the specs are checked against.
    pub config: Option<PathBuf>,
    /// How the diagnostics are written.
    pub format: Format,
}

/// How `validate` writes its diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// rustc-style frames on stderr.
    Human,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions `::error` annotations on stdout.
    Github,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut report = Report::new();
    let (config_path, model_paths) = inputs(root, settings, &mut report);
    let read = |path: &Path, report: &mut Report| match read_source(root, path) {
        Ok(src) => Some(src),
        Err(r) => {
            report.extend(r);
            None
        }
    };
    let config = config_path.and_then(|p| read(&p, &mut report));
    let models: Vec<Source> = model_paths
        .iter()
        .filter_map(|p| read(p, &mut report))
        .collect();
    let (_, checked) = check_sources(config.as_ref(), &models);
    report.extend(checked);
    report.sort();

    match settings.format {
        Format::Human => {
            let color = crate::term::colour(&std::io::stderr());
            eprint!("{}", human::render(&report, color));
            if report.is_empty() {
                eprintln!("{}", success(config.is_some(), models.len()));
            } else {
                eprintln!("error: {}", report.summary());
            }
        }
        Format::Json => crate::term::out(&format!("{}\n", json::render(&report))),
        Format::Github => crate::term::out(&github::render(&report)),
    }
    Ok(if report.has_io_errors() {
        ExitCode::from(2)
    } else if report.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The settings file (if any) and the model files to check, as given.
fn inputs(
    root: &Path,
    settings: &Settings,
    report: &mut Report,
) -> (Option<PathBuf>, Vec<PathBuf>) {
    let default_config = || {
        let p = PathBuf::from("modelctl.toml");
        root.join(&p).is_file().then_some(p)
    };
    if settings.paths.is_empty() {
        let models = model_files(root).unwrap_or_else(|r| {
            report.extend(r);
            Vec::new()
        });
        let config = settings
            .config
            .clone()
            .or_else(|| Some(PathBuf::from("modelctl.toml")));
        return (config, models);
    }
    let is_config = |p: &PathBuf| p.file_name().is_some_and(|n| n == "modelctl.toml");
    let named = settings.paths.iter().find(|p| is_config(p)).cloned();
    let models = settings
        .paths
        .iter()
        .filter(|p| !is_config(p))
        .cloned()
        .collect();
    (
        settings.config.clone().or(named).or_else(default_config),
        models,
    )
}

fn success(config: bool, models: usize) -> String {
    let plural = if models == 1 { "" } else { "s" };
    if config {
        format!("ok: modelctl.toml and {models} model spec{plural} are valid")
    } else {
        format!("ok: {models} model spec{plural} valid")
    }
}
