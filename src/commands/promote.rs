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

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use modelctl_spec::{Source, load_sources, read_repo};

use super::diff_output::print_report;
use super::runs::{fetch_runs, no_best, no_objective};
use super::target::prepare;
use crate::cli::{OutputFormat, PromoteArgs, RenderArgs};
use crate::cluster::run_history::{RunStatus, TrainingRun, best};
use crate::compile::render_env;
use crate::manifest_diff::DiffReport;
use crate::spec_edit::{Slot, promote};

/// Runs the command.
pub fn run(root: &Path, args: &PromoteArgs) -> anyhow::Result<ExitCode> {
    let spec_path = Path::new("models").join(format!("{}.toml", args.model));
    let file = root.join(&spec_path);
    let before = std::fs::read_to_string(&file)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let prepared = prepare(root, &args.target)?;
    let objective = prepared.objectives.get(&args.model).cloned();
    if args.best && objective.is_none() {
        bail!("{}", no_objective(&args.model));
    }
    let env = prepared.target.env.clone();
    let namespace = prepared.target.namespace.clone();
    let runs = fetch_runs(&prepared, &args.model)?;

    let chosen = match (&args.run, &objective) {
        (Some(name), _) => runs.iter().find(|r| &r.run == name),
        (None, Some(o)) => match best(&runs, o.metric.as_str(), o.goal) {
            Some(run) => Some(run),
            None => return refuse(&no_best(&args.model, o, &runs)),
        },
        (None, None) => bail!("name a run with --run, or choose the best with --best"),
    };
    let Some(run) = chosen else {
        return refuse(&format!(
            "`{}` is not a run of `{}` in namespace {namespace}; `modelctl runs {}` lists them",
            args.run.as_deref().unwrap_or_default(),
            args.model,
            args.model
        ));
    };
    let uri = match promotable(run) {
        Ok(uri) => uri,
        Err(why) => return refuse(&why),
    };
    eprintln!("promoting run {} of `{}`: {uri}", run.run, args.model);

    let slot = args.canary.map_or(Slot::Serve, Slot::Canary);
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
    let (sources, report) = read_repo(root);
    if !report.is_empty() {
        bail!("{report}");
    }
    let config = sources
        .config
        .clone()
        .ok_or_else(|| anyhow!("{} has no modelctl.toml", root.display()))?;
    let old_repo = load_sources(&config, &sources.models).map_err(|r| anyhow!("{r}"))?;
    let mut models = sources.models.clone();
    match models.iter_mut().find(|s| same_file(&s.path, &spec_path)) {
        Some(source) => source.text.clone_from(&edited.text),
        None => models.push(Source {
            path: spec_path.clone(),
            text: edited.text.clone(),
        }),
    }
    let new_repo = match load_sources(&config, &models) {
        Ok(repo) => repo,
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
    let rendered = super::render::run(
        root,
        &RenderArgs {
            env: None,
            out: None,
            check: false,
        },
    )?;
    if rendered != ExitCode::SUCCESS {
        return Ok(rendered);
    }

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
    print_report(&diff, OutputFormat::Text);
    Ok(ExitCode::SUCCESS)
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

/// Writes `text` beside `file` and renames it over `file`, so a reader sees
/// the old or the new spec, never half of one.
fn write_atomically(file: &Path, text: &str) -> std::io::Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = file.with_file_name(format!(".{name}.promote.tmp"));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
