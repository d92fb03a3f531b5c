//! A fault-injecting HTTP proxy for tests: it listens on a free port of
//! 127.0.0.1, forwards every request to an upstream (moto) and, for the
//! requests a [`Rule`] picks by method, a piece of the target and their
//! order, injects a [`Fault`] instead of or on top of the real answer.
//!
//! It speaks just enough HTTP/1.1 for `object_store`'s client: requests with
//! a `Content-Length` body, keep-alive towards the client, and one HTTP/1.0
//! request per forward towards the upstream, whose answer runs to the close.
//! Every request is recorded (method, target, status sent) for assertions.
//! Also here: moto's environment through a proxy, and its unfinished
//! multipart uploads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::s3::Moto;

/// What the proxy does to a picked request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering (the request is not forwarded).
    Reset,
    /// Answer `503 Service Unavailable` with no body (not forwarded).
    Unavailable,
    /// Answer S3's `SlowDown`: 503 with the XML error document (not forwarded).
    SlowDown,
    /// Forward, then send the head and half of the body and close.
    TruncateBody,
    /// Forward, then answer with a different `ETag` header.
    CorruptETag,
    /// Forward only the first half of the request body (the store keeps
    /// fewer bytes than were sent), and answer as the store does.
    TruncateUpload,
}

/// Which requests get a fault: those whose method is `method` and whose
/// target (path and query) contains `target`, from the `skip`-th such
/// request on, `times` of them (`usize::MAX`: all).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub target: &'static str,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
    seen: usize,
}

impl Rule {
    /// The first `times` requests matching `method` and `target` get `fault`.
    pub fn new(method: &'static str, target: &'static str, times: usize, fault: Fault) -> Rule {
        Rule {
            method,
            target,
            skip: 0,
            times,
            fault,
            seen: 0,
        }
    }

    /// Every request matching `method` and `target` gets `fault`.
    pub fn always(method: &'static str, target: &'static str, fault: Fault) -> Rule {
        Rule::new(method, target, usize::MAX, fault)
    }

    /// Counts the request and says whether it gets the fault.
    fn picks(&mut self, method: &str, target: &str) -> bool {
        if method != self.method || !target.contains(self.target) {
            return false;
        }
        let index = self.seen;
        self.seen += 1;
        index >= self.skip && index - self.skip < self.times
    }
}

/// One request the proxy saw: method, target, and the status it answered
/// (0 when it closed the connection instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub status: u16,
    pub fault: Option<Fault>,
}

struct Shared {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

/// A running proxy; it stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:<port>`) with `rules`.
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let upstream = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared {
            rules,
            seen: Vec::new(),
        }));
        let (state, stopping) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let (state, upstream) = (state.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &state);
                });
            }
        });
        FaultProxy {
            endpoint,
            shared,
            stop,
        }
    }

    /// The requests seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// How many requests got a fault.
    pub fn faults(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Wake the accept loop with one last connection so it sees the flag.
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

/// A parsed request: head lines and body.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::other(format!("bad request line {line:?}")));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if header(&headers, "transfer-encoding").is_some() {
        return Err(std::io::Error::other(
            "chunked request bodies are not supported",
        ));
    }
    let length = header(&headers, "content-length").map_or(0, |v| v.parse().unwrap_or(0));
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Serves one client connection, request after request.
fn serve(client: TcpStream, upstream: &str, shared: &Mutex<Shared>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    while let Some(mut request) = read_request(&mut reader)? {
        let fault = {
            let mut shared = shared.lock().unwrap();
            let (method, target) = (request.method.as_str(), request.target.as_str());
            shared
                .rules
                .iter_mut()
                .find_map(|rule| rule.picks(method, target).then_some(rule.fault))
        };
        let record = |status: u16| {
            shared.lock().unwrap().seen.push(Seen {
                method: request.method.clone(),
                target: request.target.clone(),
                status,
                fault,
            });
        };
        match fault {
            Some(Fault::Reset) => {
                record(0);
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::Unavailable) => {
                record(503);
                Response::new(503, "Service Unavailable", &[], b"").write(&mut writer, false, 0)?;
                continue;
            }
            Some(Fault::SlowDown) => {
                record(503);
                let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                    <Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>";
                let headers = [("Content-Type".to_owned(), "application/xml".to_owned())];
                let answer = Response::new(503, "Slow Down", &headers, body);
                answer.write(&mut writer, false, body.len())?;
                continue;
            }
            Some(Fault::TruncateUpload) => {
                let half = request.body.len() / 2;
                request.body.truncate(half);
            }
            _ => {}
        }
        let Upstream {
            status,
            reason,
            mut headers,
            body,
        } = forward(upstream, &request)?;
        record(status);
        let head = request.method == "HEAD";
        match fault {
            Some(Fault::TruncateBody) => {
                // The whole body is promised, half of it sent, then the close.
                let cut = Response::new(status, &reason, &headers, &body);
                cut.write(&mut writer, head, body.len() / 2)?;
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Some(Fault::CorruptETag) => {
                for (name, value) in &mut headers {
                    if name.eq_ignore_ascii_case("etag") {
                        *value = "\"00000000000000000000000000000000\"".to_owned();
                    }
                }
            }
            _ => {}
        }
        Response::new(status, &reason, &headers, &body).write(&mut writer, head, body.len())?;
    }
    Ok(())
}

/// The upstream's answer, read to the close.
struct Upstream {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sends `request` to the upstream as HTTP/1.0 and reads the whole answer.
fn forward(upstream: &str, request: &Request) -> std::io::Result<Upstream> {
    let mut stream = TcpStream::connect(upstream)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{} {} HTTP/1.0\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !["content-length", "connection"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers from upstream"))?;
    let text = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let status = words
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let reason = words.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Upstream {
        status,
        reason,
        headers,
        body: response[split + 4..].to_vec(),
    })
}

/// An answer to send back to the client.
struct Response<'a> {
    status: u16,
    reason: &'a str,
    headers: &'a [(String, String)],
    body: &'a [u8],
}

impl<'a> Response<'a> {
    fn new(
        status: u16,
        reason: &'a str,
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> Response<'a> {
        Response {
            status,
            reason,
            headers,
            body,
        }
    }

    /// Writes a keep-alive HTTP/1.1 answer announcing the whole body and
    /// sending its first `send` bytes. The answer to a HEAD keeps the
    /// upstream's `Content-Length`.
    fn write(&self, writer: &mut TcpStream, head: bool, send: usize) -> std::io::Result<()> {
        let mut text = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (name, value) in self.headers {
            let framing = ["connection", "transfer-encoding", "keep-alive"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n));
            if framing || (!head && name.eq_ignore_ascii_case("content-length")) {
                continue;
            }
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if !head {
            text.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        text.push_str("\r\n");
        writer.write_all(text.as_bytes())?;
        writer.write_all(&self.body[..send])?;
        writer.flush()
    }
}

/// What the fault tests ask of moto beyond the other tests' needs.
impl Moto {
    /// As [`Moto::env`], with the store reached through `endpoint` (a proxy).
    pub fn env_via(&self, endpoint: &str) -> Vec<(&'static str, String)> {
        let mut env = self.env();
        for (name, value) in &mut env {
            if *name == "AWS_ENDPOINT_URL" {
                *value = endpoint.to_owned();
            }
        }
        env
    }

    /// The keys of the multipart uploads begun in `bucket` and neither
    /// completed nor aborted (ListMultipartUploads, through boto3).
    pub fn multipart_uploads(&self, bucket: &str) -> Vec<String> {
        const SCRIPT: &str = r#"
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
uploads = s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", [])
print(json.dumps([u["Key"] for u in uploads]))
"#;
        let output = Command::new(&self.python)
            .args(["-c", SCRIPT, &self.endpoint, bucket])
            .output()
            .expect("moto's python runs");
        assert!(
            output.status.success(),
            "listing the multipart uploads of {bucket}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the lister prints JSON")
    }
}
