//! Time from process start to ready, and resident memory, for each test
//! model on each backend: spawns the built `model-server`, polls
//! `/v2/health/ready` every millisecond, then reads `VmRSS`/`VmHWM` from
//! `/proc` once ready and again after 2,000 single-row requests.
//!
//! Run: `ORT_DYLIB_PATH=… cargo bench -p model-server --bench startup`
//! (`MODEL_DIR` overrides the model directory, `RUNS` the starts per cell;
//! the median start time is printed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
        });
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let models = [
        "digits-mlp.onnx",
        "digits-mlp-int8.onnx",
        "digits-cnn.onnx",
        "digits-cnn-int8.onnx",
    ];
    println!("start-to-ready (median of {runs}) and resident memory, --warmup 4, --threads 1");
    println!(
        "{:<22} {:<6} {:>14} {:>13} {:>19} {:>12}",
        "model", "engine", "start→ready ms", "RSS ready MiB", "RSS 2k requests MiB", "peak RSS MiB"
    );
    for model in models {
        let path = dir.join(model);
        if !path.is_file() {
            eprintln!("skipping {model}: {} not found", path.display());
            continue;
        }
        for backend in ["ort", "tract"] {
            match measure(&path, model, backend, runs) {
                Ok(row) => println!(
                    "{model:<22} {backend:<6} {:>14.1} {:>13.1} {:>19.1} {:>12.1}",
                    row.ready_ms, row.rss_ready, row.rss_after, row.peak
                ),
                Err(e) => println!("{model:<22} {backend:<6} failed: {e}"),
            }
        }
    }
}

struct Row {
    ready_ms: f64,
    rss_ready: f64,
    rss_after: f64,
    peak: f64,
}

fn measure(path: &Path, model: &str, backend: &str, runs: usize) -> Result<Row, String> {
    let mut times = Vec::new();
    let mut last = None;
    for run in 0..runs {
        let cache =
            std::env::temp_dir().join(format!("model-server-startup-{}", std::process::id()));
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_model-server"))
            .args([
                "--model-name",
                "digits",
                "--backend",
                backend,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .args([
                "--warmup",
                "4",
                "--threads",
                "1",
                "--drain",
                "0s",
                "--log-format",
                "json",
            ])
            .arg("--model-uri")
            .arg(path)
            .arg("--cache-dir")
            .arg(&cache)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning model-server: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines
                .next()
                .ok_or("server exited before listening")?
                .map_err(|e| e.to_string())?;
            if let Some(rest) = line.split("\"address\":\"").nth(1) {
                break rest.split('"').next().unwrap_or_default().to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        while get(&address, "/v2/health/ready")
            .map(|s| s != 200)
            .unwrap_or(true)
        {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                return Err("not ready after 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if run + 1 == runs {
            let rss_ready = rss_mib(child.id(), "VmRSS:");
            let body = request_body(model);
            for _ in 0..2000 {
                post(&address, "/v2/models/digits/infer", &body)?;
            }
            last = Some((
                rss_ready,
                rss_mib(child.id(), "VmRSS:"),
                rss_mib(child.id(), "VmHWM:"),
            ));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&cache);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let (rss_ready, rss_after, peak) = last.ok_or("no runs")?;
    Ok(Row {
        ready_ms: times[times.len() / 2],
        rss_ready,
        rss_after,
        peak,
    })
}

fn request_body(model: &str) -> String {
    let shape = if model.contains("cnn") {
        "[1,1,8,8]"
    } else {
        "[1,64]"
    };
    let data = vec!["0.5"; 64].join(",");
    format!(
        r#"{{"inputs":[{{"name":"input","shape":{shape},"datatype":"FP32","data":[{data}]}}]}}"#
    )
}

fn rss_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One HTTP/1.1 request on a fresh connection; returns the status code.
fn exchange(address: &str, request: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("malformed response: {response}"))
}

fn get(address: &str, path: &str) -> Result<u16, String> {
    exchange(
        address,
        &format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    )
}

fn post(address: &str, path: &str, body: &str) -> Result<u16, String> {
    let status = exchange(
        address,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )?;
    if status == 200 {
        Ok(status)
    } else {
        Err(format!("inference answered {status}"))
    }
}
