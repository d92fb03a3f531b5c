//! `--path-prefix`: the whole API answers under the prefix as well as at the
//! root, only whole path segments count as the prefix, and a prefix that
//! does not start with `/` stops the server with a clear message. The
//! prefix does not depend on the engine, so tract runs these.

use std::process::Command;

use crate::common::{Server, client, digits, infer_body, model_path};
use serde_json::Value;

const MLP: &str = "digits-mlp.onnx";

async fn status(client: &reqwest::Client, server: &Server, method: &str, path: &str) -> u16 {
    let request = match method {
        "POST" => client
            .post(server.url(path))
            .json(&infer_body(MLP, &digits().inputs[..1])),
        _ => client.get(server.url(path)),
    };
    request.send().await.expect("answered").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_under_the_prefix_and_at_the_root() {
    // A trailing slash is dropped: `/bidding/` serves `/bidding/v2/...`.
    let server = Server::start("tract", &model_path(MLP), &["--path-prefix", "/bidding/"]);
    server.wait_ready().await;
    let client = client();
    for root in ["", "/bidding"] {
        for (method, path) in [
            ("GET", "/v2/health/live"),
            ("GET", "/v2/health/ready"),
            ("GET", "/v2"),
            ("GET", "/v2/models/digits"),
            ("GET", "/v2/models/digits/ready"),
            ("GET", "/v2/models/digits/versions/1"),
            ("POST", "/v2/models/digits/infer"),
            ("POST", "/v2/models/digits/versions/1/infer"),
            ("GET", "/metrics"),
        ] {
            let path = format!("{root}{path}");
            assert_eq!(
                status(&client, &server, method, &path).await,
                200,
                "{method} {path}"
            );
        }
    }
    let predict = client
        .post(server.url("/bidding/v1/models/digits:predict"))
        .json(&serde_json::json!({"instances": [digits().inputs[0]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(predict.status(), 200);
    // The same model answers the same way on both paths.
    let at = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move {
            client
                .post(url)
                .json(&infer_body(MLP, &digits().inputs[..3]))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        at("/v2/models/digits/infer").await["outputs"],
        at("/bidding/v2/models/digits/infer").await["outputs"]
    );
    // Both are counted under the same route label.
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("route=\"/bidding"),
        "the prefix leaks into route labels:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_only_share_the_spelling_are_not_found() {
    let server = Server::start("tract", &model_path(MLP), &["--path-prefix", "/bidding"]);
    server.wait_ready().await;
    let client = client();
    for (method, path) in [
        ("POST", "/biddingx/v2/models/digits/infer"),
        ("GET", "/biddingx/v2/health/ready"),
        ("GET", "/bidding"),
        ("GET", "/bidding/"),
        ("POST", "/other/v2/models/digits/infer"),
        ("POST", "/bidding/bidding/v2/models/digits/infer"),
    ] {
        let response = match method {
            "POST" => client
                .post(server.url(path))
                .json(&infer_body(MLP, &digits().inputs[..1])),
            _ => client.get(server.url(path)),
        }
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let body: Value = response.json().await.expect("a JSON error");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_prefix_serves_at_the_root_only() {
    let server = Server::start("tract", &model_path(MLP), &["--path-prefix", "/"]);
    server.wait_ready().await;
    let client = client();
    assert_eq!(
        status(&client, &server, "POST", "/v2/models/digits/infer").await,
        200
    );
    assert_eq!(
        status(&client, &server, "GET", "//v2/health/ready").await,
        404
    );
}

#[test]
fn a_prefix_without_a_leading_slash_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_model-server"))
        .args(["--model-name", "digits", "--model-uri"])
        .arg(model_path(MLP))
        .args([
            "--backend",
            "tract",
            "--port",
            "0",
            "--path-prefix",
            "bidding",
        ])
        .output()
        .expect("model-server runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("path prefix `bidding` must start with `/` (e.g. `/bidding`)"),
        "{stderr}"
    );
}
