//! Benchmark: `diff` and `apply` of 100, 1,000 and 10,000 rendered objects
//! against the test double of the API server, with nothing changed, 1 %
//! changed and every object changed; the fast path (one LIST per kind and
//! namespace, dry runs or applies only for what differs) next to the exact
//! path (`--exact`: a GET and a dry run or apply per object). Prints wall
//! time, requests sent and peak memory.
//!
//! Run: `cargo bench --bench cluster_diff` (`-- --quick` skips 10,000).
//! Figures depend on the machine. Peak memory is the heap's high-water mark
//! during the command above what was allocated before it (`peak_alloc`).
//! The double runs in the same process, so that counts its answers too, and
//! with no added latency it shares the CPU with modelctl;
//! the rows with 5 ms added per answer show a remote API server's round trip.

// It uses a part of the double; the tests use the rest.
#[allow(dead_code)]
#[path = "../tests/it/kube_double/mod.rs"]
mod kube_double;

use std::time::{Duration, Instant};

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::apply::{ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff};
use modelctl::cluster::{Cluster, Target};
use peak_alloc::PeakAlloc;
use serde_json::{Value, json};

/// The system allocator, keeping the current and peak bytes allocated.
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

/// Every object gets a new label: a change to all of them.
fn relabel(objects: &[Value]) -> Vec<Value> {
    let mut out = objects.to_vec();
    for object in &mut out {
        object["metadata"]["labels"]["modelctl.io/release"] = json!("2");
    }
    out
}

/// Runs `command` and prints one row: seconds, requests, peak memory.
async fn measure<F, Fut>(row: &str, cluster: &Cluster, command: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let requests = cluster.requests().total();
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let start = Instant::now();
    let changed = command().await;
    let seconds = start.elapsed().as_secs_f64();
    let peak = HEAP.peak_usage().saturating_sub(base) as f64 / (1024.0 * 1024.0);
    let sent = cluster.requests().total() - requests;
    println!("{row} {changed:>8} {seconds:>9.3} {sent:>9} {peak:>9.1}");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
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
            "{:>6} {:>7} {:>9} {:<15} {:>8} {:>9} {:>9} {:>9}",
            "N", "latency", "changed", "command", "reported", "seconds", "requests", "peak MiB"
        );
        let mut sizes = vec![(100, 0), (1000, 0), (1000, 5)];
        if !quick {
            sizes.push((10_000, 0));
        }
        for (n, latency_ms) in sizes {
            let double = KubeDouble::start().await;
            let cluster = double.cluster().await;
            let fleet = fixtures::fleet(n);
            let seed = ApplyOptions {
                dry_run: false,
                force_conflicts: false,
                prune: false,
                concurrency: 16,
                exact: false,
            };
            apply(&cluster, &target, &fleet, &seed, &|_| {})
                .await
                .expect("seeding the double");
            double.set_latency(Duration::from_millis(latency_ms));
            let scenarios = [
                ("none", fleet.clone()),
                ("1 %", fixtures::release(&fleet, 33)),
                ("all", relabel(&fleet)),
            ];
            for (changed, rendered) in &scenarios {
                for exact in [false, true] {
                    let name = if exact { "diff --exact" } else { "diff" };
                    let options = DiffOptions {
                        exact,
                        ..DiffOptions::default()
                    };
                    let row = format!("{n:>6} {latency_ms:>5}ms {changed:>9} {name:<15}");
                    measure(&row, &cluster, || async {
                        let report = diff(&cluster, &target, rendered, &options)
                            .await
                            .expect("diff");
                        report.changes().count()
                    })
                    .await;
                }
                for exact in [false, true] {
                    let name = if exact { "apply --exact" } else { "apply" };
                    let options = ApplyOptions { exact, ..seed };
                    let row = format!("{n:>6} {latency_ms:>5}ms {changed:>9} {name:<15}");
                    measure(&row, &cluster, || async {
                        let outcome = apply(&cluster, &target, rendered, &options, &|_| {})
                            .await
                            .expect("apply");
                        outcome
                            .applied
                            .iter()
                            .filter(|(_, a)| *a != modelctl::cluster::apply::Applied::Unchanged)
                            .count()
                    })
                    .await;
                    // Back to the seeded state, unmeasured.
                    apply(&cluster, &target, &fleet, &seed, &|_| {})
                        .await
                        .expect("restoring the double");
                }
            }
        }
    });
}
