//! Lifecycle tests against the real binary, once per backend: readiness
//! stays false during a slow download, transient download errors are
//! retried, bad models leave the process alive and not ready with the
//! reason, SIGTERM during a burst loses no accepted request, and each
//! lifecycle step logs one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::{Server, client, digits, infer_body, model_path, model_with_unknown_operator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MLP: &str = "digits-mlp.onnx";

/// How the local model host answers.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Sends the body in `chunks` pieces, `pause` apart.
    Trickle { chunks: usize, pause: Duration },
    /// Answers 503 to the first `failures` requests, then serves normally.
    FailFirst { failures: usize },
    /// Always 404.
    Missing,
}

/// A tiny HTTP/1.1 file host on 127.0.0.1 serving `body` at any path.
struct ModelHost {
    url: String,
    requests: Arc<AtomicUsize>,
    finished: Arc<AtomicBool>,
}

async fn serve_model(body: Vec<u8>, behaviour: Behaviour) -> ModelHost {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind model host");
    let url = format!(
        "http://{}/models/digits.onnx",
        listener.local_addr().unwrap()
    );
    let requests = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let body = Arc::new(body);
    let (count, done) = (requests.clone(), finished.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (body, count, done) = (body.clone(), count.clone(), done.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let attempt = count.fetch_add(1, Ordering::SeqCst);
                let is_head = head.starts_with(b"HEAD");
                let status = match behaviour {
                    Behaviour::Missing => "404 Not Found",
                    Behaviour::FailFirst { failures } if attempt < failures => {
                        "503 Service Unavailable"
                    }
                    _ => "200 OK",
                };
                let length = if status.starts_with("200") {
                    body.len()
                } else {
                    0
                };
                let header = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                );
                if socket.write_all(header.as_bytes()).await.is_err() || is_head || length == 0 {
                    return;
                }
                match behaviour {
                    Behaviour::Trickle { chunks, pause } => {
                        let pieces: Vec<&[u8]> = body.chunks(body.len().div_ceil(chunks)).collect();
                        for (index, piece) in pieces.iter().enumerate() {
                            if index + 1 == pieces.len() {
                                // Flag before the last bytes leave, so a ready
                                // server always implies `finished`.
                                done.store(true, Ordering::SeqCst);
                            } else if index > 0 {
                                tokio::time::sleep(pause).await;
                            }
                            if socket.write_all(piece).await.is_err() {
                                return;
                            }
                            let _ = socket.flush().await;
                        }
                    }
                    _ => {
                        let _ = socket.write_all(&body).await;
                    }
                }
                done.store(true, Ordering::SeqCst);
                let _ = socket.shutdown().await;
            });
        }
    });
    ModelHost {
        url,
        requests,
        finished,
    }
}

fn model_bytes() -> Vec<u8> {
    std::fs::read(model_path(MLP)).expect("fixture model is readable")
}

async fn not_ready_while_the_model_downloads_slowly(backend: &str) {
    let host = serve_model(
        model_bytes(),
        Behaviour::Trickle {
            chunks: 10,
            pause: Duration::from_millis(300),
        },
    )
    .await;
    let server = Server::start(backend, &host.url, &[]);
    let client = client();
    let mut observed_not_ready = false;
    while !host.finished.load(Ordering::SeqCst) {
        let live = client
            .get(server.url("/v2/health/live"))
            .send()
            .await
            .expect("live answers");
        assert_eq!(live.status(), 200);
        let ready = client
            .get(server.url("/v2/health/ready"))
            .send()
            .await
            .expect("ready answers");
        if !host.finished.load(Ordering::SeqCst) {
            assert_eq!(ready.status(), 503, "ready before the download finished");
            let body: Value = ready.json().await.unwrap();
            assert_eq!(body["error"], "model is downloading");
            let infer = client
                .post(server.url("/v2/models/digits/infer"))
                .json(&infer_body(MLP, &digits().inputs[..1]))
                .send()
                .await
                .unwrap();
            assert_eq!(infer.status(), 503);
            observed_not_ready = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        observed_not_ready,
        "the download finished before readiness was checked"
    );
    server.wait_ready().await;
    let response = client
        .post(server.url("/v2/models/digits/infer"))
        .json(&infer_body(MLP, &digits().inputs[..1]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn transient_download_errors_are_retried(backend: &str) {
    let host = serve_model(model_bytes(), Behaviour::FailFirst { failures: 2 }).await;
    let server = Server::start(backend, &host.url, &[]);
    server.wait_ready().await;
    assert_eq!(
        host.requests.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );
    let retries = server
        .logs()
        .iter()
        .filter(|l| l.contains("model download failed, retrying"))
        .count();
    assert_eq!(retries, 2, "{:#?}", server.logs());
}

async fn missing_object_fails_without_retrying(backend: &str) {
    let host = serve_model(Vec::new(), Behaviour::Missing).await;
    let server = Server::start(backend, &host.url, &[]);
    let body = server.wait_not_ready_with("not found").await;
    assert!(body.contains("model failed to load"), "{body}");
    assert_eq!(host.requests.load(Ordering::SeqCst), 1);
    let live = client()
        .get(server.url("/v2/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.status(),
        200,
        "the process stays up so the reason is visible"
    );
}

async fn missing_file_keeps_the_process_up_and_not_ready(backend: &str) {
    let server = Server::start(backend, "/nonexistent/digits.onnx", &[]);
    server
        .wait_not_ready_with("/nonexistent/digits.onnx does not exist")
        .await;
    let client = client();
    assert_eq!(
        client
            .get(server.url("/v2/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let model_ready = client
        .get(server.url("/v2/models/digits/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(model_ready.status(), 503);
    let failure = server
        .logs()
        .into_iter()
        .find(|l| l.contains("model failed to start"))
        .expect("the failure is logged");
    let event: Value = serde_json::from_str(&failure).unwrap();
    assert_eq!(event["level"], "ERROR");
}

async fn a_file_that_is_not_onnx_is_rejected(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.onnx");
    std::fs::write(&path, "these are not the weights you are looking for").unwrap();
    let server = Server::start(backend, path.to_str().unwrap(), &[]);
    server
        .wait_not_ready_with("is not a valid ONNX model")
        .await;
}

async fn a_truncated_model_is_rejected(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.onnx");
    let bytes = model_bytes();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let server = Server::start(backend, path.to_str().unwrap(), &[]);
    server.wait_not_ready_with("model failed to load").await;
}

async fn an_unknown_operator_fails_at_load_naming_it(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mystery.onnx");
    std::fs::write(&path, model_with_unknown_operator("FluxCapacitor")).unwrap();
    let server = Server::start(backend, path.to_str().unwrap(), &[]);
    server.wait_not_ready_with("FluxCapacitor").await;
}

/// `threads` as in the server suite: "1" runs batches inline, more on
/// blocking threads.
async fn sigterm_during_a_burst_loses_no_request(backend: &str, threads: &str) {
    // The first wave (40 requests of 450 rows each) is still being parsed
    // and run when SIGTERM arrives; the second wave arrives during the
    // drain period. Every one of them must be answered in full.
    let mut server = Server::start(
        backend,
        &model_path(MLP),
        &[
            "--max-batch",
            "64",
            "--max-delay",
            "5ms",
            "--drain",
            "3s",
            "--threads",
            threads,
        ],
    );
    server.wait_ready().await;
    let digits = digits();
    let client = client();
    let url = Arc::new(server.url("/v2/models/digits/infer"));
    let completed = Arc::new(AtomicUsize::new(0));
    // Bodies are encoded up front so the client side is quick to send.
    let encode = |rows: usize| {
        bytes::Bytes::from(serde_json::to_vec(&infer_body(MLP, &digits.inputs[..rows])).unwrap())
    };
    let (big, small) = (encode(digits.inputs.len()), encode(1));
    let send = |range: std::ops::Range<usize>, body: bytes::Bytes| -> Vec<_> {
        range
            .map(|i| {
                let (client, url, completed, body) =
                    (client.clone(), url.clone(), completed.clone(), body.clone());
                tokio::spawn(async move {
                    let response = client
                        .post(url.as_str())
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let result = match response {
                        Ok(r) => Ok((r.status().as_u16(), r.json::<Value>().await)),
                        Err(e) => Err(e),
                    };
                    completed.fetch_add(1, Ordering::SeqCst);
                    result.map(|(status, body)| (i, status, body))
                })
            })
            .collect()
    };
    let first_wave = send(0..40, big);
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.terminate();
    let done_at_sigterm = completed.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ready = client
        .get(server.url("/v2/health/ready"))
        .send()
        .await
        .expect("still accepting while draining");
    assert_eq!(ready.status(), 503, "not ready after SIGTERM");
    let second_wave = send(40..50, small);
    for (index, task) in first_wave.into_iter().chain(second_wave).enumerate() {
        let rows = if index < 40 { digits.inputs.len() } else { 1 };
        let (i, status, body) = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("request {index} was lost: {e:?}"));
        let body = body.unwrap_or_else(|e| panic!("request {i}: unreadable body: {e}"));
        assert_eq!(status, 200, "request {i}: {body}");
        let outputs = body["outputs"].as_array().unwrap();
        let labels = &outputs.iter().find(|o| o["name"] == "label").unwrap()["data"];
        assert_eq!(
            labels.as_array().unwrap().len(),
            rows,
            "request {i} got its own rows"
        );
    }
    assert!(
        done_at_sigterm < 40,
        "the whole first wave finished before SIGTERM; nothing was in flight"
    );
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    let logs = server.logs().join("\n");
    assert!(logs.contains("all requests finished; exiting"), "{logs}");
}

async fn each_lifecycle_step_logs_one_json_line(backend: &str) {
    let mut server = Server::start(
        backend,
        &model_path(MLP),
        &["--warmup", "3", "--drain", "10ms"],
    );
    server.wait_ready().await;
    server.terminate();
    assert!(server.wait_exit().success());
    let events: Vec<Value> = server
        .logs()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    for step in [
        "listening",
        "downloading model",
        "model downloaded",
        "loading model",
        "model loaded",
        "model warmed up",
        "model ready",
        "shutdown signal received; not ready, draining",
        "all requests finished; exiting",
    ] {
        let count = events.iter().filter(|e| e["message"] == step).count();
        assert_eq!(count, 1, "`{step}` logged {count} times: {events:#?}");
    }
    let warmed = events
        .iter()
        .find(|e| e["message"] == "model warmed up")
        .unwrap();
    assert_eq!(warmed["batches"], 3);
    assert!(warmed["seconds"].is_f64(), "{warmed}");
}

macro_rules! backend_suite {
    ($module:ident, $backend:literal) => {
        mod $module {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn not_ready_while_the_model_downloads_slowly() {
                super::not_ready_while_the_model_downloads_slowly($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn transient_download_errors_are_retried() {
                super::transient_download_errors_are_retried($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn missing_object_fails_without_retrying() {
                super::missing_object_fails_without_retrying($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn missing_file_keeps_the_process_up_and_not_ready() {
                super::missing_file_keeps_the_process_up_and_not_ready($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_file_that_is_not_onnx_is_rejected() {
                super::a_file_that_is_not_onnx_is_rejected($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_truncated_model_is_rejected() {
                super::a_truncated_model_is_rejected($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_unknown_operator_fails_at_load_naming_it() {
                super::an_unknown_operator_fails_at_load_naming_it($backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sigterm_during_a_burst_loses_no_request() {
                super::sigterm_during_a_burst_loses_no_request($backend, "1").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sigterm_during_a_burst_on_two_threads_loses_no_request() {
                super::sigterm_during_a_burst_loses_no_request($backend, "2").await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn each_lifecycle_step_logs_one_json_line() {
                super::each_lifecycle_step_logs_one_json_line($backend).await;
            }
        }
    };
}

backend_suite!(ort, "ort");
backend_suite!(tract, "tract");
