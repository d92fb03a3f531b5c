//! Benchmark: `diff` of N = 100 and 1,000 rendered objects against the test
//! double of the API server, at several concurrency levels (1 is what
//! one-object-at-a-time tools do). Prints objects per second.
//!
//! Run: `cargo bench --bench cluster_diff`. Figures depend on the machine.
//! With no added latency the double answers in microseconds, so the figure
//! is modelctl's own cost (requests, JSON, normalisation, diffing) plus the
//! in-process double and loopback HTTP, sharing the same CPU cores. With
//! 5 ms added per answer (a remote API server's round trip) it shows what
//! running requests concurrently buys.

#[path = "../tests/kube_double/mod.rs"]
mod kube_double;

use std::time::{Duration, Instant};

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::Target;
use modelctl::cluster::apply::{ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::manifest_diff::Change;
use serde_json::{Value, json};

/// `n` objects: Deployments, Services and ConfigMaps of distinct models.
fn objects(n: usize) -> Vec<Value> {
    let templates = fixtures::rendered(&["deployment", "service", "configmap"]);
    (0..n)
        .map(|i| {
            let mut object = templates[i % templates.len()].clone();
            object["metadata"]["name"] = json!(format!("model-{:04}", i / templates.len()));
            object
        })
        .collect()
}

/// Every tenth Deployment gets a new image, as a release would.
fn changed(objects: &[Value]) -> Vec<Value> {
    let mut out = objects.to_vec();
    for (i, object) in out.iter_mut().enumerate() {
        if object["kind"] == "Deployment" && i % 10 == 0 {
            object["spec"]["template"]["spec"]["containers"][0]["image"] =
                json!("registry.example.com/ml/model-server:0.3.0");
        }
    }
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let target = Target {
            env: "bench".into(),
            namespace: "ml".into(),
        };
        println!(
            "{:>6} {:>11} {:>12} {:>10} {:>12} {:>8}",
            "N", "latency ms", "concurrency", "seconds", "objects/s", "changed"
        );
        for (n, latency_ms) in [(100, 0), (1000, 0), (100, 5), (1000, 5)] {
            let double = KubeDouble::start().await;
            let cluster = double.cluster().await;
            let live = objects(n);
            let options = ApplyOptions {
                dry_run: false,
                force_conflicts: false,
                prune: false,
                concurrency: 16,
                exact: false,
            };
            apply(&cluster, &target, &live, &options, &|_| {})
                .await
                .expect("seeding the double");
            let rendered = changed(&live);
            double.set_latency(Duration::from_millis(latency_ms));
            for concurrency in [1, 4, 16, 64] {
                let options = DiffOptions {
                    concurrency,
                    force_conflicts: false,
                };
                let start = Instant::now();
                let report = diff(&cluster, &target, &rendered, &options).await.expect("diff");
                let seconds = start.elapsed().as_secs_f64();
                let updates = report.objects.iter().filter(|o| o.change == Change::Changed).count();
                println!(
                    "{n:>6} {latency_ms:>11} {concurrency:>12} {seconds:>10.3} {:>12.0} {updates:>8}",
                    n as f64 / seconds
                );
            }
        }
    });
}
