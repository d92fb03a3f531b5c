//! The Argo CD and Flux examples in `deploy/`: every object validates
//! against its kind's published CRD schema (`tests/fixtures/crds/`), and
//! every path they sync is an environment directory `modelctl render` writes,
//! one per environment of `modelctl.toml`.

use crate::render_support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use render_support::crds::{crd_validators, errors};
use render_support::{code, copy_repo, example_root, load, modelctl};
use serde::Deserialize;
use serde_json::{Value, json};

/// Every YAML document of every file under `deploy/`, with its file.
fn examples() -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    for tool in ["argocd", "flux"] {
        let dir = example_root().join("deploy").join(tool);
        for entry in fs::read_dir(&dir).expect("deploy/<tool>/ exists") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("readable example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", file.display()));
            if !value.is_null() {
                out.push((file.clone(), value));
            }
        }
    }
    assert!(!out.is_empty(), "deploy/ holds examples");
    out
}

#[test]
fn every_example_validates_against_its_published_crd() {
    let validators = crd_validators();
    let mut kinds = BTreeSet::new();
    for (file, object) in examples() {
        let found = errors(&validators, &object);
        assert!(
            found.is_empty(),
            "{}:\n{}",
            file.display(),
            found.join("\n")
        );
        kinds.insert(object["kind"].as_str().unwrap().to_owned());
    }
    let expected: BTreeSet<String> = ["ApplicationSet", "GitRepository", "Kustomization"]
        .map(str::to_owned)
        .into();
    assert_eq!(kinds, expected);
}

#[test]
fn the_crd_check_rejects_a_misspelt_field_and_a_missing_required_one() {
    let validators = crd_validators();
    let (_, kustomization) = examples()
        .into_iter()
        .find(|(_, o)| o["kind"] == "Kustomization")
        .expect("a Flux Kustomization example");
    let mut misspelt = kustomization.clone();
    misspelt["spec"]["prunne"] = json!(true);
    assert!(!errors(&validators, &misspelt).is_empty());
    let mut missing = kustomization;
    missing["spec"].as_object_mut().unwrap().remove("prune");
    assert!(!errors(&validators, &missing).is_empty());
    let application = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "x"},
        "spec": {"destination": {}, "project": "default", "source": {"repoURL": 5}}
    });
    assert!(!errors(&validators, &application).is_empty());
}

/// The directories (relative to the repository root) each tool's examples
/// sync, with the namespace the example names where it names one.
fn synced_paths(tool: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (file, object) in examples() {
        if !file.starts_with(example_root().join("deploy").join(tool)) {
            continue;
        }
        match object["kind"].as_str().unwrap_or_default() {
            "ApplicationSet" => {
                let path = object["spec"]["template"]["spec"]["source"]["path"]
                    .as_str()
                    .expect("the template names a path");
                let namespace = object["spec"]["template"]["spec"]["destination"]["namespace"]
                    .as_str()
                    .expect("the template names a namespace");
                for generator in object["spec"]["generators"].as_array().unwrap() {
                    for element in generator["list"]["elements"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let fill = |text: &str| {
                            let mut text = text.to_owned();
                            for (key, value) in element.as_object().unwrap() {
                                text = text
                                    .replace(&format!("{{{{.{key}}}}}"), value.as_str().unwrap());
                            }
                            assert!(!text.contains("{{"), "{text}: every key is filled");
                            text
                        };
                        out.push((fill(path), Some(fill(namespace))));
                    }
                }
            }
            "Application" => out.push((
                object["spec"]["source"]["path"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                object["spec"]["destination"]["namespace"]
                    .as_str()
                    .map(str::to_owned),
            )),
            "Kustomization" => out.push((
                object["spec"]["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("./")
                    .to_owned(),
                None,
            )),
            _ => {}
        }
    }
    out.sort();
    out
}

#[test]
fn the_examples_sync_the_directories_render_writes_one_per_environment() {
    let repo = load(&example_root());
    let scratch = tempfile::tempdir().unwrap();
    copy_repo(&example_root(), scratch.path());
    let out = modelctl(scratch.path(), &["render"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    for tool in ["argocd", "flux"] {
        let synced = synced_paths(tool);
        let mut expected: Vec<String> = repo
            .config
            .env_names()
            .map(|env| format!("generated/{env}"))
            .collect();
        expected.sort();
        let paths: Vec<String> = synced.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(paths, expected, "{tool}: one synced path per environment");
        for (path, namespace) in &synced {
            let written = scratch.path().join(path).join("kustomization.yaml");
            assert!(
                written.is_file(),
                "{tool}: render writes {}",
                written.display()
            );
            if let Some(namespace) = namespace {
                let env = Path::new(path).file_name().unwrap().to_str().unwrap();
                let settings = repo.config.environment(env).unwrap();
                assert_eq!(
                    namespace,
                    settings.namespace.as_str(),
                    "{tool}: {env}'s namespace"
                );
            }
        }
    }
}
