//! Diagnostics: one [`Diagnostic`] per problem found, gathered into a
//! [`Report`] that renders them as rustc-style frames ([`human`]), JSON
//! ([`json`]) or GitHub Actions annotations ([`github`]).
//!
//! Owns positions (byte spans to line and column) and presentation; decides
//! nothing about what is valid.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub mod github;
pub mod human;
pub mod json;
mod position;

pub use position::LineCol;

/// The stage that found a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The file could not be read (missing, a directory, permissions).
    Io,
    /// The file is not a spec file at all (not UTF-8, too large).
    Input,
    /// TOML syntax.
    Syntax,
    /// Keys and value types (`deny_unknown_fields`, expected types).
    Type,
    /// A single value's rule (names, quantities, durations, URIs, …).
    Value,
    /// A rule relating several values or files.
    Rule,
    /// The generated JSON Schema rejected the file.
    Schema,
}

impl Stage {
    /// Stable lower-case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::Input => "input",
            Self::Syntax => "syntax",
            Self::Type => "type",
            Self::Value => "value",
            Self::Rule => "rule",
            Self::Schema => "schema",
        }
    }
}

/// A second location shown in a frame ("first claimed here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// The file.
    pub file: PathBuf,
    /// Byte span in that file.
    pub span: Range<usize>,
    /// What the location is.
    pub label: String,
}

/// One problem: where it is, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as shown to users (`models/digits.toml`).
    pub file: PathBuf,
    /// Byte span of the offending token; `None` for the whole file.
    pub span: Option<Range<usize>>,
    /// What is wrong.
    pub message: String,
    /// Label under the caret (defaults to nothing).
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
    /// Which stage found it.
    pub stage: Stage,
    /// Other locations involved.
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic at `span` of `file`.
    pub fn new(file: &Path, span: Option<Range<usize>>, stage: Stage, message: String) -> Self {
        Self {
            file: file.to_path_buf(),
            span,
            message,
            label: None,
            help: None,
            stage,
            related: Vec::new(),
        }
    }

    /// Adds the `help:` line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a label under the caret.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a related location.
    #[must_use]
    pub fn with_related(
        mut self,
        file: &Path,
        span: Range<usize>,
        label: impl Into<String>,
    ) -> Self {
        self.related.push(Related {
            file: file.to_path_buf(),
            span,
            label: label.into(),
        });
        self
    }
}

/// Every problem of a run, with the text of the files they point into.
///
/// `Display` renders plain rustc-style frames (no colour), one per problem,
/// each followed by a blank line.
#[derive(Debug, Clone, Default)]
pub struct Report {
    diagnostics: Vec<Diagnostic>,
    sources: BTreeMap<PathBuf, String>,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers a file's text so frames can quote it.
    pub fn add_source(&mut self, file: &Path, text: &str) {
        if !self.sources.contains_key(file) {
            self.sources.insert(file.to_path_buf(), text.to_owned());
        }
    }

    /// Adds a diagnostic unless the same one (file, span, message) is already there.
    pub fn push(&mut self, d: Diagnostic) {
        let dup = self
            .diagnostics
            .iter()
            .any(|e| e.file == d.file && e.span == d.span && e.message == d.message);
        if !dup {
            self.diagnostics.push(d);
        }
    }

    /// Adds every diagnostic and source of `other`.
    pub fn extend(&mut self, other: Report) {
        for (file, text) in other.sources {
            self.sources.entry(file).or_insert(text);
        }
        for d in other.diagnostics {
            self.push(d);
        }
    }

    /// Moves the diagnostics from the `start`-th on that point into `from`
    /// at or past byte `shift` to `to`, `shift` bytes earlier: where a
    /// checked tree carried values of another file at shifted positions.
    /// A moved diagnostic that is already there is dropped.
    pub fn relocate(&mut self, start: usize, from: &Path, shift: usize, to: &Path) {
        let moved = |file: &mut PathBuf, span: &mut Range<usize>| {
            if file.as_path() == from && span.start >= shift {
                *file = to.to_path_buf();
                *span = span.start - shift..span.end - shift;
            }
        };
        let tail: Vec<Diagnostic> = self
            .diagnostics
            .drain(start.min(self.diagnostics.len())..)
            .collect();
        for mut d in tail {
            if let Some(span) = d.span.as_mut() {
                moved(&mut d.file, span);
            }
            for r in &mut d.related {
                moved(&mut r.file, &mut r.span);
            }
            self.push(d);
        }
    }

    /// Keeps, of the diagnostics from the `start`-th on, those `keep` accepts.
    pub fn retain_from(&mut self, start: usize, keep: impl Fn(&Diagnostic) -> bool) {
        let mut i = 0;
        self.diagnostics.retain(|d| {
            i += 1;
            i <= start || keep(d)
        });
    }

    /// Sorts diagnostics by file, then position, so output is deterministic.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (
                &a.file,
                a.span.as_ref().map(|s| (s.start, s.end)),
                &a.message,
            )
                .cmp(&(
                    &b.file,
                    b.span.as_ref().map(|s| (s.start, s.end)),
                    &b.message,
                ))
        });
    }

    /// The diagnostics, in order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    /// Whether any file could not be read at all (exit code 2 rather than 1).
    pub fn has_io_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.stage == Stage::Io)
    }

    /// The text of `file`, when it was read.
    pub fn source(&self, file: &Path) -> Option<&str> {
        self.sources.get(file).map(String::as_str)
    }

    /// Line and column (1-based, columns in characters) where `d` starts.
    pub fn start_of(&self, d: &Diagnostic) -> Option<LineCol> {
        let span = d.span.as_ref()?;
        Some(LineCol::of(self.source(&d.file)?, span.start))
    }

    /// Line and column (1-based) just past the end of `d`'s span.
    pub fn end_of(&self, d: &Diagnostic) -> Option<LineCol> {
        let span = d.span.as_ref()?;
        Some(LineCol::of(self.source(&d.file)?, span.end))
    }

    /// Files with at least one diagnostic.
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self.diagnostics.iter().map(|d| d.file.as_path()).collect();
        files.sort();
        files.dedup();
        files
    }

    /// `N errors in M files` (or `1 error in 1 file`).
    pub fn summary(&self) -> String {
        let n = self.len();
        let m = self.files().len();
        format!(
            "{n} error{} in {m} file{}",
            if n == 1 { "" } else { "s" },
            if m == 1 { "" } else { "s" }
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human::render(self, false))
    }
}

impl std::error::Error for Report {}
