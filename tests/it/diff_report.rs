//! The one diff model and renderer: a change found in the cluster (`diff
//! --env`) and the same change between two renders (`diff --base`) print
//! alike in every format, and the JSON report has the documented fields.

use crate::kube_double;

use std::path::PathBuf;

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::Target;
use modelctl::cluster::diff::{APPLIED, DiffOptions, LIVE, diff};
use modelctl::compile::Manifest;
use modelctl::manifest_diff::{Change, ColorChoice, DiffReport, Format, render};
use serde_json::Value;

fn target() -> Target {
    Target {
        env: "production".into(),
        namespace: "ml".into(),
    }
}

/// The cluster's report of the recorded Deployment image change.
async fn cluster_report() -> DiffReport {
    let double = KubeDouble::start().await;
    double.seed(fixtures::live(&["deployment"]));
    let stem = "04-ssa-dryrun-change-deployment-image";
    double.record(stem);
    diff(
        &double.cluster().await,
        &target(),
        &[fixtures::request_body(stem)],
        &DiffOptions::default(),
    )
    .await
    .expect("diff runs")
}

/// A manifest of model `digits` holding `yaml` (one side of a diff).
fn manifest(yaml: &str) -> Manifest {
    Manifest {
        model: "digits".into(),
        file: PathBuf::from("digits/deployment-digits.yaml"),
        source: PathBuf::from("models/digits.toml"),
        object: serde_yaml::from_str(yaml).expect("the diff shows YAML"),
    }
}

#[tokio::test]
async fn one_change_renders_the_same_from_the_cluster_and_from_two_renders() {
    let cluster = cluster_report().await;
    assert_eq!(cluster.objects.len(), 1, "{cluster:#?}");
    let found = &cluster.objects[0];
    assert_eq!(found.change, Change::Changed);

    // The same two sides, compared as two renders would be.
    let old = manifest(found.before.as_deref().expect("the live side"));
    let new = manifest(found.after.as_deref().expect("the applied side"));
    let mut renders = DiffReport::new(LIVE, APPLIED);
    renders.add_renders("production", &[old], &[new]);

    assert_eq!(renders, cluster);
    for format in [
        Format::Text(ColorChoice::Never),
        Format::Text(ColorChoice::Always),
        Format::Markdown,
        Format::Json,
    ] {
        assert_eq!(
            render(&renders, format),
            render(&cluster, format),
            "{format:?}"
        );
    }
}

#[tokio::test]
async fn shown_yaml_is_what_the_generated_writer_writes() {
    let cluster = cluster_report().await;
    let found = &cluster.objects[0];
    let after: Value = serde_yaml::from_str(found.after.as_deref().unwrap()).unwrap();
    assert_eq!(
        found.after.as_deref(),
        Some(modelctl::compile::to_yaml(&after).as_str())
    );
}

/// The names of an object's fields.
fn fields(value: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn json_report_has_the_documented_fields() {
    let double = KubeDouble::start().await;
    double.seed(fixtures::live(&["deployment"]));
    double.record("04-ssa-dryrun-change-deployment-image");
    double.record("06-invalid-deployment-unknown-field");
    let cluster = double.cluster().await;
    let report = diff(
        &cluster,
        &target(),
        &[
            fixtures::request_body("04-ssa-dryrun-change-deployment-image"),
            fixtures::request_body("06-invalid-deployment-unknown-field"),
        ],
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    let json: Value = serde_json::from_str(&render(&report, Format::Json)).expect("JSON parses");

    assert_eq!(
        fields(&json),
        ["base", "changes", "errors", "head", "summary"]
    );
    assert_eq!(
        (json["base"].as_str(), json["head"].as_str()),
        (Some("live"), Some("applied"))
    );
    assert_eq!(
        fields(&json["summary"]),
        ["added", "changed", "failed", "removed", "unchanged"]
    );
    assert_eq!(json["summary"]["changed"], 1);
    assert_eq!(json["summary"]["failed"], 1);

    let change = &json["changes"][0];
    assert_eq!(
        fields(change),
        [
            "after",
            "apiVersion",
            "before",
            "change",
            "diff",
            "env",
            "kind",
            "model",
            "name",
            "namespace",
            "source"
        ]
    );
    assert_eq!(change["change"], "changed");
    assert_eq!(change["apiVersion"], "apps/v1");
    assert_eq!(change["model"], "digits");
    assert_eq!(change["source"], "models/digits.toml");
    assert!(
        change["diff"]
            .as_str()
            .unwrap()
            .starts_with("--- live\n+++ applied\n")
    );

    let error = &json["errors"][0];
    assert_eq!(fields(error), ["env", "error", "objects"]);
    assert_eq!(error["objects"][0]["kind"], "Deployment");
    assert!(
        error["error"].as_str().unwrap().contains("spec.replica"),
        "{error}"
    );
}
