//! The recorded kube-apiserver exchanges under `tests/fixtures/kube/`
//! (resolved from `CARGO_MANIFEST_DIR`), parsed into [`Exchange`]s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// One recorded request/response pair.
#[derive(Debug, Clone, Deserialize)]
pub struct Exchange {
    /// The request as sent.
    pub request: RecordedRequest,
    /// The server's answer.
    pub response: RecordedResponse,
}

/// The recorded request.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    /// `GET`, `PATCH`, `DELETE`.
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// Decoded query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Request headers (`Content-Type` may be null).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// The parsed JSON body, or null.
    #[serde(default)]
    pub body: Value,
}

/// The recorded response.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON, a string for non-JSON bodies, the event list for watches.
    #[serde(default)]
    pub body: Value,
    /// For watches: when each event arrived, in seconds after the request.
    #[serde(default)]
    pub event_arrival_seconds: Vec<f64>,
}

impl Exchange {
    /// The response's Content-Type (empty when there is none, as for 204).
    pub fn content_type(&self) -> &str {
        self.response
            .headers
            .get("Content-Type")
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The fixtures folder: `<repo>/tests/fixtures/kube`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube")
}

/// Loads one fixture by file stem (`03-get-deployment`). Panics with the
/// path when it is missing or malformed: the fixtures are part of the tests.
pub fn load(stem: &str) -> Exchange {
    let path = dir().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("parsing fixture {}: {e}", path.display()))
}

/// Every fixture whose stem starts with `prefix`, sorted by name.
pub fn load_all(prefix: &str) -> Vec<(String, Exchange)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("listing fixtures in {}: {e}", dir().display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .filter(|stem| stem.starts_with(prefix))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|stem| (stem.clone(), load(&stem)))
        .collect()
}

/// The request body of a fixture: the object modelctl sent.
pub fn request_body(stem: &str) -> Value {
    load(stem).request.body
}

/// The response body of a fixture.
pub fn response_body(stem: &str) -> Value {
    load(stem).response.body
}

/// The objects modelctl sent in the recorded create dry runs
/// (`02-ssa-dryrun-create-<kind>`), e.g. `["namespace", "deployment"]`.
pub fn rendered(kinds: &[&str]) -> Vec<Value> {
    kinds
        .iter()
        .map(|k| request_body(&format!("02-ssa-dryrun-create-{k}")))
        .collect()
}

/// The live objects after the recorded creates (`03-get-<kind>`).
pub fn live(kinds: &[&str]) -> Vec<Value> {
    kinds
        .iter()
        .map(|k| response_body(&format!("03-get-{k}")))
        .collect()
}

/// The items of a recorded LIST, with `apiVersion` and `kind` put back
/// (list items carry neither).
pub fn list_items(stem: &str, api_version: &str, kind: &str) -> Vec<Value> {
    let body = response_body(stem);
    body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut item| {
            item["apiVersion"] = Value::String(api_version.to_owned());
            item["kind"] = Value::String(kind.to_owned());
            item
        })
        .collect()
}

/// `n` rendered objects of a fleet: the recorded Deployment, Service and
/// ConfigMap bodies, renamed for `n / 3` models (`model-0000`, …).
pub fn fleet(n: usize) -> Vec<Value> {
    let templates = rendered(&["deployment", "service", "configmap"]);
    (0..n)
        .map(|i| {
            let mut object = templates[i % templates.len()].clone();
            object["metadata"]["name"] =
                serde_json::json!(format!("model-{:04}", i / templates.len()));
            object
        })
        .collect()
}

/// `objects` with a new image in every `every`-th Deployment, as a release
/// of some models would.
pub fn release(objects: &[Value], every: usize) -> Vec<Value> {
    let mut out = objects.to_vec();
    let deployments = out.iter_mut().filter(|o| o["kind"] == "Deployment");
    for object in deployments.step_by(every.max(1)) {
        object["spec"]["template"]["spec"]["containers"][0]["image"] =
            serde_json::json!("registry.example.com/ml/model-server:0.3.0");
    }
    out
}
