//! A test double of the Kubernetes API server: an in-process plain-HTTP
//! server on 127.0.0.1 that the real `kube::Client` talks to. It answers
//! from the recorded kube-apiserver exchanges in `tests/fixtures/kube/`
//! (discovery documents, and any exchange a test registers, matched on
//! method, path, query and body) and otherwise imitates the server with
//! state: objects created by server-side apply, managedFields and conflicts,
//! deletes, label/field-selector lists, watches that replay recorded events,
//! pod logs, 404 text/plain for kinds not served, 403 for the unprivileged
//! token and 401 for an unknown one. Every request is logged for assertions.

pub mod field_set;
pub mod fixtures;
pub mod runs;
mod server;
pub mod store;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use modelctl::cluster::Cluster;
use serde_json::Value;

pub use fixtures::Exchange;
use store::Store;

/// The bearer token of the administrator.
pub const ADMIN_TOKEN: &str = "admin-token";
/// The bearer token of an authenticated user without RBAC bindings.
pub const UNPRIVILEGED_TOKEN: &str = "unprivileged-token";
/// A token the double does not know.
pub const INVALID_TOKEN: &str = "invalid-token";

/// One request the double received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// The JSON body, or null.
    pub body: Value,
    /// The status code the double answered with.
    pub status: u16,
}

impl Request {
    /// Whether this request has the method, path, query and Content-Type
    /// of a recorded one.
    pub fn matches(&self, recorded: &fixtures::RecordedRequest) -> bool {
        self.method == recorded.method
            && self.path == recorded.path
            && self.query == recorded.query
            && recorded
                .headers
                .get("Content-Type")
                .is_none_or(|recorded| recorded.as_deref() == self.content_type.as_deref())
    }
}

/// A recorded watch replayed on the next watch of its collection path.
#[derive(Debug, Clone)]
pub struct WatchScript {
    /// Events with their arrival time in seconds.
    pub events: Vec<(f64, Value)>,
}

/// Shared state of a running double.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub store: Store,
    pub recordings: Vec<Exchange>,
    pub watches: BTreeMap<String, VecDeque<WatchScript>>,
    /// Log text by namespace, pod and container.
    pub logs: BTreeMap<(String, String, String), String>,
    pub requests: Vec<Request>,
    /// Watch event times are divided by this.
    pub speedup: f64,
    /// Added before every answer, as a remote API server's round trip.
    pub latency: std::time::Duration,
}

/// A running test double.
pub struct KubeDouble {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl KubeDouble {
    /// Starts a double on a free port, serving the recorded discovery
    /// documents, with namespace `ml` existing.
    pub async fn start() -> KubeDouble {
        let mut store = Store::new();
        store.put(fixtures::response_body("03-get-namespace"));
        let shared = Arc::new(Mutex::new(Shared {
            store,
            speedup: 100.0,
            ..Shared::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(server::serve(listener, shared.clone()));
        KubeDouble { addr, shared, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig document with one context per token: `admin`,
    /// `unprivileged`, `invalid` (current: `admin`).
    pub fn kubeconfig_yaml(&self) -> String {
        let url = self.url();
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: admin\nclusters:\n- name: double\n  cluster:\n    server: {url}\n\
             users:\n- name: admin\n  user:\n    token: {ADMIN_TOKEN}\n- name: unprivileged\n  user:\n    token: {UNPRIVILEGED_TOKEN}\n- name: invalid\n  user:\n    token: {INVALID_TOKEN}\n\
             contexts:\n- name: admin\n  context:\n    cluster: double\n    user: admin\n- name: unprivileged\n  context:\n    cluster: double\n    user: unprivileged\n- name: invalid\n  context:\n    cluster: double\n    user: invalid\n"
        )
    }

    /// A connected [`Cluster`] using kubeconfig context `context`.
    pub async fn cluster_as(&self, context: &str) -> Cluster {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())
            .expect("kubeconfig parses");
        Cluster::from_kubeconfig(kubeconfig, Some(context))
            .await
            .expect("connects to the double")
    }

    /// A connected [`Cluster`] as the administrator.
    pub async fn cluster(&self) -> Cluster {
        self.cluster_as("admin").await
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores objects (whole, as a GET returns them).
    pub fn seed(&self, objects: impl IntoIterator<Item = Value>) {
        let mut shared = self.lock();
        for object in objects {
            shared.store.put(object);
        }
    }

    /// Stores the response bodies of fixtures (e.g. `03-get-deployment`).
    pub fn seed_fixtures(&self, stems: &[&str]) {
        self.seed(stems.iter().map(|s| fixtures::response_body(s)));
    }

    /// Answers requests matching this recorded exchange with its response.
    pub fn record(&self, stem: &str) {
        self.lock().recordings.push(fixtures::load(stem));
    }

    /// Stops serving a group (its CRDs are "not installed").
    pub fn uninstall_group(&self, group_version: &str) {
        self.lock().store.unserved.insert(group_version.to_owned());
    }

    /// Replays a recorded watch on the next watch of its collection.
    pub fn script_watch(&self, stem: &str) {
        let exchange = fixtures::load(stem);
        let events: Vec<Value> = exchange
            .response
            .body
            .as_array()
            .cloned()
            .unwrap_or_default();
        let times = exchange.response.event_arrival_seconds.clone();
        let script = WatchScript {
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (times.get(i).copied().unwrap_or(0.0), e))
                .collect(),
        };
        self.lock()
            .watches
            .entry(exchange.request.path.clone())
            .or_default()
            .push_back(script);
    }

    /// The text `pods/<pod>/log?container=<container>` answers for a pod
    /// that has a node (the container's log).
    pub fn set_logs(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.lock().logs.insert(
            (namespace.to_owned(), pod.to_owned(), container.to_owned()),
            text.to_owned(),
        );
    }

    /// Delays every answer by `latency` (network plus API server time).
    #[allow(
        dead_code,
        reason = "benches/cluster_diff.rs uses it; no test needs latency"
    )]
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.lock().latency = latency;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// The stored object at an API path (`/apis/apps/v1/namespaces/ml/deployments/digits`).
    pub fn object(&self, path: &str) -> Option<Value> {
        let shared = self.lock();
        let (resource, slot) = server::parse_object_path(&shared.store, path)?;
        let _ = resource;
        shared.store.objects.get(&slot).cloned()
    }

    /// How many objects are stored.
    #[allow(dead_code, reason = "benches/cluster_diff.rs uses it")]
    pub fn object_count(&self) -> usize {
        self.lock().store.objects.len()
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}
