//! `modelctl schema [--check | --reference]`: writes the JSON Schemas
//! generated from the spec types to `schemas/`, or (with `--check`) exits 1
//! with a diff when the committed files are stale, or (with `--reference`)
//! prints the spec reference in Markdown for `docs/spec.md`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use modelctl_spec::schema::{SchemaKind, schema_text};

/// What `schema` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Write, check or print.
    pub mode: Mode,
}

/// Whether `schema` writes `schemas/`, checks it or prints the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write the stale schema files.
    Write,
    /// Write nothing; exit 1 with a diff when `schemas/` is stale.
    Check,
    /// Print the spec reference (Markdown) to stdout; write nothing.
    Reference,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let check = settings.mode == Mode::Check;
    if settings.mode == Mode::Reference {
        crate::term::out(&modelctl_spec::reference::markdown());
        return Ok(ExitCode::SUCCESS);
    }
    let dir = root.join("schemas");
    let mut stale = 0;
    for kind in SchemaKind::all() {
        let rel = Path::new("schemas").join(kind.file_name());
        let path = dir.join(kind.file_name());
        let want = schema_text(kind);
        let have = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", rel.display())),
        };
        if have.as_deref() == Some(want.as_str()) {
            continue;
        }
        if check {
            stale += 1;
            let old = have.unwrap_or_default();
            let diff = similar::TextDiff::from_lines(old.as_str(), want.as_str());
            crate::term::out(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("a/{}", rel.display()),
                        &format!("b/{}", rel.display()),
                    )
                    .to_string(),
            );
        } else {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(&path, &want).with_context(|| format!("writing {}", rel.display()))?;
            eprintln!("wrote {}", rel.display());
        }
    }
    if stale > 0 {
        eprintln!("error: {stale} schema file(s) in schemas/ are stale; run `modelctl schema`");
        return Ok(ExitCode::from(1));
    }
    if check {
        eprintln!("ok: schemas/ is up to date");
    }
    Ok(ExitCode::SUCCESS)
}
