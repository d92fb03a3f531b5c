//! Printing a [`DiffReport`], the same way for both diffs: text (one block
//! per changed object, coloured when asked), markdown for a pull-request
//! comment, or one JSON document.
//!
//! The JSON document has these fields:
//! - `base`, `head`: what the two sides are (`HEAD` and `work tree`; `live`
//!   and `applied` for the cluster);
//! - `summary`: counts `added`, `removed`, `changed`, `unchanged`, `failed`;
//! - `changes`: each object that differs, with `env`, `apiVersion`, `kind`,
//!   `namespace` (when namespaced), `name`, `model` and `source` (when
//!   known), `change` (`added`, `removed` or `changed`), `before` and
//!   `after` (the object's YAML, when it exists on that side) and `diff`
//!   (the unified diff);
//! - `errors`: each failure, with `env`, `objects` (keys as above) and `error`.
//!
//! Pure string building; the command decides where it goes.

use serde::Serialize;

use super::model::{Counts, DiffReport, ObjectDiff, ObjectFailure};
use super::paint::ColorChoice;
use super::{markdown, text};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Unified diffs, coloured or not.
    Text(ColorChoice),
    /// Markdown with a summary table and collapsed `diff` blocks.
    Markdown,
    /// One JSON document (see the module documentation for its fields).
    Json,
}

/// Renders the report.
pub fn render(report: &DiffReport, format: Format) -> String {
    match format {
        Format::Text(color) => text::text(report, color),
        Format::Markdown => markdown::markdown(report),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(&JsonReport::of(report))
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            out.push('\n');
            out
        }
    }
}

/// `2 added, 1 removed, 0 changed, 5 unchanged`, and `, 1 failed` when some
/// objects could not be compared.
pub fn summary(report: &DiffReport) -> String {
    let Counts {
        added,
        removed,
        changed,
        unchanged,
        failed,
    } = report.counts();
    let mut out =
        format!("{added} added, {removed} removed, {changed} changed, {unchanged} unchanged");
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    out
}

/// The JSON document.
#[derive(Serialize)]
struct JsonReport<'a> {
    base: &'a str,
    head: &'a str,
    summary: Counts,
    changes: Vec<&'a ObjectDiff>,
    errors: &'a [ObjectFailure],
}

impl<'a> JsonReport<'a> {
    fn of(report: &'a DiffReport) -> JsonReport<'a> {
        JsonReport {
            base: &report.base,
            head: &report.head,
            summary: report.counts(),
            changes: report.changes().collect(),
            errors: &report.errors,
        }
    }
}
