//! Overload figures for load shedding (`benches/README.md`): first the
//! server's capacity, measured with `--concurrency` clients sending back to
//! back for `--seconds`; then an open-loop burst at `--factor` times that
//! rate (2 by default) for `--seconds`, each request sent on schedule
//! whether or not the earlier ones were answered. Prints one line
//!
//! ```text
//! RESULT capacity=<req/s> sent=<n> accepted_p50_ms= accepted_p99_ms= rejected_p99_ms= rejected_share= throughput=<accepted req/s> other=<n>
//! ```
//!
//! `other` counts answers that were neither 200 nor 503, and requests with
//! no answer at all; with load shedding it must be 0.
//!
//! ```sh
//! model-server --model-name digits --model-uri tests/fixtures/models/digits-cnn-wide.onnx \
//!   --max-batch 8 --max-queue 32 &
//! cargo run --release -p model-server --example overload -- \
//!   --url http://127.0.0.1:8080 --body request.json --seconds 5
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

struct Args {
    url: String,
    body: String,
    concurrency: usize,
    seconds: f64,
    factor: f64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: "http://127.0.0.1:8080".into(),
        body: String::new(),
        concurrency: 8,
        seconds: 5.0,
        factor: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--body" => args.body = value,
            "--concurrency" => args.concurrency = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--factor" => args.factor = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if args.body.is_empty() {
        bail!("--body FILE (a V2 infer request) is required");
    }
    Ok(args)
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let body = bytes::Bytes::from(std::fs::read(&args.body)?);
    let url = Arc::new(format!("{}/v2/models/digits/infer", args.url));
    // reqwest is built without a default TLS crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let window = Duration::from_secs_f64(args.seconds);

    // Capacity: closed loop, every client back to back.
    let started = Instant::now();
    let clients: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let mut served = 0u64;
                while started.elapsed() < window {
                    let response = client
                        .post(url.as_str())
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    if response.is_ok_and(|r| r.status() == 200) {
                        served += 1;
                    }
                }
                served
            })
        })
        .collect();
    let mut served = 0;
    for client in clients {
        served += client.await?;
    }
    let capacity = served as f64 / started.elapsed().as_secs_f64();

    // Overload: open loop at factor × capacity.
    let rate = capacity * args.factor;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::now();
    let mut sent = Vec::new();
    let mut next = started;
    while next - started < window {
        tokio::time::sleep_until(next).await;
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        sent.push(tokio::spawn(async move {
            let at = Instant::now();
            let response = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let status = match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            (status, at.elapsed())
        }));
        next += interval;
    }
    let total = sent.len();
    let (mut accepted, mut rejected, mut other) = (Vec::new(), Vec::new(), 0);
    for request in sent {
        match request.await? {
            (200, took) => accepted.push(took),
            (503, took) => rejected.push(took),
            _ => other += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    accepted.sort();
    rejected.sort();
    println!(
        "RESULT capacity={capacity:.0} sent={total} accepted_p50_ms={:.1} accepted_p99_ms={:.1} \
         rejected_p99_ms={:.1} rejected_share={:.2} throughput={:.0} other={other}",
        percentile_ms(&accepted, 0.5),
        percentile_ms(&accepted, 0.99),
        percentile_ms(&rejected, 0.99),
        rejected.len() as f64 / total as f64,
        accepted.len() as f64 / elapsed,
    );
    Ok(())
}
