//! Hyperparameter sweeps: the trials (the grid's combinations, or a random
//! search's samples) and the files that pass them to the code.
//!
//! Owns the order of combinations (the index an Indexed Job pod gets) and the
//! files each index reads: `sweep.json` (every combination) and
//! `sweep-<index>.env` (one combination as shell `export` lines).

use std::collections::BTreeMap;

use modelctl_spec::model::Sweep;
use modelctl_spec::values::env_var_name;

use super::script::sh_quote;

/// The trials of `sweep` of model `model`, in index order: the grid's
/// combinations, or the random search's samples.
pub fn trials(sweep: &Sweep, model: &str) -> Vec<BTreeMap<String, String>> {
    match (sweep.random, &sweep.grid) {
        (Some(n), _) => super::random::sample(sweep, model, n.get()),
        (None, Some(grid)) => combinations(grid.as_map()),
        (None, None) => Vec::new(),
    }
}

/// Every combination of `grid`, parameters in name order, the last parameter
/// varying fastest. Index `i` of the result is Job completion index `i`.
/// An empty grid has one (empty) combination; a parameter without values has none.
pub fn combinations<K: AsRef<str>, V: AsRef<[String]>>(
    grid: &BTreeMap<K, V>,
) -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for (name, values) in grid {
        let values = values.as_ref();
        let mut next = Vec::with_capacity(out.len() * values.len());
        for combination in &out {
            for value in values {
                let mut c: BTreeMap<String, String> = combination.clone();
                c.insert(name.as_ref().to_owned(), value.clone());
                next.push(c);
            }
        }
        out = next;
    }
    out
}

/// `sweep.json`: the list of combinations, each as environment name to value.
pub(crate) fn sweep_json(combinations: &[BTreeMap<String, String>]) -> String {
    let list: Vec<BTreeMap<String, &String>> = combinations
        .iter()
        .map(|c| c.iter().map(|(k, v)| (env_var_name(k), v)).collect())
        .collect();
    // A list of string maps always serializes.
    let mut text = serde_json::to_string_pretty(&list).expect("string maps serialize to JSON");
    text.push('\n');
    text
}

/// `sweep-<index>.env`: one combination as `export NAME='value'` lines, plus
/// `MODEL_OUTPUT` when the output template was rendered for it.
pub(crate) fn sweep_env(combination: &BTreeMap<String, String>, output: Option<&str>) -> String {
    let mut text = String::new();
    for (name, value) in combination {
        text.push_str("export ");
        text.push_str(&env_var_name(name));
        text.push('=');
        text.push_str(&sh_quote(value));
        text.push('\n');
    }
    if let Some(output) = output {
        text.push_str("export MODEL_OUTPUT=");
        text.push_str(output);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn combinations_cover_the_grid_last_parameter_fastest() {
        let c = combinations(&grid(&[("a", &["1", "2"]), ("b", &["x", "y", "z"])]));
        assert_eq!(c.len(), 6);
        let pairs: Vec<(String, String)> =
            c.iter().map(|m| (m["a"].clone(), m["b"].clone())).collect();
        assert_eq!(pairs[0], ("1".into(), "x".into()));
        assert_eq!(pairs[1], ("1".into(), "y".into()));
        assert_eq!(pairs[3], ("2".into(), "x".into()));
        assert_eq!(pairs[5], ("2".into(), "z".into()));
    }

    #[test]
    fn parameter_without_values_has_no_combination() {
        assert!(combinations(&grid(&[("a", &["1"]), ("b", &[])])).is_empty());
    }

    #[test]
    fn sweep_env_quotes_values_for_the_shell() {
        let c: BTreeMap<String, String> = [("note".to_string(), "it's $HOME".to_string())].into();
        assert_eq!(sweep_env(&c, None), "export NOTE='it'\\''s $HOME'\n");
    }
}
