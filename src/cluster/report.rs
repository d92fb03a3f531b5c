//! Printing a [`DiffReport`]: text (coloured on a terminal), Markdown for a
//! pull-request comment, or JSON. Pure string building; the command decides
//! where it goes.

use std::fmt::Write as _;

use super::diff::{Change, DiffReport};
use crate::manifest_diff::{ColorChoice, diff_line, fenced_diff, paint};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Unified diffs, optionally with ANSI colours.
    Text {
        /// Colour the diff lines.
        color: bool,
    },
    /// Markdown with fenced `diff` blocks.
    Markdown,
    /// One JSON document.
    Json,
}

/// Renders the report.
pub fn render(report: &DiffReport, format: ReportFormat) -> String {
    match format {
        ReportFormat::Text { color } => text(report, color),
        ReportFormat::Markdown => markdown(report),
        ReportFormat::Json => {
            let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
            out.push('\n');
            out
        }
    }
}

/// One line of counts: `2 to create, 1 to update, 5 unchanged, 1 to prune`.
pub fn summary(report: &DiffReport) -> String {
    let count = |c: Change| report.objects.iter().filter(|o| o.change == c).count();
    let mut out = format!(
        "{} to create, {} to update, {} unchanged, {} to prune",
        count(Change::Create),
        count(Change::Update),
        count(Change::Unchanged),
        report.prune.len()
    );
    let failed = report.errors.len()
        + report
            .missing_kinds
            .iter()
            .map(|m| m.objects.len())
            .sum::<usize>();
    if failed > 0 {
        let _ = write!(out, ", {failed} failed");
    }
    out
}

fn text(report: &DiffReport, color: bool) -> String {
    let color = if color {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    };
    let mut out = String::new();
    for object in report
        .objects
        .iter()
        .filter(|o| o.change != Change::Unchanged)
    {
        let verb = match object.change {
            Change::Create => "create",
            _ => "update",
        };
        let _ = writeln!(out, "{verb} {}", object.key);
        for line in object.diff.lines() {
            let _ = writeln!(out, "{}", diff_line(line, color));
        }
    }
    for key in &report.prune {
        let _ = writeln!(out, "{}", paint(color, "31", &format!("would prune {key}")));
    }
    for missing in &report.missing_kinds {
        let _ = writeln!(
            out,
            "error: {} ({}) is not served by this cluster: install its CRD; {} object(s) cannot be applied",
            missing.kind,
            missing.api_version,
            missing.objects.len()
        );
    }
    for failure in &report.errors {
        let _ = writeln!(out, "error: {}", failure.error);
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}

fn markdown(report: &DiffReport) -> String {
    let mut out = String::from("### modelctl diff\n\n");
    let _ = writeln!(out, "{}\n", summary(report));
    for object in report
        .objects
        .iter()
        .filter(|o| o.change != Change::Unchanged)
    {
        let verb = match object.change {
            Change::Create => "create",
            _ => "update",
        };
        let _ = writeln!(
            out,
            "<details><summary>{verb} <code>{}</code></summary>\n",
            object.key
        );
        let _ = writeln!(out, "{}\n</details>\n", fenced_diff(&object.diff));
    }
    if !report.prune.is_empty() {
        out.push_str("**Would prune**\n\n");
        for key in &report.prune {
            let _ = writeln!(out, "- `{key}`");
        }
        out.push('\n');
    }
    if report.has_errors() {
        out.push_str("**Errors**\n\n");
        for missing in &report.missing_kinds {
            let _ = writeln!(
                out,
                "- {} (`{}`) is not served by this cluster: install its CRD ({} object(s))",
                missing.kind,
                missing.api_version,
                missing.objects.len()
            );
        }
        for failure in &report.errors {
            let _ = writeln!(
                out,
                "- `{}`:\n  ```\n  {}\n  ```",
                failure.key,
                failure.error.replace('\n', "\n  ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::ObjectKey;
    use crate::cluster::diff::ObjectDiff;

    fn report() -> DiffReport {
        DiffReport {
            objects: vec![ObjectDiff {
                key: ObjectKey {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    namespace: Some("ml".into()),
                    name: "a".into(),
                },
                change: Change::Update,
                before: Some("k: 1\n".into()),
                after: "k: 2\n".into(),
                diff: "--- live\n+++ applied\n@@ -1 +1 @@\n-k: 1\n+k: 2\n".into(),
            }],
            ..DiffReport::default()
        }
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = render(&report(), ReportFormat::Text { color: false });
        assert!(!plain.contains('\x1b'));
        assert!(plain.contains("\n-k: 1\n+k: 2\n"));
        let coloured = render(&report(), ReportFormat::Text { color: true });
        assert!(coloured.contains("\x1b[31m-k: 1\x1b[0m"));
        assert!(coloured.contains("\x1b[32m+k: 2\x1b[0m"));
    }

    #[test]
    fn json_report_parses_back() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&report(), ReportFormat::Json)).unwrap();
        assert_eq!(json["objects"][0]["change"], "update");
        assert_eq!(json["objects"][0]["kind"], "ConfigMap");
    }
}
