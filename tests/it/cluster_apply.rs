//! `apply` against the test double: staged order, the exact server-side
//! apply requests, idempotency (a second apply writes nothing and the next
//! diff is empty), conflicts with and without `--force-conflicts`, invalid
//! objects, and prune safety.

use crate::kube_double;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::apply::{Applied, ApplyEvent, ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::cluster::{ClusterError, Target};
use modelctl::manifest_diff::Change;
use serde_json::{Value, json};

const KINDS: &[&str] = &[
    "job",
    "pdb",
    "httproute",
    "hpa",
    "deployment",
    "service",
    "configmap",
    "namespace",
];

fn target() -> Target {
    Target {
        env: "production".into(),
        namespace: "ml".into(),
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        dry_run: false,
        force_conflicts: false,
        prune: false,
        concurrency: 16,
        exact: false,
    }
}

fn quiet(_: ApplyEvent) {}

fn patches(double: &KubeDouble) -> Vec<kube_double::Request> {
    double
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect()
}

#[tokio::test]
async fn applies_in_stages_with_the_recorded_requests() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let outcome = apply(
        &cluster,
        &target(),
        &fixtures::rendered(KINDS),
        &options(),
        &quiet,
    )
    .await
    .expect("apply succeeds");
    let order: Vec<String> = outcome
        .applied
        .iter()
        .map(|(k, _)| k.kind.clone())
        .collect();
    assert_eq!(
        order,
        [
            "Namespace",
            "ConfigMap",
            "Service",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "HTTPRoute",
            "Job"
        ]
    );
    // The namespace already existed; everything else was created.
    assert_eq!(outcome.applied[0].1, Applied::Unchanged);
    assert!(
        outcome.applied[1..]
            .iter()
            .all(|(_, a)| *a == Applied::Created)
    );

    // Each apply is the recorded real (not dry-run) request, in stage order.
    let sent = patches(&double);
    for kind in KINDS {
        let recorded = fixtures::load(&format!("03-ssa-create-{kind}")).request;
        let request = sent
            .iter()
            .find(|r| r.matches(&recorded))
            .unwrap_or_else(|| panic!("no {}", recorded.path));
        assert_eq!(request.body, recorded.body);
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
    }
    let paths: Vec<&str> = sent.iter().map(|r| r.path.as_str()).collect();
    let position = |part: &str| paths.iter().position(|p| p.contains(part)).unwrap();
    assert!(position("/configmaps/image-tagging-train") < position("/services/"));
    assert!(position("/services/") < position("/deployments/"));
    assert!(position("/deployments/") < position("/horizontalpodautoscalers/"));
    assert!(position("/httproutes/") < position("/jobs/"));

    // The inventory lists what was applied.
    let inventory = double
        .object("/api/v1/namespaces/ml/configmaps/modelctl-inventory-production")
        .unwrap();
    let lines = inventory["data"]["objects"].as_str().unwrap();
    assert!(lines.contains("apps/v1 Deployment ml digits"), "{lines}");
    assert_eq!(lines.lines().count(), KINDS.len());
}

#[tokio::test]
async fn applying_twice_changes_nothing() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let objects = fixtures::rendered(KINDS);
    apply(&cluster, &target(), &objects, &options(), &quiet)
        .await
        .unwrap();
    let before: Vec<Value> = [
        "/apis/apps/v1/namespaces/ml/deployments/digits",
        "/api/v1/namespaces/ml/services/digits",
    ]
    .iter()
    .map(|p| double.object(p).unwrap())
    .collect();
    let second = apply(&cluster, &target(), &objects, &options(), &quiet)
        .await
        .unwrap();
    assert!(
        second.applied.iter().all(|(_, a)| *a == Applied::Unchanged),
        "{:?}",
        second.applied
    );
    let after: Vec<Value> = [
        "/apis/apps/v1/namespaces/ml/deployments/digits",
        "/api/v1/namespaces/ml/services/digits",
    ]
    .iter()
    .map(|p| double.object(p).unwrap())
    .collect();
    assert_eq!(before, after, "a no-op apply must not write");
    let report = diff(&cluster, &target(), &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(!report.has_changes(), "{report:#?}");
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let dry = ApplyOptions {
        dry_run: true,
        ..options()
    };
    let outcome = apply(
        &cluster,
        &target(),
        &fixtures::rendered(&["deployment"]),
        &dry,
        &quiet,
    )
    .await
    .unwrap();
    assert_eq!(outcome.applied[0].1, Applied::Created);
    assert!(
        double
            .object("/apis/apps/v1/namespaces/ml/deployments/digits")
            .is_none()
    );
    assert!(
        patches(&double)
            .iter()
            .all(|r| r.query.get("dryRun").map(String::as_str) == Some("All"))
    );
}

/// Another team takes the image over with its own server-side apply.
async fn other_team_owns_the_image(double: &KubeDouble) {
    let hotfix = fixtures::load("05-conflict-deployment-1-other-team-apply")
        .request
        .body;
    let client = double.cluster().await.client().clone();
    let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client, "ml", &ar);
    api.patch(
        "digits",
        &PatchParams::apply("other-team").force(),
        &Patch::Apply(&hotfix),
    )
    .await
    .expect("other-team applies");
}

#[tokio::test]
async fn conflict_stops_unless_forced() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    apply(
        &cluster,
        &target(),
        &fixtures::rendered(&["deployment"]),
        &options(),
        &quiet,
    )
    .await
    .unwrap();
    other_team_owns_the_image(&double).await;

    let ours = fixtures::request_body("05-conflict-deployment-2-modelctl-409");
    let err = apply(
        &cluster,
        &target(),
        std::slice::from_ref(&ours),
        &options(),
        &quiet,
    )
    .await
    .unwrap_err();
    // The double's answer reads like the recorded 409.
    let recorded = fixtures::response_body("05-conflict-deployment-2-modelctl-409");
    match err.cause() {
        ClusterError::Conflict { conflicts, .. } => {
            assert_eq!(conflicts[0].manager, "other-team");
            assert_eq!(
                conflicts[0].field,
                recorded["details"]["causes"][0]["field"].as_str().unwrap()
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    insta::assert_snapshot!("cluster_apply_conflict", err.to_string());

    let forced = ApplyOptions {
        force_conflicts: true,
        ..options()
    };
    apply(&cluster, &target(), &[ours], &forced, &quiet)
        .await
        .expect("forced apply succeeds");
    let last = patches(&double).pop().unwrap();
    assert_eq!(last.query.get("force").map(String::as_str), Some("true"));
    let live = double
        .object("/apis/apps/v1/namespaces/ml/deployments/digits")
        .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/ml/model-server:0.2.0"
    );
}

#[tokio::test]
async fn recorded_conflict_on_an_update_manager_is_reported() {
    let double = KubeDouble::start().await;
    double.record("05-conflict-hpa-2-modelctl-409");
    let hpa = fixtures::request_body("05-conflict-hpa-2-modelctl-409");
    let err = apply(
        &double.cluster().await,
        &target(),
        &[hpa],
        &options(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.cause(), ClusterError::Conflict { conflicts, .. } if conflicts[0].manager == "other-team"),
        "{err:?}"
    );
    assert!(err.to_string().contains(".spec.maxReplicas"), "{err}");
}

#[tokio::test]
async fn invalid_object_stops_the_apply_before_later_stages() {
    let double = KubeDouble::start().await;
    // Recorded as a dry run, so this apply is one too.
    double.record("06-invalid-deployment-replicas");
    let bad = fixtures::request_body("06-invalid-deployment-replicas");
    let objects = vec![bad, fixtures::request_body("02-ssa-dryrun-create-job")];
    let dry = ApplyOptions {
        dry_run: true,
        ..options()
    };
    let err = apply(&double.cluster().await, &target(), &objects, &dry, &quiet)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Deployment ml/digits is invalid:\n  spec.replicas: Invalid value: -1: must be greater than or equal to 0\n\
         applying stopped: none of 2 object(s) applied (1 failed, 1 not sent)"
    );
    // The Job (a later stage) was never sent.
    assert!(!patches(&double).iter().any(|r| r.path.contains("/jobs/")));
}

#[tokio::test]
async fn prune_deletes_only_what_modelctl_applied_and_still_labels() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let mut extra_service = fixtures::request_body("02-ssa-dryrun-create-service");
    extra_service["metadata"]["name"] = json!("old-model");
    let mut disowned = fixtures::request_body("02-ssa-dryrun-create-configmap");
    disowned["metadata"]["name"] = json!("handed-over");
    let base = fixtures::rendered(&["configmap", "service", "deployment"]);
    let mut first = base.clone();
    first.extend([extra_service, disowned]);
    apply(&cluster, &target(), &first, &options(), &quiet)
        .await
        .unwrap();

    // Someone took "handed-over" over and removed our label.
    let mut taken = double
        .object("/api/v1/namespaces/ml/configmaps/handed-over")
        .unwrap();
    taken["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("app.kubernetes.io/managed-by");
    double.seed([taken]);
    // A look-alike object modelctl never applied, with our label.
    let mut stranger = fixtures::request_body("02-ssa-dryrun-create-service");
    stranger["metadata"]["name"] = json!("hand-made");
    double.seed([stranger]);

    let report = diff(&cluster, &target(), &base, &DiffOptions::default())
        .await
        .unwrap();
    let listed: Vec<String> = report
        .with_change(Change::Removed)
        .map(|o| o.key.to_string())
        .collect();
    assert_eq!(listed, ["Service ml/old-model"]);

    let prune = ApplyOptions {
        prune: true,
        ..options()
    };
    let outcome = apply(&cluster, &target(), &base, &prune, &quiet)
        .await
        .unwrap();
    let pruned: Vec<String> = outcome.pruned.iter().map(ToString::to_string).collect();
    assert_eq!(pruned, ["Service ml/old-model"]);
    assert!(
        double
            .object("/api/v1/namespaces/ml/services/old-model")
            .is_none()
    );
    assert!(
        double
            .object("/api/v1/namespaces/ml/configmaps/handed-over")
            .is_some()
    );
    assert!(
        double
            .object("/api/v1/namespaces/ml/services/hand-made")
            .is_some()
    );
    let deletes: Vec<_> = double
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].path, "/api/v1/namespaces/ml/services/old-model");

    // The inventory no longer lists what was pruned.
    let inventory = double
        .object("/api/v1/namespaces/ml/configmaps/modelctl-inventory-production")
        .unwrap();
    assert!(
        !inventory["data"]["objects"]
            .as_str()
            .unwrap()
            .contains("old-model")
    );
}

#[tokio::test]
async fn prune_refuses_when_nothing_was_rendered() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    apply(
        &cluster,
        &target(),
        &fixtures::rendered(&["service"]),
        &options(),
        &quiet,
    )
    .await
    .unwrap();
    let prune = ApplyOptions {
        prune: true,
        ..options()
    };
    let err = apply(&cluster, &target(), &[], &prune, &quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refusing to prune"), "{err}");
    assert!(
        double
            .object("/api/v1/namespaces/ml/services/digits")
            .is_some()
    );
}

#[tokio::test]
async fn forbidden_apply_names_the_verb() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster_as("unprivileged").await;
    let err = apply(
        &cluster,
        &target(),
        &fixtures::rendered(&["deployment"]),
        &options(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::Forbidden { .. }), "{err:?}");
    assert!(err.to_string().contains("in namespace \"ml\""), "{err}");
}

#[tokio::test]
async fn prune_sends_the_recorded_delete_and_dry_run_deletes_nothing() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let objects = fixtures::rendered(&["service", "deployment"]);
    apply(&cluster, &target(), &objects, &options(), &quiet)
        .await
        .unwrap();
    let keep = &objects[..1];

    let dry = ApplyOptions {
        prune: true,
        dry_run: true,
        ..options()
    };
    let outcome = apply(&cluster, &target(), keep, &dry, &quiet)
        .await
        .unwrap();
    assert_eq!(outcome.pruned.len(), 1);
    assert!(
        double
            .object("/apis/apps/v1/namespaces/ml/deployments/digits")
            .is_some()
    );
    let dry_delete = double
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    // kube sends dryRun in the DeleteOptions body, which the server honours like the query.
    assert_eq!(dry_delete.body["dryRun"], json!(["All"]));

    double.clear_requests();
    let prune = ApplyOptions {
        prune: true,
        ..options()
    };
    apply(&cluster, &target(), keep, &prune, &quiet)
        .await
        .unwrap();
    let recorded = fixtures::load("10-delete-deployment-background").request;
    let delete = double
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert!(delete.matches(&recorded), "{delete:?}");
    // kube leaves out DeleteOptions' kind and apiVersion, which the server does not need.
    assert_eq!(
        delete.body["propagationPolicy"],
        recorded.body["propagationPolicy"]
    );
    assert!(
        double
            .object("/apis/apps/v1/namespaces/ml/deployments/digits")
            .is_none()
    );
}

#[tokio::test]
async fn a_kind_that_is_not_served_fails_once_and_what_was_applied_is_recorded() {
    let double = KubeDouble::start().await;
    double.uninstall_group("gateway.networking.k8s.io/v1");
    let route = fixtures::request_body("02-ssa-dryrun-create-httproute");
    let mut canary = route.clone();
    canary["metadata"]["name"] = json!("digits-canary");
    let objects = vec![
        fixtures::request_body("02-ssa-dryrun-create-service"),
        route,
        canary,
    ];
    let err = apply(
        &double.cluster().await,
        &target(),
        &objects,
        &options(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "HTTPRoute (gateway.networking.k8s.io/v1) is not served by this cluster: install its CRD first\n\
         applying stopped after 1 of 3 object(s) were applied (2 failed, 0 not sent); what was applied stays"
    );
    let inventory = double
        .object("/api/v1/namespaces/ml/configmaps/modelctl-inventory-production")
        .expect("the inventory records the Service");
    assert_eq!(inventory["data"]["objects"], "v1 Service ml digits");
}

#[tokio::test]
async fn missing_namespace_is_reported_once() {
    let double = KubeDouble::start().await;
    let objects: Vec<Value> = fixtures::rendered(&["configmap", "service"])
        .into_iter()
        .map(|mut o| {
            o["metadata"]["namespace"] = json!("ml-staging");
            o
        })
        .collect();
    let staging = Target {
        env: "staging".into(),
        namespace: "ml-staging".into(),
    };
    let err = apply(
        &double.cluster().await,
        &staging,
        &objects,
        &options(),
        &quiet,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "namespace \"ml-staging\" does not exist; create it first (kubectl create namespace ml-staging)\n\
         applying stopped: none of 2 object(s) applied (1 failed, 1 not sent)"
    );
}

/// The non-dry-run server-side applies the double saw.
fn writes(double: &KubeDouble) -> Vec<String> {
    patches(double)
        .into_iter()
        .filter(|r| !r.query.contains_key("dryRun"))
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn apply_sends_only_what_is_new_or_changed() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let fleet = fixtures::fleet(30);
    // No inventory yet: everything is sent.
    let first = apply(&cluster, &target(), &fleet, &options(), &quiet)
        .await
        .unwrap();
    assert!(first.scan.is_none());
    assert_eq!(
        writes(&double).len(),
        30 + 1,
        "every object and the inventory"
    );

    // Two Deployments changed, three objects new.
    let mut next = fixtures::release(&fleet, 5);
    next.extend(fixtures::fleet(33).split_off(30));
    double.clear_requests();
    let second = apply(&cluster, &target(), &next, &options(), &quiet)
        .await
        .unwrap();
    let count = |a: Applied| second.applied.iter().filter(|(_, x)| *x == a).count();
    assert_eq!(
        (
            count(Applied::Created),
            count(Applied::Configured),
            count(Applied::Unchanged)
        ),
        (3, 2, 28)
    );
    let mut sent = writes(&double);
    sent.sort();
    assert_eq!(
        sent,
        [
            "/api/v1/namespaces/ml/configmaps/model-0010",
            "/api/v1/namespaces/ml/configmaps/modelctl-inventory-production",
            "/api/v1/namespaces/ml/services/model-0010",
            "/apis/apps/v1/namespaces/ml/deployments/model-0000",
            "/apis/apps/v1/namespaces/ml/deployments/model-0005",
            "/apis/apps/v1/namespaces/ml/deployments/model-0010",
        ]
    );
    // What was listed is not read again one by one.
    let gets = double
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/deployments/"))
        .count();
    assert_eq!(gets, 1, "only the new Deployment is read before its apply");
    let scan = second.scan.expect("the fast path ran");
    assert_eq!((scan.same, scan.flagged, scan.unlisted), (28, 2, 3));

    // Nothing left to send.
    double.clear_requests();
    let third = apply(&cluster, &target(), &next, &options(), &quiet)
        .await
        .unwrap();
    assert!(third.applied.iter().all(|(_, a)| *a == Applied::Unchanged));
    assert!(writes(&double).is_empty(), "{:?}", writes(&double));
    let report = diff(&cluster, &target(), &next, &DiffOptions::default())
        .await
        .unwrap();
    assert!(!report.has_changes(), "{report:#?}");
}

#[tokio::test]
async fn forced_exact_or_first_applies_send_every_object() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let fleet = fixtures::fleet(12);
    apply(&cluster, &target(), &fleet, &options(), &quiet)
        .await
        .unwrap();
    for options in [
        ApplyOptions {
            force_conflicts: true,
            ..options()
        },
        ApplyOptions {
            exact: true,
            ..options()
        },
    ] {
        double.clear_requests();
        let outcome = apply(&cluster, &target(), &fleet, &options, &quiet)
            .await
            .unwrap();
        assert!(outcome.scan.is_none());
        assert_eq!(writes(&double).len(), 12, "{options:?}");
        assert!(
            outcome
                .applied
                .iter()
                .all(|(_, a)| *a == Applied::Unchanged)
        );
    }
    // Without the inventory (lost, or objects adopted from another tool),
    // every object is sent again, and the inventory is written back.
    let inventory: Api<DynamicObject> = Api::namespaced_with(
        cluster.client().clone(),
        "ml",
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    inventory
        .delete("modelctl-inventory-production", &Default::default())
        .await
        .unwrap();
    double.clear_requests();
    let outcome = apply(&cluster, &target(), &fleet, &options(), &quiet)
        .await
        .unwrap();
    assert!(outcome.scan.is_none());
    assert_eq!(writes(&double).len(), 12 + 1);
}

#[tokio::test]
async fn prune_follows_a_model_into_its_old_namespace_and_nowhere_else() {
    let double = KubeDouble::start().await;
    double.seed(
        ["team-a", "team-b", "team-c"]
            .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})),
    );
    let cluster = double.cluster().await;
    let in_ns = |ns: &str| {
        let mut service = fixtures::request_body("02-ssa-dryrun-create-service");
        service["metadata"]["namespace"] = json!(ns);
        service
    };
    let base = fixtures::rendered(&["configmap", "deployment"]);
    let mut first = base.clone();
    first.push(in_ns("team-a"));
    apply(&cluster, &target(), &first, &options(), &quiet)
        .await
        .unwrap();
    let name = first.last().unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    // Look-alikes with modelctl's label that it never applied: one in the
    // old namespace, one in a namespace the environment never used.
    let mut lookalike = in_ns("team-a");
    lookalike["metadata"]["name"] = json!("look-alike");
    double.seed([lookalike, in_ns("team-c")]);

    // The model moved: its Service is now rendered in team-b.
    let mut moved = base.clone();
    moved.push(in_ns("team-b"));
    let prune = ApplyOptions {
        prune: true,
        ..options()
    };
    let before = double.requests().len();
    let outcome = apply(&cluster, &target(), &moved, &prune, &quiet)
        .await
        .unwrap();
    let pruned: Vec<String> = outcome.pruned.iter().map(ToString::to_string).collect();
    assert_eq!(pruned, [format!("Service team-a/{name}")]);
    let at = |ns: &str, n: &str| double.object(&format!("/api/v1/namespaces/{ns}/services/{n}"));
    assert!(at("team-b", &name).is_some());
    assert!(at("team-a", &name).is_none());
    assert!(at("team-a", "look-alike").is_some());
    assert!(at("team-c", &name).is_some());
    // Reads and deletes of Services happened in team-a only: the orphan's
    // namespace, which the inventory recorded.
    let touched: Vec<String> = double
        .requests()
        .into_iter()
        .skip(before)
        .filter(|r| {
            (r.method == "DELETE" || r.method == "GET")
                && r.path.contains("/services")
                && !r.path.contains("/namespaces/team-b/")
                && !r.path.contains("/namespaces/ml/")
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        touched,
        [
            "GET /api/v1/namespaces/team-a/services".to_owned(),
            format!("DELETE /api/v1/namespaces/team-a/services/{name}")
        ]
    );
    // The inventory, in the environment's namespace, now names team-b's.
    let inventory = double
        .object("/api/v1/namespaces/ml/configmaps/modelctl-inventory-production")
        .unwrap();
    let lines = inventory["data"]["objects"].as_str().unwrap();
    assert!(
        lines.contains("team-b") && !lines.contains("team-a"),
        "{lines}"
    );
}
