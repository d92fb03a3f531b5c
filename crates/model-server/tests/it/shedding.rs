//! Load shedding: under a burst above capacity, requests beyond
//! `--max-queue` rows are answered 503 with `Retry-After` (gRPC
//! `UNAVAILABLE`) while the engine is still busy, the accepted ones are
//! answered, nothing goes unanswered and readiness stays green; a request
//! whose `timeout` passes while it waits is answered 503 (gRPC
//! `DEADLINE_EXCEEDED`) and never runs. Behaviour, not speed: the only
//! times compared are each other's (a rejection against the wait it was
//! spared).

use std::sync::Arc;
use std::time::{Duration, Instant};

use model_server::protocol::grpc::proto::infer_parameter::ParameterChoice;
use model_server::protocol::grpc::proto::model_infer_request::InferInputTensor;
use model_server::protocol::grpc::proto::{InferParameter, ModelInferRequest};
use serde_json::{Value, json};
use tonic::Code;

use crate::common::{Server, client, digits, grpc_client, infer_body, model_path, start_with_grpc};

const WIDE: &str = "digits-cnn-wide.onnx";
const MAX_QUEUE: usize = 8;

/// `rows` digits as a gRPC request with raw contents, cheap to decode.
fn grpc_request(rows: usize) -> ModelInferRequest {
    let bytes: Vec<u8> = digits()
        .inputs
        .iter()
        .cycle()
        .take(rows)
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    ModelInferRequest {
        model_name: "digits".into(),
        inputs: vec![InferInputTensor {
            name: "input".into(),
            datatype: "FP32".into(),
            shape: vec![rows as i64, 1, 8, 8],
            ..Default::default()
        }],
        raw_input_contents: vec![bytes.into()],
        ..Default::default()
    }
}

async fn metrics(server: &Server) -> String {
    let response = client().get(server.url("/metrics")).send().await.unwrap();
    response.text().await.unwrap()
}

/// The value of the series `series` (name and labels, as printed).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

const QUEUE_FULL: &str = "model_server_requests_rejected_total{reason=\"queue_full\"}";
const DEADLINE: &str = "model_server_requests_rejected_total{reason=\"deadline\"}";
/// Model calls made through the batcher (counted as they start).
const BATCHES: &str = "model_server_batch_size_count";
/// Rows the engine ran through the batcher.
const ROWS_RUN: &str = "model_server_batch_size_sum";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn shedding_server() -> (Server, u16) {
    let max_queue = MAX_QUEUE.to_string();
    let args = [
        "--max-batch",
        "4",
        "--max-delay",
        "1ms",
        "--max-queue",
        max_queue.as_str(),
        "--threads",
        "2",
    ];
    start_with_grpc("ort", WIDE, &args)
}

/// One burst over HTTP: a long request holds the engine (about 0.2 s of
/// compute) while twice `--max-queue` single-row requests arrive.
struct Burst {
    /// How long the long request took.
    held_until: Duration,
    /// (status, latency) per single-row request.
    answers: Vec<(u16, Duration)>,
}

/// Sends the long request and returns once the engine runs it.
async fn hold_the_engine(
    server: &Server,
    port: u16,
) -> tokio::task::JoinHandle<Result<Duration, tonic::Status>> {
    let mut holder = grpc_client(port).await;
    let hold = grpc_request(2_500);
    let batches = metric(&metrics(server).await, BATCHES);
    let start = Instant::now();
    let holding = tokio::spawn(async move {
        holder.model_infer(hold).await?;
        Ok(start.elapsed())
    });
    while metric(&metrics(server).await, BATCHES) == batches {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    holding
}

async fn http_burst(server: &Server, port: u16) -> Burst {
    let url = Arc::new(server.url("/v2/models/digits/infer"));
    let http = client();
    let body = Arc::new(infer_body(WIDE, &digits().inputs[..1]));
    let holding = hold_the_engine(server, port).await;
    let tasks: Vec<_> = (0..2 * MAX_QUEUE)
        .map(|_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let sent = Instant::now();
                let response = http.post(url.as_str()).json(&*body).send().await.unwrap();
                let status = response.status().as_u16();
                if status == 503 {
                    let retry_after = response.headers().get("retry-after").cloned();
                    assert_eq!(retry_after.unwrap(), "1", "a 503 says when to retry");
                    let error: Value = response.json().await.unwrap();
                    let message = error["error"].as_str().unwrap();
                    assert!(message.contains("--max-queue"), "{error}");
                } else {
                    assert_eq!(status, 200, "every request is answered 200 or 503");
                    let outputs: Value = response.json().await.unwrap();
                    assert!(outputs["outputs"].is_array(), "{outputs}");
                }
                (status, sent.elapsed())
            })
        })
        .collect();
    // Readiness stays green while requests are turned away.
    let ready = client().get(server.url("/v2/health/ready")).send().await;
    assert_eq!(ready.unwrap().status(), 200);
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("every request gets an answer"));
    }
    let held_until = holding.await.unwrap().expect("the long request is served");
    Burst {
        held_until,
        answers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_capacity_requests_are_turned_away_at_once_and_the_rest_served() {
    let (server, port) = shedding_server();
    server.wait_ready().await;
    // Bursts repeat until one fills the queue, since a loaded machine may
    // send slower than the engine drains.
    for _ in 0..10 {
        let before = metrics(&server).await;
        let burst = http_burst(&server, port).await;
        let after = metrics(&server).await;
        let (rejected, accepted): (Vec<_>, Vec<_>) =
            burst.answers.iter().partition(|(status, _)| *status == 503);
        // Each 503 is counted once, and only the accepted rows (and the
        // long request's) ran: nothing rejected ran, nothing was lost.
        let counted = metric(&after, QUEUE_FULL) - metric(&before, QUEUE_FULL);
        assert_eq!(counted, rejected.len() as f64, "{after}");
        let ran = metric(&after, ROWS_RUN) - metric(&before, ROWS_RUN);
        assert_eq!(ran, (2_500 + accepted.len()) as f64, "{after}");
        assert!(!accepted.is_empty(), "up to --max-queue rows may wait");
        if rejected.is_empty() {
            continue;
        }
        // Turned away at once: a 503 takes less than the wait it spares
        // (a request that queued behind the long one waited about as long
        // as the hold).
        for (_, wait) in &rejected {
            assert!(
                *wait < burst.held_until,
                "a 503 took {wait:?}, longer than the hold of {:?}",
                burst.held_until
            );
        }
        // Accepted requests wait for the long request and at most
        // --max-queue rows (two batches) more: bounded by the hold, not by
        // the burst.
        let mut waits: Vec<Duration> = accepted.iter().map(|(_, wait)| *wait).collect();
        waits.sort();
        assert!(
            percentile(&waits, 0.99) < 2 * burst.held_until,
            "accepted p99 {:?} against a hold of {:?}",
            percentile(&waits, 0.99),
            burst.held_until
        );
        return;
    }
    panic!("no burst filled --max-queue in 10 tries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_requests_over_capacity_are_unavailable() {
    let (server, port) = shedding_server();
    server.wait_ready().await;
    let grpc = grpc_client(port).await;
    let one = grpc_request(1);
    for _ in 0..10 {
        let holding = hold_the_engine(&server, port).await;
        let tasks: Vec<_> = (0..2 * MAX_QUEUE)
            .map(|_| {
                let (mut grpc, one) = (grpc.clone(), one.clone());
                tokio::spawn(async move { grpc.model_infer(one).await })
            })
            .collect();
        let mut unavailable = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => {}
                Err(status) => {
                    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                    assert!(status.message().contains("--max-queue"), "{status:?}");
                    unavailable += 1;
                }
            }
        }
        holding.await.unwrap().expect("the long request is served");
        if unavailable > 0 {
            return;
        }
    }
    panic!("no burst filled --max-queue in 10 tries");
}

/// A timeout of 1 µs has passed by the time the batcher could run the
/// request, whatever the load: it is answered, never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_timeout_is_answered_and_never_run() {
    let (server, port) = start_with_grpc("ort", WIDE, &["--max-batch", "4"]);
    server.wait_ready().await;
    let url = server.url("/v2/models/digits/infer");
    let mut body = infer_body(WIDE, &digits().inputs[..1]);
    body["parameters"] = json!({"timeout": 1});
    let response = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("deadline"),
        "{error}"
    );

    let mut request = grpc_request(1);
    request.parameters.insert(
        "timeout".into(),
        InferParameter {
            parameter_choice: Some(ParameterChoice::Int64Param(1)),
        },
    );
    let status = grpc_client(port)
        .await
        .model_infer(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    let text = metrics(&server).await;
    assert_eq!(metric(&text, DEADLINE), 2.0, "{text}");
    assert_eq!(metric(&text, ROWS_RUN), 0.0, "a late request never runs");
    // A generous timeout changes nothing.
    body["parameters"] = json!({"timeout": 60_000_000});
    let response = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(metric(&metrics(&server).await, ROWS_RUN), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_timeout_is_a_bad_request() {
    let server = Server::start("ort", &model_path(WIDE), &["--max-batch", "4"]);
    server.wait_ready().await;
    let url = server.url("/v2/models/digits/infer");
    for (timeout, shown) in [
        (json!(0), "0"),
        (json!(-5), "-5"),
        (json!(1.5), "1.5"),
        (json!("1s"), "\"1s\""),
    ] {
        let mut body = infer_body(WIDE, &digits().inputs[..1]);
        body["parameters"] = json!({ "timeout": timeout });
        let response = client().post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            error["error"],
            format!(
                "parameter `timeout` of the request must be a whole number of microseconds, \
                 at least 1, not {shown}"
            )
        );
    }
}
