//! `diff` against the test double of the API server: new, changed,
//! unchanged and pruned objects, Secret masking, conflicts, invalid objects,
//! kinds not served, RBAC denial and bad credentials. Requests are compared
//! with the recorded kube-apiserver exchanges.

use crate::kube_double;

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::cluster::{ClusterError, Target};
use modelctl::manifest_diff::{Change, ColorChoice, Format, render};

const KINDS: &[&str] = &[
    "namespace",
    "configmap",
    "service",
    "deployment",
    "hpa",
    "pdb",
    "httproute",
    "job",
];

fn target() -> Target {
    Target {
        env: "production".into(),
        namespace: "ml".into(),
    }
}

/// Every PATCH the double saw is a server-side apply dry run by modelctl.
fn assert_dry_run_applies(double: &KubeDouble) {
    let patches: Vec<_> = double
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(!patches.is_empty());
    for r in patches {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/apply-patch+yaml"),
            "{}",
            r.path
        );
        assert_eq!(
            r.query.get("fieldManager").map(String::as_str),
            Some("modelctl"),
            "{}",
            r.path
        );
        assert_eq!(
            r.query.get("dryRun").map(String::as_str),
            Some("All"),
            "{}",
            r.path
        );
        assert_eq!(r.query.get("force"), None, "{}", r.path);
    }
}

#[tokio::test]
async fn new_objects_are_shown_whole() {
    let double = KubeDouble::start().await;
    for kind in KINDS {
        double.record(&format!("02-ssa-dryrun-create-{kind}"));
    }
    let objects = fixtures::rendered(KINDS);
    let report = diff(
        &double.cluster().await,
        &target(),
        &objects,
        &DiffOptions::default(),
    )
    .await
    .expect("diff runs");

    // The namespace exists in the double; everything else is new.
    let changes: Vec<Change> = report.objects.iter().map(|o| o.change).collect();
    assert_eq!(changes[0], Change::Unchanged);
    assert!(
        changes[1..].iter().all(|c| *c == Change::Added),
        "{changes:?}"
    );
    assert!(report.has_changes() && !report.has_errors());
    // Each dry run is exactly the recorded request.
    for kind in &KINDS[1..] {
        let recorded = fixtures::load(&format!("02-ssa-dryrun-create-{kind}")).request;
        let sent = double.requests().into_iter().find(|r| r.matches(&recorded));
        let sent =
            sent.unwrap_or_else(|| panic!("no request like {} {}", recorded.method, recorded.path));
        assert_eq!(sent.body, recorded.body, "{kind}");
    }
    assert_dry_run_applies(&double);
    let text = render(&report, Format::Text(ColorChoice::Never));
    insta::assert_snapshot!("cluster_diff_new_objects", text);
}

#[tokio::test]
async fn unchanged_objects_give_an_empty_diff() {
    let double = KubeDouble::start().await;
    double.seed(fixtures::live(KINDS));
    for kind in KINDS {
        double.record(&format!("04-ssa-dryrun-unchanged-{kind}"));
    }
    let cluster = double.cluster().await;
    let report = diff(
        &cluster,
        &target(),
        &fixtures::rendered(KINDS),
        &DiffOptions::default(),
    )
    .await
    .expect("diff runs");
    let changed: Vec<String> = report
        .objects
        .iter()
        .filter(|o| o.change != Change::Unchanged)
        .map(|o| format!("{}\n{}", o.key, o.diff))
        .collect();
    assert!(changed.is_empty(), "{}", changed.join("\n"));
    assert!(!report.has_changes());
    // The recorded live objects, compared locally: nothing to dry-run.
    assert!(
        double.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        double.requests()
    );

    // Dry-running every object says the same.
    double.clear_requests();
    let exact = DiffOptions {
        exact: true,
        ..DiffOptions::default()
    };
    let dry_run = diff(&cluster, &target(), &fixtures::rendered(KINDS), &exact)
        .await
        .expect("diff --exact runs");
    assert_eq!(dry_run, report);
    assert_dry_run_applies(&double);
}

#[tokio::test]
async fn changed_objects_show_a_unified_diff_without_server_fields() {
    let double = KubeDouble::start().await;
    let kinds = [
        "configmap",
        "deployment-image",
        "hpa-maxreplicas",
        "httproute",
        "pdb",
        "service",
    ];
    double.seed(fixtures::live(&[
        "configmap",
        "deployment",
        "hpa",
        "httproute",
        "pdb",
        "service",
    ]));
    let mut objects = Vec::new();
    for kind in kinds {
        let stem = format!("04-ssa-dryrun-change-{kind}");
        double.record(&stem);
        objects.push(fixtures::request_body(&stem));
    }
    let report = diff(
        &double.cluster().await,
        &target(),
        &objects,
        &DiffOptions::default(),
    )
    .await
    .expect("diff runs");
    assert!(
        report.objects.iter().all(|o| o.change == Change::Changed),
        "{report:#?}"
    );
    let deployment = &report.objects[1].diff;
    assert!(
        deployment.contains("-        image: registry.example.com/ml/model-server:0.1.0"),
        "{deployment}"
    );
    assert!(
        deployment.contains("+        image: registry.example.com/ml/model-server:0.2.0"),
        "{deployment}"
    );
    for o in &report.objects {
        for noise in [
            "generation",
            "resourceVersion",
            "managedFields",
            "observedGeneration",
            "time:",
        ] {
            assert!(
                !o.diff.contains(noise),
                "{} diff mentions {noise}:\n{}",
                o.key,
                o.diff
            );
        }
    }
    insta::assert_snapshot!(
        "cluster_diff_changed_objects",
        render(&report, Format::Text(ColorChoice::Never))
    );
    insta::assert_snapshot!(
        "cluster_diff_changed_markdown",
        render(&report, Format::Markdown)
    );
}

#[tokio::test]
async fn secret_values_are_masked_but_changes_are_visible() {
    let double = KubeDouble::start().await;
    double.seed([fixtures::response_body("13-secret-get")]);
    double.record("13-secret-ssa-dryrun-change");
    let object = fixtures::request_body("13-secret-ssa-dryrun-change");
    let report = diff(
        &double.cluster().await,
        &target(),
        std::slice::from_ref(&object),
        &DiffOptions::default(),
    )
    .await
    .expect("diff runs");
    let shown = render(&report, Format::Json);
    assert_eq!(report.objects[0].change, Change::Changed);
    assert!(
        report.objects[0].diff.contains("*** (before)"),
        "{}",
        report.objects[0].diff
    );
    assert!(report.objects[0].diff.contains("*** (after)"));
    let live = fixtures::response_body("13-secret-get");
    for value in live["data"]
        .as_object()
        .unwrap()
        .values()
        .chain(object["data"].as_object().unwrap().values())
    {
        assert!(
            !shown.contains(value.as_str().unwrap()),
            "secret value leaked: {value}"
        );
    }
}

#[tokio::test]
async fn unchanged_secret_shows_no_difference() {
    let double = KubeDouble::start().await;
    double.seed([fixtures::response_body("13-secret-get")]);
    double.record("13-secret-ssa-dryrun-unchanged");
    let object = fixtures::request_body("13-secret-ssa-dryrun-unchanged");
    let report = diff(
        &double.cluster().await,
        &target(),
        std::slice::from_ref(&object),
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.objects[0].change, Change::Unchanged);
    // An unchanged object shows nothing but its name: no value of the
    // Secret, masked or not, is in the report.
    assert_eq!(report.objects[0].before, None);
    assert_eq!(report.objects[0].after, None);
    assert_eq!(report.objects[0].diff, "");
    let json = render(&report, Format::Json);
    for value in object["stringData"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v)
        .chain(
            object["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, v)| v),
        )
    {
        assert!(
            !json.contains(value.as_str().unwrap()),
            "secret value leaked: {value}"
        );
    }
}

#[tokio::test]
async fn a_field_another_manager_took_is_drift_with_both_values() {
    let double = KubeDouble::start().await;
    // other-team forced its own image into modelctl's Deployment.
    double.seed([fixtures::response_body(
        "05-conflict-deployment-1-other-team-apply",
    )]);
    double.record("05-conflict-deployment-2b-modelctl-409-dryrun");
    let object = fixtures::request_body("05-conflict-deployment-2b-modelctl-409-dryrun");
    let ours = object["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned();
    for exact in [false, true] {
        let options = DiffOptions {
            exact,
            ..DiffOptions::default()
        };
        let report = diff(
            &double.cluster().await,
            &target(),
            std::slice::from_ref(&object),
            &options,
        )
        .await
        .unwrap();
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let d = &report.objects[0];
        assert_eq!(d.change, Change::Changed);
        assert_eq!(
            d.drift,
            [modelctl::manifest_diff::Drift {
                field: ".spec.template.spec.containers[name=\"server\"].image".into(),
                manager: "other-team".into(),
            }]
        );
        // Their value against ours.
        assert!(
            d.diff.contains(&format!("+        image: {ours}")),
            "{}",
            d.diff
        );
        assert!(
            d.diff.lines().any(|l| l.starts_with("-        image: ")),
            "{}",
            d.diff
        );
        let text = modelctl::manifest_diff::render(
            &report,
            modelctl::manifest_diff::Format::Text(modelctl::manifest_diff::ColorChoice::Never),
        );
        assert!(text.contains("now owned by \"other-team\""), "{text}");
        assert!(text.contains("--force-conflicts"), "{text}");
    }
    // Nothing was written: every PATCH was a dry run (the second one forced).
    let patches: Vec<_> = double
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 4);
    for r in patches {
        assert_eq!(r.query.get("dryRun").map(String::as_str), Some("All"));
    }
}

#[tokio::test]
async fn invalid_object_names_the_object_and_every_field() {
    let double = KubeDouble::start().await;
    double.record("06-invalid-deployment-multiple-causes");
    double.record("06-invalid-deployment-unknown-field");
    let multiple = fixtures::request_body("06-invalid-deployment-multiple-causes");
    let unknown = fixtures::request_body("06-invalid-deployment-unknown-field");
    let cluster = double.cluster().await;
    let report = diff(&cluster, &target(), &[multiple], &DiffOptions::default())
        .await
        .unwrap();
    insta::assert_snapshot!("cluster_diff_invalid_object", &report.errors[0].error);
    let report = diff(&cluster, &target(), &[unknown], &DiffOptions::default())
        .await
        .unwrap();
    assert_eq!(
        report.errors[0].error,
        "Deployment ml/digits is invalid:\n  spec.replica: field not declared in schema"
    );
}

#[tokio::test]
async fn missing_crd_gives_one_message_per_kind() {
    let double = KubeDouble::start().await;
    double.uninstall_group("gateway.networking.k8s.io/v1");
    let route = fixtures::request_body("02-ssa-dryrun-create-httproute");
    let mut canary = route.clone();
    canary["metadata"]["name"] = "digits-canary".into();
    let objects = vec![
        fixtures::request_body("02-ssa-dryrun-create-service"),
        route,
        canary,
    ];
    let report = diff(
        &double.cluster().await,
        &target(),
        &objects,
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.errors.len(), 1, "{report:#?}");
    assert!(
        report.errors[0]
            .error
            .starts_with("HTTPRoute (gateway.networking.k8s.io/v1) is not served"),
        "{}",
        report.errors[0].error
    );
    assert_eq!(report.errors[0].objects.len(), 2);
    assert_eq!(report.objects.len(), 1);
    let text = render(&report, Format::Text(ColorChoice::Never));
    assert_eq!(text.matches("not served").count(), 1, "{text}");
    // Discovery of the group version was asked once, not once per object.
    let asked = double
        .requests()
        .iter()
        .filter(|r| r.path == "/apis/gateway.networking.k8s.io/v1")
        .count();
    assert_eq!(asked, 1);
}

#[tokio::test]
async fn rbac_denial_names_verb_resource_and_namespace() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster_as("unprivileged").await;
    let objects = fixtures::rendered(&["deployment"]);
    let err = diff(&cluster, &target(), &objects, &DiffOptions::default())
        .await
        .unwrap_err();
    match &err {
        ClusterError::Forbidden {
            verb,
            resource,
            namespace,
            ..
        } => {
            assert!(
                matches!(verb.as_deref(), Some("get" | "list" | "patch")),
                "{verb:?}"
            );
            assert_eq!(resource.as_deref(), Some("deployments.apps"));
            assert_eq!(namespace.as_deref(), Some("ml"));
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(err.to_string().contains("may not"), "{err}");
}

#[tokio::test]
async fn recorded_forbidden_answer_is_understood() {
    let double = KubeDouble::start().await;
    let recorded = fixtures::load("08-forbidden-ssa-dryrun-deployment");
    let message = recorded.response.body["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let status: kube::core::Status = serde_json::from_value(recorded.response.body).unwrap();
    let err = ClusterError::classify(kube::Error::Api(Box::new(status)), None, "applying");
    assert_eq!(
        err.to_string(),
        "permission denied: unprivileged may not patch deployments.apps in namespace \"ml\" (RBAC); ask for a Role granting \"patch\" on \"deployments.apps\""
    );
    drop((double, message));
}

#[tokio::test]
async fn unknown_token_is_unauthorized() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster_as("invalid").await;
    let err = diff(
        &cluster,
        &target(),
        &fixtures::rendered(&["deployment"]),
        &DiffOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::Unauthorized), "{err:?}");
}

#[tokio::test]
async fn missing_namespace_that_is_rendered_too_counts_as_create() {
    let double = KubeDouble::start().await;
    let mut namespace = fixtures::request_body("02-ssa-dryrun-create-namespace");
    namespace["metadata"]["name"] = "ml-staging".into();
    let mut deployment = fixtures::request_body("02-ssa-dryrun-create-deployment");
    deployment["metadata"]["namespace"] = "ml-staging".into();
    let staging = Target {
        env: "staging".into(),
        namespace: "ml-staging".into(),
    };
    let report = diff(
        &double.cluster().await,
        &staging,
        &[namespace, deployment.clone()],
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        report.objects.iter().all(|o| o.change == Change::Added),
        "{report:#?}"
    );
    // Without the Namespace object it is an error naming the namespace.
    let report = diff(
        &double.cluster().await,
        &staging,
        &[deployment],
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        report.errors[0]
            .error
            .contains("namespace \"ml-staging\" does not exist"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn would_prune_lists_managed_objects_no_longer_rendered() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let all = fixtures::rendered(&["configmap", "service", "deployment", "hpa", "pdb", "job"]);
    seed(&cluster, &all).await;
    double.clear_requests();
    let report = diff(&cluster, &target(), &all[..2], &DiffOptions::default())
        .await
        .unwrap();
    let listed: Vec<String> = report
        .with_change(Change::Removed)
        .map(|o| o.key.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "Deployment ml/digits",
            "HorizontalPodAutoscaler ml/digits",
            "Job ml/image-tagging-train-1a2b3c4d",
            "PodDisruptionBudget ml/digits",
        ]
    );
    assert!(report.has_changes());
    // The lists are the recorded label-selector LISTs.
    let requests = double.requests();
    for stem in [
        "09-list-deployments-namespaced",
        "09-list-hpas-namespaced",
        "09-list-jobs-namespaced",
        "09-list-pdbs-namespaced",
    ] {
        let recorded = fixtures::load(stem).request;
        assert!(
            requests.iter().any(|r| r.matches(&recorded)),
            "no request like {stem}"
        );
    }
    let text = render(&report, Format::Text(ColorChoice::Never));
    assert!(
        text.contains("- Job ml/image-tagging-train-1a2b3c4d removed (models/image-tagging.toml)"),
        "{text}"
    );
}

#[tokio::test]
async fn unreachable_server_is_named_as_such() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    drop(double);
    let err = diff(
        &cluster,
        &target(),
        &fixtures::rendered(&["service"]),
        &DiffOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err:?}");
    // As `main` prints it, with every cause: the fault is said once, not
    // once per layer of the HTTP client (`client error (Connect)` thrice).
    let printed = format!("{:#}", anyhow::Error::new(err));
    assert_eq!(
        printed, "cannot reach the API server: Connection refused (os error 111)",
        "{printed}"
    );
}

/// Applies `objects` as `modelctl apply` would.
async fn seed(cluster: &modelctl::cluster::Cluster, objects: &[serde_json::Value]) {
    let options = modelctl::cluster::apply::ApplyOptions {
        dry_run: false,
        force_conflicts: false,
        prune: false,
        concurrency: 16,
        exact: false,
    };
    modelctl::cluster::apply::apply(cluster, &target(), objects, &options, &|_| {})
        .await
        .unwrap();
}

/// Requests the double saw, by method and whether they were lists.
fn tally(double: &KubeDouble) -> (usize, usize, usize) {
    let requests = double.requests();
    let lists = requests
        .iter()
        .filter(|r| r.method == "GET" && r.query.contains_key("limit"))
        .count();
    let gets = requests
        .iter()
        .filter(|r| r.method == "GET" && !r.query.contains_key("limit"))
        .filter(|r| !r.path.ends_with("/v1") && r.path != "/api" && r.path != "/apis")
        .count();
    let patches = requests.iter().filter(|r| r.method == "PATCH").count();
    (lists, gets, patches)
}

#[tokio::test]
async fn a_fleet_is_read_once_per_kind_and_only_changes_are_dry_run() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    let fleet = fixtures::fleet(999);
    seed(&cluster, &fleet).await;

    double.clear_requests();
    let report = diff(&cluster, &target(), &fleet, &DiffOptions::default())
        .await
        .unwrap();
    assert!(!report.has_changes());
    assert_eq!(report.counts().unchanged, 999);
    // Three kinds in one namespace: three lists, the inventory, no dry run.
    assert_eq!(tally(&double), (3, 1, 0));

    // 1 % changed: one dry run per changed object.
    let released = fixtures::release(&fleet, 33);
    double.clear_requests();
    let report = diff(&cluster, &target(), &released, &DiffOptions::default())
        .await
        .unwrap();
    assert_eq!(report.counts().changed, 11);
    assert_eq!(tally(&double), (3, 1, 11));
}

#[tokio::test]
async fn lists_are_read_a_page_at_a_time() {
    let double = KubeDouble::start().await;
    let cluster = double.cluster().await;
    // 1,200 ConfigMaps: three pages of at most 500.
    let fleet: Vec<_> = fixtures::fleet(3600)
        .into_iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .collect();
    seed(&cluster, &fleet).await;
    double.clear_requests();
    let report = diff(&cluster, &target(), &fleet, &DiffOptions::default())
        .await
        .unwrap();
    assert_eq!(report.counts().unchanged, 1200);
    let pages: Vec<(Option<String>, Option<String>)> = double
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/namespaces/ml/configmaps")
        .map(|r| {
            (
                r.query.get("limit").cloned(),
                r.query.get("continue").cloned(),
            )
        })
        .collect();
    let limit = Some("500".to_owned());
    assert_eq!(
        pages,
        [
            (limit.clone(), None),
            (limit.clone(), Some("500".into())),
            (limit, Some("1000".into()))
        ]
    );
}
