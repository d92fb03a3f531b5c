//! The training ConfigMap: `start.sh`, `export.json` (the export's plan), and
//! for a sweep `sweep.json` plus one `sweep-<index>.env` per combination.
//!
//! Owns the ConfigMap's keys; the script itself comes from [`super::script`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use modelctl_spec::model::Train;

use super::Ctx;
use super::script::{output_word, start_sh};
use super::sweep::{sweep_env, sweep_json, trials};

/// The ConfigMap's data: every file a training pod reads from `/etc/modelctl`.
pub(crate) fn data(ctx: &Ctx<'_>, train: &Train) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    data.insert("start.sh".to_owned(), start_sh(ctx, train));
    data.insert("export.json".to_owned(), super::export::plan(ctx, train));
    if let Some(sweep) = &train.sweep {
        let combos = trials(sweep, ctx.name());
        for (index, combo) in combos.iter().enumerate() {
            let output = output_word(ctx, train, combo);
            data.insert(
                format!("sweep-{index}.env"),
                sweep_env(combo, output.as_deref()),
            );
        }
        data.insert("sweep.json".to_owned(), sweep_json(&combos));
    }
    data
}

/// The ConfigMap named `name` holding `data`.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    name: &str,
    labels: BTreeMap<String, String>,
    data: BTreeMap<String, String>,
) -> ConfigMap {
    ConfigMap {
        metadata: super::labels::metadata(ctx, name, labels),
        data: Some(data),
        ..ConfigMap::default()
    }
}
