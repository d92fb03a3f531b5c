//! Profiles: `[profiles.<name>]` tables of `modelctl.toml` holding shared
//! `[train]` and `[serve]` keys, which a spec takes with
//! `profile = "<name>"` (or a list, applied in order).
//!
//! A spec is checked as if it had written its profiles' keys itself: the
//! spec's tree is filled, key by key, from its profiles (last profile first)
//! before any later stage runs, so resolution is defaults → profiles → spec
//! → `[env.X]`. A value taken from a profile keeps its position in
//! `modelctl.toml`, shifted past the end of the spec's text, so the stages
//! that follow locate it like any other; [`Report::relocate`] then moves
//! the diagnostics at shifted positions to `modelctl.toml`.
//!
//! A profile's keys are checked against the model schema once, in
//! `modelctl.toml` ([`check_keys`]); its values are checked in every spec
//! that takes it, and reported once.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::deserialize::{closest, list};
use crate::diag::{Diagnostic, Report, Stage};
use crate::schema::{SchemaKind, schema};

/// The spec sections a profile may hold.
pub const SECTIONS: [&str; 2] = ["train", "serve"];

/// The `[profiles]` table of `modelctl.toml`, as the specs see it.
pub(crate) struct Profiles<'a> {
    /// `modelctl.toml`, as shown to users.
    pub file: &'a Path,
    /// `[profiles]`, by name (`None` when the file has none).
    pub table: Option<&'a DeTable<'a>>,
    /// The file does not parse: its errors are reported, and a spec's
    /// profiles are left unresolved without more.
    pub broken: bool,
}

/// A spec's tree with its profiles applied.
pub(crate) struct Applied<'a> {
    /// The spec's tree filled from its profiles.
    pub tree: Spanned<DeTable<'a>>,
    /// Positions at or past this one came from `modelctl.toml`, shifted by it.
    pub shift: usize,
    /// A named profile could not be found: the keys it would have given
    /// are missing for that reason alone.
    pub unresolved: bool,
}

/// Fills `spec` (whose text is `spec_len` bytes long) from the profiles its
/// `profile` key names, reporting a malformed or unknown name at the name.
/// `profiles` is `None` when no `modelctl.toml` was read.
pub(crate) fn apply<'a>(
    file: &Path,
    spec: &Spanned<DeTable<'a>>,
    spec_len: usize,
    profiles: Option<&Profiles<'a>>,
    report: &mut Report,
) -> Applied<'a> {
    let shift = spec_len + 1;
    let mut tree = spec.clone();
    let Some(named) = tree.get_ref().get("profile").cloned() else {
        return Applied {
            tree,
            shift,
            unresolved: false,
        };
    };
    let names = match names_of(&named) {
        Some(names) => names,
        None => {
            report.push(
                Diagnostic::new(
                    file,
                    Some(named.span()),
                    Stage::Type,
                    "`profile` must be a profile name or a list of names".to_owned(),
                )
                .with_help(
                    "write `profile = \"gpu-large\"` or `profile = [\"gpu\", \"batching\"]`",
                ),
            );
            tree.get_mut().remove("profile");
            return Applied {
                tree,
                shift,
                unresolved: true,
            };
        }
    };
    let mut found = Vec::new();
    let mut unresolved = false;
    for (name, span) in names {
        match profiles.map(|p| (p.broken, lookup(p, name))) {
            Some((true, _)) => unresolved = true,
            Some((false, Ok(table))) => found.push(table),
            Some((false, Err(help))) => {
                unresolved = true;
                report.push(
                    Diagnostic::new(
                        file,
                        Some(span),
                        Stage::Rule,
                        format!("`modelctl.toml` has no profile `{name}`"),
                    )
                    .with_help(help),
                );
            }
            None => {
                unresolved = true;
                report.push(
                    Diagnostic::new(
                        file,
                        Some(span),
                        Stage::Rule,
                        format!("profile `{name}` is defined in `modelctl.toml`, which was not read"),
                    )
                    .with_help("validate the repository (its `modelctl.toml` and `models/`) rather than this file alone"),
                );
            }
        }
    }
    if unresolved {
        // A valid key naming nothing: the spec type would accept it, and
        // one error at the name says it all.
        tree.get_mut().remove("profile");
    }
    // The last profile wins over earlier ones, and the spec over all: fill
    // the spec from the last profile first.
    for profile in found.iter().rev() {
        for section in SECTIONS {
            if let Some(value) = profile.get(section) {
                let shifted = shifted(value, shift);
                fill_key(tree.get_mut(), section, shifted, profile, section, shift);
            }
        }
    }
    Applied {
        tree,
        shift,
        unresolved,
    }
}

/// The names a `profile` value gives, with their positions; `None` when it
/// is neither a string nor a list of strings.
fn names_of<'v>(value: &'v Spanned<DeValue<'_>>) -> Option<Vec<(&'v str, Range<usize>)>> {
    match value.get_ref() {
        DeValue::String(s) => Some(vec![(s.as_ref(), value.span())]),
        DeValue::Array(items) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Some((s.as_ref(), item.span())),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The profile `name`'s table, or a hint naming the profiles there are.
fn lookup<'a>(profiles: &Profiles<'a>, name: &str) -> Result<&'a DeTable<'a>, String> {
    let table = profiles.table;
    if let Some(DeValue::Table(t)) = table.and_then(|t| t.get(name)).map(Spanned::get_ref) {
        return Ok(t);
    }
    let known: Vec<&str> = table
        .map(|t| t.keys().map(|k| k.get_ref().as_ref()).collect())
        .unwrap_or_default();
    Err(match closest(name, &known) {
        Some(k) => format!("did you mean `{k}`?"),
        None if known.is_empty() => format!("add `[profiles.{name}]` to `modelctl.toml`"),
        None => format!(
            "the profiles are {}; add `[profiles.{name}]` to `modelctl.toml`",
            list(&known)
        ),
    })
}

/// Puts `value` under `key` of `into` where the spec has nothing there, and
/// fills a table the spec has from the profile's table of the same key. The
/// spec's own values (and the spans of its tables) stay.
fn fill_key<'a>(
    into: &mut DeTable<'a>,
    key: &str,
    value: Spanned<DeValue<'a>>,
    from: &DeTable<'a>,
    from_key: &str,
    shift: usize,
) {
    let Some(existing) = into.get_mut(key) else {
        let span = from
            .get_key_value(from_key)
            .map(|(k, _)| k.span())
            .unwrap_or(0..0);
        let key = Spanned::new(shift_range(span, shift), key.to_owned().into());
        into.insert(key, value);
        return;
    };
    if let (DeValue::Table(mine), DeValue::Table(theirs)) = (existing.get_mut(), value.get_ref()) {
        for (k, v) in theirs.iter() {
            fill_key(mine, k.get_ref(), v.clone(), theirs, k.get_ref(), 0);
        }
    }
}

fn shift_range(span: Range<usize>, shift: usize) -> Range<usize> {
    span.start + shift..span.end + shift
}

/// A deep copy of `value` with every position moved by `shift`.
fn shifted<'a>(value: &Spanned<DeValue<'a>>, shift: usize) -> Spanned<DeValue<'a>> {
    let span = shift_range(value.span(), shift);
    let inner = match value.get_ref() {
        DeValue::Table(t) => DeValue::Table(shifted_table(t, shift)),
        DeValue::Array(a) => DeValue::Array(a.iter().map(|v| shifted(v, shift)).collect()),
        other => other.clone(),
    };
    Spanned::new(span, inner)
}

fn shifted_table<'a>(table: &DeTable<'a>, shift: usize) -> DeTable<'a> {
    let mut out = DeTable::new();
    for (k, v) in table.iter() {
        let key = Spanned::new(shift_range(k.span(), shift), k.get_ref().clone());
        out.insert(key, shifted(v, shift));
    }
    out
}

/// Checks every key of every profile in `profiles` (the `[profiles]` table
/// of `file`) against the model schema: a key a spec's `[train]` or
/// `[serve]` does not have is an error at the key, with the key it most
/// resembles.
pub(crate) fn check_keys(file: &Path, profiles: &DeTable<'_>, report: &mut Report) {
    let root = model_schema();
    for (_, profile) in profiles.iter() {
        let DeValue::Table(profile) = profile.get_ref() else {
            continue;
        };
        for (section, value) in profile.iter() {
            let Some(node) = root.pointer(&format!("/properties/{}", section.get_ref())) else {
                // Not `train` or `serve`: the type stage reports it.
                continue;
            };
            check_value(file, root, &[node], value, report);
        }
    }
}

fn model_schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| schema(SchemaKind::Model))
}

/// What the schema nodes `nodes` say of an object's keys.
#[derive(Default)]
struct Keys<'s> {
    named: BTreeMap<&'s str, Vec<&'s Json>>,
    /// Schemas of keys not named (`additionalProperties`), when any are allowed.
    other: Vec<&'s Json>,
    /// Some node closes the object (`additionalProperties: false`).
    closed: bool,
}

fn collect<'s>(root: &'s Json, node: &'s Json, keys: &mut Keys<'s>, depth: usize) {
    if depth > 16 {
        return;
    }
    if let Some(r) = node.get("$ref").and_then(Json::as_str)
        && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
    {
        collect(root, target, keys, depth + 1);
    }
    if let Some(props) = node.get("properties").and_then(Json::as_object) {
        for (k, v) in props {
            keys.named.entry(k.as_str()).or_default().push(v);
        }
    }
    match node.get("additionalProperties") {
        Some(Json::Bool(false)) => keys.closed = true,
        Some(Json::Bool(true)) => keys.other.push(&Json::Null),
        Some(other) => keys.other.push(other),
        None => {}
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = node.get(combinator).and_then(Json::as_array) {
            for b in branches {
                collect(root, b, keys, depth + 1);
            }
        }
    }
}

fn items_of<'s>(root: &'s Json, node: &'s Json, out: &mut Vec<&'s Json>, depth: usize) {
    if depth > 16 {
        return;
    }
    if let Some(r) = node.get("$ref").and_then(Json::as_str)
        && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
    {
        items_of(root, target, out, depth + 1);
    }
    if let Some(items) = node.get("items") {
        out.push(items);
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = node.get(combinator).and_then(Json::as_array) {
            for b in branches {
                items_of(root, b, out, depth + 1);
            }
        }
    }
}

fn check_value(
    file: &Path,
    root: &Json,
    nodes: &[&Json],
    value: &Spanned<DeValue<'_>>,
    report: &mut Report,
) {
    match value.get_ref() {
        DeValue::Table(table) => {
            let mut keys = Keys::default();
            for n in nodes {
                collect(root, n, &mut keys, 0);
            }
            for (k, v) in table.iter() {
                let key: &str = k.get_ref();
                if let Some(next) = keys.named.get(key) {
                    check_value(file, root, next, v, report);
                } else if !keys.other.is_empty() {
                    let next: Vec<&Json> = keys
                        .other
                        .iter()
                        .copied()
                        .filter(|n| !n.is_null())
                        .collect();
                    check_value(file, root, &next, v, report);
                } else if keys.closed {
                    let names: Vec<&str> = keys.named.keys().copied().collect();
                    let help = match closest(key, &names) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("the keys here are {}", list(&names)),
                    };
                    report.push(
                        Diagnostic::new(
                            file,
                            Some(k.span()),
                            Stage::Type,
                            // The words of the type stage's message, so the
                            // same key met again in a spec that takes this
                            // profile is reported once.
                            format!("unknown key `{key}`"),
                        )
                        .with_help(help),
                    );
                }
            }
        }
        DeValue::Array(items) => {
            let mut next = Vec::new();
            for n in nodes {
                items_of(root, n, &mut next, 0);
            }
            if next.is_empty() {
                return;
            }
            for item in items.iter() {
                check_value(file, root, &next, item, report);
            }
        }
        _ => {}
    }
}

/// The schema of a profile's `train`: the keys of a spec's `[train]`, none required.
pub(crate) fn train_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    section_schema::<crate::model::Train>("train")
}

/// The schema of a profile's `serve`: the keys of a spec's `[serve]`, none required.
pub(crate) fn serve_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    section_schema::<crate::model::Serve>("serve")
}

fn section_schema<T: schemars::JsonSchema>(section: &str) -> schemars::Schema {
    let of = schemars::schema_for!(T);
    let names: Vec<Json> = of
        .get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().map(|k| Json::String(k.clone())).collect())
        .unwrap_or_default();
    schemars::json_schema!({
        "type": "object",
        "description": format!(
            "Any keys of a spec's `[{section}]`, each checked in the specs that take this profile (see the model schema)."
        ),
        "propertyNames": { "enum": names }
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::diag::LineCol;
    use crate::pipeline::{check_sources, load_sources};
    use crate::read::Source;

    const CONFIG: &str = "\
[defaults]
namespace = \"ml\"
server-image = \"r.example.com/s:1\"
route = { kind = \"ingress\" }
queue = \"q-default\"
[environments.staging]
[environments.production]

[profiles.gpu.train]
image = \"pytorch:2\"
queue = \"q-gpu\"
retries = 5
resources = { cpu = \"4\" }

[profiles.long.train]
retries = 9
timeout = \"12h\"

[profiles.batched.serve]
batching = { max-batch = 16, max-delay = \"2ms\" }
";

    fn src(path: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from(path),
            text: text.to_owned(),
        }
    }

    /// Each problem as `file:line:col: message (help)`.
    fn problems(config: &str, models: &[(&str, &str)]) -> Vec<String> {
        let models: Vec<Source> = models.iter().map(|(p, t)| src(p, t)).collect();
        let (_, report) = check_sources(Some(&src("modelctl.toml", config)), &models);
        report
            .diagnostics()
            .iter()
            .map(|d| {
                let LineCol { line, col: column } = report.start_of(d).unwrap();
                format!(
                    "{}:{line}:{column}: {} ({})",
                    d.file.display(),
                    d.message,
                    d.help.clone().unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn keys_resolve_defaults_then_profiles_then_spec_then_env() {
        let spec = "profile = [\"gpu\", \"long\"]\n[train]\ncommand = [\"python\", \"t.py\"]\ntimeout = \"2h\"\n[env.staging]\ntrain.timeout = \"30m\"\ntrain.queue = \"q-staging\"\n";
        let plain = "[train]\nimage = \"python:3\"\ncommand = [\"x\"]\n";
        let repo = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/m.toml", spec), src("models/p.toml", plain)],
        )
        .unwrap();
        let train = |model: usize, env: &str| {
            repo.models[model]
                .spec_for(env)
                .unwrap()
                .train
                .clone()
                .unwrap()
        };
        let production = train(0, "production");
        // From the first profile only.
        assert_eq!(production.image.as_str(), "pytorch:2");
        assert_eq!(
            production.resources.cpu.as_ref().map(|c| c.as_str()),
            Some("4")
        );
        // Both profiles set it: the later one wins.
        assert_eq!(production.retries.map(u32::from).unwrap(), 9);
        // The profile's queue wins over the environment's default.
        assert_eq!(production.queue.as_ref().map(|q| q.as_str()), Some("q-gpu"));
        // The spec wins over its profiles.
        assert_eq!(
            production.timeout.as_ref().map(|t| t.to_string()),
            Some("2h".to_owned())
        );
        // `[env.X]` wins over the spec.
        let staging = train(0, "staging");
        assert_eq!(
            staging.timeout.as_ref().map(|t| t.to_string()),
            Some("30m".to_owned())
        );
        assert_eq!(
            staging.queue.as_ref().map(|q| q.as_str()),
            Some("q-staging")
        );
        assert_eq!(staging.retries.map(u32::from).unwrap(), 9);
        // A spec without a profile takes nothing from one.
        let plain = train(1, "production");
        assert_eq!(plain.image.as_str(), "python:3");
        assert!(plain.queue.is_none());
        // A section the spec does not have comes whole from the profile.
        let serving = "profile = \"batched\"\n[serve]\nmodel = \"s3://b/m.onnx\"\n";
        let repo = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/s.toml", serving)],
        )
        .unwrap();
        let serve = repo.models[0]
            .spec_for("staging")
            .unwrap()
            .serve
            .clone()
            .unwrap();
        assert_eq!(u32::from(serve.batching.unwrap().max_batch), 16);
    }

    #[test]
    fn a_bad_value_is_reported_where_it_was_set() {
        let config = CONFIG.replace("retries = 5", "retries = 5\nnodes = 0");
        let spec = "profile = \"gpu\"\n[train]\ncommand = [\"x\"]\n";
        let bad_spec = "profile = \"gpu\"\n[train]\ncommand = [\"x\"]\ntimeout = \"soon\"\n";
        let found = problems(
            &config,
            &[("models/a.toml", spec), ("models/b.toml", bad_spec)],
        );
        // The profile's value: once, in modelctl.toml, at its line, though
        // two specs take it.
        let in_config: Vec<&String> = found
            .iter()
            .filter(|p| p.starts_with("modelctl.toml:"))
            .collect();
        assert_eq!(in_config.len(), 1, "{found:#?}");
        assert!(
            in_config[0].starts_with("modelctl.toml:13:9: "),
            "{found:#?}"
        );
        // The spec's own value: in the spec.
        assert!(
            found.iter().any(|p| p.starts_with("models/b.toml:4:11: ")),
            "{found:#?}"
        );
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    #[test]
    fn a_missing_key_points_at_the_spec_section() {
        let spec = "profile = \"gpu\"\n\n[train]\nretries = 1\n";
        let found = problems(CONFIG, &[("models/a.toml", spec)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with("models/a.toml:3:"), "{found:#?}");
        assert!(found[0].contains("missing key `command`"), "{found:#?}");
    }

    #[test]
    fn an_unknown_profile_gets_did_you_mean_and_nothing_more() {
        let spec = "profile = [\"gpu\", \"lnog\"]\n[train]\ncommand = [\"x\"]\n";
        let found = problems(CONFIG, &[("models/a.toml", spec)]);
        assert_eq!(
            found,
            ["models/a.toml:1:19: `modelctl.toml` has no profile `lnog` (did you mean `long`?)"]
        );
        // Nothing close: the hint lists the profiles.
        let spec = "profile = \"cpu-small\"\n[train]\ncommand = [\"x\"]\n";
        let found = problems(CONFIG, &[("models/a.toml", spec)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("the profiles are `batched`, `gpu`, `long`"),
            "{found:#?}"
        );
        // Not a name at all.
        let spec = "profile = 3\n[train]\ncommand = [\"x\"]\nimage = \"p\"\n";
        let found = problems(CONFIG, &[("models/a.toml", spec)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("`profile` must be a profile name"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_profile_key_that_no_spec_has_is_an_error() {
        let config = CONFIG
            .replace("retries = 5", "retrys = 5")
            .replace("max-batch = 16", "max-bach = 16")
            .replace("[profiles.long.train]", "[profiles.long.train]\ncode = { git = \"https://g.example.com/r.git\", revison = \"main\" }");
        let found = problems(&config, &[]);
        assert_eq!(
            found,
            [
                "modelctl.toml:12:1: unknown key `retrys` (did you mean `retries`?)",
                "modelctl.toml:16:47: unknown key `revison` (the keys here are `archive`, `dir`, `git`, `rev`, `sha256`)",
                "modelctl.toml:21:14: unknown key `max-bach` (did you mean `max-batch`?)",
            ]
        );
        let config = CONFIG.replace(
            "[profiles.long.train]",
            "[profiles.long.owner]\nteam = \"a\"\n[profiles.long.train]",
        );
        let found = problems(&config, &[]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("unknown key `owner`"), "{found:#?}");
    }

    #[test]
    fn a_profile_needs_the_settings_file() {
        let spec = "profile = \"gpu\"\n[train]\ncommand = [\"x\"]\n";
        let (_, report) = check_sources(None, &[src("models/a.toml", spec)]);
        let messages: Vec<&str> = report
            .diagnostics()
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            messages,
            ["profile `gpu` is defined in `modelctl.toml`, which was not read"]
        );
    }

    #[test]
    fn shifted_values_keep_their_text_at_the_new_place() {
        let config = "[profiles.gpu.train]\nimage = \"pytorch:2\"\nretries = 3\n";
        let root = DeTable::parse(config).unwrap();
        let train = &root.get_ref()["profiles"].get_ref().as_table().unwrap()["gpu"]
            .get_ref()
            .as_table()
            .unwrap()["train"];
        let moved = shifted(train, 100);
        let table = moved.get_ref().as_table().unwrap();
        let image = &table["image"];
        let span = image.span();
        assert_eq!(&config[span.start - 100..span.end - 100], "\"pytorch:2\"");
        assert_eq!(
            table["retries"].get_ref().as_integer().map(|i| i.as_str()),
            Some("3")
        );
    }
}
