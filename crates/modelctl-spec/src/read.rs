//! Reading spec files from disk into in-memory [`Source`]s: which files a
//! repository has, size limit, UTF-8, not a directory. Every failure becomes
//! a diagnostic naming the file, never a panic. Validation is
//! [`crate::pipeline`]'s.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Report, Stage};

/// One input file: its path as shown to users (relative to the repo root,
/// e.g. `models/digits.toml`) and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path shown in messages and generated-file headers.
    pub path: PathBuf,
    /// The file's contents.
    pub text: String,
}

/// The files of a repository: `modelctl.toml` (when it could be read) and
/// every `models/*.toml` that could be read, sorted by path.
#[derive(Debug, Clone, Default)]
pub struct RepoSources {
    /// `modelctl.toml`.
    pub config: Option<Source>,
    /// `models/*.toml`.
    pub models: Vec<Source>,
}

/// Reads `<root>/modelctl.toml` and `<root>/models/*.toml`; the report holds
/// every file that could not be read.
pub fn read_repo(root: &Path) -> (RepoSources, Report) {
    let mut report = Report::new();
    let config = match read_source(root, Path::new("modelctl.toml")) {
        Ok(s) => Some(s),
        Err(r) => {
            report.extend(r);
            None
        }
    };
    let mut models = Vec::new();
    match model_files(root) {
        Ok(paths) => {
            for path in paths {
                match read_source(root, &path) {
                    Ok(s) => models.push(s),
                    Err(r) => report.extend(r),
                }
            }
        }
        Err(r) => report.extend(r),
    }
    (RepoSources { config, models }, report)
}

/// `models/*.toml` under `root`, relative to it, sorted.
pub fn model_files(root: &Path) -> Result<Vec<PathBuf>, Report> {
    let dir = root.join("models");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        let d = Diagnostic::new(
            Path::new("models"),
            None,
            Stage::Io,
            format!("cannot list `models/`: {e}"),
        )
        .with_help("run modelctl in the repository root, or pass `--root`");
        let mut report = Report::new();
        report.push(d);
        report
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| PathBuf::from("models").join(n))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Largest spec file read (real specs are a few kilobytes).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads `root/rel`; `rel` is how the file is named in messages.
pub fn read_source(root: &Path, rel: &Path) -> Result<Source, Report> {
    let full = if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut report = Report::new();
    let io = |report: &mut Report, msg: String, help: &str| {
        report.push(Diagnostic::new(rel, None, Stage::Io, msg).with_help(help));
    };
    let meta = match std::fs::metadata(&full) {
        Ok(m) => m,
        Err(e) => {
            io(
                &mut report,
                format!("cannot read `{}`: {e}", rel.display()),
                "check the path",
            );
            return Err(report);
        }
    };
    if meta.is_dir() {
        io(
            &mut report,
            format!("`{}` is a directory", rel.display()),
            "name the spec files, e.g. `models/*.toml`",
        );
        return Err(report);
    }
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(&full).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        io(
            &mut report,
            format!("cannot read `{}`: {e}", rel.display()),
            "check the file's permissions",
        );
        return Err(report);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        report.push(
            Diagnostic::new(
                rel,
                None,
                Stage::Input,
                format!(
                    "`{}` is larger than {} KiB",
                    rel.display(),
                    MAX_FILE_BYTES / 1024
                ),
            )
            .with_help("a spec is a few kilobytes; is this the right file?"),
        );
        return Err(report);
    }
    source_from_bytes(rel.to_path_buf(), bytes)
}

/// Checks that `bytes` is a text file and wraps it as a [`Source`].
pub fn source_from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Source, Report> {
    match String::from_utf8(bytes) {
        Ok(text) if text.contains('\0') => {
            let at = text.find('\0').unwrap_or(0);
            let mut report = Report::new();
            let shown = text.replace('\0', " ");
            report.add_source(&path, &shown);
            report.push(
                Diagnostic::new(
                    &path,
                    Some(at..at + 1),
                    Stage::Input,
                    "the file is binary, not TOML".to_owned(),
                )
                .with_help("specs are UTF-8 text; is this the right file?"),
            );
            Err(report)
        }
        Ok(text) => Ok(Source { path, text }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let mut report = Report::new();
            report.add_source(&path, &String::from_utf8_lossy(&bytes));
            report.push(
                Diagnostic::new(
                    &path,
                    Some(at..at + char::REPLACEMENT_CHARACTER.len_utf8()),
                    Stage::Input,
                    "the file is not valid UTF-8".to_owned(),
                )
                .with_help("save the file as UTF-8"),
            );
            Err(report)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_points_at_the_first_bad_byte() {
        let err =
            source_from_bytes(PathBuf::from("x.toml"), b"a = \"caf\xe9\"\n".to_vec()).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.span, Some(8..11));
        assert_eq!(err.start_of(d).map(|p| (p.line, p.col)), Some((1, 9)));
    }

    #[test]
    fn directories_and_missing_files_are_io_errors() {
        let dir = std::env::temp_dir();
        let err = read_source(&dir, Path::new(".")).unwrap_err();
        assert!(err.has_io_errors());
        let err = read_source(&dir, Path::new("no-such-spec-file.toml")).unwrap_err();
        assert!(err.has_io_errors());
    }
}
