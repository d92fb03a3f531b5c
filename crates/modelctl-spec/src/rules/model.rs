//! Rules within one model spec: sections and keys that must go together or
//! exclude each other, ranges that must be ordered, sweep parameters that
//! must not collide with `train.env`, and the size of a sweep grid (a product
//! over its parameters). A check of one value alone belongs to its type in
//! [`crate::values`].

use std::collections::{BTreeMap, BTreeSet};

use super::{Checker, MAX_SWEEP_COMBINATIONS};
use crate::locate::Target::{Key, Value};
use crate::model::{CodeSource, DataSource, ModelSpec, Replicas, Serve, ServeBackend, Train};

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

/// The rules inside the keys and sections the spec has (everything but the
/// presence of a section), so a partly malformed spec is checked as far as
/// it is well formed.
pub(crate) fn check_sections(c: &mut Checker<'_, '_>, spec: &ModelSpec) {
    if let Some(train) = &spec.train {
        check_train(c, train);
    }
    if let Some(serve) = &spec.serve {
        check_serve(c, serve);
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
    let mut combinations: u64 = 1;
    for (name, values) in sweep.grid.iter() {
        let var = name.as_str().to_ascii_uppercase().replace('-', "_");
        if env_names.contains(var.as_str()) {
            c.error(
                &["train", "sweep", "grid", name.as_str()],
                Key,
                format!("parameter `{name}` sets `{var}`, which `train.env` also sets"),
                "remove it from `train.env` or rename the parameter",
            );
        }
        combinations = combinations.saturating_mul(values.len() as u64);
    }
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
