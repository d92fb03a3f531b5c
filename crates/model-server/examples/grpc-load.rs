//! The gRPC load generator of `ci/bench-serve.py`: what `wrk` is for the
//! HTTP figures. `--concurrency` connections each send one `ModelInfer`
//! at a time, back to back, for `--seconds`; then it prints one line
//!
//! ```text
//! RESULT <requests> <duration µs> <p50 µs> <p99 µs> <errors>
//! ```
//!
//! The request is read from a KServe V2 REST body (`--body FILE`, the JSON
//! the HTTP runs send) and sent with `raw_input_contents`, as Triton's
//! clients do.
//!
//! ```sh
//! cargo run --release -p model-server --example grpc-load -- \
//!   --url http://127.0.0.1:8081 --model digits --body request.json --concurrency 32 --seconds 10
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use model_server::protocol::grpc::proto::ModelInferRequest;
use model_server::protocol::grpc::proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use model_server::protocol::grpc::proto::model_infer_request::InferInputTensor;
use serde_json::Value;
use tonic::transport::Endpoint;

struct Args {
    url: String,
    model: String,
    body: String,
    concurrency: usize,
    seconds: f64,
    threads: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: "http://127.0.0.1:8081".into(),
        model: "digits".into(),
        body: String::new(),
        concurrency: 1,
        seconds: 10.0,
        threads: 1,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--model" => args.model = value,
            "--body" => args.body = value,
            "--concurrency" => args.concurrency = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--threads" => args.threads = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if args.body.is_empty() {
        bail!("--body FILE (a KServe V2 REST request) is required");
    }
    Ok(args)
}

/// The gRPC request equal to a V2 REST body of FP32 inputs.
fn request_from_body(model: &str, path: &str) -> anyhow::Result<ModelInferRequest> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let body: Value = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    let mut request = ModelInferRequest {
        model_name: model.to_string(),
        ..Default::default()
    };
    for input in body["inputs"].as_array().context("no inputs")? {
        if input["datatype"] != "FP32" {
            bail!("only FP32 inputs are supported");
        }
        let shape = input["shape"]
            .as_array()
            .context("no shape")?
            .iter()
            .map(|d| d.as_i64().context("a dimension is not an integer"))
            .collect::<anyhow::Result<_>>()?;
        let mut raw = Vec::new();
        for value in input["data"].as_array().context("no data")? {
            let value = value.as_f64().context("data must be flat numbers")? as f32;
            raw.extend_from_slice(&value.to_le_bytes());
        }
        request.inputs.push(InferInputTensor {
            name: input["name"].as_str().context("no name")?.to_string(),
            datatype: "FP32".into(),
            shape,
            ..Default::default()
        });
        request.raw_input_contents.push(raw.into());
    }
    Ok(request)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let request = request_from_body(&args.model, &args.body)?;
    let endpoint = Endpoint::from_shared(args.url.clone())?.tcp_nodelay(true);
    let mut clients = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        // One connection per client, as wrk opens one per concurrent request.
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("connecting to {}", args.url))?;
        clients.push(GrpcInferenceServiceClient::new(channel));
    }
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < until {
                    let sent = Instant::now();
                    match client.model_infer(request.clone()).await {
                        Ok(_) => latencies.push(sent.elapsed().as_micros() as u64),
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mine, failed) = task.await?;
        latencies.extend(mine);
        errors += failed;
    }
    let duration = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "RESULT {} {} {} {} {}",
        latencies.len(),
        duration.as_micros(),
        percentile(0.50),
        percentile(0.99),
        errors
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut builder = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(args.threads);
        builder
    };
    builder.enable_all().build()?.block_on(run(args))
}
