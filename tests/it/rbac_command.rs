//! `modelctl rbac` grants exactly what the cluster commands ask for: the
//! verbs on each resource of the requests `diff`, `apply` (with `--wait`,
//! `--wait-training` and `--prune`), `status`, `train`, `logs` and `runs` send to the test double of
//! the API server, nothing missing and nothing more.

use crate::kube_double;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use kube_double::{KubeDouble, Request};
use serde::Deserialize;
use serde_json::{Value, json};

/// Runs `modelctl -C root args…` with the double's kubeconfig.
async fn run(kubeconfig: &Path, root: &Path, args: &[&str]) -> Output {
    let (kubeconfig, root) = (kubeconfig.to_path_buf(), root.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
            .arg("-C")
            .arg(root)
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .env("NO_COLOR", "1")
            .output()
            .expect("running modelctl")
    })
    .await
    .expect("joining the command")
}

/// The `(group, resource[/subresource], verb)` a request needs: none for
/// discovery, two for a server-side apply that creates the object (the API
/// server authorizes it as `patch` and as `create`); panics on a request
/// outside `namespace`, which a Role could not grant.
fn permissions(req: &Request, namespace: &str) -> Vec<(String, String, String)> {
    let Some((group, resource, verb)) = permission(req, namespace) else {
        return Vec::new();
    };
    let creates = req.method == "PATCH" && req.status == 201;
    let mut out = vec![(group.clone(), resource.clone(), verb)];
    if creates {
        out.push((group, resource, "create".to_owned()));
    }
    out
}

fn permission(req: &Request, namespace: &str) -> Option<(String, String, String)> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (plural, name, sub) = match rest {
        [] => return None,
        ["namespaces", ns, plural, more @ ..] => {
            assert_eq!(*ns, namespace, "{} {}", req.method, req.path);
            (*plural, more.first(), more.get(1))
        }
        other => panic!("a cluster-scoped request: {} {other:?}", req.method),
    };
    let resource = match sub {
        Some(sub) => format!("{plural}/{sub}"),
        None => plural.to_owned(),
    };
    let watch = req
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1");
    let verb = match (req.method.as_str(), name) {
        ("GET", None) if watch => "watch",
        ("GET", None) => "list",
        ("GET", Some(_)) => "get",
        // A server-side apply that creates (201, also as a dry run) is
        // authorized as `create` as well: see `requested`.
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        (other, _) => panic!("unexpected method {other}"),
    };
    Some((group.to_owned(), resource, verb.to_owned()))
}

/// Every `(group, resource, verb)` the Role printed by `modelctl rbac` grants.
fn granted(yaml: &str) -> BTreeSet<(String, String, String)> {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .collect();
    assert_eq!(docs.len(), 2, "a Role and a RoleBinding");
    let role = &docs[0];
    assert_eq!(role["kind"], "Role");
    assert_eq!(docs[1]["kind"], "RoleBinding");
    assert_eq!(docs[1]["roleRef"]["name"], role["metadata"]["name"]);
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    assert_ne!(verb, "*", "no wildcard verbs");
                    out.insert((
                        group.as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                        verb.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_grants_exactly_what_the_commands_request() {
    let double = KubeDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, double.kubeconfig_yaml()).unwrap();
    // A copy of the example repository, so one model can be removed to
    // make `apply --prune` delete.
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("models")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(example.join("modelctl.toml"), root.join("modelctl.toml")).unwrap();
    for entry in std::fs::read_dir(example.join("models")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, root.join("models").join(path.file_name().unwrap())).unwrap();
    }
    let env = ["--env", "production", "--context", "admin"];
    let with = |args: &[&'static str]| -> Vec<&'static str> { [args, &env[..]].concat() };

    let printed = run(&kubeconfig, &root, &["rbac", "--env", "production"]).await;
    assert_eq!(printed.status.code(), Some(0));
    let role = granted(&String::from_utf8_lossy(&printed.stdout));

    for (args, expected) in [
        (with(&["diff"]), 1),
        (with(&["apply", "--wait", "--timeout", "1s"]), 2),
        (with(&["apply", "--wait-training", "--timeout", "1s"]), 2),
        (with(&["apply"]), 0),
        (with(&["status"]), 0),
        (with(&["train", "digits"]), 0),
        (with(&["runs", "digits"]), 0),
    ] {
        let out = run(&kubeconfig, &root, &args).await;
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The ad-hoc run's pod is running, so `logs` reads its log.
    let run_name = double
        .requests()
        .iter()
        .rfind(|r| r.method == "PATCH" && r.path.contains("/jobs/digits-train-"))
        .map(|r| r.path.rsplit('/').next().unwrap().to_owned())
        .expect("train applied a Job");
    double.seed([json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{run_name}-0"), "namespace": "ml",
                     "labels": {"batch.kubernetes.io/job-name": run_name}},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "train", "image": "python:3.11-slim"}]},
        "status": {"phase": "Running"}
    })]);
    double.set_logs("ml", &format!("{run_name}-0"), "train", "epoch 1\n");
    let logs = run(&kubeconfig, &root, &with(&["logs", "digits"])).await;
    assert_eq!(
        logs.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(String::from_utf8_lossy(&logs.stdout).contains("epoch 1"));
    // Models removed from the repository are pruned: between them they
    // render every kind (ConfigMap, Job, Deployment, Service, HPA,
    // ScaledObject, PDB, PodMonitor, HTTPRoute, GRPCRoute).
    std::fs::remove_file(root.join("models/image-tagging.toml")).unwrap();
    std::fs::remove_file(root.join("models/translation.toml")).unwrap();
    let prune = run(&kubeconfig, &root, &with(&["apply", "--prune"])).await;
    assert_eq!(
        prune.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&prune.stderr)
    );

    let requested: BTreeSet<(String, String, String)> = double
        .requests()
        .iter()
        .flat_map(|r| permissions(r, "ml"))
        .collect();
    assert!(
        requested.iter().any(|(_, _, v)| v == "delete"),
        "prune deleted"
    );
    assert!(
        requested.iter().any(|(_, r, _)| r == "pods/log"),
        "logs read a log"
    );
    let missing: Vec<_> = requested.difference(&role).collect();
    let surplus: Vec<_> = role.difference(&requested).collect();
    assert!(
        missing.is_empty() && surplus.is_empty(),
        "requested but not granted: {missing:?}\ngranted but never requested: {surplus:?}"
    );
}

#[test]
fn the_binding_names_the_subject_asked_for() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (flag, kind) in [
        ("--user", "User"),
        ("--group", "Group"),
        ("--service-account", "ServiceAccount"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"))
            .arg("-C")
            .arg(root)
            .args(["rbac", "--env", "staging", flag, "ci-deployer"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        let binding: Value = serde_yaml::from_str(text.split("\n---\n").nth(1).unwrap()).unwrap();
        assert_eq!(binding["subjects"][0]["kind"], kind);
        assert_eq!(binding["subjects"][0]["name"], "ci-deployer");
        assert_eq!(binding["metadata"]["namespace"], "ml-staging");
    }
}
