//! A [`DiffReport`] as markdown for a pull-request comment: a heading, the
//! summary, a table of the changed objects, each object's diff in a
//! collapsed `diff` block, then the errors.

use std::fmt::Write as _;

use super::model::DiffReport;
use super::paint::fenced_diff;
use super::render::summary;

/// The report as markdown.
pub(super) fn markdown(report: &DiffReport) -> String {
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
        let _ = writeln!(
            out,
            "\n<details><summary>{}: <code>{}</code> {}</summary>\n\n{}\n\n</details>",
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
