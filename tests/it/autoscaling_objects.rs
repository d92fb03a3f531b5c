//! The objects of autoscaling on load, scraping and gRPC routing:
//! every rendered ScaledObject, PodMonitor and GRPCRoute of every test
//! repository (the example repo included) validates against the published
//! CRD of its kind (`tests/fixtures/crds/`, unknown fields rejected); the
//! gauges the autoscalers read are ones `model-server` exports; and each
//! autoscaler scales its own Deployment on that Deployment's pods.

use crate::render_support;

use std::collections::BTreeMap;

use model_server::metrics::Metrics;
use modelctl::compile::{INFLIGHT_METRIC, QUEUE_METRIC};
use render_support::crds::{crd_validators, errors};
use render_support::{all_repos, manifests};
use serde_json::{Value, json};

const KINDS: [&str; 3] = ["ScaledObject", "PodMonitor", "GRPCRoute"];

/// Every rendered object of the three kinds, as `(repo/env/file, object)`.
fn rendered() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (repo_name, repo) in all_repos() {
        for (env, m) in manifests(&repo) {
            if KINDS.contains(&m.kind()) {
                out.push((
                    format!("{repo_name}/{env}/{}", m.file.display()),
                    m.object.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn every_rendered_object_validates_against_its_published_crd() {
    let validators = crd_validators();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (at, object) in rendered() {
        let found = errors(&validators, &object);
        assert!(found.is_empty(), "{at}:\n{}", found.join("\n"));
        *seen
            .entry(object["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for kind in KINDS {
        assert!(
            seen.get(kind).is_some_and(|n| *n > 0),
            "no {kind} rendered by any test repository: {seen:?}"
        );
    }
}

#[test]
fn the_crd_check_rejects_unknown_and_mistyped_fields() {
    let validators = crd_validators();
    let objects = rendered();
    for kind in KINDS {
        let (at, object) = objects
            .iter()
            .find(|(_, o)| o["kind"] == kind)
            .unwrap_or_else(|| panic!("a rendered {kind}"));
        let mut unknown = object.clone();
        unknown["spec"]["replicaz"] = json!(3);
        assert!(!errors(&validators, &unknown).is_empty(), "{at}");
        let mut mistyped = object.clone();
        mistyped["spec"]["hostnames"] = json!(5);
        mistyped["spec"]["triggers"] = json!("cpu");
        mistyped["spec"]["podMetricsEndpoints"] = json!({});
        assert!(!errors(&validators, &mistyped).is_empty(), "{at}");
    }
}

#[test]
fn the_gauges_autoscalers_read_are_exported_by_model_server() {
    let text = Metrics::new().encode();
    for name in [INFLIGHT_METRIC, QUEUE_METRIC] {
        assert!(
            text.lines().any(|l| l == format!("# TYPE {name} gauge")),
            "model-server exports no gauge {name}:\n{text}"
        );
    }
}

/// The Deployment an autoscaler scales, and the pod pattern its queries
/// (KEDA) select, must be its own: the canary's autoscaler follows the
/// canary's pods only.
#[test]
fn each_autoscaler_scales_its_own_deployment_on_its_own_pods() {
    let mut scaled_objects = 0;
    for (at, object) in rendered() {
        if object["kind"] != "ScaledObject" {
            continue;
        }
        scaled_objects += 1;
        let name = object["metadata"]["name"].as_str().unwrap();
        let namespace = object["metadata"]["namespace"].as_str().unwrap();
        assert_eq!(object["spec"]["scaleTargetRef"]["name"], name, "{at}");
        assert_eq!(
            object["spec"]["scaleTargetRef"]["kind"], "Deployment",
            "{at}"
        );
        let triggers = object["spec"]["triggers"].as_array().unwrap();
        let prometheus: Vec<&Value> = triggers
            .iter()
            .filter(|t| t["type"] == "prometheus")
            .collect();
        assert!(!prometheus.is_empty(), "{at}: no prometheus trigger");
        for t in prometheus {
            assert_eq!(t["metricType"], "AverageValue", "{at}");
            let query = t["metadata"]["query"].as_str().unwrap();
            let selector =
                format!("{{namespace=\"{namespace}\",pod=~\"{name}-[a-z0-9]+-[a-z0-9]+\"}})");
            assert!(
                query.starts_with("sum(model_server_") && query.ends_with(&selector),
                "{at}: {query}"
            );
            let threshold: f64 = t["metadata"]["threshold"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(threshold >= 1.0, "{at}");
            assert!(
                t["metadata"]["serverAddress"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("http")),
                "{at}"
            );
        }
        assert!(
            object["spec"]["minReplicaCount"].as_i64()
                <= object["spec"]["maxReplicaCount"].as_i64()
        );
    }
    assert!(
        scaled_objects >= 2,
        "the example repo and the load-autoscaling fixture render ScaledObjects"
    );
}

/// A Deployment scaled by a ScaledObject leaves `replicas` to KEDA's HPA,
/// and no HPA of modelctl's own scales it as well.
#[test]
fn keda_scaled_deployments_have_no_replicas_and_no_second_autoscaler() {
    for (repo_name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, so) in ms.iter().filter(|(_, m)| m.kind() == "ScaledObject") {
            let target = so.object["spec"]["scaleTargetRef"]["name"]
                .as_str()
                .unwrap();
            let deployment = ms
                .iter()
                .find(|(e, m)| e == env && m.kind() == "Deployment" && m.name() == target)
                .unwrap_or_else(|| panic!("{repo_name}/{env}: no Deployment {target}"));
            assert!(
                deployment.1.object["spec"].get("replicas").is_none(),
                "{repo_name}/{env}: {target} has fixed replicas"
            );
            assert!(
                !ms.iter().any(|(e, m)| e == env
                    && m.kind() == "HorizontalPodAutoscaler"
                    && m.object["spec"]["scaleTargetRef"]["name"] == target),
                "{repo_name}/{env}: {target} also has an HPA"
            );
        }
    }
}
