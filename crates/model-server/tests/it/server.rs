//! The HTTP suite, run against the real binary on 127.0.0.1 once per
//! backend (`ort::*` and `tract::*`): every endpoint, predictions equal to
//! in-process results, 4xx handling, batching without mix-ups, the TF
//! `:predict` route, the precompute cache, int8 models and accuracy.

use std::sync::Arc;

use crate::common::{Server, client, digits, infer_body, model_path};
use model_server::backend::{self, BackendKind, LoadOptions};
use model_server::tensor::{Tensor, TensorData};
use serde_json::{Value, json};

const MLP: &str = "digits-mlp.onnx";

fn kind(backend: &str) -> BackendKind {
    match backend {
        "ort" => BackendKind::Ort,
        _ => BackendKind::Tract,
    }
}

/// Runs `rows` through the model in this process, one row at a time.
fn in_process(backend: &str, model: &str, rows: &[Vec<f32>]) -> Vec<(i64, Vec<f32>)> {
    let loaded = backend::load(
        kind(backend),
        model_path(model).as_ref(),
        &LoadOptions {
            threads: 1,
            ort_dylib: None,
            device: model_server::backend::Device::Cpu,
        },
    )
    .expect("model loads in process");
    let row_shape: Vec<usize> = if model.contains("cnn") {
        vec![1, 1, 8, 8]
    } else {
        vec![1, 64]
    };
    rows.iter()
        .map(|row| {
            let out = loaded
                .run(vec![Tensor::new(
                    "input",
                    row_shape.clone(),
                    TensorData::Fp32(row.clone()),
                )])
                .expect("in-process run");
            let TensorData::Int64(label) = &out[0].data else {
                panic!("label is INT64")
            };
            let TensorData::Fp32(probabilities) = &out[1].data else {
                panic!("probabilities are FP32")
            };
            (label[0], probabilities.clone())
        })
        .collect()
}

/// Splits a V2 response into per-row (label, probabilities).
fn rows_of(response: &Value) -> Vec<(i64, Vec<f32>)> {
    let outputs = response["outputs"].as_array().expect("outputs");
    let find = |name: &str| {
        outputs
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("output {name}"))
    };
    let labels: Vec<i64> = find("label")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let probs: Vec<f32> = find("probabilities")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    labels
        .iter()
        .enumerate()
        .map(|(i, &l)| (l, probs[i * 10..(i + 1) * 10].to_vec()))
        .collect()
}

fn assert_close(got: &[(i64, Vec<f32>)], expected: &[(i64, Vec<f32>)]) {
    assert_eq!(got.len(), expected.len());
    for (row, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.0, e.0, "label of row {row}");
        for (a, b) in g.1.iter().zip(&e.1) {
            assert!((a - b).abs() < 1e-4, "row {row}: probability {a} vs {b}");
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .expect("request is answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request is answered");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("error bodies are JSON"),
    )
}

async fn every_endpoint_answers(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &["--warmup", "2"]);
    server.wait_ready().await;
    let client = client();
    let get = |path: &str| client.get(server.url(path)).send();

    assert_eq!(get("/v2/health/live").await.unwrap().status(), 200);
    assert_eq!(
        get("/v2/health/ready")
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!({"ready": true})
    );
    let meta: Value = get("/v2").await.unwrap().json().await.unwrap();
    assert_eq!(meta["name"], "model-server");
    let model: Value = get("/v2/models/digits")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["name"], "digits");
    assert_eq!(
        model["platform"],
        if backend == "ort" {
            "onnxruntime_onnx"
        } else {
            "tract_onnx"
        }
    );
    assert_eq!(
        model["inputs"],
        json!([{"name": "input", "datatype": "FP32", "shape": [-1, 64]}])
    );
    assert_eq!(
        model["outputs"],
        json!([
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}
        ])
    );
    let ready: Value = get("/v2/models/digits/ready")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"name": "digits", "ready": true}));
    let versioned: Value = get("/v2/models/digits/versions/1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versioned, model);
    let other_version = get("/v2/models/digits/versions/2").await.unwrap();
    assert_eq!(other_version.status(), 404);
    let (status, response) = post(
        &client,
        &server.url("/v2/models/digits/versions/1/infer"),
        &infer_body(MLP, &digits().inputs[..1]),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["model_version"], "1");
    // A percent-encoded name is left to the router, which decodes it: the
    // same answer as the plain name, served by the other path.
    let (status, encoded) = post(
        &client,
        &server.url("/v2/models/dig%69ts/versions/1/infer"),
        &infer_body(MLP, &digits().inputs[..1]),
    )
    .await;
    assert_eq!(status, 200, "{encoded}");
    assert_eq!(encoded, response);

    let rows = &digits().inputs[..3];
    let mut body = infer_body(MLP, rows);
    body["id"] = json!("req-42");
    body["outputs"] = json!([{"name": "label"}]);
    let (status, response) = post(&client, &server.url("/v2/models/digits/infer"), &body).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["id"], "req-42");
    assert_eq!(response["model_name"], "digits");
    let outputs = response["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "the outputs filter keeps only `label`");
    assert_eq!(outputs[0]["shape"], json!([3]));
    assert_eq!(outputs[0]["datatype"], "INT64");

    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for family in [
        "model_server_requests_total{protocol=\"http\",route=\"/v2/models/{model}/infer\",status=\"200\"} 1",
        "model_server_request_duration_seconds_bucket",
        "model_server_batch_size_count",
        "model_server_queue_depth",
        "model_server_model_load_seconds",
        "model_server_model_warmup_seconds",
    ] {
        assert!(
            metrics.contains(family),
            "metrics lack {family}:\n{metrics}"
        );
    }
}

async fn predictions_equal_in_process_results(backend: &str, model: &str) {
    let server = Server::start(backend, &model_path(model), &[]);
    let rows = &digits().inputs[..16];
    let expected = in_process(backend, model, rows);
    server.wait_ready().await;
    let client = client();
    let (status, response) = post(
        &client,
        &server.url("/v2/models/digits/infer"),
        &infer_body(model, rows),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    assert_close(&rows_of(&response), &expected);
}

async fn held_out_accuracy_is_at_least_95_percent(backend: &str, model: &str) {
    let server = Server::start(backend, &model_path(model), &[]);
    server.wait_ready().await;
    let digits = digits();
    let client = client();
    let (status, response) = post(
        &client,
        &server.url("/v2/models/digits/infer"),
        &infer_body(model, &digits.inputs),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    let predicted = rows_of(&response);
    let correct = predicted
        .iter()
        .zip(&digits.labels)
        .filter(|((label, _), truth)| label == *truth)
        .count();
    let accuracy = correct as f64 / digits.labels.len() as f64;
    assert!(
        accuracy >= 0.95,
        "{model} on {backend}: accuracy {accuracy}"
    );
}

/// A row whose first element is the string "NaN" (JSON has no NaN).
fn nan_string_row() -> Value {
    let mut row = vec![json!("NaN")];
    row.extend((0..63).map(|_| json!(0.0)));
    Value::Array(row)
}

async fn bad_requests_get_json_4xx_and_serving_continues(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &["--max-body", "64KiB"]);
    server.wait_ready().await;
    let client = client();
    let infer = server.url("/v2/models/digits/infer");
    let row = digits().inputs[0].clone();
    let input = |shape: Value, datatype: &str, data: Value| json!({"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]});
    let cases: Vec<(&str, u16, Option<Value>, &str)> = vec![
        (
            "wrong shape",
            400,
            Some(input(json!([1, 63]), "FP32", json!(row[..63]))),
            "expects [-1, 64]",
        ),
        (
            "wrong datatype",
            400,
            Some(input(json!([1, 64]), "INT64", json!(vec![0; 64]))),
            "is INT64",
        ),
        (
            "unknown datatype",
            400,
            Some(input(json!([1, 64]), "FP128", json!(vec![0; 64]))),
            "unsupported datatype",
        ),
        (
            "string element",
            400,
            Some(input(json!([1, 64]), "FP32", nan_string_row())),
            "element 0",
        ),
        (
            "element count",
            400,
            Some(input(json!([2, 64]), "FP32", json!(row))),
            "needs 128",
        ),
        (
            "empty batch",
            400,
            Some(input(json!([0, 64]), "FP32", json!([]))),
            "empty batch",
        ),
        (
            "unknown input",
            400,
            Some(json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})),
            "unknown input `x`",
        ),
        (
            "no inputs field",
            400,
            Some(json!({"id": "x"})),
            "invalid JSON body",
        ),
    ];
    for (what, status, body, needle) in cases {
        let (got, response) = post(&client, &infer, body.as_ref().unwrap()).await;
        assert_eq!(got, status, "{what}: {response}");
        let message = response["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error field in {response}"));
        assert!(
            message.contains(needle),
            "{what}: `{message}` lacks `{needle}`"
        );
    }

    let (status, response) = post_raw(&client, &infer, "{\"inputs\": [").await;
    assert_eq!(status, 400, "truncated JSON: {response}");
    assert!(response["error"].as_str().unwrap().contains("invalid JSON"));
    let nan =
        r#"{"inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP32", "data": [NaN]}]}"#;
    let (status, response) = post_raw(&client, &infer, nan).await;
    assert_eq!(status, 400, "NaN literal: {response}");

    let huge = format!(
        "{{\"inputs\": [{{\"name\": \"input\", \"data\": [{}0]}}]}}",
        "0,".repeat(64 * 1024)
    );
    let (status, response) = post_raw(&client, &infer, huge).await;
    assert_eq!(status, 413, "{response}");
    assert!(response["error"].as_str().unwrap().contains("--max-body"));

    let (status, response) = post(
        &client,
        &server.url("/v2/models/nope/infer"),
        &infer_body(MLP, std::slice::from_ref(&row)),
    )
    .await;
    assert_eq!(status, 404, "{response}");
    assert_eq!(response["error"], "unknown model `nope`");
    let missing = client
        .get(server.url("/v2/models/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let (status, response) = post(&client, &infer, &infer_body(MLP, &[row])).await;
    assert_eq!(
        status, 200,
        "the server keeps serving after bad requests: {response}"
    );
}

/// `threads`: "1" runs batches inline on the one runtime thread, more runs
/// them on blocking threads beside the HTTP workers.
async fn concurrent_requests_get_their_own_rows(backend: &str, threads: &str) {
    let server = Server::start(
        backend,
        &model_path(MLP),
        &[
            "--max-batch",
            "32",
            "--max-delay",
            "5ms",
            "--threads",
            threads,
        ],
    );
    let digits = digits();
    let rows: Vec<Vec<f32>> = digits.inputs[..96].to_vec();
    let expected = in_process(backend, MLP, &rows);
    server.wait_ready().await;
    let client = client();
    let url = Arc::new(server.url("/v2/models/digits/infer"));
    let tasks: Vec<_> = rows
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, row)| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move { (i, post(&client, &url, &infer_body(MLP, &[row])).await) })
        })
        .collect();
    for task in tasks {
        let (i, (status, response)) = task.await.unwrap();
        assert_eq!(status, 200, "{response}");
        assert_close(&rows_of(&response), &expected[i..=i]);
    }
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batches: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("model_server_batch_size_count "))
        .and_then(|v| v.trim().parse().ok())
        .expect("batch size count");
    assert!(batches <= 96.0, "{metrics}");
}

async fn tf_predict_matches_v2(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &[]);
    server.wait_ready().await;
    let client = client();
    let rows = &digits().inputs[..4];
    let (status, v2) = post(
        &client,
        &server.url("/v2/models/digits/infer"),
        &infer_body(MLP, rows),
    )
    .await;
    assert_eq!(status, 200);
    let (status, tf) = post(
        &client,
        &server.url("/v1/models/digits:predict"),
        &json!({"instances": rows}),
    )
    .await;
    assert_eq!(status, 200, "{tf}");
    let predictions = tf["predictions"].as_array().expect("predictions");
    let tf_rows: Vec<(i64, Vec<f32>)> = predictions
        .iter()
        .map(|p| {
            let probs = p["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            (p["label"].as_i64().unwrap(), probs)
        })
        .collect();
    assert_close(&tf_rows, &rows_of(&v2));
    let (status, error) = post(
        &client,
        &server.url("/v1/models/digits:predict"),
        &json!({"instances": []}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let (status, _) = post(
        &client,
        &server.url("/v1/models/other:predict"),
        &json!({"instances": rows}),
    )
    .await;
    assert_eq!(status, 404);
}

async fn identical_requests_are_answered_from_the_cache(backend: &str) {
    let server = Server::start(backend, &model_path(MLP), &["--cache-entries", "16"]);
    server.wait_ready().await;
    let client = client();
    let body = infer_body(MLP, &digits().inputs[..1]);
    let url = server.url("/v2/models/digits/infer");
    let (_, first) = post(&client, &url, &body).await;
    let (_, second) = post(&client, &url, &body).await;
    assert_eq!(first, second);
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("model_server_cache_hits_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("model_server_cache_misses_total 1"),
        "{metrics}"
    );
}

/// The value of an unlabelled gauge in a `/metrics` text.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// An inference request counts in `model_server_requests_in_flight` (the
/// gauge load autoscaling reads) from its headers until it is answered or
/// dropped; scrapes and health checks do not count.
async fn an_unanswered_inference_request_is_in_flight(backend: &str) {
    use tokio::io::AsyncWriteExt;

    let server = Server::start(backend, &model_path(MLP), &[]);
    server.wait_ready().await;
    let client = client();
    let scrape = || async {
        let text = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (gauge(&text, "model_server_requests_in_flight"), text)
    };
    let (idle, text) = scrape().await;
    assert_eq!(idle, Some(0.0), "{text}");

    // Headers and half of the body: the request is received, not answered.
    let url = server.url("");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v2/models/digits/infer HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"inputs\": ["
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (mut busy, mut text) = scrape().await;
    while busy != Some(1.0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        (busy, text) = scrape().await;
    }
    assert_eq!(busy, Some(1.0), "{text}");

    // The client goes away: the request is no longer in flight.
    drop(stream);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let (mut after, mut text) = scrape().await;
    while after != Some(0.0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        (after, text) = scrape().await;
    }
    assert_eq!(after, Some(0.0), "{text}");
}

macro_rules! backend_suite {
    ($module:ident, $backend:literal) => {
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn every_endpoint_answers() {
                super::every_endpoint_answers($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mlp_predictions_equal_in_process_results() {
                super::predictions_equal_in_process_results($backend, "digits-mlp.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mlp_int8_predictions_equal_in_process_results() {
                super::predictions_equal_in_process_results($backend, "digits-mlp-int8.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cnn_predictions_equal_in_process_results() {
                super::predictions_equal_in_process_results($backend, "digits-cnn.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cnn_int8_predictions_equal_in_process_results() {
                super::predictions_equal_in_process_results($backend, "digits-cnn-int8.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mlp_accuracy_is_at_least_95_percent() {
                super::held_out_accuracy_is_at_least_95_percent($backend, "digits-mlp.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mlp_int8_accuracy_is_at_least_95_percent() {
                super::held_out_accuracy_is_at_least_95_percent($backend, "digits-mlp-int8.onnx")
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cnn_int8_accuracy_is_at_least_95_percent() {
                super::held_out_accuracy_is_at_least_95_percent($backend, "digits-cnn-int8.onnx")
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn bad_requests_get_json_4xx_and_serving_continues() {
                super::bad_requests_get_json_4xx_and_serving_continues($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_requests_get_their_own_rows() {
                super::concurrent_requests_get_their_own_rows($backend, "1").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_requests_get_their_own_rows_on_two_threads() {
                super::concurrent_requests_get_their_own_rows($backend, "2").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tf_predict_matches_v2() {
                super::tf_predict_matches_v2($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn identical_requests_are_answered_from_the_cache() {
                super::identical_requests_are_answered_from_the_cache($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_unanswered_inference_request_is_in_flight() {
                super::an_unanswered_inference_request_is_in_flight($backend).await;
            }
        }
    };
}

backend_suite!(ort, "ort");
backend_suite!(tract, "tract");
