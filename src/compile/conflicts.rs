//! Objects two models both render: the same kind, namespace and name from
//! different spec files. Applying both would make the models overwrite each
//! other, so `render` refuses. Validation already rejects the one known way
//! to get there (a model `x` with a canary beside a model `x-canary`); this
//! is the net under any other.
//!
//! Owns the detection only; the message is the caller's. Objects are told
//! apart by [`ObjectKey::identity`] (group, kind, namespace, name).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Manifest;
use crate::object::ObjectKey;

/// One object rendered by more than one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `Kind namespace/name`.
    pub object: String,
    /// The spec files rendering it, in order.
    pub sources: Vec<PathBuf>,
}

/// Every object that more than one spec file renders, in object order.
pub fn conflicts(manifests: &[Manifest]) -> Vec<Conflict> {
    find(manifests.iter().map(|m| (m.key(), m.source.clone())))
}

/// The conflicts among objects given by key and source.
pub(crate) fn find(objects: impl IntoIterator<Item = (ObjectKey, PathBuf)>) -> Vec<Conflict> {
    let objects: Vec<(ObjectKey, PathBuf)> = objects.into_iter().collect();
    let mut seen: BTreeMap<_, (&ObjectKey, Vec<&PathBuf>)> = BTreeMap::new();
    for (key, source) in &objects {
        let (_, sources) = seen.entry(key.identity()).or_insert((key, Vec::new()));
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    seen.into_values()
        .filter(|(_, sources)| sources.len() > 1)
        .map(|(key, sources)| Conflict {
            object: key.to_string(),
            sources: sources.into_iter().cloned().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::find;
    use crate::object::ObjectKey;

    fn id(kind: &str, name: &str) -> ObjectKey {
        ObjectKey {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: Some("ml".into()),
            name: name.into(),
        }
    }

    #[test]
    fn same_object_from_two_specs_is_a_conflict() {
        let found = find([
            (id("Deployment", "x-canary"), PathBuf::from("models/x.toml")),
            (id("Deployment", "x"), PathBuf::from("models/x.toml")),
            (
                id("Deployment", "x-canary"),
                PathBuf::from("models/x-canary.toml"),
            ),
        ]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].object, "Deployment ml/x-canary");
        assert_eq!(
            found[0].sources,
            [
                PathBuf::from("models/x.toml"),
                PathBuf::from("models/x-canary.toml")
            ]
        );
    }

    #[test]
    fn same_name_of_another_kind_or_from_one_spec_is_not() {
        let found = find([
            (id("Deployment", "x"), PathBuf::from("models/x.toml")),
            (id("Service", "x"), PathBuf::from("models/x.toml")),
            (id("Deployment", "x"), PathBuf::from("models/x.toml")),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn another_version_of_the_same_group_is_the_same_object() {
        let mut v1 = id("HorizontalPodAutoscaler", "x");
        v1.api_version = "autoscaling/v1".into();
        let mut v2 = v1.clone();
        v2.api_version = "autoscaling/v2".into();
        let found = find([
            (v1, PathBuf::from("models/x.toml")),
            (v2, PathBuf::from("models/y.toml")),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
