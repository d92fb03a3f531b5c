//! JSON output: one document listing every diagnostic with 1-based line and
//! column, for editors and scripts.

use serde::Serialize;

use super::Report;

#[derive(Serialize)]
struct Doc<'a> {
    valid: bool,
    errors: usize,
    diagnostics: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    severity: &'static str,
    stage: &'static str,
    message: &'a str,
    help: Option<&'a str>,
}

/// The report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    let diagnostics = report
        .diagnostics()
        .iter()
        .map(|d| {
            let start = report.start_of(d);
            let end = report.end_of(d);
            Entry {
                file: d.file.display().to_string(),
                line: start.map(|p| p.line),
                column: start.map(|p| p.col),
                end_line: end.map(|p| p.line),
                end_column: end.map(|p| p.col),
                severity: "error",
                stage: d.stage.as_str(),
                message: &d.message,
                help: d.help.as_deref(),
            }
        })
        .collect();
    let doc = Doc {
        valid: report.is_empty(),
        errors: report.len(),
        diagnostics,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
