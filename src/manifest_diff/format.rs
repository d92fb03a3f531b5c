//! Printing a [`DiffReport`]: text for a terminal (coloured unless `NO_COLOR`
//! or not a terminal), markdown for a pull-request comment, JSON for tools.
//!
//! Owns the three output formats and nothing else.

use std::fmt::Write as _;

use super::{Change, DiffReport};

/// Whether text output is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    /// ANSI colours.
    Always,
    /// Plain text.
    Never,
}

impl ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> ColorChoice {
        if crate::term::colour(&std::io::stdout()) {
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

fn summary(report: &DiffReport) -> String {
    let (added, removed, changed) = report.counts();
    format!(
        "{added} added, {removed} removed, {changed} changed, {} unchanged",
        report.unchanged
    )
}

/// The report as text: one block per object, `+`/`-`/`~` and the unified diff.
pub fn text(report: &DiffReport, color: ColorChoice) -> String {
    let mut out = String::new();
    let mut env = None;
    for d in &report.changes {
        if env != Some(&d.id.env) {
            env = Some(&d.id.env);
            let _ = writeln!(
                out,
                "{}",
                paint(color, "1", &format!("# environment {}", d.id.env))
            );
        }
        let (mark, code) = match d.change {
            Change::Added => ("+", "32;1"),
            Change::Removed => ("-", "31;1"),
            Change::Changed => ("~", "33;1"),
        };
        let from = d
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}",
            paint(
                color,
                code,
                &format!("{mark} {} {}{from}", d.id.display(), d.change.as_str())
            )
        );
        for line in d.diff.lines() {
            let _ = writeln!(out, "{}", diff_line(line, color));
        }
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

/// The report as markdown for a pull-request comment: a summary table, then
/// each object's diff in a collapsed `diff` block.
pub fn markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### modelctl diff: `{}` → `{}`\n",
        report.base, report.head
    );
    if report.is_empty() {
        let _ = writeln!(
            out,
            "No manifest changes ({} objects unchanged).",
            report.unchanged
        );
        return out;
    }
    let _ = writeln!(out, "{}.\n", summary(report));
    let _ = writeln!(out, "| environment | object | model | change |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for d in &report.changes {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            d.id.env,
            d.id.display(),
            d.model.as_deref().unwrap_or(""),
            d.change.as_str()
        );
    }
    for d in &report.changes {
        let _ = writeln!(
            out,
            "\n<details><summary>{}: <code>{}</code> {}</summary>\n\n{}\n\n</details>",
            d.id.env,
            d.id.display(),
            d.change.as_str(),
            fenced_diff(&d.diff)
        );
    }
    out
}

/// The report as a JSON document.
pub fn to_json(report: &DiffReport) -> serde_json::Value {
    let (added, removed, changed) = report.counts();
    serde_json::json!({
        "base": report.base,
        "head": report.head,
        "summary": {
            "added": added,
            "removed": removed,
            "changed": changed,
            "unchanged": report.unchanged,
        },
        "changes": report.changes,
    })
}
