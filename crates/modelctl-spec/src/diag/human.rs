//! Human output: rustc-style frames rendered by `annotate-snippets`.
//!
//! ```text
//! error: `12x` is not a duration
//!   --> models/translation.toml:17:11
//!    |
//! 17 | timeout = "12x"
//!    |           ^^^^^
//!    |
//!    = help: write a whole number and one of the units `ms`, `s`, `m`, `h`, `d`
//! ```

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use super::{Diagnostic, Report};

/// Renders every diagnostic of `report`, each followed by a blank line;
/// `color` adds ANSI styles.
pub fn render(report: &Report, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in report.diagnostics() {
        out.push_str(&render_one(report, d, &renderer));
        out.push_str("\n\n");
    }
    out
}

fn render_one(report: &Report, d: &Diagnostic, renderer: &Renderer) -> String {
    let path = d.file.display().to_string();
    let mut group = Group::with_title(Level::ERROR.primary_title(d.message.as_str()));
    match (report.source(&d.file), &d.span) {
        (Some(text), Some(span)) => {
            let span = clamp(text, span.clone());
            let mut ann = AnnotationKind::Primary.span(span);
            if let Some(label) = &d.label {
                ann = ann.label(label.as_str());
            }
            let mut snippet = Snippet::source(text).path(path.clone()).annotation(ann);
            for r in d.related.iter().filter(|r| r.file == d.file) {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(clamp(text, r.span.clone()))
                        .label(r.label.as_str()),
                );
            }
            group = group.element(snippet);
        }
        _ => {
            group = group.element(Origin::path(path.clone()));
        }
    }
    for r in d.related.iter().filter(|r| r.file != d.file) {
        if let Some(text) = report.source(&r.file) {
            group = group.element(
                Snippet::source(text)
                    .path(r.file.display().to_string())
                    .annotation(
                        AnnotationKind::Context
                            .span(clamp(text, r.span.clone()))
                            .label(r.label.as_str()),
                    ),
            );
        }
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let groups: [Group<'_>; 1] = [group];
    renderer.render(&groups)
}

/// Keeps a span inside the text and on character boundaries.
fn clamp(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    let end = fix(span.end).max(start);
    start..end
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diag::{Diagnostic, Stage};

    fn report() -> Report {
        let mut r = Report::new();
        let file = Path::new("models/x.toml");
        r.add_source(file, "[serve]\nreplicas = \"3\"\n");
        r.push(
            Diagnostic::new(file, Some(19..22), Stage::Type, "wrong type".to_owned())
                .with_label("a string")
                .with_help("write a whole number without quotes"),
        );
        r.push(Diagnostic::new(
            Path::new("models/y.toml"),
            None,
            Stage::Io,
            "cannot read".to_owned(),
        ));
        r
    }

    #[test]
    fn plain_frames_have_location_caret_and_help() {
        let text = render(&report(), false);
        let expected = "error: wrong type\n --> models/x.toml:2:12\n  |\n2 | replicas = \"3\"\n  |            ^^^ a string\n  |\n  = help: write a whole number without quotes\n\n";
        assert!(text.starts_with(expected), "{text}");
        assert!(
            text.contains("error: cannot read\n--> models/y.toml"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(render(&report(), true).contains('\u{1b}'));
    }
}
