//! The fast path's read of the cluster: one paged LIST per kind and
//! namespace (only objects with the managed-by label), each live object
//! compared locally with its rendered counterpart ([`compare`]) as its page
//! arrives. Pages are read one at a time and dropped once compared; what is
//! kept is one answer per rendered object, and the live object only where
//! the comparison flags a change.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{DynamicObject, ListParams};
use kube::discovery::Scope;
use serde_json::Value;

use super::connect::Cluster;
use crate::object::ObjectKey;
use crate::object::labels::MANAGED_SELECTOR;
use crate::reconcile::ClusterError;
use crate::reconcile::compare::{Difference, Verdict, compare};

/// Objects per LIST page (what kubectl asks for too).
pub const PAGE: u32 = 500;

/// What the scan found for one rendered object.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Applying it changes nothing (the live object is not kept: a report
    /// shows nothing of an unchanged object but its name).
    Same,
    /// Applying it may change something: the live object as listed (with
    /// `apiVersion` and `kind`), and why it was flagged.
    Differs {
        /// The live object.
        live: Value,
        /// Why the local comparison flagged it.
        why: Difference,
    },
    /// Not listed: it does not exist yet, or exists without the managed-by
    /// label (a GET and a dry run tell which).
    Unlisted,
    /// Its kind is not served by the cluster.
    NotServed,
}

/// Tallies of a scan, for `--verbose`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanCounts {
    /// LIST requests (pages).
    pub pages: usize,
    /// Rendered objects found unchanged without a dry run.
    pub same: usize,
    /// Rendered objects the comparison flagged.
    pub flagged: usize,
    /// Rendered objects not listed.
    pub unlisted: usize,
    /// Each flagged object and why it was flagged.
    pub reasons: Vec<(ObjectKey, Difference)>,
}

impl ScanCounts {
    /// Counts the answers of a scan.
    pub fn of(objects: &[Value], found: &[Found], pages: usize) -> ScanCounts {
        let mut counts = ScanCounts {
            pages,
            ..ScanCounts::default()
        };
        for (object, f) in objects.iter().zip(found) {
            match f {
                Found::Same => counts.same += 1,
                Found::Differs { why, .. } => {
                    counts.flagged += 1;
                    // Only objects with a key are listed, so only they can differ.
                    if let Ok(key) = ObjectKey::of(object) {
                        counts.reasons.push((key, why.clone()));
                    }
                }
                Found::Unlisted | Found::NotServed => counts.unlisted += 1,
            }
        }
        counts
    }
}

/// One page of a LIST.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Vec<Value>,
}

#[derive(Default, serde::Deserialize)]
struct PageMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

/// One kind in one namespace (none: cluster-scoped).
type Group = (String, String, Option<String>);

/// LISTs of different kinds and namespaces in flight at once: the server
/// encodes one page while the client compares another.
const LISTS_AT_ONCE: usize = 4;

/// Lists and compares every rendered object; the answers are in the order of
/// `objects`. Returns the number of LIST pages requested as well.
pub async fn scan(
    cluster: &Cluster,
    objects: &[Value],
) -> Result<(Vec<Found>, usize), ClusterError> {
    let mut groups: BTreeMap<Group, BTreeMap<String, usize>> = BTreeMap::new();
    for (index, object) in objects.iter().enumerate() {
        // A malformed object stays unlisted: the dry run reports it.
        if let Ok(key) = ObjectKey::of(object) {
            groups
                .entry((key.api_version, key.kind, key.namespace))
                .or_default()
                .insert(key.name, index);
        }
    }
    let answers: Vec<(Vec<(usize, Found)>, usize)> = stream::iter(groups)
        .map(|(group, names)| scan_group(cluster, objects, group, names))
        .buffer_unordered(LISTS_AT_ONCE)
        .try_collect()
        .await?;
    let mut found = vec![Found::Unlisted; objects.len()];
    let mut pages = 0;
    for (answers, group_pages) in answers {
        pages += group_pages;
        for (index, answer) in answers {
            found[index] = answer;
        }
    }
    Ok((found, pages))
}

/// Lists one kind in one namespace and compares what it holds with the
/// rendered objects named in `names` (name to index in `objects`): the
/// answers for the listed ones, and the pages requested.
async fn scan_group(
    cluster: &Cluster,
    objects: &[Value],
    (api_version, kind, namespace): Group,
    names: BTreeMap<String, usize>,
) -> Result<(Vec<(usize, Found)>, usize), ClusterError> {
    let mut answers = Vec::new();
    let (ar, caps) = match cluster.resource(&api_version, &kind).await {
        Ok(found) => found,
        Err(ClusterError::KindNotServed { .. }) => {
            answers.extend(names.values().map(|i| (*i, Found::NotServed)));
            return Ok((answers, 0));
        }
        Err(err) => return Err(err),
    };
    let api: kube::Api<DynamicObject> = match (caps.scope, &namespace) {
        (Scope::Namespaced, Some(ns)) => {
            kube::Api::namespaced_with(cluster.client().clone(), ns, &ar)
        }
        (Scope::Cluster, _) => kube::Api::all_with(cluster.client().clone(), &ar),
        // Namespaced but without a namespace: left to the dry run.
        (Scope::Namespaced, None) => return Ok((answers, 0)),
    };
    let collection = kube::core::Request::new(api.resource_url());
    let mut params = ListParams::default().labels(MANAGED_SELECTOR).limit(PAGE);
    let mut pages = 0;
    loop {
        let failed = |err: kube::Error| {
            let place = namespace
                .as_deref()
                .map_or(String::new(), |ns| format!(" in namespace {ns}"));
            ClusterError::classify(err, None, &format!("listing {kind} ({api_version}){place}"))
        };
        let request = collection
            .list(&params)
            .map_err(|e| failed(kube::Error::BuildRequest(e)))?;
        // Items as plain JSON: compared as they come, no typed detour.
        let page: Page = cluster.client().request(request).await.map_err(failed)?;
        pages += 1;
        for mut live in page.items {
            let name = live.pointer("/metadata/name").and_then(Value::as_str);
            let Some(&index) = name.and_then(|n| names.get(n)) else {
                continue;
            };
            // List items may leave out their type.
            live["apiVersion"] = Value::from(api_version.as_str());
            live["kind"] = Value::from(kind.as_str());
            let answer = match compare(&objects[index], &live) {
                Verdict::Same => Found::Same,
                Verdict::Differs(why) => Found::Differs { live, why },
            };
            answers.push((index, answer));
        }
        match page.metadata.continue_token.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok((answers, pages))
}
