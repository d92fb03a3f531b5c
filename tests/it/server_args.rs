//! The serving Deployment's container `args` are parsed by model-server's
//! own flag parser (`model_server::config::Config`), so the renderer and the
//! server cannot drift apart: a flag the server does not know, a value it
//! cannot read, or a setting that does not arrive fails here.

use crate::render_support;

use std::time::Duration;

use clap::Parser;

use model_server::config::Config;
use modelctl_spec::model::{ModelSpec, Serve};
use render_support::{all_repos, manifests, spec_of};
use serde_json::Value;

/// Parses `args` as the server's command line.
fn parse(args: &[String]) -> Result<Config, clap::Error> {
    Config::try_parse_from(std::iter::once("model-server".to_owned()).chain(args.iter().cloned()))
}

/// The `args` of the container named `server`.
fn server_args(pod: &Value) -> Vec<String> {
    let server = pod["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "server"))
        .expect("the Deployment has a `server` container");
    server["args"]
        .as_array()
        .expect("the server container has args")
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_owned())
        .collect()
}

/// What the server must end up with for `serve`.
fn check(config: &Config, model: &str, serve: &Serve, context: &str) {
    assert_eq!(config.model_name, model, "{context}");
    let batch = serve.batching.as_ref();
    assert_eq!(
        config.max_batch,
        batch.map_or(1, |b| b.max_batch.get()),
        "{context}"
    );
    if let Some(b) = batch {
        assert_eq!(config.max_delay, b.max_delay.as_std(), "{context}");
    } else {
        assert_eq!(config.max_delay, Duration::from_millis(2), "{context}");
    }
    assert_eq!(config.warmup, serve.warmup.unwrap_or(1), "{context}");
    assert!(!config.model_uri.is_empty(), "{context}");
    // The route forwards its path unchanged; the server answers under it.
    let route_path = serve
        .route
        .as_ref()
        .and_then(|r| r.path.as_ref())
        .map_or("/", |p| p.as_str());
    assert_eq!(
        config.path_prefix.as_str(),
        route_path.strip_suffix('/').unwrap_or(route_path),
        "{context}"
    );
}

#[test]
fn model_server_accepts_every_rendered_deployment() {
    let mut checked = 0;
    for (repo_name, repo) in all_repos() {
        for (env, m) in manifests(&repo) {
            if m.kind() != "Deployment" {
                continue;
            }
            let context = format!("{repo_name}: {env}/{}", m.file.display());
            let args = server_args(&m.object["spec"]["template"]["spec"]);
            let config = parse(&args)
                .unwrap_or_else(|e| panic!("{context}: model-server rejects {args:?}:\n{e}"));
            let spec: &ModelSpec = spec_of(&repo, &env, &m.model);
            let serve = spec
                .serve
                .as_ref()
                .expect("a Deployment comes from [serve]");
            check(&config, &m.model, serve, &context);
            checked += 1;
        }
    }
    // The example models, the render fixtures and the valid fixtures have
    // dozens of serving Deployments between them.
    assert!(checked >= 10, "only {checked} Deployments checked");
}

#[test]
fn a_flag_the_server_does_not_know_is_refused() {
    let args = [
        "--model-name=m".to_owned(),
        "--model-uri=s3://b/m.onnx".to_owned(),
        "--batch-size=8".to_owned(),
    ];
    let err = parse(&args).expect_err("an unknown flag must not parse");
    assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
}
