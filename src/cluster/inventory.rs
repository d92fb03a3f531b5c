//! The inventory: one ConfigMap per environment (`modelctl-inventory-<env>`
//! in the environment's namespace) listing every object modelctl applied
//! there. Together with the `managed-by=modelctl` label it decides what
//! `--prune` may delete: only what is in both.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::connect::Cluster;
use crate::object::ObjectKey;
use crate::object::labels::{MANAGED_BY, MANAGER};
use crate::reconcile::ClusterError;

/// The data key holding one [`ObjectKey::to_line`] per line.
const OBJECTS_KEY: &str = "objects";

/// Where an environment lives: its name and namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The environment (`production`).
    pub env: String,
    /// Its namespace (`ml`).
    pub namespace: String,
}

impl Target {
    /// The inventory ConfigMap's name.
    pub fn inventory_name(&self) -> String {
        format!("modelctl-inventory-{}", self.env)
    }

    /// Whether `key` is the inventory itself (never diffed, never pruned).
    pub fn is_inventory(&self, key: &ObjectKey) -> bool {
        key.kind == "ConfigMap"
            && key.api_version == "v1"
            && key.namespace.as_deref() == Some(self.namespace.as_str())
            && key.name == self.inventory_name()
    }
}

/// Reads the inventory; empty when there is none yet (or its namespace does
/// not exist).
pub async fn read(cluster: &Cluster, target: &Target) -> Result<BTreeSet<ObjectKey>, ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &target.namespace);
    let name = target.inventory_name();
    let found = match api.get_opt(&name).await {
        Ok(found) => found,
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(err) => {
            return Err(ClusterError::classify(
                err,
                None,
                &format!(
                    "reading the inventory ConfigMap {}/{name}",
                    target.namespace
                ),
            ));
        }
    };
    Ok(found
        .and_then(|cm| cm.data)
        .and_then(|data| data.get(OBJECTS_KEY).cloned())
        .map(|text| text.lines().filter_map(ObjectKey::from_line).collect())
        .unwrap_or_default())
}

/// Writes the inventory (server-side apply, field manager modelctl).
pub async fn write(
    cluster: &Cluster,
    target: &Target,
    objects: &BTreeSet<ObjectKey>,
    dry_run: bool,
) -> Result<(), ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), &target.namespace);
    let name = target.inventory_name();
    let lines: Vec<String> = objects.iter().map(ObjectKey::to_line).collect();
    let mut data = BTreeMap::new();
    data.insert(OBJECTS_KEY, lines.join("\n"));
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": target.namespace,
            "labels": {
                MANAGED_BY: MANAGER,
                "app.kubernetes.io/component": "inventory",
                "modelctl.io/environment": target.env,
            },
        },
        "data": data,
    });
    let mut params = PatchParams::apply(MANAGER).force();
    if dry_run {
        params = params.dry_run();
    }
    api.patch(&name, &params, &Patch::Apply(&body))
        .await
        .map_err(|err| {
            ClusterError::classify(
                err,
                None,
                &format!(
                    "writing the inventory ConfigMap {}/{name}",
                    target.namespace
                ),
            )
        })?;
    Ok(())
}
