//! An ad-hoc training run's objects, built without a request: the rendered
//! Job under a unique name with the `modelctl.io/run: adhoc` label and
//! `ttlSecondsAfterFinished`, and the ConfigMaps it mounts (applied first by
//! [`crate::cluster::train`]).

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ClusterError;
use crate::object::ObjectKey;
use crate::object::labels::RUN;

/// How long a finished ad-hoc run is kept before the TTL controller deletes it.
pub const ADHOC_TTL_SECONDS: i64 = 86_400;

/// The ad-hoc run object: the rendered Job with a unique name, the
/// `modelctl.io/run: adhoc` label and `ttlSecondsAfterFinished`.
pub fn adhoc_job(rendered: &Value, suffix: &str) -> Result<Value, ClusterError> {
    let key = ObjectKey::of(rendered)?;
    if key.kind != "Job" {
        return Err(ClusterError::BadObject(format!("{key} is not a Job")));
    }
    let base: String = key.name.chars().take(63 - 1 - suffix.len()).collect();
    let name = format!("{}-{suffix}", base.trim_end_matches('-'));
    let mut job = rendered.clone();
    job["metadata"]["name"] = json!(name);
    if let Some(labels) = job
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.insert(RUN.to_owned(), json!("adhoc"));
    } else {
        job["metadata"]["labels"] = json!({ RUN: "adhoc" });
    }
    job["spec"]["ttlSecondsAfterFinished"] = json!(ADHOC_TTL_SECONDS);
    Ok(job)
}

/// Five lowercase base-36 characters, different on every call.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{nanos}-{}", std::process::id()).as_bytes());
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    digest
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % 36] as char)
        .collect()
}

/// The ConfigMaps among `objects` that the pods of `job` mount (the
/// generated `start.sh`). A run whose pods mount a ConfigMap that does not
/// exist never starts, so a run applies them first; their names carry the
/// hash of the training spec, so applying one never changes what another
/// run reads.
pub fn mounted_config_maps<'a>(job: &Value, objects: &'a [Value]) -> Vec<&'a Value> {
    let volumes = job
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array);
    let mounted: BTreeSet<&str> = volumes
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
        .collect();
    objects
        .iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some("ConfigMap")
                && o.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| mounted.contains(name))
        })
        .collect()
}
