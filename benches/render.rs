//! Rendering speed: N synthetic models (N = 100, 1,000, 10,000), each a copy
//! of one of the example repo's four specs under a new name and host, loaded
//! and validated (`load s`), then rendered as `modelctl render` does: to the
//! bytes of `generated/` for every environment (`render s`, its CPU time
//! over all cores, models per second, files, megabytes). `compile s` times
//! the object building alone. Peak resident memory is taken after the
//! render, before the compile-only pass.
//!
//! Run with `cargo bench --bench render`. Each N runs in a fresh child
//! process so its peak memory is its own (read from `/proc/self/status`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use modelctl::compile::{render_env, render_output};
use modelctl_spec::{Source, load_sources};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const CHILD_VAR: &str = "MODELCTL_BENCH_MODELS";

fn main() {
    if let Ok(n) = std::env::var(CHILD_VAR) {
        let n: usize = n.parse().expect("a model count");
        run(n);
        return;
    }
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>6} {:>12}",
        "models", "load s", "compile s", "render s", "cpu s", "models/s", "files", "MB", "peak RSS"
    );
    let exe = std::env::current_exe().expect("the bench binary's path");
    for n in SIZES {
        let out = Command::new(&exe)
            .env(CHILD_VAR, n.to_string())
            .output()
            .expect("the bench re-runs itself");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// Loads and renders `n` models; prints one row.
fn run(n: usize) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &Path| std::fs::read_to_string(root.join(p)).expect("example repo file");
    let config = Source {
        path: PathBuf::from("modelctl.toml"),
        text: read(Path::new("modelctl.toml")),
    };
    let templates: Vec<(String, String)> =
        ["ads-bidding", "digits", "image-tagging", "translation"]
            .iter()
            .map(|m| {
                let text = read(&Path::new("models").join(format!("{m}.toml")));
                (m.to_string(), text)
            })
            .collect();
    let sources: Vec<Source> = (0..n)
        .map(|i| {
            let (name, text) = &templates[i % templates.len()];
            let new = format!("{name}-{i}");
            Source {
                path: PathBuf::from(format!("models/{new}.toml")),
                text: text.replace("host = \"", &format!("host = \"{new}-")),
            }
        })
        .collect();

    let start = Instant::now();
    let repo = load_sources(&config, &sources).unwrap_or_else(|e| panic!("{e}"));
    let load = start.elapsed().as_secs_f64();

    // What `modelctl render` does: every environment to file text.
    let mut files = 0;
    let mut bytes = 0;
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    for env in repo.config.env_names() {
        let output = render_output(&repo.environment(env).expect("environment exists"));
        files += output.files.len() - 1;
        bytes += output.files.values().map(String::len).sum::<usize>();
    }
    let render = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    let peak = peak_rss();

    // The compile step alone (objects as JSON values, no text).
    let start = Instant::now();
    for env in repo.config.env_names() {
        render_env(&repo.environment(env).expect("environment exists"));
    }
    let compile = start.elapsed().as_secs_f64();

    println!(
        "{n:>7} {load:>9.3} {compile:>9.3} {render:>9.3} {cpu:>9.2} {:>10.0} {files:>8} {:>6.1} {peak:>12}",
        n as f64 / render,
        bytes as f64 / 1e6,
    );
}

/// CPU time (user + system, all threads) the process has used so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s); 0 off Linux.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The process's peak resident set size (`VmHWM`), or `n/a` off Linux.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "n/a".to_owned())
}
