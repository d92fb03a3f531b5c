//! Shared by the render, compile and diff tests: the fixture repositories,
//! loading them, rendering them to text, and running the binary.

pub mod crds;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modelctl::compile::{Manifest, render_env, render_files};
use modelctl_spec::{Repo, Source, load_repo, load_sources};
use serde_json::Value;

/// The example repository at the crate root.
pub fn example_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture repository under `tests/fixtures/render/`, by name.
pub fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = example_root().join("tests/fixtures/render");
    let mut out: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .expect("tests/fixtures/render exists")
        .map(|e| e.expect("readable fixture entry").path())
        .filter(|p| p.join("modelctl.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures under {}", dir.display());
    out
}

/// The validation tests' valid fixtures (`tests/fixtures/valid/`: a
/// `modelctl.toml` and model specs side by side) as one repository.
pub fn valid_fixtures() -> Repo {
    let dir = example_root().join("tests/fixtures/valid");
    let read = |p: &Path| Source {
        path: PathBuf::from(if p.ends_with("modelctl.toml") {
            "modelctl.toml".to_owned()
        } else {
            format!("models/{}", p.file_name().unwrap().to_string_lossy())
        }),
        text: fs::read_to_string(p).unwrap(),
    };
    let config = read(&dir.join("modelctl.toml"));
    let mut models: Vec<Source> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && !p.ends_with("modelctl.toml"))
        .map(|p| read(&p))
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    load_sources(&config, &models)
        .unwrap_or_else(|e| panic!("tests/fixtures/valid is invalid:\n{e}"))
}

/// Every repository the object tests check: the example repo, the render
/// fixtures and the validation tests' valid fixtures.
pub fn all_repos() -> Vec<(String, Repo)> {
    let mut repos = vec![("example".to_owned(), load(&example_root()))];
    repos.extend(fixtures().into_iter().map(|(name, dir)| (name, load(&dir))));
    repos.push(("valid".to_owned(), valid_fixtures()));
    repos
}

/// Loads a repository that must be valid.
pub fn load(root: &Path) -> Repo {
    load_repo(root).unwrap_or_else(|e| panic!("{} is invalid:\n{e}", root.display()))
}

/// Renders a one-model repo for its one environment, `lab`: the model
/// `trainee` with spec `spec`, under a minimal `modelctl.toml`.
pub fn render_trainee(spec: String) -> Vec<Manifest> {
    let config = Source {
        path: "modelctl.toml".into(),
        text: "[defaults]\nnamespace = \"ml\"\nserver-image = \"registry.example.com/ml/model-server:0.1.0\"\n\
               route = { kind = \"gateway\", gateway = \"ml-gateway\" }\n[environments.lab]\n"
            .to_owned(),
    };
    let model = Source {
        path: "models/trainee.toml".into(),
        text: spec,
    };
    let repo = load_sources(&config, &[model]).unwrap_or_else(|e| panic!("{e}"));
    render_env(&repo.environment("lab").expect("environment lab exists"))
}

/// Every manifest of every environment, with the environment's name.
pub fn manifests(repo: &Repo) -> Vec<(String, Manifest)> {
    let mut out = Vec::new();
    for env in repo.config.env_names() {
        for m in render_env(&repo.environment(env).expect("environment exists")) {
            out.push((env.to_owned(), m));
        }
    }
    out
}

/// Every generated file of every environment as one text: `=== env/path`
/// headers followed by the file's bytes.
pub fn rendered_text(repo: &Repo) -> String {
    let mut text = String::new();
    for env in repo.config.env_names() {
        for (path, body) in render_files(&repo.environment(env).expect("environment exists")) {
            text.push_str(&format!("=== {env}/{}\n", path.display()));
            text.push_str(&body);
        }
    }
    text
}

/// Copies `modelctl.toml` and `models/` of `from` into `to`.
pub fn copy_repo(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("models")).unwrap();
    fs::copy(from.join("modelctl.toml"), to.join("modelctl.toml")).unwrap();
    for entry in fs::read_dir(from.join("models")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            fs::copy(&path, to.join("models").join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Runs `modelctl -C root args…`.
pub fn modelctl(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelctl"))
        .arg("-C")
        .arg(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("modelctl runs")
}

/// The exit code of a finished command.
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

/// Every file under `dir`, by relative path, with its bytes.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push((
                    path.strip_prefix(base).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The manifests of one kind.
pub fn of_kind<'a>(ms: &'a [(String, Manifest)], kind: &str) -> Vec<&'a (String, Manifest)> {
    ms.iter().filter(|(_, m)| m.kind() == kind).collect()
}

/// The manifest of `kind` named `name` in `env`.
pub fn find<'a>(
    ms: &'a [(String, Manifest)],
    env: &str,
    kind: &str,
    name: &str,
) -> Option<&'a Manifest> {
    ms.iter()
        .find(|(e, m)| e == env && m.kind() == kind && m.name() == name)
        .map(|(_, m)| m)
}

/// The spec of `model` resolved for `env`.
pub fn spec_of<'a>(repo: &'a Repo, env: &str, model: &str) -> &'a modelctl_spec::ModelSpec {
    let m = repo
        .models
        .iter()
        .find(|m| m.name.as_str() == model)
        .expect("model exists");
    m.spec_for(env).expect("resolved for every environment")
}

/// The pod spec of a Deployment or Job.
pub fn pod_spec(m: &Manifest) -> &Value {
    &m.object["spec"]["template"]["spec"]
}
