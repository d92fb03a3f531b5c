//! Formatting a [`DiffReport`] as text, markdown or JSON, the same way for
//! both diffs:
//! - text: per environment, one line per changed object (`+` added, `-`
//!   removed, `~` changed) and its unified diff, then the errors and a
//!   summary line; coloured only when asked (the command decides from
//!   `NO_COLOR` and whether stdout is a terminal);
//! - markdown for a pull-request comment: a heading, the summary, a table of
//!   the changed objects, each diff in a collapsed `diff` block, the errors;
//! - one JSON document.
//!
//! The JSON document has these fields:
//! - `base`, `head`: what the two sides are (`HEAD` and `work tree`; `live`
//!   and `applied` for the cluster);
//! - `summary`: counts `added`, `removed`, `changed`, `unchanged`, `failed`;
//! - `changes`: each object that differs, with `env`, `apiVersion`, `kind`,
//!   `namespace` (when namespaced), `name`, `model` and `source` (when
//!   known), `change` (`added`, `removed` or `changed`), `before` and
//!   `after` (the object's YAML, when it exists on that side) and `diff`
//!   (the unified diff) and, for the cluster diff, `drift` (fields another
//!   field manager took over: `field` and `manager`);
//! - `errors`: each failure, with `env`, `objects` (keys as above) and `error`.
//!
//! Pure string building; the command decides where it goes.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Change, Counts, DiffReport, Drift, ObjectDiff, ObjectFailure};

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
        Format::Text(color) => text(report, color),
        Format::Markdown => markdown(report),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(&JsonReport::of(report))
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
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

/// The report as text.
fn text(report: &DiffReport, color: ColorChoice) -> String {
    let mut out = String::new();
    let mut env = None;
    for d in report.changes() {
        if env != Some(&d.env) {
            env = Some(&d.env);
            let heading = format!("# environment {}", d.env);
            let _ = writeln!(out, "{}", paint(color, "1", &heading));
        }
        let (mark, code) = match d.change {
            Change::Added => ("+", "32;1"),
            Change::Removed => ("-", "31;1"),
            Change::Changed | Change::Unchanged => ("~", "33;1"),
        };
        let from = d
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let line = format!("{mark} {} {}{from}", d.key, d.change.as_str());
        let _ = writeln!(out, "{}", paint(color, code, &line));
        for taken in &d.drift {
            let line = format!("  {}", drift_line(taken));
            let _ = writeln!(out, "{}", paint(color, "35", &line));
        }
        for line in d.diff.lines() {
            let _ = writeln!(out, "{}", diff_line(line, color));
        }
    }
    for failure in &report.errors {
        let error = format!("error: {}", failure.error);
        let _ = writeln!(out, "{}", paint(color, "31;1", &error));
    }
    let _ = writeln!(
        out,
        "{} → {}: {}",
        report.base,
        report.head,
        summary(report)
    );
    out
}

/// The report as markdown.
fn markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### modelctl diff: `{}` → `{}`\n",
        report.base, report.head
    );
    if !report.has_changes() && !report.has_errors() {
        let _ = writeln!(
            out,
            "No manifest changes ({} objects unchanged).",
            report.counts().unchanged
        );
        return out;
    }
    let _ = writeln!(out, "{}.", summary(report));
    if report.has_changes() {
        let _ = writeln!(out, "\n| environment | object | model | change |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for d in report.changes() {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                d.env,
                d.key,
                d.model.as_deref().unwrap_or(""),
                d.change.as_str()
            );
        }
    }
    for d in report.changes().filter(|d| !d.diff.is_empty()) {
        let drift: String = d
            .drift
            .iter()
            .map(|t| format!("\n\n{}", drift_line(t).replace('<', "&lt;")))
            .collect();
        let _ = writeln!(
            out,
            "\n<details><summary>{}: <code>{}</code> {}</summary>{drift}\n\n{}\n\n</details>",
            d.env,
            d.key,
            d.change.as_str(),
            fenced_diff(&d.diff)
        );
    }
    if report.has_errors() {
        out.push_str("\n**Errors**\n\n");
        for failure in &report.errors {
            let objects: Vec<String> = failure.objects.iter().map(|k| format!("`{k}`")).collect();
            let about = match objects.is_empty() {
                true => failure.env.clone(),
                false => objects.join(", "),
            };
            let _ = writeln!(
                out,
                "- {about}:\n  ```\n  {}\n  ```",
                failure.error.replace('\n', "\n  ")
            );
        }
    }
    out
}

/// `drift: <field> is now owned by "<manager>"; …`.
fn drift_line(taken: &Drift) -> String {
    format!(
        "drift: {} is now owned by {:?}; apply takes it back only with --force-conflicts",
        taken.field, taken.manager
    )
}

/// Whether text output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// ANSI colours.
    Always,
    /// Plain text.
    Never,
}

impl From<bool> for ColorChoice {
    fn from(color: bool) -> ColorChoice {
        if color {
            ColorChoice::Always
        } else {
            ColorChoice::Never
        }
    }
}

/// `s` in the ANSI colour `code` (e.g. `"31"` red) when `color` is `Always`.
pub fn paint(color: ColorChoice, code: &str, s: &str) -> String {
    match color {
        ColorChoice::Always => format!("\x1b[{code}m{s}\x1b[0m"),
        ColorChoice::Never => s.to_owned(),
    }
}

/// One line of a unified diff, coloured by its role (header, added, removed,
/// hunk) when `color` is `Always`.
pub fn diff_line(line: &str, color: ColorChoice) -> String {
    let code = if line.starts_with("+++") || line.starts_with("---") {
        "1"
    } else if line.starts_with('+') {
        "32"
    } else if line.starts_with('-') {
        "31"
    } else if line.starts_with("@@") {
        "36"
    } else {
        return line.to_owned();
    };
    paint(color, code, line)
}

/// A diff as a fenced `diff` block for markdown. The fence is longer than
/// any backtick run in the diff, so the diff cannot close it early.
pub fn fenced_diff(diff: &str) -> String {
    let longest = diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}diff\n{diff}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(diff_line("-k: 1", ColorChoice::Never), "-k: 1");
        assert_eq!(
            diff_line("-k: 1", ColorChoice::Always),
            "\x1b[31m-k: 1\x1b[0m"
        );
        assert_eq!(
            diff_line("+k: 2", ColorChoice::Always),
            "\x1b[32m+k: 2\x1b[0m"
        );
        assert_eq!(diff_line(" k: 0", ColorChoice::Always), " k: 0");
    }

    #[test]
    fn fence_outlasts_backticks_in_the_diff() {
        let fenced = fenced_diff("+a: '````'\n");
        assert!(fenced.starts_with("`````diff\n"), "{fenced}");
        assert!(fenced.ends_with("\n`````"), "{fenced}");
    }
}
