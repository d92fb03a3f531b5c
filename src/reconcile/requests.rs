//! Counts the requests a [`crate::cluster::Cluster`] sends, by what they do
//! (discovery, get, list, apply, dry-run apply, delete, watch), so
//! `--verbose` can show why a command was fast or slow. Counted in the
//! client's service stack, so nothing that goes out is missed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::Request;

/// What one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestKind {
    /// `/api`, `/apis`, `/apis/<group>/<version>`.
    Discovery,
    /// GET of one object.
    Get,
    /// GET of a collection (one page).
    List,
    /// A watch.
    Watch,
    /// A server-side apply dry run.
    DryRunApply,
    /// A server-side apply (or any other PATCH).
    Apply,
    /// A DELETE.
    Delete,
    /// Anything else (POST, PUT, logs).
    Other,
}

impl RequestKind {
    /// Classifies a request by method, path and query.
    pub fn of(method: &str, path: &str, query: &str) -> RequestKind {
        let pairs = || query.split('&').filter_map(|p| p.split_once('='));
        let dry_run = pairs().any(|(k, v)| k == "dryRun" && v == "All");
        let watch = pairs().any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // After `/api/<v>` or `/apis/<group>/<v>`.
        let rest = match segments.first() {
            Some(&"api") => segments.get(2..),
            Some(&"apis") => segments.get(3..),
            _ => None,
        };
        let Some(rest) = rest.filter(|r| !r.is_empty()) else {
            return RequestKind::Discovery;
        };
        // `namespaces/<ns>/<plural>[/<name>[/<sub>]]` or `<plural>[/<name>[/<sub>]]`.
        let named = if rest[0] == "namespaces" && rest.len() >= 3 {
            rest.len() >= 4
        } else {
            rest.len() >= 2
        };
        match method {
            "GET" if watch => RequestKind::Watch,
            "GET" if named => RequestKind::Get,
            "GET" => RequestKind::List,
            "PATCH" if dry_run => RequestKind::DryRunApply,
            "PATCH" => RequestKind::Apply,
            "DELETE" => RequestKind::Delete,
            _ => RequestKind::Other,
        }
    }
}

/// Requests sent so far, by kind. Clones share one count.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<BTreeMap<RequestKind, usize>>>);

impl RequestLog {
    /// Counts one outgoing request.
    pub fn record<B>(&self, request: &Request<B>) {
        let uri = request.uri();
        let kind = RequestKind::of(
            request.method().as_str(),
            uri.path(),
            uri.query().unwrap_or_default(),
        );
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// The counts now.
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// A snapshot of a [`RequestLog`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts(BTreeMap<RequestKind, usize>);

impl RequestCounts {
    /// Requests of one kind.
    pub fn of(&self, kind: RequestKind) -> usize {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// Every request.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// The kinds sent, in a fixed order, with their counts.
    pub fn by_kind(&self) -> impl Iterator<Item = (RequestKind, usize)> + '_ {
        self.0.iter().map(|(kind, n)| (*kind, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_method_path_and_query() {
        use RequestKind::*;
        let cases = [
            ("GET", "/apis/apps/v1", "", Discovery),
            ("GET", "/api", "", Discovery),
            ("GET", "/api/v1/namespaces/ml", "", Get),
            ("GET", "/api/v1/namespaces", "", List),
            ("GET", "/api/v1/namespaces/ml/configmaps", "limit=500", List),
            ("GET", "/apis/apps/v1/namespaces/ml/deployments/d", "", Get),
            (
                "GET",
                "/apis/batch/v1/namespaces/ml/jobs",
                "watch=true",
                Watch,
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/ml/deployments/d",
                "dryRun=All&fieldManager=modelctl",
                DryRunApply,
            ),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/ml/deployments/d",
                "fieldManager=modelctl",
                Apply,
            ),
            ("DELETE", "/api/v1/namespaces/ml/services/s", "", Delete),
        ];
        for (method, path, query, kind) in cases {
            assert_eq!(
                RequestKind::of(method, path, query),
                kind,
                "{method} {path}?{query}"
            );
        }
    }

    #[test]
    fn counts_by_kind() {
        let log = RequestLog::default();
        let get = |p: &str| Request::get(p).body(()).unwrap();
        log.record(&get("/api/v1/namespaces/ml/configmaps?limit=500"));
        log.record(&get("/api/v1/namespaces/ml/configmaps/x"));
        log.record(&get("/api/v1/namespaces/ml/services?limit=500"));
        let counts = log.snapshot();
        assert_eq!(counts.total(), 3);
        assert_eq!(
            counts.by_kind().collect::<Vec<_>>(),
            [(RequestKind::Get, 1), (RequestKind::List, 2)]
        );
    }
}
