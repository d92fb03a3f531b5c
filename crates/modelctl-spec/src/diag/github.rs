//! GitHub Actions output: one `::error file=…,line=…,col=…::message` workflow
//! command per diagnostic, so problems show up on the pull request's diff.

use super::Report;

/// The report as workflow commands, one per line.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in report.diagnostics() {
        let mut props = vec![format!("file={}", property(&d.file.display().to_string()))];
        if let (Some(start), Some(end)) = (report.start_of(d), report.end_of(d)) {
            props.push(format!("line={}", start.line));
            props.push(format!("col={}", start.col));
            props.push(format!("endLine={}", end.line));
            props.push(format!("endColumn={}", end.col));
        }
        props.push(format!("title={}", property("modelctl validate")));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::error {}::{}\n",
            props.join(","),
            data(&message)
        ));
    }
    out
}

/// Escapes a command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_workflow_command_characters() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
