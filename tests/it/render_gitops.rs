//! What `[gitops] tool` adds to rendered objects: a snapshot per tool of
//! the annotations each object gains over `tool = "none"`, nothing else
//! changing, and the order Argo CD syncs a rendered environment in.

use crate::render_support;

use std::fs;
use std::path::{Path, PathBuf};

use modelctl::compile::{Manifest, render_env, render_files};
use modelctl::object::stage::stage_of;
use modelctl_spec::{Repo, Source, load_sources};
use render_support::{example_root, fixtures};
use serde_json::Value;

/// The repository at `root` with `[gitops] tool = TOOL` appended to its
/// `modelctl.toml` (no section at all when `tool` is `None`).
fn with_tool(root: &Path, tool: Option<&str>) -> Repo {
    let mut config = fs::read_to_string(root.join("modelctl.toml")).expect("modelctl.toml");
    if let Some(tool) = tool {
        config.push_str(&format!("\n[gitops]\ntool = \"{tool}\"\n"));
    }
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: config,
    };
    let mut models: Vec<Source> = fs::read_dir(root.join("models"))
        .expect("models/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| Source {
            path: PathBuf::from("models").join(p.file_name().unwrap()),
            text: fs::read_to_string(&p).unwrap(),
        })
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    load_sources(&config, &models).unwrap_or_else(|e| panic!("{e}"))
}

fn every_manifest(repo: &Repo) -> Vec<(String, Manifest)> {
    let mut out = Vec::new();
    for env in repo.config.env_names() {
        for m in render_env(&repo.environment(env).unwrap()) {
            out.push((env.to_owned(), m));
        }
    }
    out
}

fn annotations(object: &Value) -> serde_json::Map<String, Value> {
    object["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// One line per object and added annotation, `env kind/name key=value`;
/// fails if anything but annotations differs from the plain render.
fn added_by(tool: &str) -> String {
    let plain = every_manifest(&with_tool(&example_root(), None));
    let tooled = every_manifest(&with_tool(&example_root(), Some(tool)));
    assert_eq!(plain.len(), tooled.len());
    let mut out = String::new();
    for ((env, a), (_, b)) in plain.iter().zip(&tooled) {
        assert_eq!(a.file, b.file, "{tool} changes no file name");
        let (mut a_rest, mut b_rest) = (a.object.clone(), b.object.clone());
        a_rest["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        b_rest["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        assert_eq!(a_rest, b_rest, "{tool} changes only annotations");
        let (before, after) = (annotations(&a.object), annotations(&b.object));
        for (key, value) in &before {
            assert_eq!(after.get(key), Some(value), "{tool} keeps {key}");
        }
        for (key, value) in after.iter().filter(|(k, _)| !before.contains_key(*k)) {
            out.push_str(&format!(
                "{env} {}/{} {key}={}\n",
                a.kind(),
                a.name(),
                value.as_str().unwrap_or_default()
            ));
        }
    }
    out
}

#[test]
fn argocd_adds_waves_and_keeps_training_runs() {
    insta::assert_snapshot!("gitops_argocd", added_by("argocd"));
}

#[test]
fn flux_keeps_training_runs() {
    insta::assert_snapshot!("gitops_flux", added_by("flux"));
}

#[test]
fn none_adds_nothing() {
    assert_eq!(added_by("none"), "");
    let plain = with_tool(&example_root(), None);
    let none = with_tool(&example_root(), Some("none"));
    for env in plain.config.env_names() {
        assert_eq!(
            render_files(&plain.environment(env).unwrap()),
            render_files(&none.environment(env).unwrap()),
            "tool = \"none\" renders byte for byte what no [gitops] renders"
        );
    }
}

/// Argo CD's kind order within a wave (gitops-engine `pkg/sync/sync_tasks.go`);
/// kinds it does not list (HTTPRoute, Route) sort after all of these.
const ARGOCD_KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The order Argo CD syncs objects in: by wave (annotation, default 0),
/// then by its kind order, then by name.
fn argocd_order(objects: &mut [&Value]) {
    let wave = |o: &Value| -> i64 {
        o["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .map_or(0, |w| w.parse().expect("a wave is an integer"))
    };
    let kind_rank = |o: &Value| {
        let kind = o["kind"].as_str().unwrap_or_default();
        ARGOCD_KIND_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(ARGOCD_KIND_ORDER.len())
    };
    let name = |o: &Value| {
        o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    objects.sort_by_key(|o| (wave(o), kind_rank(o), name(o)));
}

fn position(order: &[&Value], kinds: &[&str], first: bool) -> Option<usize> {
    let hit = |o: &&&Value| kinds.contains(&o["kind"].as_str().unwrap_or_default());
    if first {
        order.iter().position(|o| hit(&o))
    } else {
        order.iter().rposition(|o| hit(&o))
    }
}

/// The objects in the order Argo CD syncs them, and each one's apply stage.
fn synced(manifests: &[Manifest]) -> (Vec<&Value>, Vec<u8>) {
    let mut order: Vec<&Value> = manifests.iter().map(|m| &m.object).collect();
    argocd_order(&mut order);
    let stages = order
        .iter()
        .map(|o| stage_of(o["kind"].as_str().unwrap_or_default()))
        .collect();
    (order, stages)
}

#[test]
fn argocd_syncs_a_rendered_environment_in_apply_stage_order() {
    let mut roots = vec![example_root()];
    roots.extend(fixtures().into_iter().map(|(_, dir)| dir));
    for root in roots {
        let repo = with_tool(&root, Some("argocd"));
        for env in repo.config.env_names() {
            let manifests = render_env(&repo.environment(env).unwrap());
            let (order, stages) = synced(&manifests);
            assert!(
                stages.windows(2).all(|w| w[0] <= w[1]),
                "{} {env}: Argo CD's order breaks apply's stages: {stages:?}",
                root.display()
            );
            let pairs: [(&[&str], &[&str]); 3] = [
                (&["ConfigMap"], &["Job"]),
                (&["Deployment"], &["HTTPRoute", "Route", "Ingress"]),
                (&["Service"], &["HTTPRoute", "Route", "Ingress"]),
            ];
            for (before, after) in pairs {
                if let (Some(last), Some(first)) = (
                    position(&order, before, false),
                    position(&order, after, true),
                ) {
                    assert!(
                        last < first,
                        "{} {env}: every {before:?} syncs before any {after:?}",
                        root.display()
                    );
                }
            }
        }
    }
}

#[test]
fn without_waves_argocd_would_sync_routes_before_deployments_finish() {
    // The reason for the waves: in one wave, Argo CD's kind order puts a
    // PodDisruptionBudget before the Deployment it guards and applies
    // routes in the same wave as their backends.
    let repo = with_tool(&example_root(), None);
    let manifests = render_env(&repo.environment("production").unwrap());
    let (_, stages) = synced(&manifests);
    assert!(stages.windows(2).any(|w| w[0] > w[1]));
}
