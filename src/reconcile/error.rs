//! Errors of the cluster layer ([`crate::cluster`] returns them), classified
//! from what the API server answered: no cluster, bad credentials, RBAC
//! denial, field-manager conflict, invalid object, kind not served, missing
//! namespace. Each names the object and says what to do; the raw `kube`
//! error stays attached as the source. Classifies only: sends nothing.

use std::fmt;

use kube::core::Status;
use thiserror::Error;

use super::progress::{NotReady, PodState, Progress};
use crate::object::{KeyError, ObjectKey};

/// One field another field manager owns, from a 409 Conflict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldConflict {
    /// The other field manager (`other-team`).
    pub manager: String,
    /// The field path the server reported (`.spec.template.spec.containers[name="server"].image`).
    pub field: String,
}

/// One invalid field, from a 422 Invalid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field path (`spec.replicas`), or `None` for whole-object messages.
    pub field: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

/// What went wrong talking to the cluster.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// No kubeconfig, no in-cluster service account, or a context that does not exist.
    #[error("no cluster to talk to: {reason}")]
    NoCluster {
        /// Why no configuration could be loaded.
        reason: String,
    },
    /// The API server could not be reached.
    #[error("cannot reach the API server: {cause}")]
    Unreachable {
        /// The innermost cause of the transport error (`Connection refused
        /// (os error 111)`): the layers above it (kube's service, hyper's
        /// client, the connector) each repeat the same fault, so the chain
        /// is not kept as a source.
        cause: String,
    },
    /// 401: the server does not know the credentials.
    #[error(
        "the API server rejected the credentials (401 Unauthorized); check the kubeconfig user or refresh its token"
    )]
    Unauthorized,
    /// 403: RBAC denies one verb on one resource.
    #[error("{}", forbidden_message(user, verb, resource, namespace, message))]
    Forbidden {
        /// The user the server saw.
        user: Option<String>,
        /// The verb (`patch`, `list`, `delete`).
        verb: Option<String>,
        /// `resource.group` (`deployments.apps`).
        resource: Option<String>,
        /// The namespace, or `None` at the cluster scope.
        namespace: Option<String>,
        /// The server's message.
        message: String,
    },
    /// 409: fields of the object belong to another field manager.
    #[error("{}", conflict_message(object, conflicts))]
    Conflict {
        /// The object.
        object: ObjectKey,
        /// Every conflicting field.
        conflicts: Vec<FieldConflict>,
    },
    /// 422 (or the 500 server-side apply gives for fields it cannot type):
    /// the object does not validate.
    #[error("{}", invalid_message(object, causes))]
    Invalid {
        /// The object.
        object: ObjectKey,
        /// The invalid fields.
        causes: Vec<FieldError>,
    },
    /// The kind is not served: its CRD is not installed.
    #[error("{kind} ({api_version}) is not served by this cluster: install its CRD first")]
    KindNotServed {
        /// The kind (`HTTPRoute`).
        kind: String,
        /// Its apiVersion (`gateway.networking.k8s.io/v1`).
        api_version: String,
    },
    /// The object's namespace does not exist.
    #[error(
        "namespace {namespace:?} does not exist; create it first (kubectl create namespace {namespace})"
    )]
    NamespaceMissing {
        /// The object.
        object: ObjectKey,
        /// The missing namespace.
        namespace: String,
    },
    /// An object modelctl cannot handle (no apiVersion, kind or name).
    #[error("{0}")]
    BadObject(String),
    /// Any other answer from the API server.
    #[error("{context}: {status}")]
    Api {
        /// What was being done (`applying Deployment ml/digits`).
        context: String,
        /// The server's answer.
        status: ApiStatus,
    },
    /// A client-side failure (decoding, request building).
    #[error("{context}: {source}")]
    Client {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: Box<kube::Error>,
    },
    /// `--prune` was asked for when it would not be safe.
    #[error("refusing to prune: {0}")]
    PruneRefused(String),
    /// A rollout or Job ended in failure.
    #[error("{object} failed: {reason}")]
    Failed {
        /// The Deployment or Job.
        object: ObjectKey,
        /// Why (`BackoffLimitExceeded: Job has reached the specified backoff limit`).
        reason: String,
    },
    /// Several objects failed in the same step.
    #[error("{}", several(.0))]
    Several(Vec<ClusterError>),
    /// An apply stopped part way: `cause` failed one or more objects of a
    /// stage, and the later stages were not sent. What was applied stays
    /// applied, and is recorded in the inventory when the server lets it.
    #[error("{}", interrupted_message(*applied, *failed, *total, cause, inventory.as_deref()))]
    Interrupted {
        /// Objects applied (or found unchanged) before it stopped.
        applied: usize,
        /// Objects that failed.
        failed: usize,
        /// Objects rendered.
        total: usize,
        /// Why they failed.
        cause: Box<ClusterError>,
        /// Why the inventory could not be updated, if it could not.
        inventory: Option<Box<ClusterError>>,
    },
    /// `--wait` ran out of time.
    #[error("timed out after {timeout:?} waiting for {}", names(pending))]
    Timeout {
        /// How long it waited.
        timeout: std::time::Duration,
        /// The objects still not ready, with the reasons found.
        pending: Vec<NotReady>,
    },
}

fn interrupted_message(
    applied: usize,
    failed: usize,
    total: usize,
    cause: &ClusterError,
    inventory: Option<&ClusterError>,
) -> String {
    let not_sent = total.saturating_sub(applied + failed);
    let mut text = match applied {
        0 => format!(
            "{cause}\napplying stopped: none of {total} object(s) applied ({failed} failed, {not_sent} not sent)"
        ),
        _ => format!(
            "{cause}\napplying stopped after {applied} of {total} object(s) were applied ({failed} failed, {not_sent} not sent); what was applied stays"
        ),
    };
    let unreachable = |e: &ClusterError| matches!(e.cause(), ClusterError::Unreachable { .. });
    let all_unreachable = match cause.cause() {
        ClusterError::Several(errors) => !errors.is_empty() && errors.iter().all(unreachable),
        other => unreachable(other),
    };
    if all_unreachable {
        text.push_str("; apply again once the API server answers, and it finishes the rest");
    }
    if let Some(inventory) = inventory {
        text.push_str(&format!(
            "\nthe inventory could not be updated ({inventory}): until an apply succeeds, --prune does not know the objects this one created"
        ));
    }
    text
}

/// The text of the last error in `err`'s source chain.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// A non-success API Status, kept for display.
#[derive(Debug, Clone)]
pub struct ApiStatus {
    /// HTTP code.
    pub code: u16,
    /// `reason` (`NotFound`, `InternalError`), possibly empty.
    pub reason: String,
    /// The server's message.
    pub message: String,
}

impl fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.message.trim();
        if self.reason.is_empty() {
            write!(f, "{} ({})", message, self.code)
        } else {
            write!(f, "{} ({} {})", message, self.code, self.reason)
        }
    }
}

fn several(errors: &[ClusterError]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    all.join("\n")
}

fn names(pending: &[NotReady]) -> String {
    let all: Vec<String> = pending.iter().map(not_ready).collect();
    all.join("; ")
}

/// `Deployment ml/digits: 1/2 ready`, then one indented line per pod that
/// is not ready and per Warning event.
fn not_ready(n: &NotReady) -> String {
    let state = match &n.progress {
        Progress::Pending { done, total } => format!("{done}/{total} ready"),
        Progress::Failed(why) => format!("failed: {why}"),
        Progress::Ready => "ready".to_owned(),
    };
    let mut lines = vec![format!("{}: {state}", n.object)];
    for pod in &n.pods {
        lines.push(format!("pod {}: {}", pod.name, pod_words(pod)));
    }
    for w in &n.warnings {
        lines.push(format!("{} {}: {} {}", w.kind, w.name, w.reason, w.message));
    }
    lines.join("\n  ")
}

/// `Pending, not scheduled (Unschedulable: …)`, `Running, container server
/// waiting: CrashLoopBackOff`, `Running, container server not ready
/// (readiness probe not passing yet)`.
fn pod_words(pod: &PodState) -> String {
    let Some(phase) = &pod.phase else {
        return "no status yet".to_owned();
    };
    let mut parts = vec![phase.clone()];
    match &pod.unscheduled {
        Some(Some(why)) => parts.push(format!("not scheduled ({why})")),
        Some(None) => parts.push("not scheduled to a node yet".to_owned()),
        None => {}
    }
    for c in &pod.containers {
        match &c.waiting {
            Some((reason, message)) => {
                parts.push(format!("container {} waiting: {reason} {message}", c.name));
            }
            None if !c.ready => parts.push(format!(
                "container {} not ready (readiness probe not passing yet)",
                c.name
            )),
            None => {}
        }
        if c.restarts > 0 {
            parts.push(format!("{} restarts", c.restarts));
        }
    }
    parts.join(", ")
}

fn forbidden_message(
    user: &Option<String>,
    verb: &Option<String>,
    resource: &Option<String>,
    namespace: &Option<String>,
    message: &str,
) -> String {
    match (verb, resource) {
        (Some(verb), Some(resource)) => {
            let user = user.as_deref().unwrap_or("the current user");
            let scope = match namespace {
                Some(ns) => format!("in namespace {ns:?}"),
                None => "at the cluster scope".to_owned(),
            };
            format!(
                "permission denied: {user} may not {verb} {resource} {scope} (RBAC); ask for a Role granting {verb:?} on {resource:?}"
            )
        }
        _ => format!("permission denied (403 Forbidden): {message}"),
    }
}

fn conflict_message(object: &ObjectKey, conflicts: &[FieldConflict]) -> String {
    let mut out = format!("{object}: conflict with another field manager:");
    for c in conflicts {
        out.push_str(&format!("\n  {} is owned by {:?}", c.field, c.manager));
    }
    out.push_str("\n  rerun with --force-conflicts to take these fields over");
    out
}

fn invalid_message(object: &ObjectKey, causes: &[FieldError]) -> String {
    let mut out = format!("{object} is invalid:");
    for c in causes {
        match &c.field {
            Some(field) => out.push_str(&format!("\n  {field}: {}", c.message)),
            None => out.push_str(&format!("\n  {}", c.message)),
        }
    }
    out
}

impl ClusterError {
    /// What failed, behind the note of how far an apply got.
    pub fn cause(&self) -> &ClusterError {
        match self {
            ClusterError::Interrupted { cause, .. } => cause.cause(),
            other => other,
        }
    }

    /// Classifies an error of a request about `object` (or `None` for lists
    /// and discovery); `doing` names the action for generic errors.
    pub fn classify(err: kube::Error, object: Option<&ObjectKey>, doing: &str) -> ClusterError {
        let status = match err {
            kube::Error::Api(status) => status,
            kube::Error::HyperError(_) | kube::Error::Service(_) => {
                return ClusterError::Unreachable {
                    cause: innermost(&err),
                };
            }
            other => {
                return ClusterError::Client {
                    context: doing.to_owned(),
                    source: Box::new(other),
                };
            }
        };
        from_status(*status, object, doing)
    }

    /// Whether this error is about one object only (the run can go on with
    /// the others) rather than about the connection or permissions.
    pub fn is_per_object(&self) -> bool {
        matches!(
            self,
            ClusterError::Conflict { .. }
                | ClusterError::Invalid { .. }
                | ClusterError::KindNotServed { .. }
                | ClusterError::NamespaceMissing { .. }
                | ClusterError::Api { .. }
                | ClusterError::BadObject(_)
        )
    }
}

/// Whether `status` is the plain-text 404 of a path nobody serves (a kind
/// whose CRD is not installed), as opposed to a JSON NotFound Status.
pub fn is_not_served(status: &Status) -> bool {
    status.code == 404 && status.details.is_none() && status.message.contains("404 page not found")
}

/// Whether `err` is a JSON 404 NotFound about the object itself.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == 404 && !is_not_served(s) && !is_namespace_missing(s, None))
}

fn is_namespace_missing(status: &Status, object: Option<&ObjectKey>) -> bool {
    let Some(details) = &status.details else {
        return false;
    };
    status.code == 404
        && details.kind == "namespaces"
        && object.is_none_or(|o| o.namespace.as_deref() == Some(details.name.as_str()))
        && object.is_none_or(|o| o.kind != "Namespace")
}

fn from_status(status: Status, object: Option<&ObjectKey>, doing: &str) -> ClusterError {
    match status.code {
        401 => ClusterError::Unauthorized,
        403 => parse_forbidden(&status.message),
        404 if is_not_served(&status) => match object {
            Some(o) => ClusterError::KindNotServed {
                kind: o.kind.clone(),
                api_version: o.api_version.clone(),
            },
            None => api(status, doing),
        },
        404 if object.is_some() && is_namespace_missing(&status, object) => {
            let object = object.cloned().unwrap_or_default();
            let namespace = status.details.map(|d| d.name).unwrap_or_default();
            ClusterError::NamespaceMissing { object, namespace }
        }
        409 if status.reason == "Conflict" && object.is_some() => ClusterError::Conflict {
            object: object.cloned().unwrap_or_default(),
            conflicts: conflicts(&status),
        },
        422 if object.is_some() => ClusterError::Invalid {
            object: object.cloned().unwrap_or_default(),
            causes: invalid_causes(&status),
        },
        // Server-side apply rejects fields it cannot type (unknown fields,
        // malformed quantities) with a 500 and no reason.
        500 if object.is_some()
            && status
                .message
                .starts_with("failed to create typed patch object") =>
        {
            let message = status
                .message
                .rsplit("): ")
                .next()
                .unwrap_or(&status.message);
            ClusterError::Invalid {
                object: object.cloned().unwrap_or_default(),
                causes: vec![split_field(message)],
            }
        }
        _ => api(status, doing),
    }
}

fn api(status: Status, doing: &str) -> ClusterError {
    ClusterError::Api {
        context: doing.to_owned(),
        status: ApiStatus {
            code: status.code,
            reason: status.reason,
            message: status.message,
        },
    }
}

/// `.spec.replica: field not declared in schema` → field and message.
fn split_field(message: &str) -> FieldError {
    match message.split_once(": ") {
        Some((field, rest)) if field.starts_with('.') && !field.contains(' ') => FieldError {
            field: Some(field.trim_start_matches('.').to_owned()),
            message: rest.to_owned(),
        },
        _ => FieldError {
            field: None,
            message: message.to_owned(),
        },
    }
}

fn conflicts(status: &Status) -> Vec<FieldConflict> {
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    let found: Vec<FieldConflict> = causes
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| FieldConflict {
            manager: quoted(&c.message).unwrap_or_else(|| c.message.clone()),
            field: c.field.clone(),
        })
        .collect();
    if found.is_empty() {
        vec![FieldConflict {
            manager: quoted(&status.message).unwrap_or_default(),
            field: status.message.clone(),
        }]
    } else {
        found
    }
}

fn invalid_causes(status: &Status) -> Vec<FieldError> {
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    let found: Vec<FieldError> = causes
        .iter()
        .map(|c| FieldError {
            field: (!c.field.is_empty() && c.field != "<nil>").then(|| c.field.clone()),
            message: c.message.clone(),
        })
        .collect();
    if found.is_empty() {
        vec![FieldError {
            field: None,
            message: status.message.clone(),
        }]
    } else {
        found
    }
}

/// The first `"quoted"` word of `text`.
fn quoted(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_owned())
}

/// Parses `User "u" cannot patch resource "deployments" in API group "apps"
/// in the namespace "ml"` (or `at the cluster scope`).
fn parse_forbidden(message: &str) -> ClusterError {
    let after = |marker: &str| -> Option<String> {
        let at = message.find(marker)? + marker.len();
        quoted(&message[at..])
    };
    let verb = message.find("\" cannot ").and_then(|at| {
        message[at + 9..]
            .split_whitespace()
            .next()
            .map(str::to_owned)
    });
    let resource = after("resource ").map(|r| match after("in API group ") {
        Some(group) if !group.is_empty() => format!("{r}.{group}"),
        _ => r,
    });
    ClusterError::Forbidden {
        user: after("User "),
        verb,
        resource,
        namespace: after("in the namespace "),
        message: message.to_owned(),
    }
}

impl From<KeyError> for ClusterError {
    fn from(err: KeyError) -> ClusterError {
        ClusterError::BadObject(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_message_names_verb_resource_and_namespace() {
        let err = parse_forbidden(
            "deployments.apps \"digits\" is forbidden: User \"unprivileged\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"ml\"",
        );
        assert_eq!(
            err.to_string(),
            "permission denied: unprivileged may not patch deployments.apps in namespace \"ml\" (RBAC); ask for a Role granting \"patch\" on \"deployments.apps\""
        );
    }

    #[test]
    fn forbidden_at_cluster_scope_has_no_namespace() {
        let err = parse_forbidden(
            "deployments.apps is forbidden: User \"unprivileged\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope",
        );
        assert!(
            matches!(err, ClusterError::Forbidden { namespace: None, ref verb, .. } if verb.as_deref() == Some("list"))
        );
    }

    #[test]
    fn typed_patch_failure_names_the_field() {
        let e = split_field(".spec.replica: field not declared in schema");
        assert_eq!(e.field.as_deref(), Some("spec.replica"));
        assert_eq!(e.message, "field not declared in schema");
    }
}
