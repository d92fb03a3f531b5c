//! Command-line flags (each also read from the environment variable of the
//! same name, `--max-batch` ↔ `MAX_BATCH`), parsed once into [`Config`].
//!
//! This module owns flag names, defaults and the parsing of byte sizes;
//! durations are read in the spec's grammar ([`parse_duration`], `2ms`,
//! `5s`: a whole number and a unit), the same one `models/*.toml` uses. It
//! does not start anything.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use modelctl_spec::values::{UrlPath, ValueError, parse_duration};

use crate::backend::{BackendKind, Device};

/// Serve one ONNX model over the Open Inference Protocol (KServe V2).
#[derive(Debug, Clone, Parser)]
#[command(name = "model-server", version, about)]
pub struct Config {
    /// Name the model is served under (`/v2/models/{name}`).
    #[arg(long, env = "MODEL_NAME")]
    pub model_name: String,

    /// Where the model comes from: a path, file://, http(s)://, s3://, gs:// or az://.
    /// Cloud credentials come from the standard environment variables.
    #[arg(long, env = "MODEL_URI")]
    pub model_uri: String,

    /// TCP port to listen on (0 picks a free one and logs it).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// TCP port of the Open Inference Protocol's gRPC service
    /// (`inference.GRPCInferenceService`); 0 turns gRPC off.
    #[arg(long, env = "GRPC_PORT", default_value_t = 8081)]
    pub grpc_port: u16,

    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,

    /// Inference engine.
    #[arg(long, env = "BACKEND", value_enum, default_value_t = BackendKind::Ort)]
    pub backend: BackendKind,

    /// Where the model runs: `cuda` uses ONNX Runtime's CUDA execution
    /// provider (`--backend ort` only) and the server exits if it cannot be
    /// registered; it never falls back to the CPU.
    #[arg(long, env = "DEVICE", value_enum, default_value_t = Device::Cpu)]
    pub device: Device,

    /// Most rows run as one batch; 1 turns dynamic batching off.
    #[arg(long, env = "MAX_BATCH", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_batch: u32,

    /// Longest a request waits for others to join its batch: a whole number
    /// and a unit (`ms`, `s`, `m`, `h`, `d`), e.g. 2ms.
    #[arg(long, env = "MAX_DELAY", default_value = "2ms", value_parser = parse_duration)]
    pub max_delay: Duration,

    /// Most rows that may wait for the engine; a request arriving while
    /// this many wait is answered 503 at once, with `Retry-After` (gRPC
    /// `UNAVAILABLE`). Unset: no limit.
    #[arg(long, env = "MAX_QUEUE", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_queue: Option<u32>,

    /// Longest a request may wait for the engine, unless its `timeout`
    /// parameter (microseconds) asks for less: a whole number and a unit,
    /// e.g. 500ms. A request still waiting then is answered 503 (gRPC
    /// `DEADLINE_EXCEEDED`) and never run. Unset: no limit.
    #[arg(long, env = "REQUEST_TIMEOUT", value_parser = parse_positive_duration)]
    pub request_timeout: Option<Duration>,

    /// Synthetic batches run through the model before turning ready.
    #[arg(long, env = "WARMUP", default_value_t = 1)]
    pub warmup: u32,

    /// CPU threads the engine may use, and HTTP worker threads (0: the CPUs
    /// this process may use, CPU quota of its cgroup included).
    #[arg(long, env = "THREADS", default_value_t = 0)]
    pub threads: usize,

    /// Directory the model is downloaded into (an emptyDir in a pod).
    #[arg(long, env = "CACHE_DIR", default_value = "/tmp/model-server")]
    pub cache_dir: PathBuf,

    /// Largest request body accepted (e.g. 16MiB); larger requests get 413.
    #[arg(long, env = "MAX_BODY", default_value = "16MiB", value_parser = parse_bytes)]
    pub max_body: usize,

    /// Identical requests answered from a cache of this many entries (0: off).
    #[arg(long, env = "CACHE_ENTRIES", default_value_t = 0)]
    pub cache_entries: usize,

    /// After SIGTERM, how long to keep accepting connections (while not
    /// ready) so load balancers stop routing here, before draining (e.g.
    /// 5s; 0s drains at once).
    #[arg(long, env = "DRAIN", default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,

    /// Download attempts before giving up on a transient error.
    #[arg(long, env = "DOWNLOAD_RETRIES", default_value_t = 5)]
    pub download_retries: usize,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Path of libonnxruntime.so for `--backend ort`.
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_dylib_path: Option<PathBuf>,

    /// Also serve the whole API under this path (`/bidding`: then
    /// `/bidding/v2/models/{name}/infer` as well as `/v2/models/{name}/infer`),
    /// for routes that forward their path prefix unchanged. `/` is none.
    #[arg(long, env = "PATH_PREFIX", default_value = "/", value_parser = PathPrefix::parse)]
    pub path_prefix: PathPrefix,
}

impl Config {
    /// One thread for everything: HTTP runs on a current-thread runtime and
    /// model calls run inline on it (a one-CPU pod gains nothing from
    /// handing work between threads that share the CPU).
    pub fn single_thread(&self) -> bool {
        self.threads == 1
    }

    /// `--threads 0` made concrete: the CPUs this process may use. Rust
    /// reads the cgroup CPU quota, so a pod with `cpu: 2` on a 64-core node
    /// gets 2, where ONNX Runtime's own default would start a thread per
    /// core of the node.
    pub fn with_resolved_threads(mut self) -> Config {
        if self.threads == 0 {
            self.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        self
    }
}

/// The path the API is also served under (`--path-prefix`): empty for none,
/// else `/`-separated segments without a trailing `/` (`/bidding`).
///
/// The grammar and the trailing-`/` rule are the spec's route path
/// ([`modelctl_spec::values::UrlPath`]), so the server accepts exactly the
/// paths `modelctl` renders into this flag and reads them the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathPrefix(String);

impl PathPrefix {
    /// Parses a prefix as a route path: it must start with `/`; a trailing
    /// `/` does not count (`/bidding/` is `/bidding`) and `/` alone means no
    /// prefix.
    pub fn parse(text: &str) -> Result<PathPrefix, String> {
        // The grammar refuses this too; the flag's most common mistake keeps
        // the wording the README and the usage-error test show.
        if !text.starts_with('/') {
            return Err(format!(
                "path prefix `{text}` must start with `/` (e.g. `/{text}`)"
            ));
        }
        let path: UrlPath = text
            .parse()
            .map_err(|e: ValueError| format!("path prefix {}; {}", e.message, e.help))?;
        Ok(PathPrefix(path.prefix().to_owned()))
    }

    /// The normalised prefix, `""` for none.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the API is served at the root only.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path below the prefix: `/v2/health/ready` for
    /// `/bidding/v2/health/ready`. `None` when `path` is not under it, which
    /// includes paths that only share its spelling (`/biddingx/...`).
    pub fn strip<'a>(&self, path: &'a str) -> Option<&'a str> {
        if self.is_root() {
            return None;
        }
        path.strip_prefix(self.0.as_str())
            .filter(|rest| rest.starts_with('/'))
    }
}

/// A duration in the spec's grammar that is not zero.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text).map_err(|e| e.to_string())? {
        d if d.is_zero() => Err(format!("`{text}` must be longer than zero")),
        d => Ok(d),
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses `1048576`, `64KiB`, `16MiB`, `1GiB`, `10MB` or `500kB`.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (expected e.g. 16MiB, 1048576)"))?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use B, KiB, MiB, GiB, kB, MB, GB)"
            ));
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Config, clap::Error> {
        let base = ["model-server", "--model-name", "m", "--model-uri", "m.onnx"];
        Config::try_parse_from(base.iter().chain(flags))
    }

    #[test]
    fn duration_flags_read_the_spec_grammar() {
        let config = parse(&["--max-delay", "1ms", "--drain", "0s"]).unwrap();
        assert_eq!(config.max_delay, Duration::from_millis(1));
        assert_eq!(config.drain, Duration::ZERO);
        assert_eq!(parse(&[]).unwrap().drain, Duration::from_secs(5));
        for bad in ["500us", "1.5s", "3", "2 fortnights"] {
            let err = parse(&["--max-delay", bad]).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{bad}` is not a duration")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_bytes("16MiB"), Ok(16 << 20));
        assert_eq!(parse_bytes("10MB"), Ok(10_000_000));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert!(parse_bytes("12 parsecs").is_err());
    }

    #[test]
    fn flags_parse_with_defaults() {
        let config = Config::try_parse_from([
            "model-server",
            "--model-name",
            "digits",
            "--model-uri",
            "/m.onnx",
        ])
        .expect("minimal flags parse");
        assert_eq!(config.max_batch, 1);
        assert_eq!(config.backend, BackendKind::Ort);
        assert_eq!(config.max_body, 16 << 20);
        assert!(config.path_prefix.is_root());
        assert_eq!(config.grpc_port, 8081);
        assert_eq!(config.device, Device::Cpu);
    }

    #[test]
    fn path_prefix_drops_the_trailing_slash() {
        assert_eq!(PathPrefix::parse("/bidding/").unwrap().as_str(), "/bidding");
        assert_eq!(PathPrefix::parse("/bidding").unwrap().as_str(), "/bidding");
        assert_eq!(PathPrefix::parse("/a/b/").unwrap().as_str(), "/a/b");
        assert_eq!(PathPrefix::parse("/x").unwrap().as_str(), "/x");
        assert_eq!(PathPrefix::parse("/x/").unwrap().as_str(), "/x");
    }

    #[test]
    fn path_prefix_slash_alone_is_none() {
        let root = PathPrefix::parse("/").unwrap();
        assert!(root.is_root());
        assert_eq!(root.strip("/v2/health/ready"), None);
        assert_eq!(root, PathPrefix::default());
    }

    #[test]
    fn path_prefix_without_leading_slash_is_refused() {
        let err = PathPrefix::parse("bidding").unwrap_err();
        assert_eq!(
            err,
            "path prefix `bidding` must start with `/` (e.g. `/bidding`)"
        );
        assert!(PathPrefix::parse("").is_err());
    }

    #[test]
    fn path_prefix_refuses_empty_segments_and_queries() {
        for doubled in ["//", "/x//", "/a//b"] {
            let err = PathPrefix::parse(doubled).unwrap_err();
            assert!(err.contains("empty segment"), "{doubled}: {err}");
        }
        let err = PathPrefix::parse("/a?b").unwrap_err();
        assert_eq!(
            err,
            "path prefix `/a?b` is not a URL path; a route path has no query or fragment"
        );
        assert!(PathPrefix::parse("/a b").is_err());
    }

    #[test]
    fn path_prefix_strips_whole_segments_only() {
        let prefix = PathPrefix::parse("/bidding").unwrap();
        assert_eq!(
            prefix.strip("/bidding/v2/models/m/infer"),
            Some("/v2/models/m/infer")
        );
        assert_eq!(prefix.strip("/biddingx/v2/models/m/infer"), None);
        assert_eq!(prefix.strip("/bidding"), None);
        assert_eq!(prefix.strip("/v2/health/ready"), None);
    }

    #[test]
    fn path_prefix_flag_parses_and_reports_errors() {
        let base = [
            "model-server",
            "--model-name",
            "m",
            "--model-uri",
            "/m.onnx",
        ];
        let config = Config::try_parse_from(base.iter().copied().chain(["--path-prefix=/x/"]))
            .expect("a prefix parses");
        assert_eq!(config.path_prefix.as_str(), "/x");
        let err = Config::try_parse_from(base.iter().copied().chain(["--path-prefix=x"]))
            .expect_err("a prefix without `/` is refused");
        assert!(err.to_string().contains("must start with `/`"), "{err}");
    }

    #[test]
    fn device_flag_selects_cuda() {
        let config = Config::try_parse_from([
            "model-server",
            "--model-name=digits",
            "--model-uri=/m.onnx",
            "--device=cuda",
        ])
        .expect("--device=cuda parses");
        assert_eq!(config.device, Device::Cuda);
        assert_eq!(config.device.to_string(), "cuda");
    }

    #[test]
    fn device_flag_rejects_unknown_devices() {
        let error = Config::try_parse_from([
            "model-server",
            "--model-name=digits",
            "--model-uri=/m.onnx",
            "--device=tpu",
        ])
        .expect_err("tpu is not a device");
        let text = error.to_string();
        assert!(text.contains("tpu"), "{text}");
        assert!(text.contains("cpu") && text.contains("cuda"), "{text}");
    }
}
