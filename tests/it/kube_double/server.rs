//! The HTTP side of the test double: accepts connections, authenticates the
//! bearer token, routes discovery, registered recordings, objects,
//! collections (list and watch), pod logs, and answers the way
//! kube-apiserver does (Status bodies, 201 vs 200, text/plain 404s).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::store::{Resource, Slot, Store};
use super::{ADMIN_TOKEN, Request, Shared, UNPRIVILEGED_TOKEN, fixtures};

type Body = BoxBody<Bytes, Infallible>;

/// Serves connections until the task is aborted.
pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Mutex<Shared>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What to answer.
enum Reply {
    Json(u16, Value),
    Text(u16, &'static str, String),
    Empty(u16),
    Watch(Vec<(f64, Value)>, f64, Duration),
}

async fn handle(
    shared: Arc<Mutex<Shared>>,
    req: HttpRequest<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let accept = header("accept").unwrap_or_default();
    let token = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned));
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let request = Request {
        method,
        path,
        query,
        content_type,
        body,
        status: 0,
    };
    let (reply, latency) = {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        let reply = route(&mut shared, &request, token.as_deref(), &accept);
        let status = match &reply {
            Reply::Json(code, _) | Reply::Text(code, _, _) | Reply::Empty(code) => *code,
            Reply::Watch(..) => 200,
        };
        shared.requests.push(Request { status, ..request });
        (reply, shared.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Ok(respond(reply))
}

fn respond(reply: Reply) -> Response<Body> {
    let builder = |status: u16| {
        Response::builder()
            .status(status)
            .header("Cache-Control", "no-cache, private")
    };
    let full = |b: Bytes| Full::new(b).boxed();
    let response =
        match reply {
            Reply::Json(status, value) => builder(status)
                .header("Content-Type", "application/json")
                .body(full(Bytes::from(value.to_string()))),
            Reply::Text(status, content_type, text) => builder(status)
                .header("Content-Type", content_type)
                .header("X-Content-Type-Options", "nosniff")
                .body(full(Bytes::from(text))),
            Reply::Empty(status) => builder(status).body(full(Bytes::new())),
            Reply::Watch(events, speedup, hold) => {
                let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
                tokio::spawn(async move {
                    let mut elapsed = 0.0;
                    for (at, event) in events {
                        let wait = ((at - elapsed) / speedup).max(0.0);
                        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                        elapsed = at;
                        let line = format!("{event}\n");
                        if tx.send(Ok(Frame::data(Bytes::from(line)))).await.is_err() {
                            return;
                        }
                    }
                    tokio::time::sleep(hold).await;
                });
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|f| (f, rx))
                });
                builder(200)
                    .header("Content-Type", "application/json")
                    .body(StreamBody::new(stream).boxed())
            }
        };
    response.unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    url_pairs(query).collect()
}

/// The query's pairs, decoded as `application/x-www-form-urlencoded`.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.as_bytes()).into_owned()
}

/// What a path names.
enum Target {
    Discovery,
    NotServed,
    Collection(Resource, Option<String>),
    Object(Resource, Slot, Option<String>),
}

fn parse(store: &Store, path: &str) -> Target {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match segs.as_slice() {
        ["version"] | ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _] => {
            return Target::Discovery;
        }
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return Target::NotServed,
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, more @ ..] => {
            (Some(ns.to_string()), *plural, more.first(), more.get(1))
        }
        [plural, more @ ..] => (None, *plural, more.first(), more.get(1)),
        [] => return Target::Discovery,
    };
    let Some(resource) = store.resource(&gv, plural) else {
        return Target::NotServed;
    };
    let resource = resource.clone();
    match name {
        None => Target::Collection(resource, namespace),
        Some(name) => {
            let slot = Slot {
                group_version: gv,
                plural: plural.to_owned(),
                namespace: if resource.namespaced {
                    namespace.unwrap_or_default()
                } else {
                    String::new()
                },
                name: name.to_string(),
            };
            Target::Object(resource, slot, sub.map(|s| s.to_string()))
        }
    }
}

/// The resource and slot of an object path, for tests reading state.
pub(crate) fn parse_object_path(store: &Store, path: &str) -> Option<(Resource, Slot)> {
    match parse(store, path) {
        Target::Object(resource, slot, None) => Some((resource, slot)),
        _ => None,
    }
}

fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> Reply {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code});
    if let Some(details) = details {
        body["details"] = details;
    }
    Reply::Json(code, body)
}

fn not_served() -> Reply {
    Reply::Text(
        404,
        "text/plain; charset=utf-8",
        "404 page not found\n".to_owned(),
    )
}

fn route(shared: &mut Shared, req: &Request, token: Option<&str>, accept: &str) -> Reply {
    let admin = token == Some(ADMIN_TOKEN);
    if !admin && token != Some(UNPRIVILEGED_TOKEN) {
        return status(401, "Unauthorized", "Unauthorized".into(), None);
    }
    let target = parse(&shared.store, &req.path);
    if let Target::Discovery = target {
        return discovery(&shared.store, &req.path, accept);
    }
    if !admin {
        return forbidden(req, &target);
    }
    if let Some(exchange) = shared.recordings.iter().find(|e| {
        req.matches(&e.request) && (e.request.body.is_null() || e.request.body == req.body)
    }) {
        let exchange = exchange.clone();
        replay_effects(&mut shared.store, req, &exchange);
        return replay(&exchange);
    }
    match target {
        Target::Discovery => discovery(&shared.store, &req.path, accept),
        Target::NotServed => not_served(),
        Target::Collection(resource, namespace) => {
            collection(shared, req, &resource, namespace.as_deref())
        }
        Target::Object(resource, slot, None) => object(&mut shared.store, req, &resource, &slot),
        Target::Object(resource, slot, Some(sub)) if sub == "log" && resource.plural == "pods" => {
            logs(shared, req, &slot)
        }
        Target::Object(..) => not_served(),
    }
}

fn replay(exchange: &fixtures::Exchange) -> Reply {
    let code = exchange.response.status;
    match (&exchange.response.body, exchange.content_type()) {
        (_, "") => Reply::Empty(code),
        (Value::String(text), ct) if !ct.starts_with("application/json") => {
            Reply::Text(code, "text/plain; charset=utf-8", text.clone())
        }
        (body, _) => Reply::Json(code, body.clone()),
    }
}

/// A replayed successful write changes the state the way it did when recorded.
fn replay_effects(store: &mut Store, req: &Request, exchange: &fixtures::Exchange) {
    let ok = (200..300).contains(&exchange.response.status);
    if !ok || req.query.contains_key("dryRun") || req.body.get("dryRun").is_some() {
        return;
    }
    match req.method.as_str() {
        "PATCH" => store.put(exchange.response.body.clone()),
        "DELETE" => {
            if let Target::Object(_, slot, None) = parse(store, &req.path) {
                store.objects.remove(&slot);
            }
        }
        _ => {}
    }
}

fn discovery(store: &Store, path: &str, accept: &str) -> Reply {
    let aggregated = accept.contains("as=APIGroupDiscoveryList");
    let gv = path
        .trim_start_matches("/apis/")
        .trim_start_matches("/api/");
    if store
        .unserved
        .iter()
        .any(|u| path.starts_with(&format!("/apis/{u}")) || gv == u.split('/').next().unwrap_or(""))
    {
        return not_served();
    }
    for (stem, exchange) in fixtures::load_all("01-") {
        if exchange.request.path == path && stem.ends_with("-aggregated") == aggregated {
            return Reply::Json(200, exchange.response.body);
        }
    }
    not_served()
}

fn verb(req: &Request, target: &Target) -> &'static str {
    match (req.method.as_str(), target) {
        ("GET", Target::Collection(..))
            if req
                .query
                .get("watch")
                .is_some_and(|w| w == "true" || w == "1") =>
        {
            "watch"
        }
        ("GET", Target::Collection(..)) => "list",
        ("GET", _) => "get",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        ("POST", _) => "create",
        _ => "update",
    }
}

fn forbidden(req: &Request, target: &Target) -> Reply {
    let verb = verb(req, target);
    let (resource, namespace, name) = match target {
        Target::Collection(r, ns) => (r, ns.clone(), None),
        Target::Object(r, slot, _) => (
            r,
            (!slot.namespace.is_empty()).then(|| slot.namespace.clone()),
            Some(slot.name.clone()),
        ),
        _ => return not_served(),
    };
    let subject = match &name {
        Some(n) => format!("{} \"{n}\"", resource.qualified()),
        None => resource.qualified(),
    };
    let scope = match &namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    let message = format!(
        "{subject} is forbidden: User \"unprivileged\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
        resource.plural,
        resource.group()
    );
    let mut details = json!({"group": resource.group(), "kind": resource.plural});
    if let Some(n) = name {
        details["name"] = json!(n);
    }
    status(403, "Forbidden", message, Some(details))
}

fn not_found(resource: &Resource, name: &str) -> Reply {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", resource.qualified()),
        Some(json!({"name": name, "group": resource.group(), "kind": resource.plural})),
    )
}

fn object(store: &mut Store, req: &Request, resource: &Resource, slot: &Slot) -> Reply {
    // DeleteOptions may carry dryRun in the body instead of the query.
    let dry_run = req.query.get("dryRun").is_some_and(|d| d == "All")
        || req.body["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    match req.method.as_str() {
        "GET" => match store.objects.get(slot) {
            Some(found) => Reply::Json(200, found.clone()),
            None => not_found(resource, &slot.name),
        },
        "PATCH" if req.content_type.as_deref() == Some("application/merge-patch+json") => {
            let manager = req
                .query
                .get("fieldManager")
                .map_or("unknown", String::as_str);
            match store.update(slot, &req.body, manager, dry_run) {
                Some(updated) => Reply::Json(200, updated),
                None => not_found(resource, &slot.name),
            }
        }
        "PATCH" => {
            if req.content_type.as_deref() != Some("application/apply-patch+yaml") {
                return status(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the double only imitates server-side apply and JSON merge patches, not {:?}",
                        req.content_type
                    ),
                    None,
                );
            }
            let Some(manager) = req.query.get("fieldManager") else {
                return status(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(), None);
            };
            if resource.namespaced && !store.has_namespace(&slot.namespace) {
                return status(
                    404,
                    "NotFound",
                    format!("namespaces \"{}\" not found", slot.namespace),
                    Some(json!({"name": slot.namespace, "kind": "namespaces"})),
                );
            }
            if req.body["metadata"]["name"].as_str() != Some(slot.name.as_str()) {
                return status(
                    400,
                    "BadRequest",
                    "the name of the object does not match the name on the URL".into(),
                    None,
                );
            }
            let force = req.query.get("force").is_some_and(|f| f == "true");
            match store.apply(resource, slot, &req.body, manager, force, dry_run) {
                Ok((code, body)) => Reply::Json(code, body),
                Err((code, body)) => Reply::Json(code, body),
            }
        }
        "DELETE" => {
            let Some(found) = store.objects.get(slot).cloned() else {
                return not_found(resource, &slot.name);
            };
            if !dry_run {
                store.objects.remove(slot);
            }
            if resource.kind == "Service" {
                return Reply::Json(200, found);
            }
            Reply::Json(
                200,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": slot.name, "group": resource.group(), "kind": resource.plural,
                            "uid": found["metadata"]["uid"]}}),
            )
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{} is not supported by the double", req.method),
            None,
        ),
    }
}

fn collection(
    shared: &mut Shared,
    req: &Request,
    resource: &Resource,
    namespace: Option<&str>,
) -> Reply {
    if req.method != "GET" {
        return status(
            405,
            "MethodNotAllowed",
            format!(
                "{} on a collection is not supported by the double",
                req.method
            ),
            None,
        );
    }
    if req
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
    {
        let timeout = req
            .query
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .unwrap_or(290u64);
        let script = shared
            .watches
            .get_mut(&req.path)
            .and_then(|q| q.pop_front());
        return match script {
            Some(script) => Reply::Watch(script.events, shared.speedup, Duration::ZERO),
            None => Reply::Watch(Vec::new(), shared.speedup, Duration::from_secs(timeout)),
        };
    }
    let labels = req
        .query
        .get("labelSelector")
        .map(String::as_str)
        .unwrap_or("");
    let fields = req
        .query
        .get("fieldSelector")
        .map(String::as_str)
        .unwrap_or("");
    let matching = || {
        shared
            .store
            .objects
            .iter()
            .filter(|(slot, _)| {
                slot.group_version == resource.group_version && slot.plural == resource.plural
            })
            .filter(|(slot, _)| namespace.is_none_or(|ns| slot.namespace == ns))
            .map(|(_, object)| object)
            .filter(|object| matches_labels(object, labels) && matches_fields(object, fields))
    };
    let start: usize = req
        .query
        .get("continue")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let limit: usize = req
        .query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    // Only the page is copied, as a server streams it from storage.
    let total = matching().count();
    let mut items: Vec<Value> = matching().skip(start).take(limit).cloned().collect();
    for item in &mut items {
        if let Some(map) = item.as_object_mut() {
            map.remove("kind");
            map.remove("apiVersion");
        }
    }
    let mut metadata = json!({"resourceVersion": shared.store.revision.to_string()});
    if start + items.len() < total {
        metadata["continue"] = json!((start + items.len()).to_string());
    }
    Reply::Json(
        200,
        json!({"kind": format!("{}List", resource.kind), "apiVersion": resource.group_version,
                            "metadata": metadata, "items": items}),
    )
}

fn matches_labels(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let labels = &object["metadata"]["labels"];
        if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).and_then(Value::as_str) != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels.get(k.trim_end_matches('=')).and_then(Value::as_str) == Some(v)
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k).is_none()
        } else {
            labels.get(term).is_some()
        }
    })
}

fn matches_fields(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (path, negate, value) = match term.split_once("!=") {
            Some((p, v)) => (p, true, v),
            None => match term.split_once('=') {
                Some((p, v)) => (p.trim_end_matches('='), false, v),
                None => return false,
            },
        };
        let mut node = object;
        for part in path.split('.') {
            node = &node[part];
        }
        let found = match node {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        (found == value) != negate
    })
}

fn logs(shared: &Shared, req: &Request, slot: &Slot) -> Reply {
    let Some(pod) = shared.store.objects.get(slot) else {
        return status(
            404,
            "NotFound",
            format!("pods \"{}\" not found", slot.name),
            Some(json!({"name": slot.name, "kind": "pods"})),
        );
    };
    if pod.pointer("/spec/nodeName").is_none() {
        return Reply::Empty(204);
    }
    // Without `container`, the pod's only container (the API server refuses
    // to choose among several).
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match req.query.get("container") {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].to_owned(),
        None => {
            return status(
                400,
                "BadRequest",
                format!(
                    "a container name must be specified for pod {}, choose one of: {containers:?}",
                    slot.name
                ),
                None,
            );
        }
    };
    // A container that has not started has no log yet.
    let waiting = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .any(|s| s["name"] == container.as_str() && s.pointer("/state/waiting").is_some());
    if waiting {
        return status(
            400,
            "BadRequest",
            format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: PodInitializing",
                slot.name
            ),
            None,
        );
    }
    let text = shared
        .logs
        .get(&(slot.namespace.clone(), slot.name.clone(), container))
        .cloned()
        .unwrap_or_default();
    Reply::Text(200, "text/plain", text)
}
