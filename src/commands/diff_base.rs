//! `modelctl diff --base REV [--env E] [--format text|markdown|json]`:
//! renders the specs at a Git revision and in the work tree and prints the
//! manifest diff per object. Exit 0 same, 1 differ, 2 error.
//!
//! Owns reading a revision's specs through `git` (`rev-parse`, `ls-tree`,
//! `cat-file`); the user's checkout, index and work tree are never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use modelctl_spec::{Repo, Source, load_repo, load_sources};

use super::shared::{ReportFormat, print_report};
use crate::compile::render_env;
use crate::manifest_diff::DiffReport;

/// What `diff --base` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The Git revision to compare the work tree with.
    pub base: String,
    /// Only this environment (default: every environment of either side).
    pub env: Option<String>,
    /// How the report is written.
    pub format: ReportFormat,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let rev = settings.base.as_str();
    let base = read_revision(root, rev)?;
    let base = load_sources(&base.config, &base.models)
        .map_err(|e| anyhow::anyhow!("{e}").context(format!("the specs at `{rev}` are invalid")))?;
    let head = load_repo(root)
        .map_err(|e| anyhow::anyhow!("{e}").context("the specs in the work tree are invalid"))?;

    let envs = environments(&base, &head, settings.env.as_deref())?;
    let mut report = DiffReport::new(rev, "work tree");
    for env in &envs {
        // An environment only one side defines is added or removed whole.
        let old = base
            .environment(env)
            .map_or_else(|_| Vec::new(), |e| render_env(&e));
        let new = head
            .environment(env)
            .map_or_else(|_| Vec::new(), |e| render_env(&e));
        report.add_renders(env, &old, &new);
    }

    print_report(&report, settings.format);
    Ok(if report.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The environments to compare: `--env` (which either side must define), or
/// every environment of either side.
fn environments(base: &Repo, head: &Repo, only: Option<&str>) -> anyhow::Result<Vec<String>> {
    if let Some(env) = only {
        return match (base.config.environment(env), head.config.environment(env)) {
            (Err(unknown), Err(_)) => {
                let mut known: Vec<&str> = base
                    .config
                    .env_names()
                    .chain(head.config.env_names())
                    .collect();
                known.sort_unstable();
                known.dedup();
                bail!(
                    "unknown environment `{}`; the base and the work tree define: {}",
                    unknown.name,
                    known.join(", ")
                )
            }
            _ => Ok(vec![env.to_owned()]),
        };
    }
    let mut all: Vec<String> = base
        .config
        .env_names()
        .chain(head.config.env_names())
        .map(str::to_owned)
        .collect();
    all.sort();
    all.dedup();
    Ok(all)
}

/// The spec files of a revision, as in-memory sources.
struct RevisionSources {
    config: Source,
    models: Vec<Source>,
}

/// Reads `modelctl.toml` and `models/*.toml` under `root` as of `rev`.
fn read_revision(root: &Path, rev: &str) -> anyhow::Result<RevisionSources> {
    if rev.starts_with('-') {
        bail!("`{rev}` is not a Git revision");
    }
    let prefix = git(root, &["rev-parse", "--show-prefix"])
        .with_context(|| format!("{} is not inside a Git repository", root.display()))?;
    let prefix = prefix.trim();
    let spec = format!("{rev}^{{commit}}");
    let commit = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )
    .map_err(|_| {
        anyhow::anyhow!(
            "`{rev}` is not a commit of the Git repository at {}",
            root.display()
        )
    })?;
    let commit = commit.trim();

    let config_path = format!("{prefix}modelctl.toml");
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: git(
            root,
            &["cat-file", "blob", &format!("{commit}:{config_path}")],
        )
        .with_context(|| format!("`{rev}` has no {config_path}"))?,
    };

    let listing = git(
        root,
        &[
            "ls-tree",
            "--full-tree",
            "--name-only",
            "-z",
            &format!("{commit}:{prefix}models"),
        ],
    )
    // A revision without `models/` has no models.
    .unwrap_or_default();
    let mut models = Vec::new();
    for name in listing.split('\0').filter(|n| n.ends_with(".toml")) {
        let text = git(
            root,
            &[
                "cat-file",
                "blob",
                &format!("{commit}:{prefix}models/{name}"),
            ],
        )
        .with_context(|| format!("reading models/{name} at `{rev}`"))?;
        models.push(Source {
            path: PathBuf::from("models").join(name),
            text,
        });
    }
    Ok(RevisionSources { config, models })
}

/// Runs `git -C root args…` and returns its stdout.
fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = match stderr.trim() {
            "" => output.status.to_string(),
            text => text.to_owned(),
        };
        bail!("git {} failed: {why}", args.join(" "));
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("git {} printed non-UTF-8 text", args.join(" ")))
}
