//! A real S3 protocol endpoint for tests: moto's server mode (`moto[server]`,
//! pinned in ci/requirements-ci.txt) started on a free port of 127.0.0.1 and
//! stopped when dropped; buckets and objects are written with bare HTTP/1.0
//! requests and read back with boto3, never through the code under test.
//!
//! `moto_server` is found through `MOTO_SERVER`, a `.venv-ci` in the
//! current directory or one above it up to the repository's root (never
//! outside the repository), or `PATH`. When it is missing a test
//! prints one line and passes, unless `MODELCTL_REQUIRE_MOTO=1` (set by
//! ci/test.sh), which turns the absence into a failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    port: u16,
    /// The Python moto runs under (boto3 comes with it).
    pub python: PathBuf,
}

/// The `moto_server` executable, if installed.
fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let cwd = std::env::current_dir().ok()?;
    let candidate = venv_dirs(&cwd, &repository_root())
        .into_iter()
        .map(|dir| dir.join(".venv-ci/bin/moto_server"))
        .find(|p| p.is_file());
    if candidate.is_some() {
        return candidate;
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
}

/// The workspace's root: the directory above the compiled crate's manifest
/// that holds `Cargo.lock`.
fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
        .to_path_buf()
}

/// The directories searched for a `.venv-ci`: `cwd` and those above it,
/// stopping at `root`; none when `cwd` is outside `root`.
fn venv_dirs(cwd: &Path, root: &Path) -> Vec<PathBuf> {
    let Ok(root) = root.canonicalize() else {
        return Vec::new();
    };
    let Ok(cwd) = cwd.canonicalize() else {
        return Vec::new();
    };
    if !cwd.starts_with(&root) {
        return Vec::new();
    }
    cwd.ancestors()
        .take_while(|dir| dir.starts_with(&root))
        .map(Path::to_path_buf)
        .collect()
}

impl Moto {
    /// Starts moto, or returns `None` after printing why the test is skipped.
    pub fn start(test: &str) -> Option<Moto> {
        let Some(program) = moto_server() else {
            if std::env::var("MODELCTL_REQUIRE_MOTO").as_deref() == Ok("1") {
                panic!("{test}: moto_server not found and MODELCTL_REQUIRE_MOTO=1");
            }
            eprintln!(
                "skipping {test}: moto_server not found (pip install -r ci/requirements-ci.txt)"
            );
            return None;
        };
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
            let mut moto = Moto {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
                python: program.with_file_name("python"),
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if moto
                    .request("GET", "/", &[])
                    .is_ok_and(|(status, _)| status == 200)
                {
                    return Some(moto);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("moto_server did not answer on 127.0.0.1");
    }

    /// The environment `object_store` reads to reach this endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        self.create_bucket_with(bucket, &[]);
    }

    /// Creates `bucket` holding `objects` (key, bytes).
    pub fn create_bucket_with(&self, bucket: &str, objects: &[(&str, &[u8])]) {
        self.put_ok(
            &format!("/{bucket}"),
            &[],
            &format!("creating bucket {bucket}"),
        );
        for (key, bytes) in objects {
            self.put_ok(
                &format!("/{bucket}/{key}"),
                bytes,
                &format!("writing {bucket}/{key}"),
            );
        }
    }

    /// A PUT of `path` that must answer 200; `what` names it if not.
    fn put_ok(&self, path: &str, bytes: &[u8], what: &str) {
        let (status, body) = self.request("PUT", path, bytes).expect("moto answers");
        assert_eq!(status, 200, "{what}: {}", String::from_utf8_lossy(&body));
    }

    /// Every object in `bucket` below `prefix`, read with boto3 from moto's
    /// own environment (moto refuses unsigned reads of objects).
    pub fn objects(&self, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        const SCRIPT: &str = r#"
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
out = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):
    for item in page.get("Contents", []):
        body = s3.get_object(Bucket=sys.argv[2], Key=item["Key"])["Body"].read()
        out[item["Key"]] = list(body)
print(json.dumps(out))
"#;
        let output = Command::new(&self.python)
            .args(["-c", SCRIPT, &self.endpoint, bucket, prefix])
            .output()
            .expect("moto's python runs");
        assert!(
            output.status.success(),
            "reading s3://{bucket}/{prefix}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the reader prints JSON")
    }

    /// One unsigned HTTP/1.0 request; moto does not check signatures, and
    /// an HTTP/1.0 answer is never chunked: its body runs to the close.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        )?;
        stream.write_all(body)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no end of headers"))?;
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))?;
        Ok((status, response[split + 4..].to_vec()))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_venv_search_stops_at_the_repository_root() {
    let outside = tempfile::tempdir().unwrap();
    let root = outside.path().join("repo");
    let crate_dir = root.join("crates/model-server");
    std::fs::create_dir_all(&crate_dir).unwrap();
    let canonical = |p: &Path| p.canonicalize().unwrap();
    assert_eq!(
        venv_dirs(&crate_dir, &root),
        [
            canonical(&crate_dir),
            canonical(&root.join("crates")),
            canonical(&root)
        ]
    );
    // A `.venv-ci` above the repository is never looked at.
    assert!(!venv_dirs(&crate_dir, &root).contains(&canonical(outside.path())));
    assert!(venv_dirs(outside.path(), &root).is_empty());
}
