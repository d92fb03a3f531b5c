//! `modelctl new MODEL [--serve] [--train] [--route HOST]`: writes a
//! commented starting spec `models/MODEL.toml` with the `#:schema` line.
//! The text is checked with the repository's `modelctl.toml` and its other
//! specs before it is written, so what lands validates and renders as it
//! stands. Never overwrites: an existing file is an error (exit 2).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use modelctl_spec::{Source, check_sources, read_repo};

/// What `new` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The model's name.
    pub model: String,
    /// Write a `[serve]` section.
    pub serve: bool,
    /// Write a `[train]` section.
    pub train: bool,
    /// The host name routed to the served model.
    pub route: Option<String>,
}

/// Runs the command.
pub fn run(root: &Path, settings: &Settings) -> anyhow::Result<ExitCode> {
    let name = settings.model.as_str();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("`{name}` is not a model name: use lowercase letters, digits and `-`");
    }
    let relative = PathBuf::from("models").join(format!("{name}.toml"));
    let path = root.join(&relative);
    if path.exists() {
        bail!(
            "{} already exists; modelctl new never overwrites a spec (edit it, or choose another name)",
            relative.display()
        );
    }
    let text = spec_text(
        name,
        settings.serve,
        settings.train,
        settings.route.as_deref(),
    );
    check(root, &relative, &text)?;
    std::fs::create_dir_all(root.join("models")).context("creating models/")?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", relative.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", relative.display()))?;
    eprintln!(
        "wrote {}: fill in the placeholders, then run `modelctl render`",
        relative.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Validates the new spec with the repository's settings and other specs.
/// A repository that is already invalid is left to `validate`: the new spec
/// is then checked with `modelctl.toml` alone.
fn check(root: &Path, relative: &Path, text: &str) -> anyhow::Result<()> {
    let (sources, _) = read_repo(root);
    let config = sources
        .config
        .ok_or_else(|| anyhow!("no readable modelctl.toml in {}", root.display()))?;
    let new = Source {
        path: relative.to_path_buf(),
        text: text.to_owned(),
    };
    let (_, existing) = check_sources(Some(&config), &sources.models);
    let others = if existing.is_empty() {
        sources.models
    } else {
        Vec::new()
    };
    let mut models = others;
    models.push(new);
    let (_, report) = check_sources(Some(&config), &models);
    if !report.is_empty() {
        bail!(
            "the spec `modelctl new` would write is invalid with this repository's settings; nothing was written\n{report}"
        );
    }
    Ok(())
}

/// The commented spec of a new model.
pub fn spec_text(name: &str, serve: bool, train: bool, route: Option<&str>) -> String {
    let mut text = format!(
        "#:schema ../schemas/model.schema.json\n\
         # The spec of model `{name}`. Every key is described in docs/spec.md; an\n\
         # editor that reads the #:schema line above checks them as you type.\n\
         # Run `modelctl validate`, then `modelctl render`, and commit generated/.\n\
         description = \"Say in one line what {name} does\"\n\
         # owner = \"team-name\"\n"
    );
    if train {
        text.push_str(&format!(
            "\n\
             # Training: a Kubernetes Job running your code in a framework image.\n\
             [train]\n\
             # The image with your ML framework and its dependencies.\n\
             image = \"python:3.11-slim\"\n\
             # Where the code comes from, installed into /workspace before the run:\n\
             # code = {{ git = \"https://git.example.com/ml/{name}.git\", rev = \"main\" }}\n\
             # The training command, run from /workspace; it writes the model to /workspace/out.\n\
             command = [\"python\", \"train.py\"]\n\
             # Where /workspace/out is exported after a successful run ({{{{ run }}}} is the run's name):\n\
             # output = \"s3://ml-models/{name}/{{{{ run }}}}\"\n\
             resources = {{ cpu = \"1\", memory = \"2Gi\" }}\n\
             # GPUs per training pod: resources = {{ cpu = \"8\", memory = \"32Gi\", gpu = 1 }}\n\
             timeout = \"2h\"\n"
        ));
    }
    if serve {
        text.push_str(&format!(
            "\n\
             # Serving: a Deployment of model-server answering KServe V2 requests.\n\
             [serve]\n\
             # The ONNX model to serve: a path, file://, http(s)://, s3://, gs://, az:// or pvc://.\n\
             model = \"s3://ml-models/{name}/model.onnx\"\n\
             # A fixed count, or {{ min = 2, max = 10, target-cpu = 70 }} to autoscale;\n\
             # target-inflight = N (requests in flight per replica) needs an autoscaling\n\
             # provider in modelctl.toml.\n\
             replicas = 2\n\
             resources = {{ cpu = \"500m\", memory = \"512Mi\" }}\n"
        ));
        match route {
            Some(host) => text.push_str(&format!(
                "# The host and path the model is reachable at.\n\
                 route = {{ host = {}, path = \"/\" }}\n",
                toml_edit::Value::from(host)
            )),
            None => text.push_str(&format!(
                "# To reach the model from outside the cluster:\n\
                 # route = {{ host = \"{name}.ml.example.com\", path = \"/\" }}\n"
            )),
        }
    }
    text.push_str(
        "\n\
         # Per-environment overrides, merged over the keys above, e.g.:\n\
         # [env.staging]\n\
         # serve.replicas = 1\n",
    );
    text
}
