//! [`ObjectKey`]: apiVersion, kind, namespace and name of one Kubernetes
//! object, read from its JSON. Everything that asks "which object?" (the
//! render's conflict check, both diffs, apply, the inventory, prune, waits)
//! uses this type.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// An object without the fields that name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object without apiVersion, kind or metadata.name: {shown}")]
pub struct KeyError {
    /// The start of the object's JSON, to find it by.
    pub shown: String,
}

/// Which object: apiVersion, kind, namespace (none when cluster-scoped), name.
///
/// Serialises as the flat fields `apiVersion`, `kind`, `namespace` (omitted
/// when none) and `name`, the way a manifest spells them.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// `apps/v1`, `v1`, …
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Deployment`, …
    pub kind: String,
    /// The namespace, `None` for cluster-scoped kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

/// The parts naming an object whatever version of its API it is read
/// through: group, kind, namespace, name. Two keys with the same identity
/// are one object in the cluster (`autoscaling/v1` and `autoscaling/v2`
/// HorizontalPodAutoscalers of one name are the same object).
pub type Identity<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

impl ObjectKey {
    /// Reads the key of a whole object (`apiVersion`, `kind`, `metadata`).
    pub fn of(object: &Value) -> Result<ObjectKey, KeyError> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let (Some(api_version), Some(kind), Some(name)) =
            (text("/apiVersion"), text("/kind"), text("/metadata/name"))
        else {
            let shown = serde_json::to_string(object).unwrap_or_default();
            return Err(KeyError {
                shown: shown.chars().take(120).collect(),
            });
        };
        Ok(ObjectKey {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: text("/metadata/namespace").map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// Group, kind, namespace and name: what stays the same across API versions.
    pub fn identity(&self) -> Identity<'_> {
        (
            self.group(),
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }

    /// The inventory line: `apiVersion kind namespace name` (`-` for no namespace).
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or("-"),
            self.name
        )
    }

    /// Parses [`ObjectKey::to_line`] output.
    pub fn from_line(line: &str) -> Option<ObjectKey> {
        let mut parts = line.split_whitespace();
        let (api_version, kind, namespace, name) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(ObjectKey {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: (namespace != "-").then(|| namespace.to_owned()),
            name: name.to_owned(),
        })
    }
}

/// `Kind namespace/name`, or `Kind name` when cluster-scoped.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_round_trips_through_inventory_line() {
        let key = ObjectKey::of(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "digits", "namespace": "ml"}
        }))
        .unwrap();
        assert_eq!(key.to_string(), "Deployment ml/digits");
        assert_eq!(ObjectKey::from_line(&key.to_line()), Some(key));
    }

    #[test]
    fn object_without_kind_is_an_error_showing_it() {
        let err =
            ObjectKey::of(&json!({"apiVersion": "v1", "metadata": {"name": "x"}})).unwrap_err();
        assert!(err.to_string().contains("\"name\":\"x\""), "{err}");
    }

    #[test]
    fn identity_ignores_the_api_version_but_not_the_group() {
        let key = |api_version: &str| ObjectKey {
            api_version: api_version.into(),
            kind: "HorizontalPodAutoscaler".into(),
            namespace: Some("ml".into()),
            name: "digits".into(),
        };
        assert_eq!(
            key("autoscaling/v1").identity(),
            key("autoscaling/v2").identity()
        );
        assert_ne!(
            key("autoscaling/v2").identity(),
            key("other.io/v2").identity()
        );
    }
}
