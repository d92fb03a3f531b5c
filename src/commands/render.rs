//! `modelctl render [--env E] [--out DIR] [--check]`: writes
//! `generated/<env>/<model>/<kind>-<name>.yaml` and
//! `generated/<env>/kustomization.yaml`, removing files of objects no longer
//! rendered; `--check` writes nothing and exits 1 with a diff of what is stale.
//!
//! The files and the plan come from [`crate::generated_dir`] (which never
//! removes a hand-written file); this command says what it did or what is
//! stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use modelctl_spec::load_repo;

use super::shared::{refuse_conflicts, say_rendered};
use crate::generated_dir::{Plan, SyncError, plan};
use crate::manifest_diff::unified;

/// What `render` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Only this environment (all when `None`; then directories of
    /// environments no longer defined are removed as well).
    pub env: Option<String>,
    /// The output directory (`generated/` under the root by default).
    pub out: PathBuf,
    /// Write nothing; exit 1 with a diff when the output is stale.
    pub check: bool,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let repo = match load_repo(root) {
        Ok(repo) => repo,
        Err(report) => {
            eprintln!("{report}");
            eprintln!("error: the specs are invalid; nothing was rendered");
            return Ok(ExitCode::from(2));
        }
    };
    let shown = display_base(root, &settings.out);
    let plan = match plan(&repo, settings.env.as_deref(), &settings.out) {
        Ok(plan) => plan,
        Err(SyncError::Conflicted(conflicted)) => return Ok(refuse_conflicts(&conflicted)),
        Err(e) => return Err(e.into()),
    };
    if settings.check {
        return Ok(check(&plan, &shown));
    }
    plan.write()?;
    say_rendered(&plan, &shown);
    Ok(ExitCode::SUCCESS)
}

/// How `out` is shown in messages and diff headers: relative to the root when inside it.
fn display_base(root: &Path, out: &Path) -> PathBuf {
    out.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| out.to_path_buf())
}

/// `--check`: prints a unified diff per stale file; 0 when clean, 1 when stale.
fn check(plan: &Plan, shown: &Path) -> ExitCode {
    if plan.is_clean() {
        eprintln!(
            "{} is up to date ({} files)",
            shown.display(),
            plan.unchanged
        );
        return ExitCode::SUCCESS;
    }
    for file in plan.stale() {
        let name = shown.join(file.path).to_string_lossy().replace('\\', "/");
        let label = |side: &str, text: Option<&str>| match text {
            Some(_) => format!("{side}/{name}"),
            None => "/dev/null".to_owned(),
        };
        crate::term::out(&unified(
            file.old.unwrap_or(""),
            file.new.unwrap_or(""),
            &label("a", file.old),
            &label("b", file.new),
        ));
    }
    eprintln!(
        "error: {} is stale ({} file(s) to write, {} to remove); run `modelctl render` and commit the result",
        shown.display(),
        plan.write.len(),
        plan.remove.len()
    );
    ExitCode::from(1)
}
