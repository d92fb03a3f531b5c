//! The custom-resource routes against what a real API server (kube-apiserver
//! 1.36 with the Gateway API and OpenShift Route CRDs) accepted and returned,
//! recorded under `tests/fixtures/kube/`: the generated spec equals the
//! server's defaulted spec, so the CRD schema accepts it and a server-side
//! apply of it shows no drift.

use std::path::PathBuf;

use modelctl::compile::render_env;
use modelctl_spec::{Source, load_sources};
use serde_json::Value;

/// The `response.body.spec` of a recorded exchange.
fn recorded_spec(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kube")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let exchange: Value = serde_json::from_str(&text).unwrap();
    exchange["response"]["body"]["spec"].clone()
}

/// The object of `kind` rendered for a `digits` model routed at
/// `digits.ml.example.com/` with routes configured by `route`.
fn rendered_spec(route: &str, kind: &str) -> Value {
    let config = Source {
        path: "modelctl.toml".into(),
        text: format!(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"registry.example.com/ml/model-server:0.1.0\"\n\
             route = {route}\n\
             [environments.production]\n"
        ),
    };
    let model = Source {
        path: "models/digits.toml".into(),
        text: "[serve]\nmodel = \"s3://ml-models/digits/model.onnx\"\n\
               route = { host = \"digits.ml.example.com\", path = \"/\" }\n"
            .to_owned(),
    };
    let repo = load_sources(&config, &[model]).unwrap_or_else(|e| panic!("{e}"));
    let manifests = render_env(&repo.environment("production").unwrap());
    let m = manifests
        .iter()
        .find(|m| m.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"));
    assert_eq!(m.object["metadata"]["name"], "digits");
    assert_eq!(m.object["metadata"]["namespace"], "ml");
    m.object["spec"].clone()
}

#[test]
fn the_httproute_is_what_the_gateway_api_crd_returns() {
    assert_eq!(
        rendered_spec(
            r#"{ kind = "gateway", gateway = "ml-gateway", gateway-namespace = "gateway-system" }"#,
            "HTTPRoute"
        ),
        recorded_spec("02-ssa-dryrun-create-httproute.json")
    );
}

#[test]
fn the_openshift_route_is_what_the_route_crd_returns() {
    assert_eq!(
        rendered_spec(r#"{ kind = "openshift" }"#, "Route"),
        recorded_spec("02-ssa-dryrun-create-route.json")
    );
}
