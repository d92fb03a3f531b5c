//! The namespaced permissions the cluster commands need, derived from the
//! requests [`crate::cluster`] sends: `diff` and `apply` read, list and
//! server-side apply (PATCH) every rendered kind and the inventory
//! ConfigMap; `apply --prune` deletes; `apply --wait` watches Deployments
//! (`--wait-training` Jobs too) and, on a timeout, lists pods and events;
//! `status` reads the rendered kinds and lists Jobs; `train` applies a Job
//! and the ConfigMap it mounts; `logs` gets the Job, lists its pods and
//! reads `pods/log`; `runs` lists Jobs and pods. Jobs in a Kueue queue add
//! a GET of their LocalQueue (`diff`, `apply`) and a LIST of Kueue's
//! Workloads (`runs`, `status`). A server-side apply
//! that creates an object is authorized as `create` as well as `patch`
//! (kube-apiserver 1.36 answers 403 "cannot create resource" to a PATCH of
//! a new object with `patch` alone), so every applied kind gets both.
//!
//! Pure: turns rendered objects into a Role and a RoleBinding. Discovery
//! (`/api`, `/apis`) is open to every authenticated user and needs no rule.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// One API resource (`deployments`, `pods/log`) of one API group (`""` for core).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    /// API group; empty for the core group.
    pub group: String,
    /// Plural resource name, with `/subresource` when there is one.
    pub resource: String,
}

/// The API group and plural resource of a kind modelctl renders, or `None`
/// for a kind it does not know.
pub fn resource_of(api_version: &str, kind: &str) -> Option<Resource> {
    let plural = match kind {
        "ConfigMap" => "configmaps",
        "Secret" => "secrets",
        "Service" => "services",
        "ServiceAccount" => "serviceaccounts",
        "Deployment" => "deployments",
        "Job" => "jobs",
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "HTTPRoute" => "httproutes",
        "GRPCRoute" => "grpcroutes",
        "ScaledObject" => "scaledobjects",
        "PodMonitor" => "podmonitors",
        "Route" => "routes",
        "Ingress" => "ingresses",
        _ => return None,
    };
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some(Resource {
        group: group.to_owned(),
        resource: plural.to_owned(),
    })
}

/// The verbs on each resource the commands need for `objects` (one
/// environment's objects rendered in one namespace); `home` when that
/// namespace is the environment's own, which holds the inventory.
pub fn permissions(objects: &[Value], home: bool) -> BTreeMap<Resource, BTreeSet<&'static str>> {
    let mut out: BTreeMap<Resource, BTreeSet<&'static str>> = BTreeMap::new();
    let mut add = |group: &str, resource: &str, verbs: &[&'static str]| {
        out.entry(Resource {
            group: group.to_owned(),
            resource: resource.to_owned(),
        })
        .or_default()
        .extend(verbs);
    };
    // The inventory ConfigMap, in the environment's own namespace: read
    // and applied by every `apply`; and there, the ConfigMaps of training
    // runs may be listed and pruned even once no model renders one. (In a
    // team namespace they come with the rendered kinds, below.)
    if home {
        add(
            "",
            "configmaps",
            &["get", "list", "create", "patch", "delete"],
        );
    }
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let Some(resource) = resource_of(api_version, kind) else {
            continue;
        };
        // diff/apply: get, list per kind, dry-run and apply (patch, and
        // create for a new object); prune: delete.
        add(
            &resource.group,
            &resource.resource,
            &["get", "list", "create", "patch", "delete"],
        );
        match kind {
            // apply --wait watches rollouts (--wait-training runs too); on a
            // timeout it lists the pods and their events to say why.
            "Deployment" | "Job" => {
                add(&resource.group, &resource.resource, &["watch"]);
                add("", "pods", &["list"]);
                add("", "events", &["list"]);
            }
            _ => {}
        }
        if kind == "Job" {
            // logs: the run's pods and their logs.
            add("", "pods/log", &["get"]);
            if crate::object::labels::label(object, crate::object::labels::KUEUE_QUEUE).is_some() {
                // diff/apply: whether the queue exists; runs/status: where
                // Kueue stands with the Job.
                add("kueue.x-k8s.io", "localqueues", &["get"]);
                add("kueue.x-k8s.io", "workloads", &["list"]);
            }
        }
        if kind == "ScaledObject" {
            // status: the HPA KEDA makes for the ScaledObject.
            add("autoscaling", "horizontalpodautoscalers", &["get"]);
        }
    }
    out
}

/// The Role granting [`permissions`] in `namespace`, named `name`: one rule
/// per API group and set of verbs.
pub fn role(name: &str, namespace: &str, objects: &[Value], home: bool) -> Value {
    let mut rules: BTreeMap<(String, Vec<&str>), Vec<String>> = BTreeMap::new();
    for (resource, verbs) in permissions(objects, home) {
        let mut verbs: Vec<&str> = verbs.into_iter().collect();
        verbs.sort_by_key(|v| VERB_ORDER.iter().position(|o| o == v));
        rules
            .entry((resource.group, verbs))
            .or_default()
            .push(resource.resource);
    }
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|((group, verbs), resources)| {
            json!({"apiGroups": [group], "resources": resources, "verbs": verbs})
        })
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules,
    })
}

/// Who a RoleBinding grants the Role to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A ServiceAccount in the environment's namespace (a CI job's identity).
    ServiceAccount(String),
    /// A user name as the cluster authenticates it.
    User(String),
    /// A group of users.
    Group(String),
}

/// The RoleBinding of Role `name` in `namespace` to `subject`; a
/// ServiceAccount subject lives in `home` (the environment's namespace,
/// where the commands' identity is, whichever namespace the Role is in).
pub fn role_binding(name: &str, namespace: &str, home: &str, subject: &Subject) -> Value {
    let subject = match subject {
        Subject::ServiceAccount(sa) => {
            json!({"kind": "ServiceAccount", "name": sa, "namespace": home})
        }
        Subject::User(user) => {
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user})
        }
        Subject::Group(group) => {
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group})
        }
    };
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject],
    })
}

/// Verbs in the order `kubectl` lists them.
const VERB_ORDER: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_only_needs_no_logs_and_no_job_rights() {
        let objects =
            [json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "m"}})];
        let granted = permissions(&objects, true);
        let get = |g: &str, r: &str| {
            granted
                .get(&Resource {
                    group: g.into(),
                    resource: r.into(),
                })
                .map(|v| v.iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(
            get("apps", "deployments").unwrap(),
            ["create", "delete", "get", "list", "patch", "watch"]
        );
        assert_eq!(get("", "pods").unwrap(), ["list"]);
        assert!(get("batch", "jobs").is_none());
        assert!(get("", "pods/log").is_none());
    }

    #[test]
    fn rules_group_resources_with_the_same_verbs() {
        let objects = [
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "m"}}),
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "m"}}),
        ];
        let role = role("modelctl-lab", "ml", &objects, true);
        assert_eq!(
            role["rules"],
            json!([
                {"apiGroups": [""], "resources": ["configmaps", "services"], "verbs": ["get", "list", "create", "patch", "delete"]},
                {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["get", "list", "create", "patch", "delete"]}
            ])
        );
    }

    #[test]
    fn jobs_in_a_kueue_queue_may_read_their_queue_and_workloads() {
        let job = |labels: Value| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": labels}});
        let queued = permissions(&[job(json!({"kueue.x-k8s.io/queue-name": "gpu"}))], true);
        fn verbs(
            p: &BTreeMap<Resource, BTreeSet<&'static str>>,
            resource: &str,
        ) -> Option<BTreeSet<&'static str>> {
            p.get(&Resource {
                group: "kueue.x-k8s.io".to_owned(),
                resource: resource.to_owned(),
            })
            .cloned()
        }
        assert_eq!(verbs(&queued, "localqueues"), Some(["get"].into()));
        assert_eq!(verbs(&queued, "workloads"), Some(["list"].into()));
        let plain = permissions(&[job(json!({}))], true);
        assert_eq!(verbs(&plain, "localqueues"), None);
    }
}
