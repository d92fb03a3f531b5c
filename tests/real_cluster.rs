//! The cluster scenarios against a real Kubernetes cluster. Ignored by
//! default; run them with a disposable cluster (kind, k3d, minikube):
//!
//! ```sh
//! KUBECONFIG=~/.kube/config cargo test --test real_cluster -- --ignored --test-threads 1
//! ```
//!
//! `MODELCTL_TEST_CONTEXT` picks a kubeconfig context (default: the current
//! one). Each test works in its own namespace `modelctl-test-<name>` and
//! deletes it at the end. The user needs rights to create namespaces and the
//! objects inside; the HTTPRoute scenario expects the Gateway API CRDs to be
//! absent or present and checks the matching behaviour.

#[path = "kube_double/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use modelctl::cluster::apply::{Applied, ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::cluster::wait::wait;
use modelctl::cluster::{Cluster, ClusterError, Target};
use modelctl::manifest_diff::Change;
use modelctl::object::ObjectKey;
use serde_json::{Value, json};

/// A namespace of its own, deleted on [`Scratch::finish`].
struct Scratch {
    cluster: Cluster,
    target: Target,
}

impl Scratch {
    async fn new(name: &str) -> Option<Scratch> {
        if std::env::var_os("KUBECONFIG").is_none() {
            eprintln!("KUBECONFIG is not set: skipping");
            return None;
        }
        let context = std::env::var("MODELCTL_TEST_CONTEXT").ok();
        let cluster = Cluster::connect(context.as_deref())
            .await
            .expect("connecting to the cluster");
        let namespace = format!("modelctl-test-{name}");
        let body =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        let api: Api<Namespace> = Api::all(cluster.client().clone());
        api.patch(
            &namespace,
            &PatchParams::apply("modelctl-test"),
            &Patch::Apply(&body),
        )
        .await
        .expect("creating the test namespace");
        Some(Scratch {
            cluster,
            target: Target {
                env: "test".into(),
                namespace,
            },
        })
    }

    /// Fixture request bodies moved into the scratch namespace.
    fn objects(&self, stems: &[&str]) -> Vec<Value> {
        stems
            .iter()
            .map(|stem| {
                let mut object = fixtures::request_body(stem);
                object["metadata"]["namespace"] = json!(self.target.namespace);
                object
            })
            .collect()
    }

    fn options(&self) -> ApplyOptions {
        ApplyOptions {
            dry_run: false,
            force_conflicts: false,
            prune: false,
            concurrency: 16,
        }
    }

    async fn finish(self) {
        let api: Api<Namespace> = Api::all(self.cluster.client().clone());
        let _ = api
            .delete(&self.target.namespace, &DeleteParams::background())
            .await;
    }
}

const CORE: &[&str] = &[
    "03-ssa-create-configmap",
    "03-ssa-create-service",
    "03-ssa-create-deployment",
    "03-ssa-create-hpa",
    "03-ssa-create-pdb",
    "03-ssa-create-job",
];

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_apply_then_diff_is_empty() {
    let Some(s) = Scratch::new("idempotent").await else {
        return;
    };
    let objects = s.objects(CORE);
    let first = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        first.objects.iter().all(|o| o.change == Change::Added),
        "{first:#?}"
    );
    apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    let second = apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    assert!(
        second.applied.iter().all(|(_, a)| *a == Applied::Unchanged),
        "{:?}",
        second.applied
    );
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(!report.has_changes(), "{report:#?}");
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_change_shows_a_diff_and_secrets_stay_masked() {
    let Some(s) = Scratch::new("change").await else {
        return;
    };
    let mut objects = s.objects(&["03-ssa-create-deployment", "13-secret-ssa-create"]);
    apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("registry.example.com/ml/model-server:0.2.0");
    objects[1]["data"]["AWS_SECRET_ACCESS_KEY"] = json!("cm90YXRlZA==");
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        report.objects[0]
            .diff
            .contains("+        image: registry.example.com/ml/model-server:0.2.0")
    );
    assert!(report.objects[1].diff.contains("*** (after)"));
    assert!(!report.objects[1].diff.contains("cm90YXRlZA=="));
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_conflict_needs_force() {
    let Some(s) = Scratch::new("conflict").await else {
        return;
    };
    let objects = s.objects(&["03-ssa-create-deployment"]);
    apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    let mut hotfix = fixtures::request_body("05-conflict-deployment-1-other-team-apply");
    hotfix["metadata"]["namespace"] = json!(s.target.namespace);
    let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(s.cluster.client().clone(), &s.target.namespace, &ar);
    api.patch(
        "digits",
        &PatchParams::apply("other-team").force(),
        &Patch::Apply(&hotfix),
    )
    .await
    .unwrap();
    let mut ours = s.objects(&["05-conflict-deployment-2-modelctl-409"]);
    let err = apply(&s.cluster, &s.target, &ours, &s.options(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::Conflict { conflicts, .. } if conflicts[0].manager == "other-team"),
        "{err:?}"
    );
    let forced = ApplyOptions {
        force_conflicts: true,
        ..s.options()
    };
    apply(&s.cluster, &s.target, &ours.split_off(0), &forced, &|_| {})
        .await
        .unwrap();
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_invalid_object_names_the_field() {
    let Some(s) = Scratch::new("invalid").await else {
        return;
    };
    let objects = s.objects(&["06-invalid-deployment-replicas"]);
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        report.errors[0].error.contains("spec.replicas"),
        "{report:#?}"
    );
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_httproute_is_applied_or_reported_as_not_served() {
    let Some(s) = Scratch::new("crd").await else {
        return;
    };
    let objects = s.objects(&["03-ssa-create-httproute"]);
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    let served = s
        .cluster
        .resource("gateway.networking.k8s.io/v1", "HTTPRoute")
        .await
        .is_ok();
    if served {
        assert_eq!(report.objects[0].change, Change::Added);
    } else {
        assert!(
            report.errors[0].error.starts_with("HTTPRoute "),
            "{report:#?}"
        );
    }
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_prune_keeps_objects_without_our_label() {
    let Some(s) = Scratch::new("prune").await else {
        return;
    };
    let mut objects = s.objects(&["03-ssa-create-service", "03-ssa-create-configmap"]);
    apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    // Someone else removes our label from the ConfigMap.
    let key = ObjectKey::of(&objects[1]).unwrap();
    let api = s.cluster.api_for(&key).await.unwrap();
    let unlabel = json!({"metadata": {"labels": {"app.kubernetes.io/managed-by": null}}});
    api.patch(&key.name, &PatchParams::default(), &Patch::Merge(&unlabel))
        .await
        .unwrap();

    let remaining = vec![objects.remove(0)];
    let prune = ApplyOptions {
        prune: true,
        ..s.options()
    };
    apply(&s.cluster, &s.target, &remaining, &prune, &|_| {})
        .await
        .unwrap();
    assert!(
        api.get_opt(&key.name).await.unwrap().is_some(),
        "an object without our label was pruned"
    );
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: set KUBECONFIG"]
async fn real_wait_timeout_names_the_deployment() {
    let Some(s) = Scratch::new("wait").await else {
        return;
    };
    let mut objects = s.objects(&["03-ssa-create-deployment"]);
    // An image that cannot be pulled never turns ready.
    objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("registry.invalid/none:0");
    apply(&s.cluster, &s.target, &objects, &s.options(), &|_| {})
        .await
        .unwrap();
    let key = ObjectKey::of(&objects[0]).unwrap();
    let err = wait(&s.cluster, &[key], Duration::from_secs(20), &|_| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Deployment modelctl-test-wait/digits"),
        "{err}"
    );
    s.finish().await;
}
