//! Rendering speed: N synthetic models (N = 100, 1,000, 10,000), each a copy
//! of one of the example repo's four specs under a new name and host, loaded
//! and validated, then compiled to objects and written out as the bytes of
//! `generated/` for every environment. Prints the time of each phase, models
//! per second (compile + YAML) and the peak resident memory.
//!
//! Run with `cargo bench --bench render`. Each N runs in a fresh child
//! process so its peak memory is its own (read from `/proc/self/status`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use modelctl::compile::{files::files_of, render_env};
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
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>6} {:>12}",
        "models",
        "load s",
        "compile s",
        "yaml s",
        "render s",
        "cpu s",
        "models/s",
        "objects",
        "MB",
        "peak RSS"
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

    let mut objects = 0;
    let mut bytes = 0;
    let (mut compile, mut yaml) = (0.0, 0.0);
    let cpu_start = cpu_seconds();
    for env in repo.config.env_names() {
        let start = Instant::now();
        let manifests = render_env(&repo, env).expect("environment exists");
        compile += start.elapsed().as_secs_f64();
        let start = Instant::now();
        let files = files_of(&manifests);
        yaml += start.elapsed().as_secs_f64();
        bytes += files.values().map(String::len).sum::<usize>();
        objects += manifests.len();
    }
    let render = compile + yaml;
    let cpu = cpu_seconds() - cpu_start;

    println!(
        "{n:>7} {load:>9.3} {compile:>9.3} {yaml:>9.3} {render:>9.3} {cpu:>9.2} {:>10.0} {objects:>8} {:>6.1} {:>12}",
        n as f64 / render,
        bytes as f64 / 1e6,
        peak_rss()
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
