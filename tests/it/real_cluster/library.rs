//! The cluster library (`modelctl::cluster`) on the recorded request bodies
//! of `tests/fixtures/kube/`, moved into a scratch namespace.

use std::io::Write as _;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use modelctl::cluster::apply::{Applied, ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::cluster::wait::wait;
use modelctl::cluster::{Cluster, ClusterError};
use modelctl::manifest_diff::Change;
use modelctl::object::ObjectKey;
use serde_json::{Value, json};

use crate::kube_double::fixtures;
use crate::real_bed::Scratch;

/// Fixture request bodies moved into the scratch namespace.
fn objects(s: &Scratch, stems: &[&str]) -> Vec<Value> {
    stems
        .iter()
        .map(|stem| {
            let mut object = fixtures::request_body(stem);
            object["metadata"]["namespace"] = json!(s.ns());
            object
        })
        .collect()
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

const CORE: &[&str] = &[
    "03-ssa-create-configmap",
    "03-ssa-create-service",
    "03-ssa-create-deployment",
    "03-ssa-create-hpa",
    "03-ssa-create-pdb",
    "03-ssa-create-job",
];

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn apply_then_diff_is_empty() {
    let Some(s) = Scratch::new("lib-idempotent").await else {
        return;
    };
    let objects = objects(&s, CORE);
    let first = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        first.objects.iter().all(|o| o.change == Change::Added),
        "{first:#?}"
    );
    apply(&s.cluster, &s.target, &objects, &options(), &|_| {})
        .await
        .unwrap();
    let second = apply(&s.cluster, &s.target, &objects, &options(), &|_| {})
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
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn change_shows_a_diff_and_secrets_stay_masked() {
    let Some(s) = Scratch::new("lib-change").await else {
        return;
    };
    let mut objects = objects(&s, &["03-ssa-create-deployment", "13-secret-ssa-create"]);
    apply(&s.cluster, &s.target, &objects, &options(), &|_| {})
        .await
        .unwrap();
    objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("registry.example.com/ml/model-server:0.2.0");
    objects[1]["data"]["AWS_SECRET_ACCESS_KEY"] = json!("cm90YXRlZA==");
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    assert_eq!(report.objects[0].change, Change::Changed, "{report:#?}");
    assert!(
        report.objects[0]
            .diff
            .contains("+        image: registry.example.com/ml/model-server:0.2.0"),
        "{}",
        report.objects[0].diff
    );
    assert!(report.objects[1].diff.contains("*** (after)"));
    assert!(!report.objects[1].diff.contains("cm90YXRlZA=="));
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn conflict_names_the_other_manager_and_force_takes_over() {
    let Some(s) = Scratch::new("lib-conflict").await else {
        return;
    };
    let ours = objects(&s, &["03-ssa-create-deployment"]);
    apply(&s.cluster, &s.target, &ours, &options(), &|_| {})
        .await
        .unwrap();
    let hotfix = fixtures::request_body("05-conflict-deployment-1-other-team-apply");
    s.apply_as("other-team", hotfix, true).await;

    let ours = objects(&s, &["05-conflict-deployment-2-modelctl-409"]);
    let report = diff(&s.cluster, &s.target, &ours, &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        report.errors.is_empty()
            && report.objects[0].drift.len() == 1
            && report.objects[0].drift[0].manager == "other-team"
            && report.objects[0].drift[0].field.ends_with(".image"),
        "{report:#?}"
    );
    let err = apply(&s.cluster, &s.target, &ours, &options(), &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause(), ClusterError::Conflict { conflicts, .. }
            if conflicts.iter().all(|c| c.manager == "other-team")
                && conflicts.iter().any(|c| c.field.contains("image"))),
        "{err:?}"
    );
    let forced = ApplyOptions {
        force_conflicts: true,
        ..options()
    };
    apply(&s.cluster, &s.target, &ours, &forced, &|_| {})
        .await
        .unwrap();
    let report = diff(&s.cluster, &s.target, &ours, &DiffOptions::default())
        .await
        .unwrap();
    assert!(!report.has_changes() && !report.has_errors(), "{report:#?}");
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn invalid_object_names_the_field() {
    let Some(s) = Scratch::new("lib-invalid").await else {
        return;
    };
    let objects = objects(&s, &["06-invalid-deployment-replicas"]);
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
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn httproute_is_applied_or_reported_as_not_served() {
    let Some(s) = Scratch::new("lib-crd").await else {
        return;
    };
    let objects = objects(&s, &["03-ssa-create-httproute"]);
    let report = diff(&s.cluster, &s.target, &objects, &DiffOptions::default())
        .await
        .unwrap();
    let served = s
        .cluster
        .resource("gateway.networking.k8s.io/v1", "HTTPRoute")
        .await
        .is_ok();
    if served {
        assert_eq!(report.objects[0].change, Change::Added, "{report:#?}");
    } else {
        assert!(
            report.errors[0].error.starts_with("HTTPRoute "),
            "{report:#?}"
        );
    }
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn prune_keeps_objects_without_our_label() {
    let Some(s) = Scratch::new("lib-prune").await else {
        return;
    };
    let mut objects = objects(&s, &["03-ssa-create-service", "03-ssa-create-configmap"]);
    apply(&s.cluster, &s.target, &objects, &options(), &|_| {})
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
        ..options()
    };
    let outcome = apply(&s.cluster, &s.target, &remaining, &prune, &|_| {})
        .await
        .unwrap();
    assert!(outcome.pruned.is_empty(), "{:?}", outcome.pruned);
    assert!(
        api.get_opt(&key.name).await.unwrap().is_some(),
        "an object without our label was pruned"
    );
    s.finish().await;
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn wait_timeout_names_the_deployment() {
    let Some(s) = Scratch::new("lib-wait").await else {
        return;
    };
    let objects = objects(&s, &["03-ssa-create-deployment"]);
    apply(&s.cluster, &s.target, &objects, &options(), &|_| {})
        .await
        .unwrap();
    // Nothing marks the pods ready: the rollout never completes.
    let key = ObjectKey::of(&objects[0]).unwrap();
    let err = wait(&s.cluster, &[key], Duration::from_secs(5), &|_| {})
        .await
        .unwrap_err();
    let expected = format!("Deployment {}/digits", s.ns());
    assert!(
        matches!(err, ClusterError::Timeout { .. }) && err.to_string().contains(&expected),
        "{err}"
    );
    s.finish().await;
}

/// The diff exactness property (see `diff_exactness`) on the real API
/// server, the oracle that counts: `MODELCTL_EXACTNESS_CASES` cases (300 by
/// default) drawn from a seed that changes per run and is printed;
/// `MODELCTL_EXACTNESS_SEED` replays a run. Each case is a fresh set of
/// objects in an environment of its own, with a client of its own (its
/// request counts are read), eight at a time.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn fast_diff_reports_what_dry_running_every_object_reports() {
    use crate::diff_exactness::{self, Outcome, Server};
    use futures::StreamExt as _;
    let Some(s) = Scratch::new("lib-exact").await else {
        return;
    };
    let seed = match std::env::var("MODELCTL_EXACTNESS_SEED") {
        Ok(seed) => seed.parse().expect("MODELCTL_EXACTNESS_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1),
    };
    let count: usize = std::env::var("MODELCTL_EXACTNESS_CASES").map_or(300, |n| {
        n.parse().expect("MODELCTL_EXACTNESS_CASES is a number")
    });
    let _ = writeln!(
        std::io::stderr(),
        "diff exactness: {count} cases from seed {seed} (replay: MODELCTL_EXACTNESS_SEED={seed})"
    );
    let context = std::env::var("MODELCTL_TEST_CONTEXT").ok();
    let started = std::time::Instant::now();
    let cases = diff_exactness::drawn(seed, count);
    let namespace = s.ns().to_owned();
    let results: Vec<(usize, Result<Outcome, String>)> =
        futures::stream::iter(cases.iter().enumerate())
            .map(|(n, case)| {
                let (namespace, context) = (namespace.clone(), context.clone());
                async move {
                    let cluster = match Cluster::connect(context.as_deref()).await {
                        Ok(cluster) => cluster,
                        Err(e) => return (n, Err(format!("connecting: {e}"))),
                    };
                    let outcome = diff_exactness::check(
                        &cluster,
                        &namespace,
                        &format!("case{n}"),
                        &format!("-c{n}"),
                        case,
                        Server::Real,
                    )
                    .await;
                    (n, outcome)
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let mut total = Outcome::default();
    let mut changed = 0;
    let mut failures = Vec::new();
    for (n, result) in results {
        match result {
            Ok(outcome) => {
                changed += usize::from(outcome.changes > 0);
                total += outcome;
            }
            Err(e) => failures.push(format!("case {n}: {:?}\n{e}", cases[n])),
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "diff exactness: {count} cases in {:.1} s, {changed} with changes, {} failed; dry runs: fast {}, exact {}; {} flagged for ownership only",
        started.elapsed().as_secs_f64(),
        failures.len(),
        total.fast_dry_runs,
        total.exact_dry_runs,
        total.ownership_only
    );
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed (seed {seed}; replay with MODELCTL_EXACTNESS_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        changed > count / 4 && changed < count,
        "{changed} of {count} cases changed"
    );
    assert!(total.fast_dry_runs < total.exact_dry_runs, "{total:?}");
    s.finish().await;
}

/// Every ScaledObject, PodMonitor and GRPCRoute that the example repository
/// and the `load-autoscaling` render fixture render is accepted by the API
/// server's own validation of the installed CRDs (a strict server-side apply
/// dry run in the scratch namespace), and comes back with the spec as sent:
/// no field the CRD would default is left out.
#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn rendered_custom_resources_pass_strict_server_validation() {
    let Some(s) = Scratch::new("lib-custom-kinds").await else {
        return;
    };
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for dir in [
        root.clone(),
        root.join("tests/fixtures/render/load-autoscaling"),
    ] {
        let repo = modelctl_spec::load_repo(&dir).unwrap_or_else(|e| panic!("{e}"));
        for env in repo.config.env_names() {
            let env = repo.environment(env).expect("environment exists");
            for m in modelctl::compile::render_env(&env) {
                if !["ScaledObject", "PodMonitor", "GRPCRoute"].contains(&m.kind()) {
                    continue;
                }
                let mut object = m.object.clone();
                object["metadata"]["namespace"] = json!(s.ns());
                let api_version = object["apiVersion"].as_str().unwrap().to_owned();
                let api = s.api(&api_version, m.kind()).await;
                let params = PatchParams::apply("modelctl").dry_run().validation_strict();
                let stored = api
                    .patch(m.name(), &params, &Patch::Apply(&object))
                    .await
                    .unwrap_or_else(|e| panic!("{}: {e}", m.file.display()));
                let stored = serde_json::to_value(stored).unwrap();
                assert_eq!(stored["spec"], object["spec"], "{}", m.file.display());
                *checked.entry(m.kind().to_owned()).or_default() += 1;
            }
        }
    }
    assert_eq!(checked.len(), 3, "{checked:?}");
    s.finish().await;
}
