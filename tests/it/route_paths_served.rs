//! A request sent to a model's route reaches `model-server` and is answered,
//! for every route kind. For each kind, the rendered route object says
//! which paths it matches and what path the backend receives (by that kind's
//! documented semantics), the rendered Service and Deployment say which
//! server gets it and with which arguments, and a real server started with
//! those arguments answers a real inference request at that path.
//!
//! - Gateway API HTTPRoute, `PathPrefix` match, no filter: matches whole
//!   path segments, forwards the path unchanged.
//! - OpenShift Route `path`: the router matches the path as a string prefix
//!   and forwards it unchanged (no `rewrite-target` annotation).
//! - Ingress, `pathType: Prefix`, no rewrite annotation: matches whole path
//!   segments, forwards the path unchanged.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use model_server::config::Config;
use model_server::server::Server;
use modelctl::compile::{Manifest, render_env};
use modelctl_spec::{Source, load_sources};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MODEL: &str = "ads-bidding";
const HOST: &str = "ads.ml.example.com";
const INFER: &str = "/bidding/v2/models/ads-bidding/infer";
/// Shares the spelling of the prefix but not its first segment.
const LOOKALIKE: &str = "/biddingx/v2/models/ads-bidding/infer";

/// Renders `ads-bidding`, with route path `route_path` and a canary, under
/// the route configuration `route` (a TOML inline table).
fn render(route: &str, route_path: &str) -> Vec<Manifest> {
    let config = Source {
        path: "modelctl.toml".into(),
        text: format!(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"registry.example.com/ml/model-server:0.1.0\"\n\
             route = {route}\n[environments.lab]\n"
        ),
    };
    let model = Source {
        path: format!("models/{MODEL}.toml").into(),
        text: format!(
            "[serve]\nmodel = \"gs://ml-models-ads/bidding/2026-11-23/model.onnx\"\nreplicas = 2\n\
             warmup = 2\nroute = {{ host = \"{HOST}\", path = \"{route_path}\" }}\n\
             [serve.canary]\nmodel = \"gs://ml-models-ads/bidding/2026-11-30/model.onnx\"\nweight = 10\n"
        ),
    };
    let repo = load_sources(&config, &[model]).unwrap_or_else(|e| panic!("{e}"));
    render_env(&repo.environment("lab").expect("environment lab exists"))
}

/// Whether `prefix` matches `path` element-wise, as Gateway API
/// `PathPrefix` and Ingress `Prefix` do (`/a` matches `/a` and `/a/b`, not
/// `/ab`; a trailing `/` on the prefix is ignored).
fn segment_prefix(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The Services a request for `path` on `HOST` goes to, with the path each
/// receives, by the semantics of the route object's kind.
fn routed(route: &Manifest, path: &str) -> Vec<(String, String)> {
    let spec = &route.object["spec"];
    let annotations = route.object["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    match route.kind() {
        "HTTPRoute" => {
            assert!(
                spec["hostnames"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|h| h == HOST))
            );
            let mut out = Vec::new();
            for rule in spec["rules"].as_array().expect("rules") {
                // A filter (URLRewrite, RequestRedirect, ...) would change
                // what the backend sees; without one the path is unchanged.
                assert!(rule.get("filters").is_none(), "{rule}");
                let matched = rule["matches"]
                    .as_array()
                    .expect("matches")
                    .iter()
                    .any(|m| {
                        let value = m["path"]["value"].as_str().expect("path value");
                        match m["path"]["type"].as_str().expect("path type") {
                            "PathPrefix" => segment_prefix(value, path),
                            "Exact" => value == path,
                            other => panic!("unexpected path match type {other}"),
                        }
                    });
                if matched {
                    for backend in rule["backendRefs"].as_array().expect("backendRefs") {
                        assert!(backend.get("filters").is_none(), "{backend}");
                        out.push((service_name(backend), path.to_owned()));
                    }
                }
            }
            out
        }
        "Route" => {
            assert_eq!(spec["host"], HOST);
            assert!(
                !annotations.contains_key("haproxy.router.openshift.io/rewrite-target"),
                "a rewrite would change the path"
            );
            let prefix = spec["path"].as_str().unwrap_or("/");
            if !path.starts_with(prefix) {
                return Vec::new();
            }
            let mut out = vec![(service_name(&spec["to"]), path.to_owned())];
            for backend in spec["alternateBackends"].as_array().into_iter().flatten() {
                out.push((service_name(backend), path.to_owned()));
            }
            out
        }
        "Ingress" => {
            assert!(
                !annotations
                    .keys()
                    .any(|k| k.ends_with("/rewrite-target") || k.ends_with("/use-regex")),
                "a rewrite would change the path: {annotations:?}"
            );
            let mut out = Vec::new();
            for rule in spec["rules"].as_array().expect("rules") {
                assert_eq!(rule["host"], HOST);
                for p in rule["http"]["paths"].as_array().expect("paths") {
                    let value = p["path"].as_str().expect("path");
                    let matched = match p["pathType"].as_str().expect("pathType") {
                        "Prefix" => segment_prefix(value, path),
                        "Exact" => value == path,
                        other => panic!("unexpected pathType {other}"),
                    };
                    if matched {
                        out.push((
                            p["backend"]["service"]["name"]
                                .as_str()
                                .expect("service name")
                                .to_owned(),
                            path.to_owned(),
                        ));
                    }
                }
            }
            out
        }
        other => panic!("{other} is not a route kind"),
    }
}

fn service_name(backend: &Value) -> String {
    assert_eq!(backend["kind"], "Service", "{backend}");
    backend["name"].as_str().expect("backend name").to_owned()
}

/// The Deployment whose pods the Service named `service` selects.
fn deployment_behind<'a>(ms: &'a [Manifest], service: &str) -> &'a Manifest {
    let service = ms
        .iter()
        .find(|m| m.kind() == "Service" && m.name() == service)
        .unwrap_or_else(|| panic!("no Service {service}"));
    let selector = service.object["spec"]["selector"]
        .as_object()
        .expect("selector");
    let mut found = ms.iter().filter(|m| {
        m.kind() == "Deployment" && {
            let labels = &m.object["spec"]["template"]["metadata"]["labels"];
            selector.iter().all(|(k, v)| &labels[k] == v)
        }
    });
    let deployment = found.next().expect("a Deployment behind the Service");
    assert!(found.next().is_none(), "one Deployment per Service");
    deployment
}

/// The `server` container of a Deployment.
fn server_container(deployment: &Manifest) -> &Value {
    deployment.object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "server"))
        .expect("a `server` container")
}

/// The rendered args, with what only a cluster has replaced: the model
/// (the committed test model), the port (a free one on 127.0.0.1), no gRPC
/// port and the cache directory. tract runs it, so no ONNX Runtime library is needed.
fn local_args(deployment: &Manifest, cache: &std::path::Path) -> Vec<String> {
    let model =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/digits-mlp.onnx");
    let mut args: Vec<String> = server_container(deployment)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_owned())
        .map(|a| {
            if a.starts_with("--model-uri=") {
                format!("--model-uri={}", model.display())
            } else if a.starts_with("--port=") {
                "--port=0".to_owned()
            } else if a.starts_with("--grpc-port=") {
                "--grpc-port=0".to_owned()
            } else if a.starts_with("--cache-dir=") {
                format!("--cache-dir={}", cache.display())
            } else {
                a
            }
        })
        .collect();
    if !args.iter().any(|a| a.starts_with("--grpc-port=")) {
        args.push("--grpc-port=0".to_owned());
    }
    args.extend(["--host=127.0.0.1", "--backend=tract", "--drain=0s"].map(String::from));
    args
}

/// A minimal HTTP/1.1 exchange: status and body.
async fn http(
    address: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.expect("connects");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("reads");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// A digit from the held-out set and its label.
fn digit() -> (Vec<f64>, i64) {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/digits-test.json"),
    )
    .expect("digits-test.json");
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let row = value["inputs"][0]
        .as_array()
        .expect("a row")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect();
    (row, value["labels"][0].as_i64().expect("label"))
}

/// Starts a server with `args`; waits until the Deployment's readiness
/// probe path answers 200.
async fn start(args: &[String], probe: &str) -> std::net::SocketAddr {
    let config = Config::try_parse_from(
        std::iter::once("model-server".to_owned()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| panic!("model-server rejects {args:?}: {e}"))
    .with_resolved_threads();
    let server = Server::bind(config).await.expect("binds");
    let address = server.local_addr();
    tokio::spawn(server.serve(std::future::pending()));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if http(address, "GET", probe, "").await.0 == 200 {
            return address;
        }
        assert!(Instant::now() < deadline, "{probe} never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Renders under `route`, follows an inference request for `INFER` through
/// the route, Service and Deployment to a started server, and checks the
/// answer; a look-alike path is either not routed or answered 404.
async fn check_route_kind(route: &str, kind: &str, route_path: &str) {
    let ms = render(route, route_path);
    let routes: Vec<&Manifest> = ms.iter().filter(|m| m.kind() == kind).collect();
    assert!(!routes.is_empty(), "no {kind} rendered");
    let targets: Vec<(String, String)> = routes.iter().flat_map(|r| routed(r, INFER)).collect();
    let services: Vec<&str> = targets.iter().map(|(s, _)| s.as_str()).collect();
    assert!(
        services.contains(&MODEL) && services.contains(&"ads-bidding-canary"),
        "{kind} routes {INFER} to {services:?}, not to both tracks"
    );
    let (pixels, label) = digit();
    let body = json!({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": pixels}]})
        .to_string();
    for (service, path) in targets {
        let deployment = deployment_behind(&ms, &service);
        let container = server_container(deployment);
        let probe = container["readinessProbe"]["httpGet"]["path"]
            .as_str()
            .expect("readiness probe path");
        let cache = tempfile::tempdir().expect("cache dir");
        let args = local_args(deployment, cache.path());
        let address = start(&args, probe).await;
        let context = format!("{kind} -> Service {service} -> {path} with {args:?}");
        let (status, answer) = http(address, "POST", &path, &body).await;
        assert_eq!(status, 200, "{context}: {answer}");
        let answer: Value = serde_json::from_str(&answer).expect("JSON answer");
        let outputs = answer["outputs"].as_array().expect("outputs");
        let predicted = outputs
            .iter()
            .find(|o| o["name"] == "label")
            .expect("label");
        assert_eq!(predicted["data"], json!([label]), "{context}");
        // A path that merely shares the prefix's spelling is either not
        // routed at all or, where the router matches strings, a 404.
        for (lookalike_service, lookalike) in routes.iter().flat_map(|r| routed(r, LOOKALIKE)) {
            assert_eq!(lookalike, LOOKALIKE);
            if lookalike_service == service {
                let (status, answer) = http(address, "POST", &lookalike, &body).await;
                assert_eq!(status, 404, "{context}: {LOOKALIKE} answered {answer}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_path_prefix_reaches_the_server() {
    check_route_kind(
        "{ kind = \"gateway\", gateway = \"ml-gateway\" }",
        "HTTPRoute",
        "/bidding",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openshift_route_path_reaches_the_server() {
    check_route_kind("{ kind = \"openshift\" }", "Route", "/bidding").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_prefix_path_reaches_the_server() {
    check_route_kind(
        "{ kind = \"ingress\", ingress-class = \"nginx\" }",
        "Ingress",
        "/bidding",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_path_with_a_trailing_slash_reaches_the_server() {
    check_route_kind(
        "{ kind = \"gateway\", gateway = \"ml-gateway\" }",
        "HTTPRoute",
        "/bidding/",
    )
    .await;
}

#[test]
fn a_root_route_renders_no_prefix() {
    let ms = render("{ kind = \"gateway\", gateway = \"ml-gateway\" }", "/");
    for m in ms.iter().filter(|m| m.kind() == "Deployment") {
        let args = server_container(m)["args"].to_string();
        assert!(!args.contains("--path-prefix"), "{}: {args}", m.name());
    }
}

#[test]
fn element_wise_prefix_matching() {
    assert!(segment_prefix("/bidding", "/bidding/v2"));
    assert!(segment_prefix("/bidding/", "/bidding/v2"));
    assert!(segment_prefix("/bidding", "/bidding"));
    assert!(!segment_prefix("/bidding", "/biddingx/v2"));
    assert!(segment_prefix("/", "/anything"));
}
