//! YAML text of a JSON value, in block style, for the generated files.
//!
//! Owns the exact bytes of every generated object. A plain scalar is written
//! only when no YAML 1.1 or 1.2 reader (Go's, which kubectl, Argo CD and
//! Flux use, or libyaml) could take it for anything but that string: anything
//! that might read as a number, boolean, null, timestamp or indicator is
//! quoted. Multi-line strings become literal blocks. Reading the text back
//! gives the same JSON value (see `tests/it/compile_yaml.rs`).
//!
//! Written here rather than through `serde_yaml` because emitting is most of
//! the cost of `render`, and this is several times faster.

use serde_json::{Map, Value};

/// The YAML text of `value`, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(4096);
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        other => write_scalar_or_empty(&mut out, other, 2),
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes `map` at `level`; with `inline`, the first key continues the
/// current line (after a sequence's `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, level: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, level);
        }
        write_string_scalar(out, key);
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, level + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, level, false);
            }
            other => {
                out.push(' ');
                write_scalar_or_empty(out, other, level + 2);
            }
        }
    }
}

/// Writes `items` at `level`; with `inline`, the first `- ` continues the
/// current line (a sequence inside a sequence).
fn write_seq(out: &mut String, items: &[Value], level: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, level + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, level + 2, true),
            other => write_scalar_or_empty(out, other, level + 2),
        }
    }
}

/// Writes a scalar, `{}` or `[]`, and the line's end. A multi-line string
/// becomes a literal block whose lines are indented by `block_indent`.
fn write_scalar_or_empty(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            if literal_block_ok(s) {
                write_literal_block(out, s, block_indent);
                return;
            }
            write_string_scalar(out, s);
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
    out.push('\n');
}

/// Writes a string as a plain, single-quoted or double-quoted scalar.
fn write_string_scalar(out: &mut String, s: &str) {
    if plain_ok(s) {
        out.push_str(s);
    } else if s.chars().all(|c| !needs_escape(c)) {
        out.push('\'');
        for c in s.chars() {
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        out.push('\'');
    } else {
        write_double_quoted(out, s);
    }
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Characters that may not appear raw in a single-quoted or plain scalar:
/// control characters, and the Unicode line and paragraph separators, the
/// next-line character and the byte-order mark.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// Whether `s` can be written unquoted and read back as the same string by
/// YAML 1.1 and 1.2 readers alike. Deliberately conservative.
fn plain_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // ASCII printable only, no leading or trailing space.
    if !bytes.iter().all(|b| (0x20..0x7f).contains(b)) || first == b' ' || s.ends_with(' ') {
        return false;
    }
    // Indicators that start something other than a plain scalar.
    if b"?:,[]{}#&*!|>'\"%@`".contains(&first) {
        return false;
    }
    if first == b'-' && (bytes.len() == 1 || bytes[1] == b' ' || s.starts_with("---")) {
        return false;
    }
    // Anything a reader might resolve as a number or timestamp (`1e3`,
    // `0x1f`, `0o17`, `1_000`, `1:20`, `2026-11-20`, `.5`, `-1`, `.inf`) is
    // quoted: a string that starts like a number and has only characters
    // numbers and timestamps are made of. `32Gi` and `500m` stay plain.
    let numeric_start = |b: u8| b.is_ascii_digit() || b == b'.';
    let starts_like_number = first.is_ascii_digit()
        || (matches!(first, b'+' | b'-' | b'.') && bytes.len() > 1 && numeric_start(bytes[1]));
    let number_chars = |b: &u8| b.is_ascii_hexdigit() || b"xXoO._:+- tTzZ".contains(b);
    if starts_like_number && bytes.iter().all(number_chars) {
        return false;
    }
    let unsigned = s.trim_start_matches(['+', '-']);
    let lower_start = unsigned.get(..4).map(str::to_ascii_lowercase);
    if matches!(lower_start.as_deref(), Some(".inf" | ".nan")) {
        return false;
    }
    // Booleans and nulls of YAML 1.1 and 1.2, and the merge and value keys.
    const RESERVED: [&str; 13] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", "<<", "=", "...",
    ];
    if RESERVED.iter().any(|r| s.eq_ignore_ascii_case(r)) {
        return false;
    }
    // Sequences that end a plain scalar early or start a comment.
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains('\t'))
}

/// Whether a multi-line string can be a literal block: it has a line break,
/// no character needing an escape, no carriage return, and its first
/// non-empty line does not start with a space (which would change the
/// detected indentation).
fn literal_block_ok(s: &str) -> bool {
    if !s.contains('\n') || s.chars().any(|c| c != '\n' && needs_escape(c) && c != '\t') {
        return false;
    }
    match s.lines().find(|l| !l.is_empty()) {
        Some(line) => !line.starts_with(' ') && !line.starts_with('\t'),
        None => false,
    }
}

/// Writes `s` as `|`, `|-` or `|+` block with its lines at `level`.
fn write_literal_block(out: &mut String, s: &str, level: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    out.push('\n');
    let body = &s[..s.len() - trailing];
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, level);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "16",
            "1e3",
            "0x1f",
            "2026-11-20",
            "yes",
            "No",
            "null",
            "~",
            "",
            " a",
            "-1",
            ".5",
        ] {
            assert!(!plain_ok(s), "{s:?}");
        }
        for s in [
            "digits",
            "--warmup=4",
            "s3://ml/x.onnx",
            "/v2/health/ready",
            "32Gi",
            "a b",
        ] {
            assert!(plain_ok(s), "{s:?}");
        }
    }

    #[test]
    fn block_layout_matches_kubectl_style() {
        let v = json!({
            "kind": "Pod",
            "spec": {"containers": [{"args": ["--port=8080", "16"], "name": "a"}], "empty": {}, "none": []},
            "data": {"start.sh": "#!/bin/sh\nset -eu\n"}
        });
        assert_eq!(
            to_yaml(&v),
            "data:\n  start.sh: |\n    #!/bin/sh\n    set -eu\nkind: Pod\nspec:\n  containers:\n  - args:\n    - --port=8080\n    - '16'\n    name: a\n  empty: {}\n  none: []\n"
        );
    }
}
