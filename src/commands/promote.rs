//! `modelctl promote MODEL (--run RUN | --best) [--canary WEIGHT] [--env E]`:
//! points `serve.model` (or, with `--canary`, `serve.canary.model` and its
//! `weight`) of `models/MODEL.toml` at the model a training run exported,
//! editing only that value ([`crate::spec_edit`]), then re-renders
//! `generated/` and prints the manifest diff as `diff --base` does.
//!
//! Reads the runs from the environment's cluster and changes nothing there.
//! With `--env E` and an `[env.E]` override of the key, the override is
//! edited; otherwise the base key, with a warning naming each environment
//! whose override shadows it. The edited spec is validated with the rest of
//! the repository before anything is written, and written atomically.
//!
//! Exit 0 promoted (or already served), 1 refused (the run does not exist,
//! did not succeed, exported no single model, or the edit would not
//! validate; the file untouched), 2 usage or I/O errors.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use modelctl_spec::model::Objective;
use modelctl_spec::{Repo, Report, Source, load_sources, read_repo};

use super::shared::{
    ReportFormat, fetch_runs, no_best, no_objective, print_report, refuse_conflicts, say_rendered,
};
use crate::cluster::run_history::{RunStatus, TrainingRun, best};
use crate::compile::render_env;
use crate::environment::{Selection, prepare};
use crate::generated_dir::{SyncError, plan};
use crate::manifest_diff::DiffReport;
use crate::spec_edit::{Edited, Slot, promote};

/// What `promote` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model.
    pub model: String,
    /// Which run's exported model to serve.
    pub run: Choice,
    /// Point `serve.canary` at the run instead, with this share of traffic.
    pub canary: Option<u32>,
    /// The environment whose cluster lists the runs (and whose override is edited).
    pub target: Selection,
}

/// Which run to promote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The run of this name.
    Run(String),
    /// The best succeeded run by the spec's `[train] objective`.
    Best,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let model = settings.model.as_str();
    let spec_path = Path::new("models").join(format!("{model}.toml"));
    let file = root.join(&spec_path);
    let before = std::fs::read_to_string(&file)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let prepared = prepare(root, &settings.target)?;
    let objective = prepared.objectives.get(model);
    if settings.run == Choice::Best && objective.is_none() {
        bail!("{}", no_objective(model));
    }
    let env = prepared.target.env.clone();
    let namespace = prepared.namespace_of(&settings.model).to_owned();
    let runs = fetch_runs(&prepared, model)?;
    let run = match choose(&runs, settings, objective, &namespace) {
        Ok(run) => run,
        Err(why) => return refuse(&why),
    };
    let uri = match promotable(run) {
        Ok(uri) => uri,
        Err(why) => return refuse(&why),
    };
    eprintln!("promoting run {} of `{model}`: {uri}", run.run);

    let slot = settings.canary.map_or(Slot::Serve, Slot::Canary);
    let edited = match promote(&before, slot, uri, Some(&env)) {
        Ok(edited) => edited,
        Err(e) => return refuse(&format!("{}: {e}", spec_path.display())),
    };
    for shadow in &edited.shadowed_by {
        eprintln!(
            "warning: [env.{shadow}] in {} overrides `{}`; environment `{shadow}` keeps serving what it names (promote with --env {shadow} to change it)",
            spec_path.display(),
            edited.key
        );
    }
    if edited.text == before {
        eprintln!("{} already names {uri}; nothing to change", edited.key);
        return Ok(ExitCode::SUCCESS);
    }

    // Validate the repository as it will be, before writing anything.
    let (old_repo, new_repo) = match repos_around(root, &spec_path, &edited.text)? {
        Ok(repos) => repos,
        Err(report) => {
            eprintln!("{report}");
            return refuse(&format!(
                "setting `{}` would leave {} invalid; it is unchanged",
                edited.key,
                spec_path.display()
            ));
        }
    };
    write_atomically(&file, &edited.text)
        .with_context(|| format!("writing {}", spec_path.display()))?;
    say_set(&edited, &spec_path, uri);
    let rendered = match plan(&new_repo, None, &root.join("generated")) {
        Ok(plan) => plan,
        Err(SyncError::Conflicted(conflicted)) => return Ok(refuse_conflicts(&conflicted)),
        Err(e) => return Err(e.into()),
    };
    rendered.write()?;
    say_rendered(&rendered, Path::new("generated"));
    print_report(&diff(&old_repo, &new_repo), ReportFormat::Text);
    Ok(ExitCode::SUCCESS)
}

/// The run to promote, or why there is none.
fn choose<'r>(
    runs: &'r [TrainingRun],
    settings: &Settings,
    objective: Option<&Objective>,
    namespace: &str,
) -> Result<&'r TrainingRun, String> {
    let model = settings.model.as_str();
    match (&settings.run, objective) {
        (Choice::Run(name), _) => runs.iter().find(|r| &r.run == name).ok_or_else(|| {
            format!(
                "`{name}` is not a run of `{model}` in namespace {namespace}; `modelctl runs {model}` lists them"
            )
        }),
        (Choice::Best, Some(o)) => {
            best(runs, o.metric.as_str(), o.goal).ok_or_else(|| no_best(model, o, runs))
        }
        (Choice::Best, None) => Err(no_objective(model)),
    }
}

/// The repository as it is and as it will be with `text` at `spec_path`,
/// or the report of why the edited one would be invalid.
fn repos_around(
    root: &Path,
    spec_path: &Path,
    text: &str,
) -> anyhow::Result<Result<(Repo, Repo), Report>> {
    let (sources, report) = read_repo(root);
    if !report.is_empty() {
        bail!("{report}");
    }
    let config = sources
        .config
        .clone()
        .ok_or_else(|| anyhow!("{} has no modelctl.toml", root.display()))?;
    let old_repo = load_sources(&config, &sources.models).map_err(|r| anyhow!("{r}"))?;
    let mut models = sources.models;
    match models.iter_mut().find(|s| same_file(&s.path, spec_path)) {
        Some(source) => text.clone_into(&mut source.text),
        None => models.push(Source {
            path: spec_path.to_path_buf(),
            text: text.to_owned(),
        }),
    }
    Ok(load_sources(&config, &models).map(|new_repo| (old_repo, new_repo)))
}

/// `set `serve.model` in models/x.toml to URI (was OLD)`.
fn say_set(edited: &Edited, spec_path: &Path, uri: &str) {
    eprintln!(
        "set `{}` in {} to {uri}{}",
        edited.key,
        spec_path.display(),
        edited
            .previous
            .as_deref()
            .map(|p| format!(" (was {p})"))
            .unwrap_or_default()
    );
}

/// Every environment's manifests before and after the promotion.
fn diff(old_repo: &Repo, new_repo: &Repo) -> DiffReport {
    let mut diff = DiffReport::new("before promote", "after promote");
    let mut envs: Vec<&str> = new_repo.config.env_names().collect();
    envs.sort_unstable();
    for env in envs {
        let old = old_repo
            .environment(env)
            .map_or_else(|_| Vec::new(), |e| render_env(&e));
        let new = new_repo
            .environment(env)
            .map_or_else(|_| Vec::new(), |e| render_env(&e));
        diff.add_renders(env, &old, &new);
    }
    diff
}

/// The run's exported model, or why it cannot be served.
fn promotable(run: &TrainingRun) -> Result<&str, String> {
    if run.status != RunStatus::Succeeded {
        return Err(format!(
            "run {} has not succeeded (it is {}{}); only a succeeded run can be promoted",
            run.run,
            run.status,
            run.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    run.model.as_deref().ok_or_else(|| {
        format!(
            "run {} has no exported model to serve: {}",
            run.run,
            match &run.output {
                Some(output) => format!("its export in {output} does not hold exactly one .onnx file"),
                None => "it recorded no export (a run from before the export step, or one without `train.output`)".to_owned(),
            }
        )
    })
}

/// Prints why and exits 1; nothing was written.
fn refuse(why: &str) -> anyhow::Result<ExitCode> {
    eprintln!("refused: {why}");
    Ok(ExitCode::from(1))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a.file_name() == b.file_name()
}

/// Writes `text` to a new file beside `file`, with `file`'s permissions,
/// flushes it to disk and renames it over `file`, so a reader sees the old
/// or the new spec, never half of one. The temporary file is removed on any
/// failure.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".promote.tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(file) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}
