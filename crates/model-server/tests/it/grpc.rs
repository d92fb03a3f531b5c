//! The gRPC suite: `inference.GRPCInferenceService` on the real binary,
//! driven by the generated tonic client on 127.0.0.1, once per backend
//! (`ort::*`, `tract::*`): health and metadata, raw and typed inputs giving
//! the HTTP answers, held-out accuracy, every error's status code, the
//! message size limit, readiness while loading fails and while draining,
//! metrics, and gRPC and HTTP requests joining the same batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{
    Server, client, digits, free_port, grpc_client, infer_body, model_path, start_with_grpc,
};
use model_server::protocol::grpc::proto::model_infer_request::{
    InferInputTensor, InferRequestedOutputTensor,
};
use model_server::protocol::grpc::proto::{
    InferTensorContents, ModelInferRequest, ModelInferResponse, ModelMetadataRequest,
    ModelReadyRequest, ServerLiveRequest, ServerMetadataRequest, ServerReadyRequest,
};
use serde_json::Value;
use tonic::Code;
use tonic::transport::Endpoint;

const MLP: &str = "digits-mlp.onnx";
const CNN: &str = "digits-cnn.onnx";

fn shape(model: &str, rows: usize) -> Vec<i64> {
    if model.contains("cnn") {
        vec![rows as i64, 1, 8, 8]
    } else {
        vec![rows as i64, 64]
    }
}

fn input(model: &str, rows: usize) -> InferInputTensor {
    InferInputTensor {
        name: "input".into(),
        datatype: "FP32".into(),
        shape: shape(model, rows),
        ..Default::default()
    }
}

/// `rows` as one FP32 input in `raw_input_contents`.
fn raw_request(model: &str, rows: &[Vec<f32>]) -> ModelInferRequest {
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    ModelInferRequest {
        model_name: "digits".into(),
        inputs: vec![input(model, rows.len())],
        raw_input_contents: vec![bytes.into()],
        ..Default::default()
    }
}

/// `rows` as one FP32 input in typed `contents`.
fn typed_request(model: &str, rows: &[Vec<f32>]) -> ModelInferRequest {
    let mut tensor = input(model, rows.len());
    tensor.contents = Some(InferTensorContents {
        fp32_contents: rows.iter().flatten().copied().collect(),
        ..Default::default()
    });
    ModelInferRequest {
        model_name: "digits".into(),
        inputs: vec![tensor],
        ..Default::default()
    }
}

/// Per-row (label, probabilities) from a response's raw outputs.
fn rows_of(response: &ModelInferResponse) -> Vec<(i64, Vec<f32>)> {
    assert_eq!(
        response.outputs.len(),
        response.raw_output_contents.len(),
        "one raw entry per output"
    );
    let raw = |name: &str| {
        let index = response
            .outputs
            .iter()
            .position(|o| o.name == name)
            .unwrap_or_else(|| panic!("output {name}"));
        &response.raw_output_contents[index]
    };
    let labels: Vec<i64> = raw("label")
        .as_chunks::<8>()
        .0
        .iter()
        .map(|&c| i64::from_le_bytes(c))
        .collect();
    let probabilities: Vec<f32> = raw("probabilities")
        .as_chunks::<4>()
        .0
        .iter()
        .map(|&c| f32::from_le_bytes(c))
        .collect();
    assert_eq!(probabilities.len(), labels.len() * 10);
    labels
        .iter()
        .enumerate()
        .map(|(i, &label)| (label, probabilities[i * 10..(i + 1) * 10].to_vec()))
        .collect()
}

/// Per-row (label, probabilities) from an HTTP JSON response.
fn rows_of_json(response: &Value) -> Vec<(i64, Vec<f32>)> {
    let output = |name: &str| {
        response["outputs"]
            .as_array()
            .and_then(|outputs| outputs.iter().find(|o| o["name"] == name))
            .and_then(|o| o["data"].as_array())
            .unwrap_or_else(|| panic!("output {name} in {response}"))
            .clone()
    };
    let labels: Vec<i64> = output("label").iter().filter_map(Value::as_i64).collect();
    let probabilities: Vec<f32> = output("probabilities")
        .iter()
        .filter_map(Value::as_f64)
        .map(|p| p as f32)
        .collect();
    labels
        .iter()
        .enumerate()
        .map(|(i, &label)| (label, probabilities[i * 10..(i + 1) * 10].to_vec()))
        .collect()
}

fn assert_close(got: &[(i64, Vec<f32>)], expected: &[(i64, Vec<f32>)]) {
    assert_eq!(got.len(), expected.len());
    for (row, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.0, e.0, "label of row {row}");
        for (a, b) in g.1.iter().zip(&e.1) {
            assert!((a - b).abs() < 1e-5, "row {row}: probability {a} vs {b}");
        }
    }
}

async fn post_json(server: &Server, body: &Value) -> Value {
    let response = client()
        .post(server.url("/v2/models/digits/infer"))
        .json(body)
        .send()
        .await
        .expect("HTTP request is answered");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON body")
}

async fn metrics(server: &Server) -> String {
    client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

async fn health_and_metadata(backend: &str) {
    let (server, port) = start_with_grpc(backend, CNN, &[]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    let live = grpc.server_live(ServerLiveRequest {}).await.unwrap();
    assert!(live.get_ref().live);
    let ready = grpc.server_ready(ServerReadyRequest {}).await.unwrap();
    assert!(ready.get_ref().ready);
    for version in ["", "1"] {
        let model = grpc
            .model_ready(ModelReadyRequest {
                name: "digits".into(),
                version: version.into(),
            })
            .await
            .unwrap();
        assert!(model.get_ref().ready, "version `{version}`");
    }
    let server_metadata = grpc
        .server_metadata(ServerMetadataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(server_metadata.name, "model-server");
    assert_eq!(server_metadata.version, env!("CARGO_PKG_VERSION"));

    let metadata = grpc
        .model_metadata(ModelMetadataRequest {
            name: "digits".into(),
            version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metadata.name, "digits");
    assert_eq!(metadata.versions, ["1"]);
    assert_eq!(
        metadata.platform,
        if backend == "ort" {
            "onnxruntime_onnx"
        } else {
            "tract_onnx"
        }
    );
    let [input] = metadata.inputs.as_slice() else {
        panic!("one input: {:?}", metadata.inputs)
    };
    assert_eq!(
        (
            input.name.as_str(),
            input.datatype.as_str(),
            input.shape.as_slice()
        ),
        ("input", "FP32", &[-1, 1, 8, 8][..])
    );
    let outputs: Vec<_> = metadata
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.datatype.as_str(), o.shape.clone()))
        .collect();
    assert_eq!(
        outputs,
        [
            ("label", "INT64", vec![-1]),
            ("probabilities", "FP32", vec![-1, 10])
        ]
    );
}

async fn raw_and_typed_inputs_give_the_http_answer(backend: &str, model: &str) {
    let (server, port) =
        start_with_grpc(backend, model, &["--max-batch", "8", "--max-delay", "1ms"]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    let rows = &digits().inputs[..16];
    let http = rows_of_json(&post_json(&server, &infer_body(model, rows)).await);

    let mut request = raw_request(model, rows);
    request.id = "req-16".into();
    let raw = grpc.model_infer(request).await.unwrap().into_inner();
    assert_eq!(raw.id, "req-16");
    assert_eq!(
        (raw.model_name.as_str(), raw.model_version.as_str()),
        ("digits", "1")
    );
    let shapes: Vec<_> = raw
        .outputs
        .iter()
        .map(|o| (o.name.as_str(), o.datatype.as_str(), o.shape.clone()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("label", "INT64", vec![16]),
            ("probabilities", "FP32", vec![16, 10])
        ]
    );
    assert_close(&rows_of(&raw), &http);

    let typed = grpc
        .model_infer(typed_request(model, rows))
        .await
        .unwrap()
        .into_inner();
    assert_close(&rows_of(&typed), &http);

    // Only the outputs asked for, in the order asked for.
    let mut request = raw_request(model, &rows[..2]);
    request.outputs = vec![InferRequestedOutputTensor {
        name: "probabilities".into(),
        ..Default::default()
    }];
    let filtered = grpc.model_infer(request).await.unwrap().into_inner();
    let names: Vec<_> = filtered.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["probabilities"]);
    assert_eq!(filtered.raw_output_contents[0].len(), 2 * 10 * 4);
}

async fn held_out_accuracy_is_at_least_95_percent(backend: &str, model: &str) {
    let (server, port) = start_with_grpc(backend, model, &[]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    let digits = digits();
    let response = grpc
        .model_infer(raw_request(model, &digits.inputs))
        .await
        .unwrap()
        .into_inner();
    let rows = rows_of(&response);
    let correct = rows
        .iter()
        .zip(&digits.labels)
        .filter(|((label, _), truth)| label == *truth)
        .count();
    let accuracy = correct as f64 / digits.labels.len() as f64;
    assert!(accuracy >= 0.95, "{model}: accuracy {accuracy}");
}

async fn errors_get_their_status_codes_and_serving_continues(backend: &str) {
    let (server, port) = start_with_grpc(backend, MLP, &["--max-body", "64KiB"]);
    server.wait_ready().await;
    let mut grpc = grpc_client(port).await;
    let row = digits().inputs[0].clone();
    let good = || raw_request(MLP, std::slice::from_ref(&row));

    let mut cases: Vec<(&str, ModelInferRequest, Code, &str)> = Vec::new();
    let mut request = good();
    request.model_name = "nope".into();
    cases.push((
        "unknown model",
        request,
        Code::NotFound,
        "unknown model `nope`",
    ));
    let mut request = good();
    request.model_version = "7".into();
    cases.push(("unknown version", request, Code::NotFound, "no version `7`"));
    let mut request = good();
    request.inputs[0].shape = vec![1, 63];
    cases.push((
        "wrong shape",
        request,
        Code::InvalidArgument,
        "the model expects [-1, 64]",
    ));
    let mut request = good();
    request.inputs[0].datatype = "INT64".into();
    cases.push((
        "wrong datatype",
        request,
        Code::InvalidArgument,
        "is INT64 but the model expects FP32",
    ));
    let mut request = good();
    request.inputs[0].datatype = "FP8".into();
    cases.push((
        "unknown datatype",
        request,
        Code::InvalidArgument,
        "unsupported datatype `FP8`",
    ));
    let mut request = good();
    request.raw_input_contents[0] = vec![0u8; 255].into();
    cases.push((
        "raw bytes short of the shape",
        request,
        Code::InvalidArgument,
        "has 255 bytes of binary data but 64 FP32 elements take 256 bytes",
    ));
    let mut request = good();
    request.raw_input_contents.push(vec![0u8; 4].into());
    cases.push((
        "more raw entries than inputs",
        request,
        Code::InvalidArgument,
        "raw_input_contents has 2 entries but the request has 1 inputs",
    ));
    let mut request = good();
    request.inputs[0].contents = Some(InferTensorContents::default());
    cases.push((
        "raw and typed contents together",
        request,
        Code::InvalidArgument,
        "use one or the other",
    ));
    let mut request = typed_request(MLP, std::slice::from_ref(&row));
    request.inputs[0]
        .contents
        .as_mut()
        .unwrap()
        .fp32_contents
        .pop();
    cases.push((
        "typed contents short of the shape",
        request,
        Code::InvalidArgument,
        "has 63 elements but shape [1, 64] needs 64",
    ));
    let mut nan = row.clone();
    nan[5] = f32::NAN;
    cases.push((
        "NaN",
        raw_request(MLP, &[nan]),
        Code::InvalidArgument,
        "element 5 is not a finite number",
    ));
    let mut request = good();
    request.inputs[0].shape = vec![0, 64];
    request.raw_input_contents[0] = Default::default();
    cases.push(("empty batch", request, Code::InvalidArgument, "empty batch"));
    let mut request = good();
    request.inputs[0].name = "pixels".into();
    cases.push((
        "unknown input",
        request,
        Code::InvalidArgument,
        "unknown input `pixels`",
    ));
    let mut request = good();
    request.inputs.clear();
    request.raw_input_contents.clear();
    cases.push((
        "no input",
        request,
        Code::InvalidArgument,
        "missing input `input`",
    ));
    let mut request = good();
    request.outputs = vec![InferRequestedOutputTensor {
        name: "logits".into(),
        ..Default::default()
    }];
    cases.push((
        "unknown output",
        request,
        Code::InvalidArgument,
        "unknown output `logits`",
    ));
    // 300 rows are 76,800 bytes, over --max-body 64KiB.
    let large = vec![row.clone(); 300];
    cases.push((
        "message over --max-body",
        raw_request(MLP, &large),
        Code::OutOfRange,
        "message length too large",
    ));

    for (what, request, code, needle) in cases {
        let status = grpc
            .model_infer(request)
            .await
            .expect_err(&format!("{what} is refused"));
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(
            status.message().contains(needle),
            "{what}: `{}` lacks `{needle}`",
            status.message()
        );
    }
    let status = grpc
        .model_metadata(ModelMetadataRequest {
            name: "nope".into(),
            version: String::new(),
        })
        .await
        .expect_err("unknown model");
    assert_eq!(status.code(), Code::NotFound);
    let status = grpc
        .model_ready(ModelReadyRequest {
            name: "nope".into(),
            version: String::new(),
        })
        .await
        .expect_err("unknown model");
    assert_eq!(status.code(), Code::NotFound);

    // The same connection keeps serving.
    let response = grpc.model_infer(good()).await.unwrap().into_inner();
    assert_eq!(rows_of(&response).len(), 1);

    let text = metrics(&server).await;
    for line in [
        "model_server_requests_total{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"OK\"} 1",
        "model_server_requests_total{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"NOT_FOUND\"} 2",
        "model_server_requests_total{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"INVALID_ARGUMENT\"} 12",
        "model_server_requests_total{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelMetadata\",status=\"NOT_FOUND\"} 1",
        "model_server_request_duration_seconds_count{protocol=\"grpc\",route=\"/inference.GRPCInferenceService/ModelInfer\"}",
    ] {
        assert!(text.contains(line), "metrics lack {line}:\n{text}");
    }
}

async fn not_ready_while_the_model_cannot_load(backend: &str) {
    let missing = tempfile::tempdir().unwrap();
    let uri = missing.path().join("absent.onnx");
    let port = free_port();
    let port_arg = port.to_string();
    let server = Server::start(
        backend,
        &uri.to_string_lossy(),
        &["--grpc-port", &port_arg, "--download-retries", "0"],
    );
    server.wait_not_ready_with("failed").await;
    let mut grpc = grpc_client(port).await;
    assert!(
        grpc.server_live(ServerLiveRequest {})
            .await
            .unwrap()
            .get_ref()
            .live
    );
    assert!(
        !grpc
            .server_ready(ServerReadyRequest {})
            .await
            .unwrap()
            .get_ref()
            .ready
    );
    let model = grpc
        .model_ready(ModelReadyRequest {
            name: "digits".into(),
            version: String::new(),
        })
        .await
        .unwrap();
    assert!(!model.get_ref().ready);
    let status = grpc
        .model_infer(raw_request(MLP, &digits().inputs[..1]))
        .await
        .expect_err("no model to run");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("model failed to load"),
        "{status:?}"
    );
}

async fn sigterm_turns_not_ready_and_finishes_calls_in_flight(backend: &str, threads: &str) {
    let (mut server, port) = start_with_grpc(
        backend,
        MLP,
        &[
            "--drain",
            "1s",
            "--threads",
            threads,
            "--max-batch",
            "8",
            "--max-delay",
            "2ms",
        ],
    );
    server.wait_ready().await;
    let grpc = grpc_client(port).await;
    let rows: Vec<Vec<f32>> = digits().inputs[..24].to_vec();
    let calls: Vec<_> = rows
        .iter()
        .map(|row| {
            let mut grpc = grpc.clone();
            let request = raw_request(MLP, std::slice::from_ref(row));
            tokio::spawn(async move { grpc.model_infer(request).await })
        })
        .collect();
    server.terminate();
    let mut probe = grpc.clone();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let ready = probe.server_ready(ServerReadyRequest {}).await.unwrap();
        if !ready.get_ref().ready {
            break;
        }
        assert!(Instant::now() < deadline, "still ready 1 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for call in calls {
        let response = call
            .await
            .unwrap()
            .expect("a call made before SIGTERM succeeds");
        assert_eq!(rows_of(&response.into_inner()).len(), 1);
    }
    // Calls still succeed while draining.
    let response = probe
        .model_infer(raw_request(MLP, &rows[..1]))
        .await
        .expect("served while draining");
    assert_eq!(rows_of(&response.into_inner()).len(), 1);
    let status = tokio::task::spawn_blocking(move || server.wait_exit())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

/// The `_count` and the count at or below `le` of the batch size histogram.
fn batch_counts(metrics: &str, le: &str) -> (f64, f64) {
    let value = |prefix: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{prefix} in\n{metrics}"))
    };
    (
        value("model_server_batch_size_count "),
        value(&format!("model_server_batch_size_bucket{{le=\"{le}\"}} ")),
    )
}

async fn grpc_and_http_requests_join_the_same_batches(backend: &str) {
    const EACH: usize = 24;
    let (server, port) = start_with_grpc(
        backend,
        "digits-cnn-wide.onnx",
        // 48 requests never fill a batch of 64: each batch waits the whole
        // delay, long enough for all of them to arrive on a loaded machine.
        &[
            "--max-batch",
            "64",
            "--max-delay",
            "100ms",
            "--threads",
            "2",
        ],
    );
    let rows: Vec<Vec<f32>> = digits().inputs[..2 * EACH].to_vec();
    server.wait_ready().await;
    let grpc = grpc_client(port).await;
    let expected = rows_of(
        &grpc
            .clone()
            .model_infer(raw_request("digits-cnn-wide.onnx", &rows))
            .await
            .unwrap()
            .into_inner(),
    );
    let http = client();
    let url = Arc::new(server.url("/v2/models/digits/infer"));
    // A request larger than --max-batch holds the engine for a while (about
    // 0.2 s of compute); the single-row requests sent meanwhile queue up,
    // and the next batch takes all of them. Each protocol sends EACH: a
    // batch of more than EACH rows holds requests of both. Bursts repeat
    // until one forms, since a loaded machine may still be slower.
    let long: Vec<Vec<f32>> = digits()
        .inputs
        .iter()
        .cycle()
        .take(2_500)
        .cloned()
        .collect();
    let mut mixed = false;
    for _burst in 0..10 {
        let (count_before, small_before) = batch_counts(&metrics(&server).await, "32.0");
        let mut holder = grpc.clone();
        let hold = raw_request("digits-cnn-wide.onnx", &long);
        let holding = tokio::spawn(async move { holder.model_infer(hold).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let tasks: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let row = row.clone();
                let (mut grpc, http, url) = (grpc.clone(), http.clone(), url.clone());
                tokio::spawn(async move {
                    let got = if i % 2 == 0 {
                        let request = raw_request("digits-cnn-wide.onnx", &[row]);
                        rows_of(&grpc.model_infer(request).await.unwrap().into_inner())
                    } else {
                        let body = infer_body("digits-cnn-wide.onnx", &[row]);
                        let response = http.post(url.as_str()).json(&body).send().await.unwrap();
                        assert_eq!(response.status(), 200);
                        rows_of_json(&response.json().await.unwrap())
                    };
                    (i, got)
                })
            })
            .collect();
        for task in tasks {
            let (i, got) = task.await.unwrap();
            assert_close(&got, &expected[i..=i]);
        }
        holding
            .await
            .unwrap()
            .expect("the long request is answered");
        let (count, small) = batch_counts(&metrics(&server).await, "32.0");
        // The long request is one batch of more than 32 rows itself.
        if count - count_before > small - small_before + 1.0 {
            mixed = true;
            break;
        }
    }
    assert!(mixed, "no batch of more than 32 rows formed in 10 bursts");
}

/// The two gauges load autoscaling reads move under load: `ModelInfer`
/// calls count in `model_server_requests_in_flight` until answered (as HTTP
/// requests do), and calls waiting for the engine in
/// `model_server_queue_depth` (calls smaller than `--max-batch` queue for a
/// batch); both are back at 0 once every call is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_gauges_rise_under_load_and_fall_back() {
    // Two threads: the engine runs off the runtime, so /metrics answers
    // while batches run.
    let (server, port) = start_with_grpc(
        "tract",
        CNN,
        &["--max-batch", "128", "--max-delay", "1ms", "--threads", "2"],
    );
    server.wait_ready().await;
    let gauge = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let text = metrics(&server).await;
    assert_eq!(gauge(&text, "model_server_requests_in_flight"), Some(0.0));
    assert_eq!(gauge(&text, "model_server_queue_depth"), Some(0.0));
    let grpc = grpc_client(port).await;
    let rows: Vec<Vec<f32>> = digits().inputs[..64].to_vec();
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let mut grpc = grpc.clone();
            let request = raw_request(CNN, &rows);
            tokio::spawn(async move { grpc.model_infer(request).await })
        })
        .collect();
    let (mut in_flight, mut queued) = (0.0f64, 0.0f64);
    while calls.iter().any(|call| !call.is_finished()) {
        let text = metrics(&server).await;
        in_flight = in_flight.max(gauge(&text, "model_server_requests_in_flight").unwrap_or(0.0));
        queued = queued.max(gauge(&text, "model_server_queue_depth").unwrap_or(0.0));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        in_flight >= 1.0,
        "requests_in_flight never rose under 64 concurrent calls"
    );
    assert!(
        in_flight <= 64.0,
        "more in flight ({in_flight}) than calls made"
    );
    assert!(
        queued >= 1.0,
        "queue_depth never rose under 64 concurrent calls"
    );
    for call in calls {
        let response = call.await.unwrap().expect("the call is answered");
        assert_eq!(rows_of(&response.into_inner()).len(), 64);
    }
    let text = metrics(&server).await;
    assert_eq!(
        gauge(&text, "model_server_requests_in_flight"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "model_server_queue_depth"),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_rpcs_are_unimplemented_with_a_message() {
    let (server, port) = start_with_grpc("tract", MLP, &[]);
    server.wait_ready().await;
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for path in [
        "/inference.GRPCInferenceService/ModelConfig",
        "/inference.GRPCInferenceService/RepositoryIndex",
        "/grpc.health.v1.Health/Check",
    ] {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<ServerLiveRequest, ServerLiveRequest, _>(
                tonic::Request::new(ServerLiveRequest {}),
                path.parse().unwrap(),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .expect_err("not served");
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
        assert!(
            status
                .message()
                .starts_with(&format!("{path} is not implemented"))
                && status.message().contains("ModelInfer"),
            "{path}: {}",
            status.message()
        );
    }
    // Served RPCs are unaffected.
    let mut client = grpc_client(port).await;
    assert!(
        client
            .server_live(ServerLiveRequest {})
            .await
            .unwrap()
            .get_ref()
            .live
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_port_zero_turns_grpc_off() {
    let server = Server::start("tract", &model_path(MLP), &["--grpc-port", "0"]);
    server.wait_ready().await;
    let logs = server.logs().join("\n");
    assert!(!logs.contains("gRPC listening"), "{logs}");
}

macro_rules! backend_suite {
    ($module:ident, $backend:literal) => {
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn health_and_metadata() {
                super::health_and_metadata($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mlp_raw_and_typed_inputs_give_the_http_answer() {
                super::raw_and_typed_inputs_give_the_http_answer($backend, "digits-mlp.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cnn_int8_raw_and_typed_inputs_give_the_http_answer() {
                super::raw_and_typed_inputs_give_the_http_answer($backend, "digits-cnn-int8.onnx")
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cnn_accuracy_is_at_least_95_percent() {
                super::held_out_accuracy_is_at_least_95_percent($backend, "digits-cnn.onnx").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn errors_get_their_status_codes_and_serving_continues() {
                super::errors_get_their_status_codes_and_serving_continues($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn not_ready_while_the_model_cannot_load() {
                super::not_ready_while_the_model_cannot_load($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sigterm_turns_not_ready_and_finishes_calls_in_flight() {
                super::sigterm_turns_not_ready_and_finishes_calls_in_flight($backend, "1").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sigterm_on_two_threads() {
                super::sigterm_turns_not_ready_and_finishes_calls_in_flight($backend, "2").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn grpc_and_http_requests_join_the_same_batches() {
                super::grpc_and_http_requests_join_the_same_batches($backend).await;
            }
        }
    };
}

backend_suite!(ort, "ort");
backend_suite!(tract, "tract");
