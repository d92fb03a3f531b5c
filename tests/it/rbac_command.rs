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

/// A permission: namespace, API group, resource (with `/subresource`), verb.
type Permission = (String, String, String, String);

/// The permissions a request needs: none for discovery, two for a
/// server-side apply that creates the object (the API server authorizes it
/// as `patch` and as `create`); panics on a cluster-scoped request, which a
/// Role could not grant.
fn permissions(req: &Request) -> Vec<Permission> {
    let Some((namespace, group, resource, verb)) = permission(req) else {
        return Vec::new();
    };
    let creates = req.method == "PATCH" && req.status == 201;
    let mut out = vec![(namespace.clone(), group.clone(), resource.clone(), verb)];
    if creates {
        out.push((namespace, group, resource, "create".to_owned()));
    }
    out
}

fn permission(req: &Request) -> Option<Permission> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, plural, name, sub) = match rest {
        [] => return None,
        ["namespaces", ns, plural, more @ ..] => (*ns, *plural, more.first(), more.get(1)),
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
    Some((
        namespace.to_owned(),
        group.to_owned(),
        resource,
        verb.to_owned(),
    ))
}

/// Every permission the Roles printed by `modelctl rbac` grant: one Role
/// and its RoleBinding per namespace.
fn granted(yaml: &str) -> BTreeSet<Permission> {
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .collect();
    assert!(
        docs.len() >= 2 && docs.len().is_multiple_of(2),
        "Roles and RoleBindings"
    );
    let mut out = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for pair in docs.chunks(2) {
        let (role, binding) = (&pair[0], &pair[1]);
        assert_eq!(role["kind"], "Role");
        assert_eq!(binding["kind"], "RoleBinding");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        let namespace = role["metadata"]["namespace"].as_str().unwrap().to_owned();
        assert_eq!(binding["metadata"]["namespace"], namespace.as_str());
        assert!(
            namespaces.insert(namespace.clone()),
            "one Role per namespace"
        );
        for rule in role["rules"].as_array().expect("rules") {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        assert_ne!(verb, "*", "no wildcard verbs");
                        out.insert((
                            namespace.clone(),
                            group.as_str().unwrap().to_owned(),
                            resource.as_str().unwrap().to_owned(),
                            verb.as_str().unwrap().to_owned(),
                        ));
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_grants_exactly_what_the_commands_request() {
    exactly_what_is_requested(None).await;
}

/// With team namespaces (`owner-namespace`), each namespace's Role grants
/// exactly what the commands request there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_team_namespace_role_grants_exactly_what_is_requested_there() {
    exactly_what_is_requested(Some("ml-{{ owner }}")).await;
}

async fn exactly_what_is_requested(owner_namespace: Option<&str>) {
    let double = KubeDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, double.kubeconfig_yaml()).unwrap();
    // A copy of the example repository, so one model can be removed to
    // make `apply --prune` delete.
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("models")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = std::fs::read_to_string(example.join("modelctl.toml")).unwrap();
    if let Some(template) = owner_namespace {
        config = config.replace(
            "[environments.production]\n",
            &format!("[environments.production]\nowner-namespace = \"{template}\"\n"),
        );
    }
    std::fs::write(root.join("modelctl.toml"), config).unwrap();
    // digits (owner team-platform) runs in its team's namespace, if any.
    let digits_ns = if owner_namespace.is_some() {
        "ml-team-platform"
    } else {
        "ml"
    };
    for entry in std::fs::read_dir(example.join("models")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, root.join("models").join(path.file_name().unwrap())).unwrap();
    }
    // The team namespaces exist (an admin creates them with their quota).
    double.seed(
        [
            "ml-team-ads",
            "ml-team-content",
            "ml-team-images",
            "ml-team-platform",
        ]
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
    );
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
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
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
        "metadata": {"name": format!("{run_name}-0"), "namespace": digits_ns,
                     "labels": {"batch.kubernetes.io/job-name": run_name}},
        "spec": {"nodeName": "worker-1", "containers": [{"name": "train", "image": "python:3.11-slim"}]},
        "status": {"phase": "Running"}
    })]);
    double.set_logs(digits_ns, &format!("{run_name}-0"), "train", "epoch 1\n");
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

    let requested: BTreeSet<Permission> = double.requests().iter().flat_map(permissions).collect();
    assert!(
        requested.iter().any(|(_, _, _, v)| v == "delete"),
        "prune deleted"
    );
    assert!(
        requested
            .iter()
            .any(|(ns, _, r, _)| r == "pods/log" && ns == digits_ns),
        "logs read a log"
    );
    let namespaces: BTreeSet<&str> = requested.iter().map(|(ns, ..)| ns.as_str()).collect();
    let expected: &[&str] = match owner_namespace {
        None => &["ml"],
        Some(_) => &[
            "ml",
            "ml-team-ads",
            "ml-team-content",
            "ml-team-images",
            "ml-team-platform",
        ],
    };
    assert_eq!(namespaces.into_iter().collect::<Vec<_>>(), expected);
    let missing: Vec<_> = requested.difference(&role).collect();
    let mut surplus: Vec<_> = role.difference(&requested).collect();
    if owner_namespace.is_some() {
        // Spread over five namespaces, not every command runs in each
        // (`logs` reads one model's run, prune removes two models): a
        // grant is needed when the same verb on the same resource was
        // requested in another namespace.
        surplus.retain(|(_, g, r, v)| {
            !requested
                .iter()
                .any(|(_, rg, rr, rv)| (rg, rr, rv) == (g, r, v))
        });
    }
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
