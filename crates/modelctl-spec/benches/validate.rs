//! Validation throughput: generates N realistic specs (training with a sweep,
//! autoscaled serving with a canary, environment overrides) and runs the
//! whole pipeline over them — parsing, typed deserialization, JSON Schema,
//! per-environment resolution and every rule, including the cross-file
//! route check. Prints specs per second for N = 100, 1,000 and 10,000.
//!
//! Run: `cargo bench -p modelctl-spec --bench validate`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use modelctl_spec::{Source, check_sources};

const CONFIG: &str = r#"
[defaults]
namespace = "ml"
server-image = "registry.example.com/ml/model-server:0.1.0"
route = { kind = "gateway", gateway = "ml-gateway", gateway-namespace = "gateway-system" }

[environments.staging]
namespace = "ml-staging"
context = "staging-cluster"

[environments.production]
namespace = "ml"
"#;

fn spec(i: usize) -> Source {
    let text = format!(
        r#"#:schema ../schemas/model.schema.json
description = "Generated model {i}"
owner = "team-{team}"

[train]
image = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
code = {{ git = "https://git.example.com/ml/model-{i}.git", rev = "4f2c9e{i:x}" }}
command = ["python", "train.py"]
evaluate = ["python", "evaluate.py"]
data = [
  {{ pvc = "photos-{i}", mount = "/data", read-only = true }},
  {{ hdfs = "hdfs://namenode:8020/corpora/{i}", env = "CORPUS_URI" }},
]
output = "s3://ml-models/{{{{ model }}}}/{{{{ run }}}}"
resources = {{ cpu = "8", memory = "32Gi", gpu = 1 }}
timeout = "12h"
retries = 2
env = {{ EPOCHS = "30" }}

[train.sweep]
parallelism = 2
grid = {{ learning-rate = ["0.001", "0.01"], batch-size = ["64", "128"] }}

[serve]
model = "s3://ml-models/model-{i}/2026-11-20/model.onnx"
replicas = {{ min = 2, max = 20, target-cpu = 70 }}
resources = {{ cpu = "2", memory = "2Gi" }}
batching = {{ max-batch = 32, max-delay = "2ms" }}
warmup = 16
route = {{ host = "model-{i}.ml.example.com", path = "/" }}

[serve.canary]
model = "s3://ml-models/model-{i}/2026-11-24/model.onnx"
weight = 10

[env.staging]
serve.replicas = 1
"#,
        team = i % 7
    );
    Source {
        path: PathBuf::from(format!("models/model-{i}.toml")),
        text,
    }
}

fn main() {
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: CONFIG.to_owned(),
    };
    // Warm up: compiles the schema validators and regular expressions once.
    let (_, warm) = check_sources(Some(&config), &[spec(0)]);
    assert!(warm.is_empty(), "generated spec is invalid:\n{warm}");

    println!(
        "{:>7}  {:>10}  {:>12}  {:>6}",
        "specs", "best", "specs/s", "runs"
    );
    for n in [100, 1_000, 10_000] {
        let specs: Vec<Source> = (0..n).map(spec).collect();
        let mut best = Duration::MAX;
        let mut runs = 0;
        let started = Instant::now();
        while runs < 3 || (started.elapsed() < Duration::from_secs(3) && runs < 20) {
            let t = Instant::now();
            let (repo, report) = check_sources(Some(&config), &specs);
            let took = t.elapsed();
            assert!(report.is_empty() && repo.is_some_and(|r| r.models.len() == n));
            best = best.min(took);
            runs += 1;
        }
        let rate = n as f64 / best.as_secs_f64();
        println!(
            "{n:>7}  {:>8.1}ms  {rate:>12.0}  {runs:>6}",
            best.as_secs_f64() * 1e3
        );
    }
}
