//! Objects two models both render: the same kind, namespace and name from
//! different spec files. Applying both would make the models overwrite each
//! other, so `render` refuses. Validation already rejects the one known way
//! to get there (a model `x` with a canary beside a model `x-canary`); this
//! is the net under any other.
//!
//! Owns the detection only; the message is the caller's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Manifest;

/// One object rendered by more than one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `Kind namespace/name`.
    pub object: String,
    /// The spec files rendering it, in order.
    pub sources: Vec<PathBuf>,
}

/// Which object a manifest is: API group, kind, namespace, name.
pub(crate) type Identity = (String, String, String, String);

/// The identity of `m`.
pub(crate) fn identity(m: &Manifest) -> Identity {
    let text = |p: &str| {
        m.object
            .pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let api = text("/apiVersion");
    let group = api
        .rsplit_once('/')
        .map_or(String::new(), |(g, _)| g.to_owned());
    (
        group,
        m.kind().to_owned(),
        text("/metadata/namespace"),
        m.name().to_owned(),
    )
}

/// Every object that more than one spec file renders, in object order.
pub fn conflicts(manifests: &[Manifest]) -> Vec<Conflict> {
    find(manifests.iter().map(|m| (identity(m), m.source.clone())))
}

/// The conflicts among objects given by identity and source.
pub(crate) fn find(objects: impl IntoIterator<Item = (Identity, PathBuf)>) -> Vec<Conflict> {
    let mut seen: BTreeMap<Identity, Vec<PathBuf>> = BTreeMap::new();
    for (id, source) in objects {
        let sources = seen.entry(id).or_default();
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    seen.into_iter()
        .filter(|(_, sources)| sources.len() > 1)
        .map(|((_, kind, namespace, name), sources)| Conflict {
            object: format!("{kind} {namespace}/{name}"),
            sources,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::find;

    fn id(kind: &str, name: &str) -> super::Identity {
        ("apps".into(), kind.into(), "ml".into(), name.into())
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
}
