//! Rules within one model spec: sections and keys that must go together or
//! exclude each other, ranges that must be ordered, sweep parameters that
//! must not collide with `train.env`, and the size of a sweep grid (a product
//! over its parameters). A check of one value alone belongs to its type in
//! [`crate::values`].

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, MAX_SWEEP_COMBINATIONS};
use crate::config::{EnvSettings, RouteKind};
use crate::locate::Target::{Key, Value};
use crate::model::{
    CodeSource, DataSource, EnvFrom, ModelSpec, Replicas, Serve, ServeBackend, Train,
};

/// Checks every rule of one (possibly environment-resolved) spec.
pub(crate) fn check(c: &mut Checker<'_, '_>, spec: &ModelSpec) {
    if spec.train.is_none() && spec.serve.is_none() {
        c.error(
            &[],
            Value,
            "the spec has neither `[train]` nor `[serve]`".to_owned(),
            "add a `[train]` section to train the model, a `[serve]` section to serve it, or both",
        );
    }
    check_sections(c, spec);
}

/// The rules that hold a spec (as resolved for environment `env`) against
/// that environment's settings: load targets need an autoscaling provider,
/// and a gRPC route needs route kind `gateway`.
pub(crate) fn check_in_env(c: &mut Checker<'_, '_>, spec: &ModelSpec, env: &EnvSettings) {
    if let Some(train) = &spec.train
        && train.priority.is_some()
        && train.queue.is_none()
        && env.queue.is_none()
    {
        c.error(
            &["train", "priority"],
            Value,
            format!(
                "`train.priority` needs a Kueue queue, and environment `{}` has none",
                env.name
            ),
            format!(
                "set `train.queue` (a LocalQueue), or `queue` under `[defaults]` or `[environments.{}]` in `modelctl.toml`",
                env.name
            ),
        );
    }
    let Some(serve) = &spec.serve else {
        return;
    };
    if let Some(Replicas::Range(r)) = &serve.replicas
        && env.autoscaling.provider.is_none()
    {
        let keys = [
            ("target-inflight", r.target_inflight.is_some()),
            ("target-queue", r.target_queue.is_some()),
        ];
        for (key, _) in keys.iter().filter(|(_, set)| *set) {
            c.error(
                &["serve", "replicas", key],
                Value,
                format!("`{key}` needs an autoscaling provider, and `modelctl.toml` configures none"),
                format!(
                    "set `provider = \"keda\"` (with `prometheus`) or `provider = \"hpa\"` under `[defaults.autoscaling]` (environment `{}` has none), or scale on `target-cpu`",
                    env.name
                ),
            );
        }
    }
    // GPU serving runs the environment's GPU image: the CPU image has no
    // CUDA build of ONNX Runtime, and the server would refuse to start.
    if serve.gpus() > 0 && env.server_image_gpu.is_none() {
        c.error(
            &["serve", "resources", "gpu"],
            Value,
            format!(
                "`serve.resources.gpu` asks for GPU serving, but environment `{}` has no `server-image-gpu`",
                env.name
            ),
            format!(
                "set `server-image-gpu` under `[defaults]` or `[environments.{}]` in `modelctl.toml` (the `runtime-gpu` target of `ci/Dockerfile`)",
                env.name
            ),
        );
    }
    if let Some(route) = &serve.route
        && route.grpc
        && env.route.kind != RouteKind::Gateway
    {
        c.error(
            &["serve", "route", "grpc"],
            Value,
            format!(
                "`grpc = true` needs route kind `gateway`, not `{}`",
                route_kind_name(env.route.kind)
            ),
            format!(
                "gRPC is routed with a Gateway API GRPCRoute; remove `grpc`, or use `kind = \"gateway\"` in `modelctl.toml` (environment `{}`)",
                env.name
            ),
        );
    }
}

fn route_kind_name(kind: RouteKind) -> &'static str {
    match kind {
        RouteKind::Gateway => "gateway",
        RouteKind::Openshift => "openshift",
        RouteKind::Ingress => "ingress",
    }
}

/// The rules inside the keys and sections the spec has (everything but the
/// presence of a section), so a partly malformed spec is checked as far as
/// it is well formed.
pub(crate) fn check_sections(c: &mut Checker<'_, '_>, spec: &ModelSpec) {
    if let Some(train) = &spec.train {
        check_train(c, train);
        check_env_from(c, "train", &train.env_from);
    }
    if let Some(serve) = &spec.serve {
        check_serve(c, serve);
        check_env_from(c, "serve", &serve.env_from);
    }
}

/// `env-from`: each entry names exactly one of a Secret and a ConfigMap,
/// and no object twice.
fn check_env_from(c: &mut Checker<'_, '_>, section: &'static str, sources: &[EnvFrom]) {
    let mut seen: BTreeMap<(bool, &str), usize> = BTreeMap::new();
    for (i, source) in sources.iter().enumerate() {
        let idx = i.to_string();
        let at = [section, "env-from", idx.as_str()];
        let (is_secret, name) = match (&source.secret, &source.config_map) {
            (Some(name), None) => (true, name.as_str()),
            (None, Some(name)) => (false, name.as_str()),
            (None, None) => {
                c.error(
                    &at,
                    Value,
                    format!(
                        "`{section}.env-from` entry {i} names neither a Secret nor a ConfigMap"
                    ),
                    "set `secret = \"<name>\"` or `config-map = \"<name>\"`",
                );
                continue;
            }
            (Some(_), Some(_)) => {
                c.error(
                    &at,
                    Value,
                    format!("`{section}.env-from` entry {i} sets both `secret` and `config-map`"),
                    "split it into one entry per object",
                );
                continue;
            }
        };
        if let Some(first) = seen.insert((is_secret, name), i) {
            c.error(
                &at,
                Value,
                format!(
                    "`{section}.env-from` entry {i} names the {} `{name}` again (entry {first})",
                    if is_secret { "Secret" } else { "ConfigMap" }
                ),
                "remove the duplicate",
            );
        }
    }
}

fn check_train(c: &mut Checker<'_, '_>, train: &Train) {
    if let Some(code) = &train.code {
        check_code(c, code);
    }
    check_data(c, train);
    let env_names: BTreeSet<&str> = train.env.keys().map(|k| k.as_str()).collect();
    if let Some(sweep) = &train.sweep {
        check_sweep(c, sweep, &env_names);
    }
    if let Some(nodes) = train.nodes.filter(|n| n.get() > 1)
        && train.sweep.is_some()
    {
        c.error(
            &["train", "nodes"],
            Value,
            format!("a sweep cannot run on {nodes} nodes per trial"),
            "a sweep's trials are the indexes of one Indexed Job, and so are a multi-node run's workers; run the sweep on one node per trial, or one multi-node run per spec",
        );
    }
    for name in reserved_env(train) {
        c.error(
            &["train", "env", name],
            Key,
            format!("`{name}` is set by modelctl for a run with `nodes`"),
            "remove it from `train.env`: each worker gets it from the rendered Job",
        );
    }
    if let Some(output) = &train.output
        && output.uses_params()
        && train.sweep.is_none()
    {
        c.error(
            &["train", "output"],
            Value,
            "`train.output` uses `params` but there is no `[train.sweep]`".to_owned(),
            "add a `[train.sweep]` grid, or remove `params` from the template",
        );
    }
}

/// A multi-node run's workers are named `<model>-train-<hash8>-<index>`,
/// a pod host name of at most 63 characters: the model's name must leave
/// room for the largest index.
pub(crate) fn check_worker_names(c: &mut Checker<'_, '_>, model: &str, spec: &ModelSpec) {
    let Some(nodes) = spec
        .train
        .as_ref()
        .and_then(|t| t.nodes)
        .filter(|n| n.get() > 1)
    else {
        return;
    };
    let digits = (nodes.get() - 1).to_string().len();
    let longest = model.len() + "-train-".len() + 8 + 1 + digits;
    if longest > 63 {
        c.error(
            &["train", "nodes"],
            Value,
            format!(
                "the workers of `{model}` on {nodes} nodes would be named with {longest} characters, more than a pod's host name holds (63)"
            ),
            format!(
                "shorten the model's name to at most {} characters",
                63 - (longest - model.len())
            ),
        );
    }
}

fn reserved_env(train: &Train) -> Vec<&str> {
    if train.nodes.is_none() {
        return Vec::new();
    }
    train
        .env
        .keys()
        .map(|k| k.as_str())
        .filter(|k| crate::model::MULTI_NODE_ENV.contains(k))
        .collect()
}

/// `train.code`: exactly one of `git` and `archive`, each with only its own
/// keys.
fn check_code(c: &mut Checker<'_, '_>, code: &CodeSource) {
    match (&code.git, &code.archive) {
        (None, None) => c.error(
            &["train", "code"],
            Value,
            "`train.code` names no source".to_owned(),
            "set `git` and `rev` to clone a repository, or `archive` to download a `.tar.gz`",
        ),
        (Some(_), Some(_)) => c.error(
            &["train", "code"],
            Value,
            "`train.code` sets both `git` and `archive`".to_owned(),
            "keep one source: `git` with `rev`, or `archive` with `sha256`",
        ),
        (Some(_), None) if code.rev.is_none() => c.error(
            &["train", "code"],
            Value,
            "`train.code.git` has no `rev`".to_owned(),
            "add `rev` with a commit hash, tag or branch name (a commit hash makes runs reproducible)",
        ),
        _ => {}
    }
    if code.archive.is_some() && code.git.is_none() && code.rev.is_some() {
        c.error(
            &["train", "code", "rev"],
            Value,
            "`rev` is a Git revision, but the code comes from `archive`".to_owned(),
            "remove `rev`; pin the archive with `sha256` instead",
        );
    }
    if code.sha256.is_some() && code.archive.is_none() {
        c.error(
            &["train", "code", "sha256"],
            Value,
            "`sha256` checks an archive, but `train.code` has no `archive`".to_owned(),
            "remove `sha256`; a Git commit hash in `rev` already pins the code",
        );
    }
}

fn check_data(c: &mut Checker<'_, '_>, train: &Train) {
    let mut mounts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut envs: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in train.data.iter().enumerate() {
        let idx = i.to_string();
        let at = |key: &'static str| vec!["train", "data", idx.as_str(), key];
        let kinds = [d.pvc.is_some(), d.hdfs.is_some(), d.uri.is_some()];
        match kinds.iter().filter(|k| **k).count() {
            1 => {}
            0 => c.error(
                &["train", "data", &idx],
                Value,
                format!("data source {i} names no source"),
                "set one of `pvc`, `hdfs` or `uri`",
            ),
            _ => c.error(
                &["train", "data", &idx],
                Value,
                format!("data source {i} sets more than one of `pvc`, `hdfs` and `uri`"),
                "split it into one entry per source",
            ),
        }
        check_data_source(c, d, i, &at);
        if let Some(m) = &d.mount
            && let Some(first) = mounts.insert(m.as_str(), i)
        {
            c.error(
                &at("mount"),
                Value,
                format!("`{m}` is already the mount of data source {first}"),
                "mount each source at its own path",
            );
        }
        if d.pvc.is_none() {
            let name = d
                .env
                .as_ref()
                .map_or_else(|| format!("DATA_{i}"), |e| e.to_string());
            if let Some(first) = envs.insert(name.clone(), i) {
                c.error(
                    &at("env"),
                    Value,
                    format!("`{name}` already carries data source {first}"),
                    "give each source its own `env` name",
                );
            }
            if train.env.keys().any(|k| k.as_str() == name) {
                c.error(
                    &at("env"),
                    Value,
                    format!("`{name}` is also set in `train.env`"),
                    "rename one of them",
                );
            }
        }
    }
}

fn check_data_source<'p>(
    c: &mut Checker<'_, '_>,
    d: &DataSource,
    i: usize,
    at: &dyn Fn(&'static str) -> Vec<&'p str>,
) {
    if d.pvc.is_some() && d.mount.is_none() {
        c.error(
            &at("pvc"),
            Value,
            format!("data source {i} mounts a claim but has no `mount`"),
            "add `mount = \"/data\"` (an absolute path in the training container)",
        );
    }
    if d.pvc.is_none() {
        if d.mount.is_some() {
            c.error(
                &at("mount"),
                Key,
                "`mount` applies only to `pvc` sources".to_owned(),
                "HDFS and object-store sources reach the code as environment variables; remove `mount`",
            );
        }
        if d.read_only {
            c.error(
                &at("read-only"),
                Key,
                "`read-only` applies only to `pvc` sources".to_owned(),
                "remove `read-only`",
            );
        }
    } else if d.env.is_some() {
        c.error(
            &at("env"),
            Key,
            "`env` applies only to `hdfs` and `uri` sources".to_owned(),
            "a claim is mounted at `mount`; remove `env`",
        );
    }
}

fn check_sweep(c: &mut Checker<'_, '_>, sweep: &crate::model::Sweep, env_names: &BTreeSet<&str>) {
    check_param_names(c, sweep, env_names);
    for (name, range) in &sweep.ranges {
        check_range(c, name.as_str(), range);
    }
    let Some(trials) = trial_count(c, sweep) else {
        return;
    };
    // The API server refuses `maxFailedIndexes` above `completions`.
    if let Some(max) = sweep.max_failed_trials
        && u64::from(max.get()) > trials
    {
        c.error(
            &["train", "sweep", "max-failed-trials"],
            Value,
            format!("`max-failed-trials` is {max}, more than the sweep's {trials} trials"),
            format!("write at most {trials}, or leave it out to run every trial"),
        );
    }
}

/// Each parameter sets its own variable (none that `train.env` sets) and
/// is in one table only.
fn check_param_names(
    c: &mut Checker<'_, '_>,
    sweep: &crate::model::Sweep,
    env_names: &BTreeSet<&str>,
) {
    let grid = sweep.grid.as_ref().map(|g| g.as_map());
    let params = grid
        .into_iter()
        .flat_map(|g| g.keys().map(|k| ("grid", k)))
        .chain(sweep.ranges.keys().map(|k| ("ranges", k)));
    for (table, name) in params {
        let var = name.env_var();
        if env_names.contains(var.as_str()) {
            c.error(
                &["train", "sweep", table, name.as_str()],
                Key,
                format!("parameter `{name}` sets `{var}`, which `train.env` also sets"),
                "remove it from `train.env` or rename the parameter",
            );
        }
    }
    if let Some(grid) = grid {
        for name in sweep.ranges.keys().filter(|k| grid.contains_key(*k)) {
            c.error(
                &["train", "sweep", "ranges", name.as_str()],
                Key,
                format!("parameter `{name}` is both in `grid` and in `ranges`"),
                "keep it in one of them",
            );
        }
    }
}

/// How many trials the sweep runs: `random`'s count, or the grid's
/// combinations (at most [`MAX_SWEEP_COMBINATIONS`]). `None` when the sweep
/// has neither.
fn trial_count(c: &mut Checker<'_, '_>, sweep: &crate::model::Sweep) -> Option<u64> {
    let grid = sweep.grid.as_ref().map(|g| g.as_map());
    if let Some(n) = sweep.random {
        if sweep.ranges.is_empty() && grid.is_none() {
            c.error(
                &["train", "sweep", "random"],
                Value,
                "`random` has nothing to sample".to_owned(),
                "add `ranges = { learning-rate = { min = 0.0001, max = 0.1, log = true } }`",
            );
        }
        return Some(u64::from(n.get()));
    }
    if !sweep.ranges.is_empty() {
        c.error(
            &["train", "sweep", "ranges"],
            Key,
            "`ranges` are sampled only by a random search".to_owned(),
            "add `random = N`, the number of trials to sample",
        );
    }
    let Some(grid) = grid else {
        c.error(
            &["train", "sweep"],
            Value,
            "the sweep has neither `grid` nor `random`".to_owned(),
            "add `grid = { learning-rate = [\"0.001\", \"0.01\"] }`, or `random = N` with `ranges`",
        );
        return None;
    };
    let combinations = grid
        .values()
        .fold(1u64, |n, v| n.saturating_mul(v.len() as u64));
    if combinations > MAX_SWEEP_COMBINATIONS {
        c.error(
            &["train", "sweep", "grid"],
            Value,
            format!(
                "the sweep grid has {combinations} combinations, more than {MAX_SWEEP_COMBINATIONS}"
            ),
            "each combination is a training pod; trim the grid or split the sweep",
        );
    }
    Some(combinations)
}

/// One range of a random search: finite, ordered, positive when sampled
/// log-uniformly, holding a whole number when sampled as one.
fn check_range(c: &mut Checker<'_, '_>, name: &str, range: &crate::model::ParamRange) {
    let at = ["train", "sweep", "ranges", name];
    if !range.min.is_finite() || !range.max.is_finite() || range.min >= range.max {
        c.error(
            &at,
            Value,
            format!(
                "the range of `{name}` is empty: `min` ({}) is not below `max` ({})",
                range.min, range.max
            ),
            "make `min` smaller than `max`",
        );
        return;
    }
    if range.log && range.min <= 0.0 {
        c.error(
            &at,
            Value,
            format!(
                "`{name}` is sampled log-uniformly but its `min` is {}",
                range.min
            ),
            "a log scale needs `min` above 0; or remove `log`",
        );
    }
    if range.integer && range.min.ceil() > range.max.floor() {
        c.error(
            &at,
            Value,
            format!("the range of `{name}` holds no whole number"),
            "widen the range, or remove `integer`",
        );
    }
}

fn check_serve(c: &mut Checker<'_, '_>, serve: &Serve) {
    if let Some(Replicas::Range(r)) = &serve.replicas
        && r.min.get() > r.max.get()
    {
        c.error(
            &["serve", "replicas", "min"],
            Value,
            format!("`min` ({}) is greater than `max` ({})", r.min, r.max),
            "make `min` at most `max`, or write a fixed `replicas = N`",
        );
    }
    if serve.backend == Some(ServeBackend::Tract) && serve.gpus() > 0 {
        c.error(
            &["serve", "backend"],
            Value,
            format!(
                "`serve.backend = \"tract\"` cannot use the {} GPU(s) `serve.resources.gpu` asks for",
                serve.gpus()
            ),
            "tract runs on the CPU only; use `backend = \"ort\"` (ONNX Runtime with CUDA), or remove `resources.gpu`",
        );
    }
    if let Some(canary) = &serve.canary {
        if serve.route.is_none() {
            c.error(
                &["serve", "canary"],
                Key,
                "`[serve.canary]` needs `serve.route`".to_owned(),
                "traffic is split between versions at the route; add `route = { host = … }` to `[serve]`",
            );
        }
        if canary.model == serve.model {
            c.error(
                &["serve", "canary", "model"],
                Value,
                "the canary serves the same model as `serve.model`".to_owned(),
                "point the canary at the new model version",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{Source, check_sources};

    /// The messages of every problem in a model spec checked on its own.
    fn errors(text: &str) -> Vec<String> {
        let src = Source {
            path: PathBuf::from("models/m.toml"),
            text: text.to_owned(),
        };
        let (_, report) = check_sources(None, &[src]);
        report
            .diagnostics()
            .iter()
            .map(|d| d.message.clone())
            .collect()
    }

    const SERVE: &str = "[serve]\nmodel = \"s3://b/m.onnx\"\n";

    #[test]
    fn valid_spec_has_no_errors() {
        assert!(errors(SERVE).is_empty());
    }

    #[test]
    fn spec_without_sections_is_rejected() {
        assert_eq!(
            errors("owner = \"x\"\n"),
            ["the spec has neither `[train]` nor `[serve]`"]
        );
    }

    #[test]
    fn min_replicas_exceeds_max() {
        let e = errors(&format!("{SERVE}replicas = {{ min = 4, max = 2 }}\n"));
        assert_eq!(e, ["`min` (4) is greater than `max` (2)"]);
    }

    #[test]
    fn canary_needs_a_route_and_another_model() {
        let e = errors(&format!(
            "{SERVE}[serve.canary]\nmodel = \"s3://b/m.onnx\"\nweight = 10\n"
        ));
        assert_eq!(
            e,
            [
                "`[serve.canary]` needs `serve.route`",
                "the canary serves the same model as `serve.model`"
            ]
        );
    }

    #[test]
    fn multi_node_runs_refuse_a_sweep_and_the_variables_they_set() {
        let train = "[train]\nimage = \"python\"\ncommand = [\"x\"]\nnodes = 2\n";
        assert!(errors(train).is_empty());
        assert_eq!(
            errors(&format!(
                "{train}[train.sweep]\ngrid = {{ a = [\"1\", \"2\"] }}\n"
            )),
            ["a sweep cannot run on 2 nodes per trial"]
        );
        assert_eq!(
            errors(&format!(
                "{train}env = {{ NODE_RANK = \"0\", EPOCHS = \"3\" }}\n"
            )),
            ["`NODE_RANK` is set by modelctl for a run with `nodes`"]
        );
        // One node is a plain Job, which a sweep may be.
        let one = "[train]\nimage = \"python\"\ncommand = [\"x\"]\nnodes = 1\n[train.sweep]\ngrid = { a = [\"1\", \"2\"] }\n";
        assert!(errors(one).is_empty(), "{:?}", errors(one));
        // Without `nodes`, the variables are the user's.
        let own = "[train]\nimage = \"python\"\ncommand = [\"x\"]\nenv = { NODE_RANK = \"0\" }\n";
        assert!(errors(own).is_empty(), "{:?}", errors(own));
        assert_eq!(
            errors("[train]\nimage = \"python\"\ncommand = [\"x\"]\nnodes = 0\n"),
            ["`nodes` is 0, so no worker would run"]
        );
    }

    #[test]
    fn sweep_grid_is_bounded() {
        let values: Vec<String> = (0..17).map(|i| format!("\"{i}\"")).collect();
        let list = values.join(", ");
        let text = format!(
            "[train]\nimage = \"python\"\ncommand = [\"x\"]\n[train.sweep]\ngrid = {{ a = [{list}], b = [{list}] }}\n"
        );
        assert_eq!(
            errors(&text),
            ["the sweep grid has 289 combinations, more than 256"]
        );
    }

    #[test]
    fn max_failed_trials_is_at_most_the_number_of_trials() {
        let text = "[train]\nimage = \"python\"\ncommand = [\"x\"]\n[train.sweep]\nmax-failed-trials = 5\ngrid = { a = [\"1\", \"2\"], b = [\"x\", \"y\"] }\n";
        assert_eq!(
            errors(text),
            ["`max-failed-trials` is 5, more than the sweep's 4 trials"]
        );
        assert!(errors(&text.replace("= 5", "= 4")).is_empty());
    }

    #[test]
    fn random_search_rules() {
        let sweep = |body: &str| {
            format!("[train]\nimage = \"python\"\ncommand = [\"x\"]\n[train.sweep]\n{body}\n")
        };
        assert!(
            errors(&sweep(
                "random = 8\nranges = { lr = { min = 0.0001, max = 0.1, log = true } }"
            ))
            .is_empty()
        );
        assert_eq!(
            errors(&sweep("ranges = { lr = { min = 0.1, max = 1.0 } }")),
            [
                "the sweep has neither `grid` nor `random`",
                "`ranges` are sampled only by a random search"
            ]
        );
        assert_eq!(
            errors(&sweep("random = 4")),
            ["`random` has nothing to sample"]
        );
        assert_eq!(
            errors(&sweep(
                "random = 4\nranges = { lr = { min = 0.0, max = 1.0, log = true }, n = { min = 1.2, max = 1.8, integer = true }, m = { min = 2, max = 1 } }"
            )),
            [
                "`lr` is sampled log-uniformly but its `min` is 0",
                "the range of `n` holds no whole number",
                "the range of `m` is empty: `min` (2) is not below `max` (1)"
            ]
        );
        assert_eq!(
            errors(&sweep(
                "random = 4\nmax-failed-trials = 5\ngrid = { a = [\"1\"] }\nranges = { a = { min = 1, max = 2 } }"
            )),
            [
                "`max-failed-trials` is 5, more than the sweep's 4 trials",
                "parameter `a` is both in `grid` and in `ranges`"
            ]
        );
    }

    #[test]
    fn data_sources_are_exclusive_and_complete() {
        let text = "[train]\nimage = \"python\"\ncommand = [\"x\"]\ndata = [{ read-only = true }, { hdfs = \"hdfs://nn/x\", mount = \"/d\" }]\n";
        let e = errors(text);
        assert!(
            e.contains(&"data source 0 names no source".to_owned()),
            "{e:?}"
        );
        assert!(
            e.contains(&"`mount` applies only to `pvc` sources".to_owned()),
            "{e:?}"
        );
    }
}
