//! The test double's state: the served resources (from the recorded
//! discovery documents), the stored objects, and an imitation of server-side
//! apply with managedFields: ownership per field manager, conflicts with
//! other managers (409), force, dry run, create (201) vs update (200), and
//! no write at all when nothing changes; JSON merge patches as Update
//! operations that take the fields they change from other managers.
//!
//! Simplifications, on purpose: lists of objects with a `name` are merged by
//! name, other lists are atomic; server defaults are limited to `uid`,
//! `creationTimestamp`, `generation`, a Deployment's `spec.replicas` and a
//! Service's `clusterIP`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::field_set::{FieldPath, paths_in as owned_paths, remove_all};
use super::fixtures;

/// A served resource: group version, plural, kind, scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `apps/v1`, `v1`.
    pub group_version: String,
    /// `deployments`.
    pub plural: String,
    /// `Deployment`.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl Resource {
    /// The API group (`""` for core).
    pub fn group(&self) -> &str {
        self.group_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// `deployments.apps` or `services`.
    pub fn qualified(&self) -> String {
        match self.group() {
            "" => self.plural.clone(),
            g => format!("{}.{g}", self.plural),
        }
    }
}

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    /// Group version.
    pub group_version: String,
    /// Plural.
    pub plural: String,
    /// Namespace, empty when cluster-scoped.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Everything the double knows.
#[derive(Debug, Default)]
pub struct Store {
    /// Served resources by `group_version` then plural.
    pub resources: BTreeMap<String, BTreeMap<String, Resource>>,
    /// Group versions that are "not installed" (CRD missing).
    pub unserved: BTreeSet<String>,
    /// Stored objects.
    pub objects: BTreeMap<Slot, Value>,
    /// The last resourceVersion handed out.
    pub revision: u64,
    /// Counter for uids and cluster IPs.
    pub serial: u64,
}

/// Kinds that carry `metadata.generation`.
const GENERATIONAL: &[&str] = &[
    "Deployment",
    "Job",
    "PodDisruptionBudget",
    "HTTPRoute",
    "Route",
    "Ingress",
];

impl Store {
    /// A store serving every group version of the recorded discovery documents.
    pub fn new() -> Store {
        let mut store = Store {
            revision: 1000,
            ..Store::default()
        };
        for (_, exchange) in fixtures::load_all("01-discovery-") {
            let body = &exchange.response.body;
            if body.get("kind").and_then(Value::as_str) != Some("APIResourceList") {
                continue;
            }
            let Some(gv) = body.get("groupVersion").and_then(Value::as_str) else {
                continue;
            };
            let table = store.resources.entry(gv.to_owned()).or_default();
            for r in body
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(plural), Some(kind)) = (r["name"].as_str(), r["kind"].as_str()) else {
                    continue;
                };
                if plural.contains('/') {
                    continue;
                }
                table.insert(
                    plural.to_owned(),
                    Resource {
                        group_version: gv.to_owned(),
                        plural: plural.to_owned(),
                        kind: kind.to_owned(),
                        namespaced: r["namespaced"].as_bool().unwrap_or(false),
                    },
                );
            }
        }
        store
    }

    /// The resource at `group_version`/`plural`, unless not served.
    pub fn resource(&self, group_version: &str, plural: &str) -> Option<&Resource> {
        if self.unserved.contains(group_version) {
            return None;
        }
        self.resources.get(group_version)?.get(plural)
    }

    /// The resource of an object's apiVersion and kind.
    pub fn resource_of_kind(&self, group_version: &str, kind: &str) -> Option<&Resource> {
        self.resources
            .get(group_version)?
            .values()
            .find(|r| r.kind == kind)
    }

    /// Next resourceVersion.
    pub fn next_revision(&mut self) -> String {
        self.revision += 1;
        self.revision.to_string()
    }

    /// Stores a whole object as it is (`apiVersion`, `kind`, `metadata`).
    pub fn put(&mut self, object: Value) {
        let gv = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let resource = self
            .resource_of_kind(&gv, &kind)
            .unwrap_or_else(|| panic!("the double serves no {kind} in {gv}"))
            .clone();
        let slot = Slot {
            group_version: gv,
            plural: resource.plural.clone(),
            namespace: if resource.namespaced {
                object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_owned()
            } else {
                String::new()
            },
            name: object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        if let Some(rv) = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
        {
            self.revision = self.revision.max(rv);
        }
        self.objects.insert(slot, object);
    }

    /// Whether namespace `name` exists.
    pub fn has_namespace(&self, name: &str) -> bool {
        self.objects.contains_key(&Slot {
            group_version: "v1".into(),
            plural: "namespaces".into(),
            namespace: String::new(),
            name: name.into(),
        })
    }

    /// Server-side apply of `body` by `manager`. `Ok((status, object))` or
    /// `Err((status, Status body))`.
    pub fn apply(
        &mut self,
        resource: &Resource,
        slot: &Slot,
        body: &Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<(u16, Value), (u16, Value)> {
        let live = self.objects.get(slot).cloned();
        let leaves = leaf_paths(body);
        let mut entries: Vec<Value> = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/managedFields"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();

        // Conflicts: a field another manager owns, set to another value.
        let mut conflicts = Vec::new();
        for entry in &mut entries {
            let owner = entry["manager"].as_str().unwrap_or_default().to_owned();
            if owner == manager {
                continue;
            }
            let owned = owned_paths(&entry["fieldsV1"]);
            let mut keep = Vec::new();
            for path in owned {
                let clash = leaves.iter().find(|(p, value)| {
                    *p == path
                        && !value.is_object()
                        && live
                            .as_ref()
                            .and_then(|l| value_at(l, p))
                            .is_some_and(|lv| lv != value)
                });
                match clash {
                    Some(_) if !force => conflicts.push((
                        owner.clone(),
                        entry["operation"].clone(),
                        entry["apiVersion"].clone(),
                        path.clone(),
                    )),
                    Some(_) => {}
                    None => keep.push(path),
                }
            }
            entry["fieldsV1"] = fields_tree(&keep);
        }
        if !conflicts.is_empty() {
            return Err((409, conflict_status(&conflicts)));
        }

        // Merge: lay the body over, then drop what this manager stops setting.
        let previous: Vec<FieldPath> = entries
            .iter()
            .filter(|e| e["manager"] == manager && e["operation"] == "Apply")
            .flat_map(|e| owned_paths(&e["fieldsV1"]))
            .collect();
        let others: BTreeSet<FieldPath> = entries
            .iter()
            .filter(|e| e["manager"] != manager)
            .flat_map(|e| owned_paths(&e["fieldsV1"]))
            .collect();
        let new_paths: BTreeSet<FieldPath> = leaves.iter().map(|(p, _)| p.clone()).collect();
        let mut merged = live.clone().unwrap_or_else(
            || json!({"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": {}}),
        );
        let dropped: Vec<FieldPath> = previous
            .into_iter()
            .filter(|p| !new_paths.contains(p) && !others.contains(p))
            .collect();
        merge(&mut merged, body);
        remove_all(&mut merged, &dropped);

        entries.retain(|e| !(e["manager"] == manager && e["operation"] == "Apply"));
        entries.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
        entries.push(json!({
            "manager": manager,
            "operation": "Apply",
            "apiVersion": body["apiVersion"],
            "time": "2026-11-25T02:30:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_tree(&new_paths.iter().cloned().collect::<Vec<_>>()),
        }));

        let created = live.is_none();
        if created {
            self.serial += 1;
            let meta = merged["metadata"]
                .as_object_mut()
                .expect("metadata is an object");
            meta.insert(
                "uid".into(),
                json!(format!("00000000-0000-4000-8000-{:012}", self.serial)),
            );
            meta.insert("creationTimestamp".into(), json!("2026-11-25T02:30:00Z"));
            if GENERATIONAL.contains(&resource.kind.as_str()) {
                meta.insert("generation".into(), json!(1));
            }
            if resource.kind == "Deployment" && merged.pointer("/spec/replicas").is_none() {
                merged["spec"]["replicas"] = json!(1);
            }
            if resource.kind == "Service" && merged.pointer("/spec/clusterIP").is_none() {
                let ip = if dry_run {
                    "10.0.0.0".to_owned()
                } else {
                    format!("10.96.{}.{}", self.serial / 250, self.serial % 250 + 1)
                };
                merged["spec"]["clusterIP"] = json!(ip);
                merged["spec"]["clusterIPs"] = json!([ip]);
            }
        } else if merged.get("spec") != live.as_ref().and_then(|l| l.get("spec"))
            && GENERATIONAL.contains(&resource.kind.as_str())
        {
            let generation = merged["metadata"]["generation"].as_i64().unwrap_or(0);
            merged["metadata"]["generation"] = json!(generation + 1);
        }
        merged["metadata"]["managedFields"] = Value::Array(entries);

        if let Some(live) = live.as_ref().filter(|l| same_except_times(l, &merged)) {
            return Ok((200, live.clone()));
        }
        if dry_run {
            if created {
                merged["metadata"]
                    .as_object_mut()
                    .map(|m| m.remove("resourceVersion"));
            }
            return Ok((if created { 201 } else { 200 }, merged));
        }
        merged["metadata"]["resourceVersion"] = json!(self.next_revision());
        self.objects.insert(slot.clone(), merged.clone());
        Ok((if created { 201 } else { 200 }, merged))
    }
}

impl Store {
    /// A JSON merge patch (RFC 7386) by `manager`, as `kubectl edit` or
    /// `kubectl patch --type merge` send: an Update operation. The manager
    /// takes every field whose value it changes from every other manager;
    /// fields it removes are nobody's. `None` when the object does not exist.
    pub fn update(
        &mut self,
        slot: &Slot,
        patch: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Option<Value> {
        let live = self.objects.get(slot)?.clone();
        let mut updated = live.clone();
        merge_patch(&mut updated, patch);
        let before: BTreeMap<FieldPath, Value> = leaf_paths(&live).into_iter().collect();
        let after: BTreeMap<FieldPath, Value> = leaf_paths(&updated).into_iter().collect();
        // Scalars and atomic values only: list items and maps are not taken.
        let is_leaf = |p: &FieldPath, v: &Value| {
            !v.is_object() && !p.last().is_some_and(|e| e.starts_with("k:"))
        };
        let changed: BTreeSet<FieldPath> = after
            .iter()
            .filter(|(p, v)| is_leaf(p, v) && before.get(*p) != Some(*v))
            .map(|(p, _)| p.clone())
            .collect();
        let removed: BTreeSet<FieldPath> = before
            .keys()
            .filter(|p| !after.contains_key(*p))
            .cloned()
            .collect();
        if changed.is_empty() && removed.is_empty() {
            return Some(live);
        }
        let mut entries: Vec<Value> = live
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut mine: Vec<FieldPath> = Vec::new();
        for entry in &mut entries {
            let owned = owned_paths(&entry["fieldsV1"]);
            let is_mine = entry["manager"] == manager && entry["operation"] == "Update";
            let keep: Vec<FieldPath> = owned
                .into_iter()
                .filter(|p| !changed.contains(p) && !removed.iter().any(|r| p.starts_with(r)))
                .collect();
            if is_mine {
                mine.extend(keep);
                entry["fieldsV1"] = json!({});
            } else {
                entry["fieldsV1"] = fields_tree(&keep);
            }
        }
        mine.extend(changed);
        entries.retain(|e| e["fieldsV1"].as_object().is_some_and(|m| !m.is_empty()));
        entries.push(json!({
            "manager": manager,
            "operation": "Update",
            "apiVersion": live["apiVersion"],
            "time": "2026-11-25T02:31:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_tree(&mine),
        }));
        updated["metadata"]["managedFields"] = Value::Array(entries);
        if updated.get("spec") != live.get("spec")
            && GENERATIONAL.contains(&live["kind"].as_str().unwrap_or_default())
        {
            let generation = updated["metadata"]["generation"].as_i64().unwrap_or(0);
            updated["metadata"]["generation"] = json!(generation + 1);
        }
        if !dry_run {
            updated["metadata"]["resourceVersion"] = json!(self.next_revision());
            self.objects.insert(slot.clone(), updated.clone());
        }
        Some(updated)
    }
}

/// RFC 7386: maps merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Equal apart from managedFields times (a no-op apply writes nothing).
fn same_except_times(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        for entry in v
            .pointer_mut("/metadata/managedFields")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            entry.as_object_mut().map(|e| e.remove("time"));
        }
        v
    };
    strip(a) == strip(b)
}

fn conflict_status(conflicts: &[(String, Value, Value, FieldPath)]) -> Value {
    let describe = |(manager, operation, api_version, _): &(String, Value, Value, FieldPath)| {
        if operation == "Update" {
            format!(
                "conflict with \"{manager}\" using {}",
                api_version.as_str().unwrap_or("")
            )
        } else {
            format!("conflict with \"{manager}\"")
        }
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| json!({"reason": "FieldManagerConflict", "message": describe(c), "field": display_path(&c.3)}))
        .collect();
    let n = conflicts.len();
    let first = &conflicts[0];
    let message = if n == 1 {
        format!(
            "Apply failed with 1 conflict: {}: {}",
            describe(first),
            display_path(&first.3)
        )
    } else {
        let all: Vec<String> = conflicts
            .iter()
            .map(|c| format!("{}: {}", describe(c), display_path(&c.3)))
            .collect();
        format!("Apply failed with {n} conflicts: {}", all.join("\n"))
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": "Conflict", "details": {"causes": causes}, "code": 409})
}

/// `.spec.template.spec.containers[name="server"].image`
fn display_path(path: &FieldPath) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else {
            out.push_str(&format!("[{element}]"));
        }
    }
    out
}

/// Every owned path of an applied body, with its value: scalars and atomic
/// lists are leaves; items of lists of named objects are keyed by name and
/// own themselves too.
pub fn leaf_paths(body: &Value) -> Vec<(FieldPath, Value)> {
    let mut out = Vec::new();
    let Some(map) = body.as_object() else {
        return out;
    };
    for (key, value) in map {
        if key == "apiVersion" || key == "kind" || key == "status" {
            continue;
        }
        if key == "metadata" {
            for (mk, mv) in value.as_object().into_iter().flatten() {
                if matches!(mk.as_str(), "labels" | "annotations") {
                    walk(
                        mv,
                        &mut vec!["f:metadata".into(), format!("f:{mk}")],
                        &mut out,
                    );
                }
            }
            continue;
        }
        walk(value, &mut vec![format!("f:{key}")], &mut out);
    }
    out
}

fn walk(value: &Value, prefix: &mut FieldPath, out: &mut Vec<(FieldPath, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                prefix.push(format!("f:{k}"));
                walk(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get("name").is_some_and(Value::is_string)) =>
        {
            for item in items {
                let key = json!({"name": item["name"]}).to_string();
                prefix.push(format!("k:{key}"));
                out.push((prefix.clone(), item.clone()));
                walk(item, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push((prefix.clone(), value.clone())),
    }
}

/// The value at a FieldsV1 path.
fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    for element in path {
        node = if let Some(field) = element.strip_prefix("f:") {
            node.get(field)?
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).ok()?;
            node.as_array()?
                .iter()
                .find(|item| key.iter().all(|(k, v)| item.get(k) == Some(v)))?
        } else {
            return None;
        };
    }
    Some(node)
}

/// A FieldsV1 tree owning `paths`.
pub fn fields_tree(paths: &[FieldPath]) -> Value {
    let mut root = Map::new();
    let mut ends: BTreeSet<&FieldPath> = BTreeSet::new();
    for path in paths {
        let mut node = &mut root;
        for element in path {
            node = node
                .entry(element.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("fields tree nodes are objects");
        }
        ends.insert(path);
    }
    for path in ends {
        let mut node = &mut root;
        for element in path {
            node = node
                .get_mut(element)
                .and_then(Value::as_object_mut)
                .expect("inserted above");
        }
        if !node.is_empty() && !node.contains_key(".") {
            node.insert(".".into(), json!({}));
        }
    }
    Value::Object(root)
}

/// Merges the named items `applied` into `live` in the order the API
/// server's structured merge gives: the applied items in their order, each
/// live item that is not applied kept after the live item before it, as far
/// as the applied order allows (the real server's algorithm, walked the
/// same way: both lists side by side, shared items in the applied order).
pub fn merge_named(live: &[Value], applied: &[Value]) -> Vec<Value> {
    let name = |item: &Value| item["name"].clone();
    let in_live = |n: &Value| live.iter().any(|i| name(i) == *n);
    let in_applied = |n: &Value| applied.iter().any(|i| name(i) == *n);
    let mut shared = applied.iter().map(name).filter(|n| in_live(n));
    let mut next_shared = shared.next();
    let mut merged_applied: Vec<Value> = Vec::new();
    let mut out = Vec::with_capacity(live.len().max(applied.len()));
    let merge_item = |n: &Value, applied_item: &Value| {
        let mut item = live
            .iter()
            .find(|i| name(i) == *n)
            .cloned()
            .unwrap_or_else(|| json!({}));
        merge(&mut item, applied_item);
        item
    };
    let (mut l, mut r) = (0, 0);
    while l < live.len() || r < applied.len() {
        if l < live.len() && r < applied.len() {
            let n = name(&live[l]);
            if n == name(&applied[r]) {
                out.push(merge_item(&n, &applied[r]));
                merged_applied.push(n);
                l += 1;
                r += 1;
                next_shared = shared.next();
                continue;
            }
            if in_applied(&n) && next_shared.as_ref().is_some_and(|s| *s != n) {
                l += 1;
                continue;
            }
        }
        if l < live.len() {
            let n = name(&live[l]);
            if !in_applied(&n) {
                out.push(live[l].clone());
                l += 1;
                continue;
            }
            if merged_applied.contains(&n) {
                l += 1;
                continue;
            }
        }
        if r < applied.len() {
            let n = name(&applied[r]);
            out.push(merge_item(&n, &applied[r]));
            merged_applied.push(n.clone());
            r += 1;
            if next_shared.as_ref() == Some(&n) {
                next_shared = shared.next();
            }
        }
    }
    out
}

/// Lays `patch` over `target`: maps merge, lists of named objects merge by
/// name, anything else is replaced.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if p.iter()
                .chain(t.iter())
                .all(|i| i.get("name").is_some_and(Value::is_string)) =>
        {
            *t = merge_named(t, p);
        }
        (t, p) => *t = p.clone(),
    }
}
