//! A [`DiffReport`] as text for a terminal: per environment, one line per
//! changed object (`+` added, `-` removed, `~` changed) followed by its
//! unified diff, then the errors and a summary line.

use std::fmt::Write as _;

use super::model::{Change, DiffReport};
use super::paint::{ColorChoice, diff_line, paint};
use super::render::summary;

/// The report as text.
pub(super) fn text(report: &DiffReport, color: ColorChoice) -> String {
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
