//! The validation pipeline: in-memory sources to a validated [`Repo`],
//! through all three stages, resolved per environment. Reads no files (that
//! is [`crate::read`]).
//!
//! [`check_sources`] is the one pipeline: it collects every problem of every
//! file into one [`Report`] and returns a [`Repo`] only when there are none.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::Config;
use crate::deserialize::{Outcome, deserialize_all, deserialize_pruned};
use crate::diag::{Diagnostic, Report, Stage};
use crate::document;
use crate::locate::{Target, locate};
use crate::merge;
use crate::model::ModelSpec;
use crate::profiles::{self, Profiles};
use crate::read::Source;
use crate::repo::{Model, Repo};
use crate::rules::repo::RouteClaim;
use crate::rules::{self, Checker};
use crate::schema::{self, SchemaKind};
use crate::values::ModelName;

/// Validates a repository given as in-memory sources (used for `diff --base`).
pub fn load_sources(config: &Source, models: &[Source]) -> Result<Repo, Report> {
    match check_sources(Some(config), models) {
        (Some(repo), report) if report.is_empty() => Ok(repo),
        (_, mut report) => {
            report.sort();
            Err(report)
        }
    }
}

/// Runs every stage over `config` (when given) and `models`, and returns the
/// repository (when the config is present and nothing is wrong) and every
/// problem found. Without a config, models are checked on their own and
/// `[env.*]` names are not checked.
pub fn check_sources(config: Option<&Source>, models: &[Source]) -> (Option<Repo>, Report) {
    let mut report = Report::new();
    let (config_tree, settings) = match config {
        Some(src) => check_config(src, &mut report),
        None => (None, None),
    };
    let profiles = profiles_of(config, config_tree.as_ref());
    let config = settings;
    let env_names: Option<Vec<String>> = config
        .as_ref()
        .map(|c| c.env_names().map(str::to_owned).collect());
    let mut checked = Vec::new();
    let mut claims = Vec::new();
    for src in models {
        if let Some(m) = check_model(
            src,
            env_names.as_deref(),
            config.as_ref(),
            profiles.as_ref(),
            &mut claims,
            &mut report,
        ) {
            checked.push(m);
        }
    }
    rules::repo::check(&checked, &claims, &mut report);
    report.sort();
    let ok = report.is_empty() && checked.len() == models.len();
    let repo = config.filter(|_| ok).map(|config| {
        let mut models = checked;
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Repo { config, models }
    });
    (repo, report)
}

/// The settings, when they are well formed, and their tree, when it parses
/// (profiles are read from it even when a setting is wrong).
fn check_config<'s>(
    src: &'s Source,
    report: &mut Report,
) -> (Option<Spanned<DeTable<'s>>>, Option<Config>) {
    report.add_source(&src.path, &src.text);
    let before = report.len();
    let Some(tree) = document::parse(&src.path, &src.text, report) else {
        return (None, None);
    };
    if let Some(DeValue::Table(table)) = tree.get_ref().get("profiles").map(Spanned::get_ref) {
        profiles::check_keys(&src.path, table, report);
    }
    let Some(config) = deserialize_all::<Config>(&src.path, &tree, report) else {
        return (Some(tree), None);
    };
    // A profile's keys are checked against the model schema, with a
    // located message, by `profiles::check_keys` above.
    schema_check(&src.path, SchemaKind::Config, &tree, report, |pointer| {
        !pointer.starts_with("/profiles/")
    });
    let mut c = Checker {
        file: &src.path,
        tree: tree.get_ref(),
        report,
    };
    rules::config::check(&mut c, &config);
    let ok = report.len() == before;
    (Some(tree), ok.then_some(config))
}

/// What the specs see of `[profiles]`: `None` when no `modelctl.toml` was
/// given at all.
fn profiles_of<'a>(
    src: Option<&'a Source>,
    tree: Option<&'a Spanned<DeTable<'a>>>,
) -> Option<Profiles<'a>> {
    let src = src?;
    Some(Profiles {
        file: &src.path,
        table: tree.and_then(
            |t| match t.get_ref().get("profiles").map(Spanned::get_ref) {
                Some(DeValue::Table(table)) => Some(table),
                _ => None,
            },
        ),
        broken: tree.is_none(),
    })
}

/// Checks one spec with its profiles applied; a problem in a value that a
/// profile gave is reported in `modelctl.toml`, at that value.
fn check_model(
    src: &Source,
    env_names: Option<&[String]>,
    config: Option<&Config>,
    profiles: Option<&Profiles<'_>>,
    claims: &mut Vec<RouteClaim>,
    report: &mut Report,
) -> Option<Model> {
    report.add_source(&src.path, &src.text);
    let before = report.len();
    let name = check_name(&src.path, report);
    let tree = document::parse(&src.path, &src.text, report)?;
    let applied = profiles::apply(&src.path, &tree, src.text.len(), profiles, report);
    let model = check_applied(src, name, &applied.tree, env_names, config, claims, report);
    // Counted before moving: a profile's error that an earlier spec already
    // reported is dropped as a duplicate, yet this spec has it too.
    let clean = report.len() == before;
    if let Some(p) = profiles {
        report.relocate(before, &src.path, applied.shift, p.file);
    }
    if applied.unresolved {
        // Keys the unknown profile would have given are not missing twice.
        report.retain_from(before, |d| !d.message.starts_with("missing key `"));
    }
    model.filter(|_| clean)
}

fn check_applied(
    src: &Source,
    name: Option<ModelName>,
    tree: &Spanned<DeTable<'_>>,
    env_names: Option<&[String]>,
    config: Option<&Config>,
    claims: &mut Vec<RouteClaim>,
    report: &mut Report,
) -> Option<Model> {
    rules::env::check_env_keys(&src.path, tree, env_names, report);
    let spec = deserialize_model(src, tree, report)?;
    schema_check(&src.path, SchemaKind::Model, tree, report, |_| true);
    rules::model::check(
        &mut Checker {
            file: &src.path,
            tree: tree.get_ref(),
            report,
        },
        &spec,
    );
    let mut resolved = BTreeMap::new();
    let envs: Vec<String> = match env_names {
        Some(names) => names.to_vec(),
        None => spec.env.keys().cloned().collect(),
    };
    let mut base_view = spec.clone();
    base_view.env.clear();
    let adds_sections = rules::env::check_override_sections(&src.path, tree, report);
    for env in envs {
        if adds_sections.contains(&env) {
            continue;
        }
        let view = if spec.env.contains_key(&env) {
            let merged = merge::resolve(tree, &env);
            let Some(view) = deserialize_all::<ModelSpec>(&src.path, &merged, report) else {
                continue;
            };
            rules::model::check(
                &mut Checker {
                    file: &src.path,
                    tree: merged.get_ref(),
                    report,
                },
                &view,
            );
            claim_route(src, &name, &env, &view, &merged, claims);
            check_in_env(src, config, &name, &env, &view, &merged, report);
            check_workers(src, &name, &view, &merged, report);
            view
        } else {
            claim_route(src, &name, &env, &base_view, tree, claims);
            check_in_env(src, config, &name, &env, &base_view, tree, report);
            base_view.clone()
        };
        resolved.insert(env, view);
    }
    check_workers(src, &name, &base_view, tree, report);
    if env_names.is_none() {
        claim_route(src, &name, "", &base_view, tree, claims);
    }
    let name = name?;
    Some(Model {
        name,
        source: src.path.clone(),
        spec,
        resolved,
    })
}

/// The model's spec as written, when it deserializes. When only some
/// sections are broken, the well-formed ones are still checked (and `None`
/// returned), so one run reports as much as it can.
fn deserialize_model(
    src: &Source,
    tree: &Spanned<DeTable<'_>>,
    report: &mut Report,
) -> Option<ModelSpec> {
    match deserialize_pruned(&src.path, tree, report) {
        Outcome::Valid(spec) => Some(spec),
        Outcome::Pruned { value, broken } => {
            let mut spec: ModelSpec = value;
            if broken.contains("train") {
                spec.train = None;
            }
            if broken.contains("serve") {
                spec.serve = None;
            }
            let mut c = Checker {
                file: &src.path,
                tree: tree.get_ref(),
                report,
            };
            rules::model::check_sections(&mut c, &spec);
            None
        }
        Outcome::Invalid => None,
    }
}

/// The rules between `spec`, resolved for `env`, and that environment's
/// settings (when a config is given); located in `tree`.
fn check_in_env(
    src: &Source,
    config: Option<&Config>,
    name: &Option<ModelName>,
    env: &str,
    spec: &ModelSpec,
    tree: &Spanned<DeTable<'_>>,
    report: &mut Report,
) {
    let Some(settings) = config.and_then(|c| c.environment(env).ok()) else {
        return;
    };
    rules::model::check_in_env(
        &mut Checker {
            file: &src.path,
            tree: tree.get_ref(),
            report,
        },
        spec,
        &settings,
    );
    if let Some(name) = name
        && let Err(why) = crate::repo::namespace_of(&settings, name.as_str(), spec)
    {
        let template = settings.owner_namespace.as_ref().map_or("", |t| t.as_str());
        report.push(
            Diagnostic::new(
                &src.path,
                Some(locate(tree.get_ref(), &["owner"], Target::Value)),
                Stage::Rule,
                format!(
                    "in environment `{env}`, `owner-namespace = \"{template}\"` makes this model's namespace from its owner: {why}"
                ),
            )
            .with_help("set `namespace = \"...\"` in this spec, or change the owner or the environment's `owner-namespace`"),
        );
    }
}

/// The worker host names of a multi-node run fit (see
/// [`rules::model::check_worker_names`]).
fn check_workers(
    src: &Source,
    name: &Option<ModelName>,
    spec: &ModelSpec,
    tree: &Spanned<DeTable<'_>>,
    report: &mut Report,
) {
    let Some(name) = name else {
        return;
    };
    rules::model::check_worker_names(
        &mut Checker {
            file: &src.path,
            tree: tree.get_ref(),
            report,
        },
        name.as_str(),
        spec,
    );
}

fn claim_route(
    src: &Source,
    name: &Option<ModelName>,
    env: &str,
    spec: &ModelSpec,
    tree: &Spanned<DeTable<'_>>,
    claims: &mut Vec<RouteClaim>,
) {
    let Some(route) = spec.serve.as_ref().and_then(|s| s.route.as_ref()) else {
        return;
    };
    claims.push(RouteClaim {
        model: name
            .as_ref()
            .map_or_else(|| stem(&src.path), |n| n.to_string()),
        file: src.path.clone(),
        env: env.to_owned(),
        host: route.host.to_string(),
        prefix: route.prefix().to_owned(),
        span: locate(tree.get_ref(), &["serve", "route", "host"], Target::Value),
    });
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The file stem is the model's name, so it must be a valid [`ModelName`].
fn check_name(path: &Path, report: &mut Report) -> Option<ModelName> {
    let e = match stem(path).parse::<ModelName>() {
        Ok(name) => return Some(name),
        Err(e) => e,
    };
    report.push(
        Diagnostic::new(
            path,
            Some(0..0),
            Stage::Value,
            format!("the file name makes the model name: {}", e.message),
        )
        .with_help(format!("rename the file; {}", e.help)),
    );
    None
}

/// Runs the generated JSON Schema over a file that passed stages 1 and 2.
fn schema_check(
    file: &Path,
    kind: SchemaKind,
    tree: &Spanned<DeTable<'_>>,
    report: &mut Report,
    wanted: impl Fn(&str) -> bool,
) {
    let json = schema::to_json(tree.get_ref());
    for e in schema::check_json(kind, &json) {
        if !wanted(&e.pointer) {
            continue;
        }
        let segments = schema::pointer_segments(&e.pointer);
        let path: Vec<&str> = segments.iter().map(String::as_str).collect();
        let span = locate(tree.get_ref(), &path, Target::Value);
        report.push(
            Diagnostic::new(file, Some(span), Stage::Schema, format!("JSON Schema: {}", e.message))
                .with_help("modelctl accepts this value but its JSON Schema does not, so editors will flag it; please report it"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const CONFIG: &str = "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = { kind = \"ingress\" }\n[environments.staging]\n[environments.production]\n";

    fn src(path: &str, text: &str) -> Source {
        Source {
            path: PathBuf::from(path),
            text: text.to_owned(),
        }
    }

    #[test]
    fn resolves_each_environment() {
        let model =
            "[serve]\nmodel = \"s3://b/m.onnx\"\nreplicas = 3\n[env.staging]\nserve.replicas = 1\n";
        let repo = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/b.toml", model), src("models/a.toml", model)],
        )
        .unwrap();
        assert_eq!(repo.models[0].name.as_str(), "a");
        let replicas = |env: &str| {
            repo.models[0]
                .spec_for(env)
                .unwrap()
                .serve
                .clone()
                .unwrap()
                .replicas
        };
        assert_eq!(
            replicas("staging"),
            Some(crate::model::Replicas::Fixed(1u32.try_into().unwrap()))
        );
        assert_eq!(
            replicas("production"),
            Some(crate::model::Replicas::Fixed(3u32.try_into().unwrap()))
        );
        assert!(repo.models[0].spec_for("staging").unwrap().env.is_empty());
        assert!(repo.models[0].spec.env.contains_key("staging"));
    }

    #[test]
    fn an_environment_is_selected_by_name_or_refused() {
        let model =
            "[serve]\nmodel = \"s3://b/m.onnx\"\nreplicas = 3\n[env.staging]\nserve.replicas = 1\n";
        let repo = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/m.toml", model)],
        )
        .unwrap();
        let staging = repo.environment("staging").unwrap();
        assert_eq!(staging.settings.name, "staging");
        let serve = staging.models[0].spec.serve.as_ref().unwrap();
        assert_eq!(
            serve.replicas,
            Some(crate::model::Replicas::Fixed(1u32.try_into().unwrap()))
        );
        let unknown = repo.environment("dev").unwrap_err();
        assert_eq!(unknown.name, "dev");
        assert_eq!(unknown.known, ["production", "staging"]);
    }

    #[test]
    fn a_kueue_priority_needs_a_queue() {
        let train = "[train]\nimage = \"python\"\ncommand = [\"x\"]\npriority = \"high\"\n";
        let messages = |config: &str, model: &str| -> Vec<String> {
            let (_, report) = check_sources(
                Some(&src("modelctl.toml", config)),
                &[src("models/m.toml", model)],
            );
            report
                .diagnostics()
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        assert_eq!(
            messages(CONFIG, train),
            [
                "`train.priority` needs a Kueue queue, and environment `production` has none",
                "`train.priority` needs a Kueue queue, and environment `staging` has none"
            ]
        );
        let queued = CONFIG.replace(
            "[environments.staging]\n",
            "[environments.staging]\nqueue = \"team-a\"\n",
        );
        assert_eq!(
            messages(&queued, train),
            ["`train.priority` needs a Kueue queue, and environment `production` has none"]
        );
        assert!(messages(CONFIG, &format!("{train}queue = \"gpu\"\n")).is_empty());
        let config = CONFIG.replace(
            "[environments.production]\n",
            "[environments.production]\npriority = \"low\"\n",
        );
        let model = "[serve]\nmodel = \"s3://b/m.onnx\"\n";
        assert_eq!(
            messages(&config, model),
            ["environment `production` has a Kueue `priority` but no `queue`"]
        );
    }

    #[test]
    fn a_model_namespace_is_its_own_else_its_teams_else_the_environments() {
        let config = CONFIG.replace(
            "[environments.production]\n",
            "[environments.production]\nowner-namespace = \"ml-{{ owner }}\"\n",
        );
        let serve = "[serve]\nmodel = \"s3://b/m.onnx\"\n";
        let repo = load_sources(
            &src("modelctl.toml", &config),
            &[
                src("models/plain.toml", serve),
                src("models/owned.toml", &format!("owner = \"team-a\"\n{serve}")),
                src(
                    "models/pinned.toml",
                    &format!("owner = \"team-a\"\nnamespace = \"shared\"\n{serve}[env.staging]\nnamespace = \"lab\"\n"),
                ),
            ],
        )
        .unwrap();
        let namespaces = |env: &str| -> Vec<(String, String)> {
            repo.environment(env)
                .unwrap()
                .models
                .iter()
                .map(|m| (m.model.name.to_string(), m.namespace.to_string()))
                .collect()
        };
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            namespaces("production"),
            pairs(&[
                ("owned", "ml-team-a"),
                ("pinned", "shared"),
                ("plain", "ml")
            ])
        );
        // Staging has no template: the owner changes nothing there.
        assert_eq!(
            namespaces("staging"),
            pairs(&[("owned", "ml"), ("pinned", "lab"), ("plain", "ml")])
        );
    }

    #[test]
    fn an_owner_that_makes_no_namespace_is_an_error_at_the_owner() {
        let config = CONFIG.replace(
            "[environments.production]\n",
            "[environments.production]\nowner-namespace = \"ml-{{ owner }}\"\n",
        );
        let spec = "owner = \"Team A\"\n[serve]\nmodel = \"s3://b/m.onnx\"\n";
        let (_, report) = check_sources(
            Some(&src("modelctl.toml", &config)),
            &[src("models/m.toml", spec)],
        );
        let found: Vec<(String, String)> = report
            .diagnostics()
            .iter()
            .map(|d| (d.message.clone(), spec[d.span.clone().unwrap()].to_owned()))
            .collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].0.starts_with("in environment `production`, `owner-namespace = \"ml-{{ owner }}\"` makes this model's namespace from its owner: `ml-Team A` is not a namespace name"),
            "{found:#?}"
        );
        assert_eq!(found[0].1, "\"Team A\"");
        // A namespace of its own needs no template.
        let pinned = format!("namespace = \"team-a\"\n{spec}");
        let (_, report) = check_sources(
            Some(&src("modelctl.toml", &config)),
            &[src("models/m.toml", &pinned)],
        );
        assert!(report.is_empty(), "{report}");
        // A template over an unknown variable is refused in modelctl.toml.
        let bad = CONFIG.replace(
            "[environments.production]\n",
            "[environments.production]\nowner-namespace = \"ml-{{ team }}\"\n",
        );
        let (_, report) = check_sources(Some(&src("modelctl.toml", &bad)), &[]);
        assert_eq!(report.len(), 1, "{report}");
        assert_eq!(
            report.diagnostics()[0].message,
            "template uses unknown variable `team`"
        );
    }

    #[test]
    fn worker_host_names_must_fit() {
        let spec = "[train]\nimage = \"python\"\ncommand = [\"x\"]\nnodes = 20\n[env.staging]\ntrain.retries = 1\n";
        let check = |name: &str| -> Vec<String> {
            let (_, report) = check_sources(
                Some(&src("modelctl.toml", CONFIG)),
                &[src(&format!("models/{name}.toml"), spec)],
            );
            report
                .diagnostics()
                .iter()
                .map(|d| d.message.clone())
                .collect()
        };
        // 44 + `-train-` + 8 + `-19` = 62 characters.
        assert!(check(&"m".repeat(44)).is_empty());
        let long = "m".repeat(46);
        assert_eq!(
            check(&long),
            [format!(
                "the workers of `{long}` on 20 nodes would be named with 64 characters, more than a pod's host name holds (63)"
            )]
        );
    }

    #[test]
    fn unknown_environment_points_at_its_key() {
        let model = "[serve]\nmodel = \"s3://b/m.onnx\"\n[env.prod]\nserve.replicas = 1\n";
        let report = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/m.toml", model)],
        )
        .unwrap_err();
        let d = &report.diagnostics()[0];
        assert_eq!(d.message, "`modelctl.toml` has no environment `prod`");
        let at = report.start_of(d).unwrap();
        assert_eq!((at.line, at.col), (3, 6));
    }

    #[test]
    fn report_displays_rustc_style_frames() {
        let model = "[serve]\nmodel = \"s3://b/m.onnx\"\nwarmup = \"x\"\n";
        let report = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/m.toml", model)],
        )
        .unwrap_err();
        let shown = report.to_string();
        assert!(
            shown.starts_with(
                "error: wrong type: string \"x\", expected u32\n --> models/m.toml:3:10\n"
            ),
            "{shown}"
        );
        assert!(
            shown.contains("= help: write a whole number without quotes"),
            "{shown}"
        );
    }

    #[test]
    fn override_errors_point_into_the_override() {
        let model = "[serve]\nmodel = \"s3://b/m.onnx\"\n[env.staging]\nserve.warmup = -1\n";
        let report = load_sources(
            &src("modelctl.toml", CONFIG),
            &[src("models/m.toml", model)],
        )
        .unwrap_err();
        let at = report.start_of(&report.diagnostics()[0]).unwrap();
        assert_eq!((at.line, at.col), (4, 16));
    }
}
