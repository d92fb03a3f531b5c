//! Shared test support: spawning the real `model-server` binary on
//! 127.0.0.1 with a random port (and a gRPC port when asked), reading its
//! JSON logs, the HTTP and gRPC clients, the digits fixtures, and a
//! hand-encoded ONNX model with an operator no engine has.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub mod faults;
pub mod s3;

use model_server::protocol::grpc::proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use serde_json::{Value, json};
use tonic::transport::{Channel, Endpoint};

/// Directory of the committed test models.
pub fn models_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/models"
    ))
}

pub fn model_path(file: &str) -> String {
    models_dir().join(file).to_string_lossy().into_owned()
}

/// Fails loudly when ONNX Runtime is not configured: the ort suite must
/// never be skipped silently.
pub fn require_ort(backend: &str) {
    if backend == "ort" && std::env::var_os("ORT_DYLIB_PATH").is_none() {
        panic!(
            "ORT_DYLIB_PATH is not set. The ort backend tests need ONNX Runtime: \
             `pip install onnxruntime` and export ORT_DYLIB_PATH=$(python3 -c \
             \"import onnxruntime,os,glob;print(glob.glob(os.path.dirname(onnxruntime.__file__)+'/capi/libonnxruntime.so*')[0])\")"
        );
    }
}

/// The held-out digits: 64 pixel values per row, and the true labels.
pub struct Digits {
    pub inputs: Vec<Vec<f32>>,
    pub labels: Vec<i64>,
}

pub fn digits() -> Digits {
    let text = std::fs::read_to_string(models_dir().join("digits-test.json"))
        .expect("digits-test.json is readable");
    let value: Value = serde_json::from_str(&text).expect("digits-test.json is JSON");
    let inputs = value["inputs"]
        .as_array()
        .expect("inputs array")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        })
        .collect();
    let labels = value["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|x| x.as_i64().expect("label"))
        .collect();
    Digits { inputs, labels }
}

/// The V2 input shape of `rows` digit rows for a model file.
pub fn input_shape(model: &str, rows: usize) -> Value {
    if model.contains("cnn") {
        json!([rows, 1, 8, 8])
    } else {
        json!([rows, 64])
    }
}

/// A V2 inference request for `rows`.
pub fn infer_body(model: &str, rows: &[Vec<f32>]) -> Value {
    let data: Vec<f32> = rows.iter().flatten().copied().collect();
    json!({"inputs": [{"name": "input", "shape": input_shape(model, rows.len()), "datatype": "FP32", "data": data}]})
}

/// A running `model-server` child process.
pub struct Server {
    child: Child,
    pub base: String,
    logs: Arc<Mutex<Vec<String>>>,
    cache: tempfile::TempDir,
}

impl Server {
    /// Starts the binary serving `model_uri` as `digits`; `extra` adds flags.
    pub fn start(backend: &str, model_uri: &str, extra: &[&str]) -> Server {
        Server::start_with_env(backend, model_uri, extra, &[])
    }

    /// As [`Server::start`], with extra environment variables.
    pub fn start_with_env(
        backend: &str,
        model_uri: &str,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        require_ort(backend);
        let cache = tempfile::tempdir().expect("temp cache dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_model-server"))
            .args([
                "--model-name",
                "digits",
                "--model-uri",
                model_uri,
                "--backend",
                backend,
            ])
            .args(["--host", "127.0.0.1", "--port", "0", "--log-format", "json"])
            // One thread (inline engine calls) unless the test picks.
            .args(if extra.contains(&"--threads") {
                &[][..]
            } else {
                &["--threads", "1"][..]
            })
            // gRPC off unless the test asks for a port: servers run in parallel.
            .args(if extra.contains(&"--grpc-port") {
                &[][..]
            } else {
                &["--grpc-port", "0"][..]
            })
            .arg("--cache-dir")
            .arg(cache.path())
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("model-server starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "listening"
                    && let Some(address) = event["address"].as_str()
                {
                    let _ = address_tx.send(address.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "model-server never logged its address; logs:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            base: format!("http://{address}"),
            logs,
            cache,
        }
    }

    /// The directory the server downloads the model into.
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Polls readiness until 200; panics with the logs after 120 s.
    pub async fn wait_ready(&self) {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(self.url("/v2/health/ready")).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "server never turned ready; logs:\n{}",
            self.logs().join("\n")
        );
    }

    /// Polls readiness until its 503 body matches `needle` (a failed load).
    pub async fn wait_not_ready_with(&self, needle: &str) -> String {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(response) = client.get(self.url("/v2/health/ready")).send().await {
                assert_ne!(response.status(), 200, "server turned ready unexpectedly");
                last = response.text().await.unwrap_or_default();
                if last.contains(needle) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "readiness never mentioned `{needle}` (last: {last}); logs:\n{}",
            self.logs().join("\n")
        );
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit (at most 60 s).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit; logs:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal protobuf writer for building ONNX files in tests.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn field_varint(field: u32, value: u64, out: &mut Vec<u8>) {
    varint(u64::from(field << 3), out);
    varint(value, out);
}

fn field_bytes(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    varint(u64::from((field << 3) | 2), out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// ValueInfoProto for a float tensor `[N, 4]`.
fn value_info(name: &str) -> Vec<u8> {
    let mut batch = Vec::new();
    field_bytes(2, b"N", &mut batch); // Dimension.dim_param
    let mut four = Vec::new();
    field_varint(1, 4, &mut four); // Dimension.dim_value
    let mut shape = Vec::new();
    field_bytes(1, &batch, &mut shape);
    field_bytes(1, &four, &mut shape);
    let mut tensor = Vec::new();
    field_varint(1, 1, &mut tensor); // elem_type FLOAT
    field_bytes(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    field_bytes(1, &tensor, &mut ty); // TypeProto.tensor_type
    let mut info = Vec::new();
    field_bytes(1, name.as_bytes(), &mut info);
    field_bytes(2, &ty, &mut info);
    info
}

/// A valid ONNX model whose single node is the operator `op_type`, which
/// exists in no runtime: loading it must fail and name the operator.
pub fn model_with_unknown_operator(op_type: &str) -> Vec<u8> {
    let mut node = Vec::new();
    field_bytes(1, b"input", &mut node);
    field_bytes(2, b"output", &mut node);
    field_bytes(3, b"mystery", &mut node);
    field_bytes(4, op_type.as_bytes(), &mut node);
    let mut graph = Vec::new();
    field_bytes(1, &node, &mut graph);
    field_bytes(2, b"g", &mut graph);
    field_bytes(11, &value_info("input"), &mut graph);
    field_bytes(12, &value_info("output"), &mut graph);
    let mut opset = Vec::new();
    field_bytes(1, b"", &mut opset);
    field_varint(2, 17, &mut opset);
    let mut model = Vec::new();
    field_varint(1, 8, &mut model); // ir_version
    field_bytes(7, &graph, &mut model);
    field_bytes(8, &opset, &mut model);
    model
}

/// A TCP port that was free a moment ago (for `--grpc-port`, where 0
/// means off rather than "pick one").
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A server of the test model file `model` with gRPC on a free port, and that port.
pub fn start_with_grpc(backend: &str, model: &str, extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let port_arg = port.to_string();
    let mut args = vec!["--grpc-port", port_arg.as_str()];
    args.extend_from_slice(extra);
    (Server::start(backend, &model_path(model), &args), port)
}

/// The generated gRPC client, connected to 127.0.0.1:`port`.
pub async fn grpc_client(port: u16) -> GrpcInferenceServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("a valid endpoint")
        .connect()
        .await
        .expect("the gRPC port accepts connections");
    GrpcInferenceServiceClient::new(channel).max_decoding_message_size(64 << 20)
}

/// An HTTP client for talking to the server (rustls needs its crypto
/// provider installed once per process before any client is built).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
