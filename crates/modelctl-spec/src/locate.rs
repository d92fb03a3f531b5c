//! Positions of keys and values in a spanned document tree, so stage 3 rules
//! (which see typed values) can point at the token that breaks them.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Where a rule points: a value, or the key that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The value.
    Value,
    /// The key.
    Key,
}

/// The span of the value (or key) at `path` (`["serve", "replicas", "min"]`;
/// numeric segments index arrays). When the path does not exist (a default),
/// falls back to the deepest ancestor that does: its key, so a frame still
/// points at the right table.
pub(crate) fn locate(root: &DeTable<'_>, path: &[&str], target: Target) -> Range<usize> {
    let mut best: Option<Range<usize>> = None;
    let mut table = Some(root);
    let mut value: Option<&DeValue<'_>> = None;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let entry = match (table, value) {
            (Some(t), _) => t.get_key_value(*seg).map(|(k, v)| (k.span(), v)),
            (None, Some(DeValue::Array(a))) => seg
                .parse::<usize>()
                .ok()
                .and_then(|n| a.get(n))
                .map(|v| (v.span(), v)),
            _ => None,
        };
        let Some((key_span, v)) = entry else { break };
        best = Some(if last && target == Target::Value {
            v.span()
        } else {
            key_span
        });
        match v.get_ref() {
            DeValue::Table(t) => {
                table = Some(t);
                value = None;
            }
            other => {
                table = None;
                value = Some(other);
            }
        }
    }
    best.unwrap_or(0..0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_keys_and_array_items() {
        let text = "[serve]\nreplicas = { min = 3, max = 2 }\n[train]\ndata = [{ pvc = \"a\" }]\n";
        let root = DeTable::parse(text).unwrap();
        let at = |p: &[&str], t| &text[locate(root.get_ref(), p, t)];
        assert_eq!(at(&["serve", "replicas", "min"], Target::Value), "3");
        assert_eq!(at(&["serve", "replicas", "max"], Target::Key), "max");
        assert_eq!(at(&["train", "data", "0", "pvc"], Target::Value), "\"a\"");
        assert_eq!(at(&["serve", "route"], Target::Value), "serve");
    }
}
