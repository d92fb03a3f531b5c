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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diag::{Diagnostic, Stage};

    #[test]
    fn positions_are_one_based() {
        let mut r = Report::new();
        let file = Path::new("m.toml");
        r.add_source(file, "a = 1\nb = 2\n");
        r.push(Diagnostic::new(file, Some(10..11), Stage::Rule, "bad".to_owned()).with_help("fix"));
        let doc: serde_json::Value = serde_json::from_str(&render(&r)).unwrap();
        assert_eq!(doc["valid"], false);
        let d = &doc["diagnostics"][0];
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(2), Some(5))
        );
        assert_eq!(
            (d["end_line"].as_u64(), d["end_column"].as_u64()),
            (Some(2), Some(6))
        );
        assert_eq!(d["stage"], "rule");
    }
}
