//! `generated/` on disk: which files a render of some environments writes,
//! which generated files it removes (objects no longer rendered, and the
//! directories of environments `modelctl.toml` no longer defines), and
//! writing that plan. `render` and `promote` both sync through here.
//!
//! Only files that start with the generated-file header are ever read or
//! removed, so a hand-written file in `generated/` survives. Returns plans
//! and errors; saying what was done is the caller's.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use modelctl_spec::{Repo, RepoEnv, UnknownEnvironment};

use crate::compile::{Conflict, HEADER_PREFIX, KUSTOMIZATION, render_output};

/// Files by path under the output directory (`<env>/<model>/<file>`).
pub type Files = BTreeMap<PathBuf, String>;

/// Objects that two models of one environment both render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicted {
    /// The environment.
    pub env: String,
    /// Each object and the specs rendering it.
    pub conflicts: Vec<Conflict>,
}

/// Why a render of `generated/` cannot be planned or written.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The environment asked for is not defined.
    #[error(transparent)]
    UnknownEnvironment(#[from] UnknownEnvironment),
    /// Two models render the same object; nothing may be written.
    #[error("objects of environment `{}` are rendered by more than one model", .0.env)]
    Conflicted(Conflicted),
    /// A directory could not be listed.
    #[error("reading {}", path.display())]
    Read {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A directory could not be created.
    #[error("creating {}", path.display())]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A stale file could not be removed.
    #[error("removing {}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What rendering some environments into an output directory changes there.
#[derive(Debug)]
pub struct Plan {
    /// The output directory.
    out: PathBuf,
    /// How many environments are rendered.
    pub environments: usize,
    /// Files to create or overwrite.
    pub write: Vec<PathBuf>,
    /// Generated files no longer rendered.
    pub remove: Vec<PathBuf>,
    /// Files already up to date.
    pub unchanged: usize,
    /// Every rendered file.
    desired: Files,
    /// Every generated file found in the directories compared.
    existing: Files,
    /// The directories compared, relative to `out`.
    dirs: Vec<PathBuf>,
}

/// One file a plan writes or removes, as it is on disk and as it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleFile<'a> {
    /// Path under the output directory.
    pub path: &'a Path,
    /// The generated file there now, if any.
    pub old: Option<&'a str>,
    /// The rendered text, or `None` when the file is to be removed.
    pub new: Option<&'a str>,
}

/// Plans rendering environment `only` of `repo` (every environment when
/// `None`, and then the directories of environments no longer defined are
/// removed too) into `out`.
pub fn plan(repo: &Repo, only: Option<&str>, out: &Path) -> Result<Plan, SyncError> {
    let envs = environments(repo, only)?;
    let names: Vec<String> = envs.iter().map(|e| e.settings.name.clone()).collect();
    let desired = render(&envs).map_err(SyncError::Conflicted)?;
    let mut dirs: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
    if only.is_none() {
        dirs.extend(stale_env_dirs(out, &names)?);
    }
    let mut existing = BTreeMap::new();
    for dir in &dirs {
        collect_generated(out, dir, &mut existing)?;
    }
    Ok(Plan::new(out, envs.len(), desired, existing, dirs))
}

/// The environments to render: `only`, or all of `modelctl.toml`.
fn environments<'r>(
    repo: &'r Repo,
    only: Option<&str>,
) -> Result<Vec<RepoEnv<'r>>, UnknownEnvironment> {
    let names: Vec<&str> = match only {
        Some(env) => vec![env],
        None => repo.config.env_names().collect(),
    };
    names
        .into_iter()
        .map(|name| repo.environment(name))
        .collect()
}

/// Every file of `envs` by path under the output directory, or the objects
/// two models render (in the first environment that has any).
fn render(envs: &[RepoEnv<'_>]) -> Result<Files, Conflicted> {
    let mut files = BTreeMap::new();
    for selected in envs {
        let env = &selected.settings.name;
        let output = render_output(selected);
        if !output.conflicts.is_empty() {
            return Err(Conflicted {
                env: env.clone(),
                conflicts: output.conflicts,
            });
        }
        for (path, text) in output.files {
            files.insert(Path::new(env).join(path), text);
        }
    }
    Ok(files)
}

/// Directories under `out` holding a generated `kustomization.yaml` of an
/// environment `modelctl.toml` no longer defines.
fn stale_env_dirs(out: &Path, envs: &[String]) -> Result<Vec<PathBuf>, SyncError> {
    let read_error = |source| SyncError::Read {
        path: out.to_path_buf(),
        source,
    };
    let mut stale = Vec::new();
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(stale),
        Err(e) => return Err(read_error(e)),
    };
    for entry in entries {
        let entry = entry.map_err(read_error)?;
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
fn collect_generated(out: &Path, dir: &Path, files: &mut Files) -> Result<(), SyncError> {
    let full = out.join(dir);
    let entries = match fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(SyncError::Read { path: full, source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| SyncError::Read {
            path: full.clone(),
            source,
        })?;
        let rel = dir.join(entry.file_name());
        let kind = entry.file_type().map_err(|source| SyncError::Read {
            path: entry.path(),
            source,
        })?;
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

impl Plan {
    fn new(
        out: &Path,
        environments: usize,
        desired: Files,
        existing: Files,
        dirs: Vec<PathBuf>,
    ) -> Plan {
        let mut write = Vec::new();
        let mut unchanged = 0;
        for (path, text) in &desired {
            if existing.get(path) == Some(text) {
                unchanged += 1;
            } else {
                write.push(path.clone());
            }
        }
        let remove = existing
            .keys()
            .filter(|p| !desired.contains_key(*p))
            .cloned()
            .collect();
        Plan {
            out: out.to_path_buf(),
            environments,
            write,
            remove,
            unchanged,
            desired,
            existing,
            dirs,
        }
    }

    /// Nothing to write or remove.
    pub fn is_clean(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty()
    }

    /// Every file to write or remove, by path.
    pub fn stale(&self) -> Vec<StaleFile<'_>> {
        let mut paths: Vec<&PathBuf> = self.write.iter().chain(&self.remove).collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| StaleFile {
                path,
                old: self.existing.get(path).map(String::as_str),
                new: self.desired.get(path).map(String::as_str),
            })
            .collect()
    }

    /// Writes changed files, removes stale ones, then removes directories left empty.
    pub fn write(&self) -> Result<(), SyncError> {
        for path in &self.write {
            let full = self.out.join(path);
            if let Some(parent) = full.parent() {
                fs::create_dir_all(parent).map_err(|source| SyncError::Create {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            fs::write(&full, &self.desired[path])
                .map_err(|source| SyncError::Write { path: full, source })?;
        }
        for path in &self.remove {
            let full = self.out.join(path);
            fs::remove_file(&full).map_err(|source| SyncError::Remove { path: full, source })?;
        }
        for dir in &self.dirs {
            remove_empty_dirs(&self.out.join(dir));
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn a_plan_writes_what_changed_and_removes_what_is_no_longer_rendered() {
        let desired = files(&[("s/a.yaml", "new"), ("s/b.yaml", "same"), ("s/c.yaml", "c")]);
        let existing = files(&[("s/a.yaml", "old"), ("s/b.yaml", "same"), ("s/z.yaml", "z")]);
        let plan = Plan::new(Path::new("out"), 1, desired, existing, vec!["s".into()]);
        assert_eq!(plan.write, [PathBuf::from("s/a.yaml"), "s/c.yaml".into()]);
        assert_eq!(plan.remove, [PathBuf::from("s/z.yaml")]);
        assert_eq!(plan.unchanged, 1);
        assert!(!plan.is_clean());
        let stale: Vec<_> = plan
            .stale()
            .iter()
            .map(|f| (f.path.to_path_buf(), f.old, f.new))
            .collect();
        assert_eq!(
            stale,
            [
                ("s/a.yaml".into(), Some("old"), Some("new")),
                ("s/c.yaml".into(), None, Some("c")),
                ("s/z.yaml".into(), Some("z"), None),
            ]
        );
    }

    #[test]
    fn writing_keeps_hand_written_files_and_drops_empty_directories() {
        let out = tempfile::tempdir().unwrap();
        let generated = format!("{HEADER_PREFIX} from models/x.toml; do not edit.\n");
        for (path, text) in [
            ("s/x/old.yaml", generated.as_str()),
            ("s/x/notes.md", "hand-written"),
            ("s/y/gone.yaml", generated.as_str()),
        ] {
            let full = out.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        let mut existing = Files::new();
        collect_generated(out.path(), Path::new("s"), &mut existing).unwrap();
        assert_eq!(
            existing.keys().collect::<Vec<_>>(),
            [Path::new("s/x/old.yaml"), Path::new("s/y/gone.yaml")]
        );
        let desired = files(&[("s/x/new.yaml", "text")]);
        let plan = Plan::new(out.path(), 1, desired, existing, vec!["s".into()]);
        plan.write().unwrap();
        assert_eq!(
            fs::read_to_string(out.path().join("s/x/new.yaml")).unwrap(),
            "text"
        );
        assert!(out.path().join("s/x/notes.md").exists());
        assert!(!out.path().join("s/x/old.yaml").exists());
        assert!(!out.path().join("s/y").exists());
    }
}
