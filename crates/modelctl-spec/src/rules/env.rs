//! Rules on `[env.<name>]` override tables, checked on the spanned tree
//! before overrides are merged: each must name an environment of
//! `modelctl.toml`, and may change `[train]` and `[serve]` but not add them.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, Report, Stage};

/// Each `[env.<name>]` must name an environment of `modelctl.toml`.
pub(crate) fn check_env_keys(
    file: &Path,
    tree: &Spanned<DeTable<'_>>,
    env_names: Option<&[String]>,
    report: &mut Report,
) {
    let (Some(names), Some(env)) = (env_names, tree.get_ref().get("env")) else {
        return;
    };
    let DeValue::Table(table) = env.get_ref() else {
        return;
    };
    for (key, _) in table.iter() {
        let k: &str = key.get_ref();
        if names.iter().any(|n| n == k) {
            continue;
        }
        let help = match names.iter().min_by_key(|n| strsim::levenshtein(k, n)) {
            Some(n) if strsim::levenshtein(k, n) <= 2 => {
                format!("did you mean `{n}`?")
            }
            _ if names.is_empty() => "add it under `[environments]` in `modelctl.toml`".to_owned(),
            _ => format!(
                "the environments are {}; add it to `modelctl.toml` or remove this table",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        report.push(
            Diagnostic::new(
                file,
                Some(key.span()),
                Stage::Rule,
                format!("`modelctl.toml` has no environment `{k}`"),
            )
            .with_help(help),
        );
    }
}

/// An `[env.<name>]` table may change `[train]` and `[serve]`, not add them:
/// a section that exists in one environment only (say, GPUs for a training
/// run the spec does not have) is a mistake. Returns the environments whose
/// overrides add a section.
pub(crate) fn check_override_sections(
    file: &Path,
    tree: &Spanned<DeTable<'_>>,
    report: &mut Report,
) -> Vec<String> {
    let root = tree.get_ref();
    let Some(DeValue::Table(envs)) = root.get("env").map(Spanned::get_ref) else {
        return Vec::new();
    };
    let mut bad = Vec::new();
    for (env, over) in envs.iter() {
        let DeValue::Table(over) = over.get_ref() else {
            continue;
        };
        for section in ["train", "serve"] {
            let Some((key, _)) = over.get_key_value(section) else {
                continue;
            };
            if root.contains_key(section) {
                continue;
            }
            let env: &str = env.get_ref();
            report.push(
                Diagnostic::new(
                    file,
                    Some(key.span()),
                    Stage::Rule,
                    format!("`[env.{env}]` sets `{section}` keys but the spec has no `[{section}]`"),
                )
                .with_help(format!(
                    "overrides change sections the spec has; add `[{section}]` to the spec, or remove these keys"
                )),
            );
            bad.push(env.to_owned());
        }
    }
    bad
}
