//! `modelctl render [--env E] [--out DIR] [--check]`: writes
//! `generated/<env>/<model>/<kind>-<name>.yaml` and
//! `generated/<env>/kustomization.yaml`, removing files of objects no longer
//! rendered; `--check` writes nothing and exits 1 with a diff of what is stale.
//!
//! Owns the file-system side of rendering. Only files that start with the
//! generated-file header are ever removed, so a hand-written file in
//! `generated/` survives.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use modelctl_spec::{Repo, RepoEnv, load_repo};

use crate::cli::RenderArgs;
use crate::compile::{HEADER_PREFIX, KUSTOMIZATION, render_output};
use crate::manifest_diff::unified;

/// Runs the command.
pub fn run(root: &Path, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let repo = match load_repo(root) {
        Ok(repo) => repo,
        Err(report) => {
            eprintln!("{report}");
            eprintln!("error: the specs are invalid; nothing was rendered");
            return Ok(ExitCode::from(2));
        }
    };
    let envs = environments(&repo, args.env.as_deref())?;
    let names: Vec<String> = envs.iter().map(|e| e.settings.name.clone()).collect();
    let out = args.out.clone().unwrap_or_else(|| root.join("generated"));
    let shown = display_base(root, &out);

    let mut desired = BTreeMap::new();
    for selected in &envs {
        let env = &selected.settings.name;
        let output = render_output(selected);
        if !output.conflicts.is_empty() {
            for c in &output.conflicts {
                let sources: Vec<String> =
                    c.sources.iter().map(|s| s.display().to_string()).collect();
                eprintln!(
                    "error: {} in environment `{env}` is rendered by {}",
                    c.object,
                    sources.join(" and ")
                );
            }
            eprintln!(
                "error: rename one of the models so their objects differ; nothing was rendered"
            );
            return Ok(ExitCode::from(2));
        }
        for (path, text) in output.files {
            desired.insert(Path::new(env).join(path), text);
        }
    }

    let mut existing = BTreeMap::new();
    let mut dirs: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
    if args.env.is_none() {
        dirs.extend(stale_env_dirs(&out, &names)?);
    }
    for dir in &dirs {
        collect_generated(&out, dir, &mut existing)?;
    }

    let plan = Plan::new(&desired, &existing);
    if args.check {
        return Ok(check(&plan, &desired, &existing, &shown));
    }
    write(&out, &plan, &desired, &dirs)?;
    eprintln!(
        "rendered {} environment(s) into {}: {} file(s) written, {} removed, {} unchanged",
        envs.len(),
        shown.display(),
        plan.write.len(),
        plan.remove.len(),
        plan.unchanged
    );
    Ok(ExitCode::SUCCESS)
}

/// The environments to render: `--env`, or all of `modelctl.toml`.
fn environments<'r>(repo: &'r Repo, only: Option<&str>) -> anyhow::Result<Vec<RepoEnv<'r>>> {
    let names: Vec<&str> = match only {
        Some(env) => vec![env],
        None => repo.config.env_names().collect(),
    };
    let envs = names
        .into_iter()
        .map(|name| repo.environment(name))
        .collect::<Result<_, _>>()?;
    Ok(envs)
}

/// How `out` is shown in messages and diff headers: relative to the root when inside it.
fn display_base(root: &Path, out: &Path) -> PathBuf {
    out.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| out.to_path_buf())
}

/// Directories under `out` holding a generated `kustomization.yaml` of an
/// environment `modelctl.toml` no longer defines.
fn stale_env_dirs(out: &Path, envs: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut stale = Vec::new();
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stale),
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if envs.contains(&name) || !entry.path().is_dir() {
            continue;
        }
        if is_generated(&entry.path().join(KUSTOMIZATION)) {
            stale.push(PathBuf::from(name));
        }
    }
    stale.sort();
    Ok(stale)
}

fn is_generated(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|text| text.starts_with(HEADER_PREFIX))
}

/// Every generated file under `out/dir`, by path relative to `out`.
fn collect_generated(
    out: &Path,
    dir: &Path,
    files: &mut BTreeMap<PathBuf, String>,
) -> anyhow::Result<()> {
    let full = out.join(dir);
    let entries = match fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", full.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", full.display()))?;
        let rel = dir.join(entry.file_name());
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if kind.is_dir() {
            collect_generated(out, &rel, files)?;
        } else if kind.is_file()
            && let Ok(text) = fs::read_to_string(entry.path())
            && text.starts_with(HEADER_PREFIX)
        {
            files.insert(rel, text);
        }
    }
    Ok(())
}

/// What a render changes on disk.
struct Plan {
    /// Files to create or overwrite.
    write: Vec<PathBuf>,
    /// Generated files no longer rendered.
    remove: Vec<PathBuf>,
    /// Files already up to date.
    unchanged: usize,
}

impl Plan {
    fn new(desired: &BTreeMap<PathBuf, String>, existing: &BTreeMap<PathBuf, String>) -> Plan {
        let mut plan = Plan {
            write: Vec::new(),
            remove: Vec::new(),
            unchanged: 0,
        };
        for (path, text) in desired {
            if existing.get(path) == Some(text) {
                plan.unchanged += 1;
            } else {
                plan.write.push(path.clone());
            }
        }
        plan.remove = existing
            .keys()
            .filter(|p| !desired.contains_key(*p))
            .cloned()
            .collect();
        plan
    }

    fn is_clean(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty()
    }
}

/// `--check`: prints a unified diff per stale file; 0 when clean, 1 when stale.
fn check(
    plan: &Plan,
    desired: &BTreeMap<PathBuf, String>,
    existing: &BTreeMap<PathBuf, String>,
    shown: &Path,
) -> ExitCode {
    if plan.is_clean() {
        eprintln!(
            "{} is up to date ({} files)",
            shown.display(),
            plan.unchanged
        );
        return ExitCode::SUCCESS;
    }
    let mut stale: Vec<&PathBuf> = plan.write.iter().chain(&plan.remove).collect();
    stale.sort();
    for path in &stale {
        let name = shown.join(path).to_string_lossy().replace('\\', "/");
        let old = existing.get(*path).map_or("", String::as_str);
        let new = desired.get(*path).map_or("", String::as_str);
        let old_label = if existing.contains_key(*path) {
            format!("a/{name}")
        } else {
            "/dev/null".to_owned()
        };
        let new_label = if desired.contains_key(*path) {
            format!("b/{name}")
        } else {
            "/dev/null".to_owned()
        };
        crate::term::out(&unified(old, new, &old_label, &new_label));
    }
    eprintln!(
        "error: {} is stale ({} file(s) to write, {} to remove); run `modelctl render` and commit the result",
        shown.display(),
        plan.write.len(),
        plan.remove.len()
    );
    ExitCode::from(1)
}

/// Writes changed files, removes stale ones, then removes directories left empty.
fn write(
    out: &Path,
    plan: &Plan,
    desired: &BTreeMap<PathBuf, String>,
    dirs: &[PathBuf],
) -> anyhow::Result<()> {
    for path in &plan.write {
        let full = out.join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&full, &desired[path]).with_context(|| format!("writing {}", full.display()))?;
    }
    for path in &plan.remove {
        let full = out.join(path);
        fs::remove_file(&full).with_context(|| format!("removing {}", full.display()))?;
    }
    for dir in dirs {
        remove_empty_dirs(&out.join(dir));
    }
    Ok(())
}

/// Removes `dir` and its sub-directories when they hold no files.
fn remove_empty_dirs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_empty_dirs(&entry.path());
        }
    }
    // Fails, as intended, when the directory still holds something.
    let _ = fs::remove_dir(dir);
}
