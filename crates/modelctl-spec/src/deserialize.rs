//! Stages 1 and 2: a spanned document tree to typed values, reporting every
//! error of the file rather than the first.
//!
//! serde stops at the first error, so after each error the offending entry is
//! removed from a copy of the tree and deserialization runs again, up to
//! [`MAX_ERRORS_PER_FILE`] times. A "missing field" that only appears because
//! an earlier error removed that field is not reported twice, nor is an error
//! of a whole array or table that an earlier error removed an entry from.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Report, Stage};
use crate::values::HELP_SEPARATOR;

/// Most errors reported for one file (and one environment's overrides).
pub const MAX_ERRORS_PER_FILE: usize = 50;

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// What deserializing a tree came to.
pub(crate) enum Outcome<T> {
    /// No errors.
    Valid(T),
    /// Errors were reported; with the offending entries removed the rest of
    /// the tree is well formed. `broken` holds the top-level keys under
    /// which something was removed.
    Pruned { value: T, broken: BTreeSet<String> },
    /// Errors were reported and the tree could not be pruned into shape.
    Invalid,
}

/// Deserializes `root` as `T`, reporting every error into `report`.
/// Returns `None` when there was any error.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    file: &Path,
    root: &Spanned<DeTable<'_>>,
    report: &mut Report,
) -> Option<T> {
    match deserialize_pruned(file, root, report) {
        Outcome::Valid(v) => Some(v),
        Outcome::Pruned { .. } | Outcome::Invalid => None,
    }
}

/// Like [`deserialize_all`], and on errors also returns what remains valid,
/// so rules can still check the parts of a file that are well formed.
pub(crate) fn deserialize_pruned<T: DeserializeOwned>(
    file: &Path,
    root: &Spanned<DeTable<'_>>,
    report: &mut Report,
) -> Outcome<T> {
    let mut tree = root.clone();
    let mut removed: Vec<Vec<Seg>> = Vec::new();
    let mut broken = BTreeSet::new();
    let mut found = 0;
    for _ in 0..MAX_ERRORS_PER_FILE * 2 {
        let err = match T::deserialize(toml::de::Deserializer::from(tree.clone())) {
            Ok(value) if found == 0 => return Outcome::Valid(value),
            Ok(value) => return Outcome::Pruned { value, broken },
            Err(e) => e,
        };
        let span = err.span().unwrap_or(0..0);
        let message = err.message().to_owned();
        let path = innermost(tree.get_ref(), &span);
        let missing = missing_field(&message);
        let cascade = match missing {
            Some(field) => {
                let mut p = path.clone();
                p.push(Seg::Key(field.to_owned()));
                removed.contains(&p)
            }
            // A value that is checked as a whole (a command, a sweep grid)
            // may be wrong only because an entry of it was removed.
            None => removed
                .iter()
                .any(|r| r.len() > path.len() && r.starts_with(&path)),
        };
        if !cascade {
            report.push(to_diagnostic(file, span.clone(), &message));
            found += 1;
            if found >= MAX_ERRORS_PER_FILE {
                return Outcome::Invalid;
            }
        }
        if path.is_empty() || !remove(tree.get_mut(), &path) {
            return Outcome::Invalid;
        }
        if let Some(Seg::Key(top)) = path.first() {
            broken.insert(top.clone());
        }
        // A misspelt key stands for the key it resembles: its absence is
        // not a second error.
        if let Some(meant) = unknown_field_suggestion(&message) {
            let mut p = path[..path.len() - 1].to_vec();
            p.push(Seg::Key(meant.to_owned()));
            removed.push(p);
        }
        removed.push(path);
    }
    Outcome::Invalid
}

/// Turns a serde message into a diagnostic: splits off the value's hint, or
/// finds one for the common serde messages.
fn to_diagnostic(file: &Path, span: Range<usize>, message: &str) -> Diagnostic {
    if let Some((msg, help)) = message.split_once(HELP_SEPARATOR) {
        return Diagnostic::new(file, Some(span), Stage::Value, msg.to_owned()).with_help(help);
    }
    let (msg, help) = explain(message);
    Diagnostic::new(file, Some(span), Stage::Type, msg).with_help(help)
}

/// A clearer message and a hint for serde's own messages.
fn explain(message: &str) -> (String, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let help = match closest(field, &choices) {
            Some(c) => format!("did you mean `{c}`?"),
            None if choices.is_empty() => "remove this key".to_owned(),
            None => format!("the keys here are {}", list(&choices)),
        };
        return (format!("unknown key `{field}`"), help);
    }
    if let Some(field) = missing_field(message) {
        return (
            format!("missing key `{field}`"),
            format!("add `{field} = …` to this table"),
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.split(", expected ").nth(1).unwrap_or("another type");
        let help = match expected {
            e if e.starts_with("u32") || e.starts_with("u64") || e.starts_with("i64") => {
                "write a whole number without quotes".to_owned()
            }
            "a boolean" => "write `true` or `false` without quotes".to_owned(),
            "a string" => "quote the value: `\"…\"`".to_owned(),
            "a sequence" => "write an array: `[\"…\", \"…\"]`".to_owned(),
            e => format!("write {e}"),
        };
        return (format!("wrong type: {rest}"), help);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        return (
            format!("invalid value: {rest}"),
            "write a whole number in range".to_owned(),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let help = match closest(variant, &choices) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("use one of {}", list(&choices)),
        };
        return (format!("unknown value `{variant}`"), help);
    }
    (
        message.to_owned(),
        "see the spec reference in docs/spec.md".to_owned(),
    )
}

/// The known key an unknown-field message's key resembles, if any.
fn unknown_field_suggestion(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(field, &choices)
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The choice within edit distance 2 (or a third of the word) of `word`.
pub(crate) fn closest<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    choices
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Path to the innermost entry whose key or value covers `span`.
pub(crate) fn innermost(table: &DeTable<'_>, span: &Range<usize>) -> Vec<Seg> {
    let mut path = Vec::new();
    descend_table(table, span, &mut path);
    path
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Searches the whole tree: a table opened by a `[header]` spans only its
/// header, so a value's span need not lie inside its parent's.
fn descend_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    for (k, v) in table.iter() {
        path.push(Seg::Key(k.get_ref().to_string()));
        if covers(&k.span(), span) || descend_value(v.get_ref(), span, path) {
            return true;
        }
        if covers(&v.span(), span) {
            return true;
        }
        path.pop();
    }
    false
}

fn descend_value(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> bool {
    match value {
        DeValue::Table(t) => descend_table(t, span, path),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if descend_value(item.get_ref(), span, path) || covers(&item.span(), span) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

/// Removes the entry at `path`; false when there is none.
fn remove(table: &mut DeTable<'_>, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut value: Option<&mut DeValue<'_>> = None;
    let mut table: Option<&mut DeTable<'_>> = Some(table);
    for seg in parents {
        let next = match (seg, table.take(), value.take()) {
            (Seg::Key(k), Some(t), _) => t.get_mut(k.as_str()).map(Spanned::get_mut),
            (Seg::Key(k), None, Some(DeValue::Table(t))) => {
                t.get_mut(k.as_str()).map(Spanned::get_mut)
            }
            (Seg::Index(i), None, Some(DeValue::Array(a))) => a.get_mut(*i).map(Spanned::get_mut),
            _ => None,
        };
        let Some(next) = next else { return false };
        value = Some(next);
    }
    match (last, table, value) {
        (Seg::Key(k), Some(t), _) | (Seg::Key(k), None, Some(DeValue::Table(t))) => {
            t.remove(k.as_str()).is_some()
        }
        (Seg::Index(i), None, Some(DeValue::Array(a))) if *i < a.len() => {
            let mut items: Vec<_> = std::mem::replace(a, toml::de::DeArray::new())
                .into_iter()
                .collect();
            items.remove(*i);
            for item in items {
                a.push(item);
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
        b: u32,
        c: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        x: u32,
    }

    fn errors(text: &str) -> Vec<String> {
        let mut report = Report::new();
        let root = DeTable::parse(text).unwrap();
        let out: Option<T> = deserialize_all(Path::new("t.toml"), &root, &mut report);
        assert_eq!(out.is_none(), !report.is_empty());
        report
            .diagnostics()
            .iter()
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn reports_every_error_once() {
        let e = errors("a = \"x\"\nb = -1\nzz = 1\n[c]\nx = true\ny = 1\n");
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e.contains(&"unknown key `zz`".to_owned()));
        assert!(e.contains(&"unknown key `y`".to_owned()));
        assert!(!e.iter().any(|m| m.starts_with("missing key")), "{e:?}");
    }

    #[test]
    fn emptied_collections_are_not_a_second_error() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Spec {
            command: crate::values::Command,
        }
        let mut report = Report::new();
        let root = DeTable::parse("command = [1]\n").unwrap();
        let out: Option<Spec> = deserialize_all(Path::new("t.toml"), &root, &mut report);
        assert!(out.is_none());
        let e: Vec<&str> = report
            .diagnostics()
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("wrong type: integer `1`"), "{e:?}");
    }

    #[test]
    fn really_missing_fields_are_reported() {
        assert_eq!(errors("a = 1\n"), vec!["missing key `b`".to_owned()]);
    }

    #[test]
    fn suggests_close_keys() {
        let (_, help) = explain("unknown field `imgae`, expected one of `image`, `code`");
        assert_eq!(help, "did you mean `image`?");
    }
}
