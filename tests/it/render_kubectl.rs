//! The generated manifests as Kubernetes tooling reads them: `kubectl
//! kustomize` builds every environment of every repository and reads back
//! exactly the objects rendered, and (with
//! `--ignored`, needing `kubernetes-validate` from PyPI) every object of a
//! built-in kind validates strictly against the Kubernetes 1.35 OpenAPI schema.

use crate::render_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use modelctl::compile::{render_env, render_files};
use modelctl_spec::Repo;
use render_support::all_repos;
use serde_json::Value;

/// Writes every environment of `repo` under `out/<env>/`; returns the number
/// of objects per environment.
fn write_generated(repo: &Repo, out: &Path) -> Vec<(String, usize)> {
    let mut counts = Vec::new();
    for env in repo.config.env_names() {
        let files = render_files(&repo.environment(env).expect("environment exists"));
        for (path, text) in &files {
            let full = out.join(env).join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        counts.push((env.to_owned(), files.len() - 1));
    }
    counts
}

fn tool(name: &str, env_var: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| name.to_owned())
}

#[test]
fn kubectl_kustomize_builds_every_environment() {
    let kubectl = tool("kubectl", "KUBECTL");
    for (name, repo) in all_repos() {
        let out = tempfile::tempdir().unwrap();
        for (env, objects) in write_generated(&repo, out.path()) {
            let result = Command::new(&kubectl)
                .arg("kustomize")
                .arg(out.path().join(&env))
                .output()
                .unwrap_or_else(|e| {
                    panic!("running {kubectl} (install kubectl or set KUBECTL): {e}")
                });
            let stderr = String::from_utf8_lossy(&result.stderr);
            assert!(result.status.success(), "{name}/{env}: {stderr}");
            let yaml = String::from_utf8(result.stdout).unwrap();
            // kustomize reads with Go's YAML library and writes the objects
            // back out: every value must come back as the same JSON value
            // (no string read as a number, boolean or timestamp).
            let mut built: BTreeMap<(String, String), Value> = BTreeMap::new();
            for doc in yaml.split("\n---\n") {
                let value: Value = serde_yaml::from_str(doc).unwrap();
                let kind = value["kind"].as_str().unwrap().to_owned();
                let object = value["metadata"]["name"].as_str().unwrap().to_owned();
                built.insert((kind, object), value);
            }
            assert_eq!(built.len(), objects, "{name}/{env}");
            for m in render_env(&repo.environment(&env).unwrap()) {
                let key = (m.kind().to_owned(), m.name().to_owned());
                assert_eq!(built.get(&key), Some(&m.object), "{name}/{env}: {key:?}");
            }
        }
    }
}

#[test]
#[ignore = "needs `kubernetes-validate` from PyPI (set KUBERNETES_VALIDATE to its path)"]
fn every_built_in_object_validates_against_the_openapi_schema() {
    let validate = tool("kubernetes-validate", "KUBERNETES_VALIDATE");
    for (name, repo) in all_repos() {
        let out = tempfile::tempdir().unwrap();
        write_generated(&repo, out.path());
        let mut files = Vec::new();
        for env in repo.config.env_names() {
            for (path, text) in render_files(&repo.environment(env).unwrap()) {
                // HTTPRoute, GRPCRoute, Route, ScaledObject and PodMonitor are
                // CRDs; the package has no schema for them (tests/it/autoscaling_objects.rs
                // checks the last three against their published CRDs).
                let custom = [
                    "gateway.networking.k8s.io/",
                    "route.openshift.io/",
                    "keda.sh/",
                    "monitoring.coreos.com/",
                ]
                .iter()
                .any(|group| text.contains(&format!("apiVersion: {group}")));
                if !path.ends_with("kustomization.yaml") && !custom {
                    files.push(out.path().join(env).join(path));
                }
            }
        }
        let result = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", "1.35.0", "--quiet"])
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("running {validate}: {e}"));
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
        assert!(result.status.success(), "{name}: {report}");
        assert!(!report.contains("ERROR"), "{name}: {report}");
    }
}
