//! Object identity: [`ObjectKey`] (apiVersion, kind, namespace, name) read
//! from a rendered JSON object, and the labels modelctl puts on what it owns.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::error::ClusterError;

/// The field manager of every server-side apply modelctl makes.
pub const FIELD_MANAGER: &str = "modelctl";
/// The label marking objects modelctl created.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The label selector matching objects modelctl created.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=modelctl";
/// The label naming the model an object belongs to.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label naming the component (`train`, `serve`).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// Which object: apiVersion, kind, namespace (none when cluster-scoped), name.
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

impl ObjectKey {
    /// Reads the key of a whole object (`apiVersion`, `kind`, `metadata`).
    pub fn of(object: &Value) -> Result<ObjectKey, ClusterError> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let (Some(api_version), Some(kind), Some(name)) =
            (text("/apiVersion"), text("/kind"), text("/metadata/name"))
        else {
            let shown = serde_json::to_string(object).unwrap_or_default();
            let shown: String = shown.chars().take(120).collect();
            return Err(ClusterError::BadObject(format!(
                "object without apiVersion, kind or metadata.name: {shown}"
            )));
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

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// A label of an object, if set.
pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("labels")?.get(key)?.as_str()
}

/// Whether the object carries `app.kubernetes.io/managed-by: modelctl`.
pub fn is_managed(object: &Value) -> bool {
    label(object, MANAGED_BY_LABEL) == Some(FIELD_MANAGER)
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
    fn object_without_kind_is_an_error() {
        let err = ObjectKey::of(&json!({"apiVersion": "v1", "metadata": {"name": "x"}}));
        assert!(matches!(err, Err(ClusterError::BadObject(_))));
    }
}
