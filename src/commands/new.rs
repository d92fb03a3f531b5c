//! `modelctl new MODEL [--serve] [--train] [--route HOST] [--profile P]`: writes a
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
    /// Write a `[serve]` section. With neither this nor `train`, `new`
    /// writes the sections the profile has, or else `[serve]`.
    pub serve: bool,
    /// Write a `[train]` section.
    pub train: bool,
    /// The host name routed to the served model.
    pub route: Option<String>,
    /// A profile of `modelctl.toml` the spec takes: the keys it sets are
    /// left out of the spec.
    pub profile: Option<String>,
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
    let profile = settings.profile.as_deref().map(|p| {
        let config = std::fs::read_to_string(root.join("modelctl.toml")).unwrap_or_default();
        ProfileKeys::read(&config, p)
    });
    let (serve, train) = sections(settings, profile.as_ref());
    let text = spec_text(
        name,
        serve,
        train,
        settings.route.as_deref(),
        profile.as_ref(),
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

/// Which sections to write, `(serve, train)`: those asked for; with none
/// asked for, those the profile has, or else `[serve]`.
fn sections(settings: &Settings, profile: Option<&ProfileKeys>) -> (bool, bool) {
    match profile {
        _ if settings.serve || settings.train => (settings.serve, settings.train),
        Some(p) if !p.train.is_empty() => (!p.serve.is_empty(), true),
        _ => (true, false),
    }
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

/// The `[train]` and `[serve]` keys a profile of `modelctl.toml` sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileKeys {
    /// The profile's name.
    pub name: String,
    /// Keys it sets in `[train]`.
    pub train: Vec<String>,
    /// Keys it sets in `[serve]`.
    pub serve: Vec<String>,
}

impl ProfileKeys {
    /// The keys profile `name` of the settings `config` (TOML text) sets;
    /// empty when the text or the profile is not there (validation then
    /// says so, at the spec's `profile` line).
    pub fn read(config: &str, name: &str) -> Self {
        let doc: toml_edit::DocumentMut = config.parse().unwrap_or_default();
        let keys = |section: &str| -> Vec<String> {
            doc.get("profiles")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get(section))
                .and_then(toml_edit::Item::as_table_like)
                .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
                .unwrap_or_default()
        };
        Self {
            name: name.to_owned(),
            train: keys("train"),
            serve: keys("serve"),
        }
    }
}

/// Appends `line` (a `key = value` line, with the comment lines before it),
/// or, when the profile sets `key`, one line saying so.
fn key_line(text: &mut String, from_profile: Option<(&str, &[String])>, key: &str, lines: &str) {
    match from_profile {
        Some((profile, keys)) if keys.iter().any(|k| k == key) => {
            text.push_str(&format!("# {key}: from profile `{profile}`\n"));
        }
        _ => text.push_str(lines),
    }
}

/// The commented spec of a new model; with a profile, the keys the profile
/// sets are left to it.
pub fn spec_text(
    name: &str,
    serve: bool,
    train: bool,
    route: Option<&str>,
    profile: Option<&ProfileKeys>,
) -> String {
    let mut text = format!(
        "#:schema ../schemas/model.schema.json\n\
         # The spec of model `{name}`. Every key is described in docs/spec.md; an\n\
         # editor that reads the #:schema line above checks them as you type.\n\
         # Run `modelctl validate`, then `modelctl render`, and commit generated/.\n\
         description = \"Say in one line what {name} does\"\n\
         # owner = \"team-name\"\n"
    );
    if let Some(p) = profile {
        text.push_str(&format!(
            "# Keys of [profiles.{}] in modelctl.toml come first; this file's replace them.\n\
             profile = {}\n",
            p.name,
            toml_edit::Value::from(p.name.as_str())
        ));
    }
    let from = |keys: fn(&ProfileKeys) -> &[String]| profile.map(|p| (p.name.as_str(), keys(p)));
    if train {
        let from = from(|p| &p.train);
        text.push_str(
            "\n\
             # Training: a Kubernetes Job running your code in a framework image.\n\
             [train]\n",
        );
        key_line(
            &mut text,
            from,
            "image",
            "# The image with your ML framework and its dependencies.\n\
             image = \"python:3.11-slim\"\n",
        );
        key_line(
            &mut text,
            from,
            "code",
            &format!(
                "# Where the code comes from, installed into /workspace before the run:\n\
                 # code = {{ git = \"https://git.example.com/ml/{name}.git\", rev = \"main\" }}\n"
            ),
        );
        key_line(
            &mut text,
            from,
            "command",
            "# The training command, run from /workspace; it writes the model to /workspace/out.\n\
             command = [\"python\", \"train.py\"]\n",
        );
        key_line(
            &mut text,
            from,
            "output",
            &format!(
                "# Where /workspace/out is exported after a successful run ({{{{ run }}}} is the run's name):\n\
                 # output = \"s3://ml-models/{name}/{{{{ run }}}}\"\n"
            ),
        );
        key_line(
            &mut text,
            from,
            "resources",
            "resources = { cpu = \"1\", memory = \"2Gi\" }\n\
             # GPUs per training pod: resources = { cpu = \"8\", memory = \"32Gi\", gpu = 1 }\n",
        );
        key_line(&mut text, from, "timeout", "timeout = \"2h\"\n");
    }
    if serve {
        let from = from(|p| &p.serve);
        text.push_str(
            "\n\
             # Serving: a Deployment of model-server answering KServe V2 requests.\n\
             [serve]\n",
        );
        key_line(
            &mut text,
            from,
            "model",
            &format!(
                "# The ONNX model to serve: a path, file://, http(s)://, s3://, gs://, az:// or pvc://.\n\
                 model = \"s3://ml-models/{name}/model.onnx\"\n"
            ),
        );
        key_line(
            &mut text,
            from,
            "replicas",
            "# A fixed count, or { min = 2, max = 10, target-cpu = 70 } to autoscale;\n\
             # target-inflight = N (requests in flight per replica) needs an autoscaling\n\
             # provider in modelctl.toml.\n\
             replicas = 2\n",
        );
        key_line(
            &mut text,
            from,
            "resources",
            "resources = { cpu = \"500m\", memory = \"512Mi\" }\n",
        );
        match route {
            Some(host) => text.push_str(&format!(
                "# The host and path the model is reachable at.\n\
                 route = {{ host = {}, path = \"/\" }}\n",
                toml_edit::Value::from(host)
            )),
            None => key_line(
                &mut text,
                from,
                "route",
                &format!(
                    "# To reach the model from outside the cluster:\n\
                     # route = {{ host = \"{name}.ml.example.com\", path = \"/\" }}\n"
                ),
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_those_asked_for_else_the_profiles_else_serve() {
        let asked = |serve, train| Settings {
            model: "m".to_owned(),
            serve,
            train,
            route: None,
            profile: None,
        };
        let profile = |train: &[&str], serve: &[&str]| ProfileKeys {
            name: "p".to_owned(),
            train: train.iter().map(|k| k.to_string()).collect(),
            serve: serve.iter().map(|k| k.to_string()).collect(),
        };
        assert_eq!(sections(&asked(false, false), None), (true, false));
        assert_eq!(sections(&asked(false, true), None), (false, true));
        assert_eq!(sections(&asked(true, true), None), (true, true));
        let gpu = profile(&["image"], &[]);
        assert_eq!(sections(&asked(false, false), Some(&gpu)), (false, true));
        assert_eq!(sections(&asked(true, false), Some(&gpu)), (true, false));
        let both = profile(&["image"], &["replicas"]);
        assert_eq!(sections(&asked(false, false), Some(&both)), (true, true));
        let serving = profile(&[], &["replicas"]);
        assert_eq!(
            sections(&asked(false, false), Some(&serving)),
            (true, false)
        );
    }

    #[test]
    fn a_profile_reads_its_keys_and_the_spec_leaves_them_out() {
        let config = "[profiles.gpu.train]\nimage = \"pytorch:2\"\nresources = { gpu = 1 }\n[profiles.gpu.serve]\nreplicas = 3\n";
        let keys = ProfileKeys::read(config, "gpu");
        assert_eq!(keys.train, ["image", "resources"]);
        assert_eq!(keys.serve, ["replicas"]);
        assert_eq!(
            ProfileKeys::read(config, "none"),
            ProfileKeys {
                name: "none".to_owned(),
                ..ProfileKeys::default()
            }
        );
        let text = spec_text("m", true, true, None, Some(&keys));
        assert!(text.contains("profile = \"gpu\"\n"), "{text}");
        assert!(text.contains("# image: from profile `gpu`\n"), "{text}");
        assert!(!text.contains("image = "), "{text}");
        assert!(text.contains("# resources: from profile `gpu`\n"), "{text}");
        assert!(
            text.contains("command = [\"python\", \"train.py\"]"),
            "{text}"
        );
        assert!(text.contains("# replicas: from profile `gpu`\n"), "{text}");
        assert!(text.contains("resources = { cpu = \"500m\""), "{text}");
    }
}
