//! Stage 1: TOML text to a spanned document tree (`toml::de::DeTable`), with
//! every syntax error of the file reported, and guards against input that is
//! not a spec at all (too deeply nested for any spec).
//!
//! Must not interpret keys: that is [`crate::deserialize`]'s job.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::DeTable;

use crate::diag::{Diagnostic, Report, Stage};

/// Deepest nesting of arrays and inline tables a spec may use; real specs
/// use three or four levels. Bounding it keeps parsing off the stack limit.
pub const MAX_NESTING: usize = 32;

/// Parses `text`; on syntax errors reports each and returns `None`.
pub(crate) fn parse<'a>(
    file: &Path,
    text: &'a str,
    report: &mut Report,
) -> Option<Spanned<DeTable<'a>>> {
    if let Some(at) = too_deep(text) {
        report.push(
            Diagnostic::new(
                file,
                Some(at..at + 1),
                Stage::Syntax,
                format!("arrays and tables are nested more than {MAX_NESTING} levels deep"),
            )
            .with_help("a spec needs a few levels at most; check for unclosed `[` or `{`"),
        );
        return None;
    }
    let (root, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Some(root);
    }
    for e in errors {
        let span = e.span().map(|s| widen(text, s));
        report.push(
            Diagnostic::new(file, span, Stage::Syntax, syntax_message(e.message()))
                .with_help(syntax_help(e.message())),
        );
    }
    None
}

/// The first line of a parser message, without a trailing period.
fn syntax_message(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("invalid TOML").trim();
    first.trim_end_matches('.').to_owned()
}

fn syntax_help(msg: &str) -> String {
    let m = msg.to_ascii_lowercase();
    if m.contains("duplicate key") {
        "each key may be set once per table; remove one of them".to_owned()
    } else if m.contains("unclosed") || m.contains("unterminated") || m.contains("missing") {
        "close the string, array or table".to_owned()
    } else if m.contains("invalid string") || m.contains("string") {
        "quote text values: `key = \"value\"`".to_owned()
    } else {
        "see https://toml.io for the syntax".to_owned()
    }
}

/// Keeps a span on its first line, and gives an empty span one character so
/// the caret shows.
fn widen(text: &str, s: Range<usize>) -> Range<usize> {
    let start = s.start.min(text.len());
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let s = start..s.end.clamp(start, line_end);
    if s.start == s.end && s.end < text.len() && !text[s.end..].starts_with('\n') {
        let next = text[s.end..].chars().next().map_or(1, char::len_utf8);
        s.start..s.end + next
    } else {
        s
    }
}

/// Offset of the first `[` or `{` (outside strings and comments) that opens
/// a level deeper than [`MAX_NESTING`].
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let triple = bytes[i..].starts_with(if q == b'"' { b"\"\"\"" } else { b"'''" });
                i += if triple { 3 } else { 1 };
                while i < bytes.len() {
                    if q == b'"' && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if !triple && bytes[i] == b'\n' {
                        break;
                    }
                    if bytes[i] == q && (!triple || bytes[i..].starts_with(&[q, q, q])) {
                        i += if triple { 2 } else { 0 };
                        break;
                    }
                    i += 1;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn reports_every_syntax_error() {
        let mut report = Report::new();
        let text = "a = \nb = [1,\nc = \"x\"\n";
        assert!(parse(&PathBuf::from("x.toml"), text, &mut report).is_none());
        assert!(!report.is_empty());
        assert!(report.diagnostics().iter().all(|d| d.span.is_some()));
    }

    #[test]
    fn rejects_deep_nesting_before_parsing() {
        let text = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
        let mut report = Report::new();
        assert!(parse(&PathBuf::from("x.toml"), &text, &mut report).is_none());
        assert_eq!(report.diagnostics()[0].span, Some(36..37));
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        let text = format!(
            "a = \"{}\"\nb = '''{}'''\n# {}\n",
            "[".repeat(99),
            "{".repeat(99),
            "[".repeat(99)
        );
        assert_eq!(too_deep(&text), None);
    }
}
