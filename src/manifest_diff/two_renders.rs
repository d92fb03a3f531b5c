//! The diff of two renders of one environment (what `diff --base` shows):
//! objects matched by [`ObjectKey::identity`], so a new API version of the
//! same object is a change, not a removal and an addition.
//!
//! Owns the matching and the order of the report (environment, model, kind,
//! name); pure, no Git.

use std::collections::BTreeMap;

use super::model::DiffReport;
use crate::compile::Manifest;
use crate::object::{Identity, ObjectKey};

impl DiffReport {
    /// Adds every object of two renders of environment `env`, `old` on the
    /// base side and `new` on the head side, keeping the order of the report.
    pub fn add_renders(&mut self, env: &str, old: &[Manifest], new: &[Manifest]) {
        let keys: Vec<ObjectKey> = old.iter().chain(new).map(Manifest::key).collect();
        let (old_keys, new_keys) = keys.split_at(old.len());
        let old_index = index(old_keys, old);
        let new_index = index(new_keys, new);
        let mut ids: Vec<_> = old_index.keys().chain(new_index.keys()).collect();
        ids.sort();
        ids.dedup();
        let first = self.objects.len();
        for id in ids {
            let (a, b) = (old_index.get(id), new_index.get(id));
            let Some((key, manifest)) = b.or(a) else {
                continue;
            };
            let source = manifest.source.to_string_lossy().replace('\\', "/");
            let diff = self.compare(
                env,
                (*key).clone(),
                a.map(|(_, m)| &m.object),
                b.map(|(_, m)| &m.object),
            );
            diff.model = Some(manifest.model.clone());
            diff.source = Some(source);
        }
        self.objects[first..].sort_by(|x, y| {
            (&x.model, &x.key.kind, &x.key.name).cmp(&(&y.model, &y.key.kind, &y.key.name))
        });
    }
}

/// The manifests by the identity of their keys.
fn index<'a>(
    keys: &'a [ObjectKey],
    manifests: &'a [Manifest],
) -> BTreeMap<Identity<'a>, (&'a ObjectKey, &'a Manifest)> {
    keys.iter()
        .zip(manifests)
        .map(|(k, m)| (k.identity(), (k, m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::{Value, json};

    use crate::compile::Manifest;
    use crate::manifest_diff::{Change, DiffReport};

    fn manifest(model: &str, kind: &str, api_version: &str, spec: Value) -> Manifest {
        Manifest {
            model: model.into(),
            file: PathBuf::from(format!("{model}/{kind}.yaml")),
            source: PathBuf::from(format!("models/{model}.toml")),
            object: json!({
                "apiVersion": api_version, "kind": kind,
                "metadata": {"name": model, "namespace": "ml"}, "spec": spec
            }),
        }
    }

    #[test]
    fn renders_are_matched_by_object_and_sorted_by_model() {
        let old = [
            manifest("b", "Service", "v1", json!({"x": 1})),
            manifest("a", "HorizontalPodAutoscaler", "autoscaling/v1", json!({})),
            manifest("c", "Service", "v1", json!({})),
        ];
        let new = [
            manifest("a", "HorizontalPodAutoscaler", "autoscaling/v2", json!({})),
            manifest("b", "Service", "v1", json!({"x": 2})),
            manifest("d", "Service", "v1", json!({})),
        ];
        let mut report = DiffReport::new("HEAD", "work tree");
        report.add_renders("prod", &old, &new);
        let seen: Vec<(String, Change)> = report
            .objects
            .iter()
            .map(|o| (format!("{} {}", o.key.api_version, o.key), o.change))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "autoscaling/v2 HorizontalPodAutoscaler ml/a".into(),
                    Change::Changed
                ),
                ("v1 Service ml/b".into(), Change::Changed),
                ("v1 Service ml/c".into(), Change::Removed),
                ("v1 Service ml/d".into(), Change::Added),
            ]
        );
        assert_eq!(report.objects[3].source.as_deref(), Some("models/d.toml"));
    }
}
