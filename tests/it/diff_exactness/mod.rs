//! The fast diff's contract, as a property: whatever other hands did to the
//! live objects, and whatever changed in the rendered ones,
//! 1. reading each kind once and dry-running only what the local comparison
//!    flags gives the same report as dry-running every object (`--exact`);
//! 2. an object the local comparison calls unchanged gets no dry run, and
//!    one it flags that the report then calls unchanged is one whose apply
//!    changes its ownership and nothing else;
//! 3. the report tells the truth about the apply: an object it shows changed
//!    is changed by a (fast) apply, one it shows unchanged is not (read back
//!    raw from the server, not through the code under test);
//! 4. after that apply, a diff is empty.
//!
//! A case applies the recorded request bodies of `tests/fixtures/kube/`
//! (ConfigMap, Service, Deployment, HPA, PDB, HTTPRoute, Job), then edits
//! [`SPOTS`] of the live objects the ways people and controllers do:
//! - another field manager force-applies a value (a hotfix), or applies the
//!   value a field has, so that it shares the field with modelctl;
//! - `kubectl edit`-style JSON merge patches (Update operations);
//!
//! then maybe edits one spot of the rendered objects, often one the live
//! edits touched, and checks the four points. A spot holds a string, an
//! integer, a CPU or memory quantity, an int-or-string, a list of strings or
//! a list of objects (merged by key or atomic, as the server defines it);
//! some are rendered, some are defaulted by the server and rendered only by
//! an edit. An [`Op`] sets a new value, the same value, the same value spelt
//! another way (`500m` = `0.5`), removes the field, or reorders, grows or
//! shrinks a list. Shared by the test against the kube test double and the
//! one against a real API server.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use modelctl::cluster::apply::{ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff_counted};
use modelctl::cluster::{Cluster, Target};
use modelctl::manifest_diff::{Change, DiffReport};
use modelctl::object::ObjectKey;
use modelctl::reconcile::requests::{RequestCounts, RequestKind};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The recorded create bodies a case starts from, in this order.
pub const KINDS: &[&str] = &[
    "configmap",
    "service",
    "deployment",
    "hpa",
    "pdb",
    "httproute",
    "job",
];

/// One step of a spot's path: a map field, or the item of a list whose key
/// fields hold the values of a JSON object.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Field(&'static str),
    Item(&'static str),
}

use Step::{Field as F, Item as I};

/// The values a spot holds.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A string; new values are `<salt>-<n>`.
    Text,
    /// A container image.
    Image,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// An integer; new values are `base + n`.
    Int(i64),
    /// A CPU quantity.
    Cpu,
    /// A memory quantity.
    Memory,
    /// An int-or-string port: `number + n`, or the port's name.
    PortRef(i64, &'static str),
    /// An int-or-string count: `base + n`, or `<10n>%`.
    IntOrPercent(i64),
    /// A list of strings (atomic), new elements `<prefix><salt>-<n>`.
    Texts(&'static str),
    /// A list of objects, new items made by the function.
    Items(fn(&str, u8) -> Value),
}

/// A field of one of the case's objects.
#[derive(Debug, Clone, Copy)]
pub struct Spot {
    /// Index into [`KINDS`].
    pub object: usize,
    pub path: &'static [Step],
    pub ty: Ty,
    /// The render sets it (else only a render edit does).
    pub rendered: bool,
    /// The value the server defaults it to, when it does.
    pub default: Option<&'static str>,
    /// It may be removed and the object stays valid.
    pub removable: bool,
}

const fn spot(object: usize, path: &'static [Step], ty: Ty) -> Spot {
    Spot {
        object,
        path,
        ty,
        rendered: true,
        default: None,
        removable: true,
    }
}

const fn fixed(mut s: Spot) -> Spot {
    s.removable = false;
    s
}

const fn defaulted(mut s: Spot, default: Option<&'static str>) -> Spot {
    s.rendered = false;
    s.default = default;
    s
}

const LABEL_COMPONENT: &[Step] = &[F("metadata"), F("labels"), F("app.kubernetes.io/component")];
const LABEL_MANAGED_BY: &[Step] = &[
    F("metadata"),
    F("labels"),
    F("app.kubernetes.io/managed-by"),
];
const LABEL_TEAM: &[Step] = &[F("metadata"), F("labels"), F("team")];
const SOURCE: &[Step] = &[F("metadata"), F("annotations"), F("modelctl.io/source")];
const SERVER: &str = r#"{"name":"server"}"#;
const TOLERATIONS: &[Step] = &[F("spec"), F("template"), F("spec"), F("tolerations")];
const VOLUMES: &[Step] = &[F("spec"), F("template"), F("spec"), F("volumes")];
/// A path into the server container of a pod template, then `$rest`.
macro_rules! in_server {
    ($($rest:expr),+) => {
        &[F("spec"), F("template"), F("spec"), F("containers"), I(SERVER), $($rest),+]
    };
}

const CONTAINER_IMAGE: &[Step] = in_server!(F("image"));
const CONTAINER_ARGS: &[Step] = in_server!(F("args"));
const CONTAINER_ENV: &[Step] = in_server!(F("env"));
const CONTAINER_PORTS: &[Step] = in_server!(F("ports"));
const CONTAINER_PULL: &[Step] = in_server!(F("imagePullPolicy"));
const REQUEST_CPU: &[Step] = in_server!(F("resources"), F("requests"), F("cpu"));
const LIMIT_MEMORY: &[Step] = in_server!(F("resources"), F("limits"), F("memory"));

fn env_var(salt: &str, n: u8) -> Value {
    json!({"name": format!("X_{}_{n}", salt.to_uppercase()), "value": format!("{n}")})
}
fn container_port(salt: &str, n: u8) -> Value {
    let port = 9000 + u16::from(n) + if salt == "render" { 10 } else { 0 };
    json!({"name": format!("p-{salt}-{n}"), "containerPort": port, "protocol": "TCP"})
}
fn service_port(salt: &str, n: u8) -> Value {
    let port = 8000 + u16::from(n) + if salt == "render" { 10 } else { 0 };
    json!({"name": format!("p-{salt}-{n}"), "port": port, "targetPort": port, "protocol": "TCP"})
}
fn toleration(salt: &str, n: u8) -> Value {
    json!({"key": format!("k-{salt}-{n}"), "operator": "Exists", "effect": "NoSchedule"})
}
fn volume(salt: &str, n: u8) -> Value {
    json!({"name": format!("v-{salt}-{n}"), "emptyDir": {}})
}
fn metric(salt: &str, n: u8) -> Value {
    let target = 50 + i64::from(n) + if salt == "render" { 10 } else { 0 };
    json!({"type": "Resource", "resource": {"name": "memory",
           "target": {"type": "Utilization", "averageUtilization": target}}})
}
fn route_rule(salt: &str, n: u8) -> Value {
    json!({
        "matches": [{"path": {"type": "PathPrefix", "value": format!("/{salt}-{n}")}}],
        "backendRefs": [{"group": "", "kind": "Service", "name": "digits", "port": 80, "weight": 100}]
    })
}

/// Every field a case may edit.
pub const SPOTS: &[Spot] = &[
    // ConfigMap
    spot(0, &[F("data"), F("start.sh")], Ty::Text),
    spot(0, LABEL_COMPONENT, Ty::Text),
    spot(0, LABEL_MANAGED_BY, Ty::Text),
    spot(0, SOURCE, Ty::Text),
    defaulted(spot(0, LABEL_TEAM, Ty::Text), None),
    // Service
    fixed(spot(
        1,
        &[
            F("spec"),
            F("ports"),
            I(r#"{"port":80,"protocol":"TCP"}"#),
            F("targetPort"),
        ],
        Ty::PortRef(8080, "http"),
    )),
    fixed(spot(1, &[F("spec"), F("ports")], Ty::Items(service_port))),
    defaulted(
        spot(
            1,
            &[F("spec"), F("sessionAffinity")],
            Ty::Choice(&["ClientIP", "None"]),
        ),
        Some("None"),
    ),
    spot(1, LABEL_COMPONENT, Ty::Text),
    // Deployment
    fixed(spot(2, CONTAINER_IMAGE, Ty::Image)),
    spot(2, CONTAINER_ARGS, Ty::Texts("--")),
    spot(2, CONTAINER_ENV, Ty::Items(env_var)),
    spot(2, CONTAINER_PORTS, Ty::Items(container_port)),
    spot(2, REQUEST_CPU, Ty::Cpu),
    spot(2, LIMIT_MEMORY, Ty::Memory),
    spot(2, &[F("spec"), F("revisionHistoryLimit")], Ty::Int(5)),
    spot(
        2,
        &[F("spec"), F("strategy"), F("rollingUpdate"), F("maxSurge")],
        Ty::IntOrPercent(1),
    ),
    spot(2, TOLERATIONS, Ty::Items(toleration)),
    fixed(spot(2, VOLUMES, Ty::Items(volume))),
    defaulted(
        spot(2, &[F("spec"), F("progressDeadlineSeconds")], Ty::Int(600)),
        Some("600"),
    ),
    defaulted(
        spot(
            2,
            CONTAINER_PULL,
            Ty::Choice(&["Always", "IfNotPresent", "Never"]),
        ),
        Some("IfNotPresent"),
    ),
    spot(2, SOURCE, Ty::Text),
    // HorizontalPodAutoscaler
    fixed(spot(3, &[F("spec"), F("maxReplicas")], Ty::Int(10))),
    spot(3, &[F("spec"), F("minReplicas")], Ty::Int(1)),
    spot(3, &[F("spec"), F("metrics")], Ty::Items(metric)),
    // PodDisruptionBudget
    spot(4, &[F("spec"), F("maxUnavailable")], Ty::IntOrPercent(1)),
    spot(4, LABEL_COMPONENT, Ty::Text),
    // HTTPRoute
    spot(5, &[F("spec"), F("hostnames")], Ty::Texts("")),
    spot(5, &[F("spec"), F("rules")], Ty::Items(route_rule)),
    spot(5, LABEL_MANAGED_BY, Ty::Text),
    // Job (its pod template is immutable)
    spot(6, &[F("spec"), F("backoffLimit")], Ty::Int(2)),
    spot(6, &[F("spec"), F("activeDeadlineSeconds")], Ty::Int(43200)),
    defaulted(
        spot(6, &[F("spec"), F("ttlSecondsAfterFinished")], Ty::Int(100)),
        None,
    ),
    spot(6, LABEL_COMPONENT, Ty::Text),
];

/// What an edit does to a spot's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    New(u8),
    Same,
    /// The same value spelt another way (quantities).
    Respell,
    Remove,
    Reorder,
    Grow,
    Shrink,
}

/// The ops that make sense for a spot.
pub fn ops_of(spot: &Spot) -> Vec<Op> {
    let mut ops = vec![Op::New(1), Op::New(2), Op::New(3), Op::Same];
    if matches!(spot.ty, Ty::Cpu | Ty::Memory) {
        ops.push(Op::Respell);
    }
    if matches!(spot.ty, Ty::Texts(_) | Ty::Items(_)) {
        ops.extend([Op::Reorder, Op::Grow, Op::Shrink]);
    }
    if spot.removable {
        ops.push(Op::Remove);
    }
    ops
}

/// A change to the live objects.
#[derive(Debug, Clone, Copy)]
pub enum Edit {
    /// Field manager `intruder-<n>` (the edit's place) force-applies the
    /// spot's new value.
    ForceApply { spot: usize, op: u8 },
    /// Field manager `intruder-<n>` applies the value the spot has, and so
    /// shares it with modelctl.
    ShareApply { spot: usize },
    /// Field manager `kubectl-edit` merge-patches the spot.
    MergePatch { spot: usize, op: u8 },
}

impl Edit {
    fn spot(&self) -> usize {
        match *self {
            Edit::ForceApply { spot, .. }
            | Edit::ShareApply { spot }
            | Edit::MergePatch { spot, .. } => spot,
        }
    }
}

/// Which spot the rendered edit changes.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    /// The spot of the last live edit (any spot when there is none).
    Edited(usize),
    Any(usize),
}

/// A change to the rendered objects.
#[derive(Debug, Clone, Copy)]
pub struct RenderEdit {
    pub pick: Pick,
    pub op: u8,
}

/// One case: edits to the live objects, then maybe one to the rendered ones.
#[derive(Debug, Clone)]
pub struct Case {
    pub edits: Vec<Edit>,
    pub render: Option<RenderEdit>,
}

/// The op a drawn number stands for, on `spot`.
fn op_at(spot: &Spot, op: u8) -> Op {
    let ops = ops_of(spot);
    ops[usize::from(op) % ops.len()]
}

fn edit() -> impl Strategy<Value = Edit> {
    let spot = 0..SPOTS.len();
    prop_oneof![
        2 => (spot.clone(), any::<u8>()).prop_map(|(spot, op)| Edit::ForceApply { spot, op }),
        1 => spot.clone().prop_map(|spot| Edit::ShareApply { spot }),
        3 => (spot, any::<u8>()).prop_map(|(spot, op)| Edit::MergePatch { spot, op }),
    ]
}

fn render_edit() -> impl Strategy<Value = RenderEdit> {
    let pick = prop_oneof![
        (0..SPOTS.len()).prop_map(Pick::Edited),
        (0..SPOTS.len()).prop_map(Pick::Any),
    ];
    (pick, any::<u8>()).prop_map(|(pick, op)| RenderEdit { pick, op })
}

/// Cases: up to three live edits, and a rendered edit two times in three.
pub fn cases() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(edit(), 0..=3),
        proptest::option::weighted(0.67, render_edit()),
    )
        .prop_map(|(edits, render)| Case { edits, render })
}

/// Cases that reach every op on every spot, one at a time, on each side,
/// and every co-owned field that the render then drops.
pub fn every_edit() -> Vec<Case> {
    let mut out = Vec::new();
    for (index, spot) in SPOTS.iter().enumerate() {
        for op in 0..ops_of(spot).len() as u8 {
            out.push(Case {
                edits: vec![Edit::MergePatch { spot: index, op }],
                render: None,
            });
            out.push(Case {
                edits: vec![Edit::ForceApply { spot: index, op }],
                render: None,
            });
            out.push(Case {
                edits: Vec::new(),
                render: Some(RenderEdit {
                    pick: Pick::Any(index),
                    op,
                }),
            });
        }
        if spot.rendered && spot.removable {
            let remove = ops_of(spot).iter().position(|o| *o == Op::Remove);
            let remove = remove.expect("removable spots have Remove") as u8;
            let dropped = Some(RenderEdit {
                pick: Pick::Edited(index),
                op: remove,
            });
            // Co-owned, then dropped by the render: the field stays.
            out.push(Case {
                edits: vec![Edit::ShareApply { spot: index }],
                render: dropped,
            });
            // Co-owned, changed by the other manager, dropped by the render.
            out.push(Case {
                edits: vec![
                    Edit::ShareApply { spot: index },
                    Edit::ForceApply { spot: index, op: 0 },
                ],
                render: dropped,
            });
        }
    }
    out
}

/// A runner of `cases` cases, seeded, so a failure is the same on every
/// machine, and with nothing written to disk.
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    seeded_runner(cases, 0)
}

/// [`runner`] from `seed`.
pub fn seeded_runner(cases: u32, seed: u64) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = if seed == 0 {
        TestRng::deterministic_rng(RngAlgorithm::ChaCha)
    } else {
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
    };
    TestRunner::new_with_rng(config, rng)
}

/// `count` cases drawn from `seed` (no shrinking: a failing case is printed
/// whole, and the seed replays the run).
pub fn drawn(seed: u64, count: usize) -> Vec<Case> {
    use proptest::strategy::ValueTree;
    let mut runner = seeded_runner(1, seed);
    let strategy = cases();
    (0..count)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the case strategy never rejects")
                .current()
        })
        .collect()
}

/// The case's objects: the recorded bodies in `namespace`, named with
/// `suffix`; the Deployment's server container gets two environment
/// variables and its pod a toleration, so that those lists are there to
/// reorder and shrink.
pub fn objects(namespace: &str, suffix: &str) -> Vec<Value> {
    KINDS
        .iter()
        .map(|kind| {
            let mut object =
                crate::kube_double::fixtures::request_body(&format!("02-ssa-dryrun-create-{kind}"));
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            object["metadata"]["name"] = json!(format!("{name}{suffix}"));
            object["metadata"]["namespace"] = json!(namespace);
            if *kind == "deployment" {
                let pod = &mut object["spec"]["template"]["spec"];
                pod["containers"][0]["env"] = json!([
                    {"name": "A", "value": "1"},
                    {"name": "B", "value": "2"}
                ]);
                pod["tolerations"] = json!([toleration("base", 0), toleration("base", 1)]);
            }
            object
        })
        .collect()
}

/// The keys of an `Item` step.
fn item_key(key: &str) -> Map<String, Value> {
    serde_json::from_str(key).expect("item keys are JSON objects")
}

fn matches_key(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| item.get(k) == Some(v))
}

/// The value at `path`, if set.
pub fn read_at<'a>(object: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut node = object;
    for step in path {
        node = match step {
            Step::Field(name) => node.get(*name)?,
            Step::Item(key) => {
                let key = item_key(key);
                node.as_array()?.iter().find(|i| matches_key(i, &key))?
            }
        };
    }
    Some(node).filter(|v| !v.is_null())
}

/// Sets (or with `None` removes) the value at `path`, making maps on the
/// way; `false` when a list item on the way is missing.
pub fn write_at(object: &mut Value, path: &[Step], value: Option<Value>) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = object;
    for step in parents {
        node = match step {
            Step::Field(name) => {
                if !node.is_object() {
                    return false;
                }
                let map = node.as_object_mut().expect("checked above");
                map.entry(name.to_string()).or_insert_with(|| json!({}))
            }
            Step::Item(key) => {
                let key = item_key(key);
                let Some(item) = node
                    .as_array_mut()
                    .and_then(|items| items.iter_mut().find(|i| matches_key(i, &key)))
                else {
                    return false;
                };
                item
            }
        };
    }
    let (Step::Field(name), Some(map)) = (last, node.as_object_mut()) else {
        return false;
    };
    match value {
        Some(value) => {
            map.insert(name.to_string(), value);
        }
        None => {
            map.remove(*name);
        }
    }
    true
}

/// A CPU quantity in millicores, and a memory one in bytes.
fn millicores(q: &str) -> Option<u64> {
    match q.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => q.parse::<f64>().ok().map(|c| (c * 1000.0).round() as u64),
    }
}

fn bytes(q: &str) -> Option<u64> {
    for (suffix, scale) in [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)] {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().ok().map(|n| n * scale);
        }
    }
    q.parse().ok()
}

/// The same quantity spelt another way: `500m` ↔ `0.5`, `2` → `2000m`,
/// `512Mi` → `524288Ki`, `1Gi` → `1024Mi`.
fn respelled(ty: Ty, q: &str) -> Option<String> {
    match ty {
        Ty::Cpu => {
            let m = millicores(q)?;
            Some(if q.ends_with('m') {
                format!("{}", m as f64 / 1000.0)
            } else {
                format!("{m}m")
            })
        }
        Ty::Memory => {
            let b = bytes(q)?;
            Some(if q.ends_with("Gi") {
                format!("{}Mi", b >> 20)
            } else if b % 1024 == 0 {
                format!("{}Ki", b >> 10)
            } else {
                format!("{b}")
            })
        }
        _ => None,
    }
}

/// The new value `op` gives a spot that holds `current` (`salt` tells the
/// rendered side's values from other managers'): `None` when the op does
/// not apply, `Some(None)` to remove the field.
pub fn value_for(
    spot: &Spot,
    op: Op,
    current: Option<&Value>,
    salt: &str,
) -> Option<Option<Value>> {
    let new = |n: u8| -> Value {
        let n64 = i64::from(n);
        match spot.ty {
            Ty::Text => json!(format!("{salt}-{n}")),
            Ty::Image => json!(format!("registry.example.com/{salt}-{n}:1")),
            Ty::Choice(values) => json!(values[usize::from(n) % values.len()]),
            Ty::Int(base) => json!(base + n64),
            Ty::Cpu => json!(format!("{}m", 250 * n64)),
            Ty::Memory => json!(format!("{}Mi", 512 * (n64 + 1))),
            Ty::PortRef(number, name) => match n % 2 {
                1 => json!(number + n64),
                _ => json!(name),
            },
            Ty::IntOrPercent(base) => match n % 2 {
                1 => json!(base + n64),
                _ => json!(format!("{}%", 10 * n64)),
            },
            Ty::Texts(prefix) => {
                let mut items = current
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let made = json!(format!("{prefix}{salt}-{n}"));
                match items.first_mut() {
                    Some(first) => *first = made,
                    None => items.push(made),
                }
                Value::Array(items)
            }
            Ty::Items(make) => {
                let mut items = current
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                // The last of several items is replaced; a lone one stays
                // (a volume its mount names, a port a probe names).
                let made = make(salt, n);
                match items.len() {
                    0 | 1 => items.push(made),
                    _ => *items.last_mut().expect("several items") = made,
                }
                Value::Array(items)
            }
        }
    };
    let list = current.and_then(Value::as_array);
    match (op, current) {
        (Op::New(n), _) => Some(Some(new(n))),
        (Op::Same, Some(value)) => Some(Some(value.clone())),
        (Op::Same, None) => spot.default.map(|d| {
            Some(match spot.ty {
                Ty::Int(_) => json!(d.parse::<i64>().expect("integer default")),
                _ => json!(d),
            })
        }),
        (Op::Respell, Some(value)) => {
            respelled(spot.ty, value.as_str()?).map(|q| Some(Value::String(q)))
        }
        (Op::Remove, Some(_)) if spot.removable => Some(None),
        (Op::Reorder, Some(_)) => {
            let items = list?;
            (items.len() > 1).then(|| Some(Value::Array(items.iter().rev().cloned().collect())))
        }
        (Op::Grow, _) => {
            let mut items = list.cloned().unwrap_or_default();
            let made = match spot.ty {
                Ty::Texts(prefix) => json!(format!("{prefix}{salt}-grown")),
                Ty::Items(make) => make(salt, 9),
                _ => return None,
            };
            if items.contains(&made) {
                return None;
            }
            items.push(made);
            Some(Some(Value::Array(items)))
        }
        (Op::Shrink, Some(_)) => {
            let items = list?;
            (items.len() > 1).then(|| Some(Value::Array(items[..items.len() - 1].to_vec())))
        }
        _ => None,
    }
}

/// A JSON merge patch setting the spot of `live` to `value` (`None`
/// removes it). A merge patch replaces lists, so from the first list item on
/// the path it sends the whole list, one value changed.
fn merge_body(live: &Value, path: &[Step], value: Option<Value>) -> Option<Value> {
    let mut edited = live.clone();
    if !write_at(&mut edited, path, value.clone()) {
        return None;
    }
    let mut body = json!({});
    let mut node = &mut body;
    for (i, step) in path.iter().enumerate() {
        let Step::Field(name) = step else {
            unreachable!("a merge patch stops at the first list")
        };
        let last = i + 1 == path.len();
        if last {
            node[*name] = value.clone().unwrap_or(Value::Null);
            break;
        }
        if matches!(path[i + 1], Step::Item(_)) {
            node[*name] = read_at(&edited, &path[..=i])?.clone();
            break;
        }
        node[*name] = json!({});
        node = &mut node[*name];
    }
    Some(body)
}

/// A server-side apply body setting the spot to `value`: only the path,
/// with the key fields of each list item on the way.
fn apply_body(key: &ObjectKey, path: &[Step], value: Value) -> Value {
    fn build(path: &[Step], value: Value) -> Value {
        let Some((step, rest)) = path.split_first() else {
            return value;
        };
        match step {
            Step::Field(name) => {
                let mut map = Map::new();
                map.insert(name.to_string(), build(rest, value));
                Value::Object(map)
            }
            Step::Item(key) => {
                let mut item = Value::Object(item_key(key));
                if let (Value::Object(item), Value::Object(inner)) = (&mut item, build(rest, value))
                {
                    item.extend(inner);
                }
                json!([item])
            }
        }
    }
    let mut body = build(path, value);
    body["apiVersion"] = json!(key.api_version);
    body["kind"] = json!(key.kind);
    body["metadata"]["name"] = json!(key.name);
    body["metadata"]["namespace"] = json!(key.namespace);
    body
}

/// Which server a case runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The kube test double: no controllers, no server defaults, quantities
    /// stored as sent (so a respelt quantity is not the same value there).
    Double,
    /// A real API server with the controller manager.
    Real,
}

/// Applies a case's live edits, through the API, as other field managers.
/// An edit that does not apply to the object as it is now is skipped.
async fn edit_live(
    cluster: &Cluster,
    objects: &[Value],
    edits: &[Edit],
    server: Server,
) -> Result<(), String> {
    for (n, edit) in edits.iter().enumerate() {
        // Each apply is another hand's: one manager's second apply would
        // take back what its first set (an image it alone owned, say).
        let intruder = format!("intruder-{n}");
        let spot = &SPOTS[edit.spot()];
        let key = ObjectKey::of(&objects[spot.object]).map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = cluster.api_for(&key).await.map_err(|e| e.to_string())?;
        let live = api
            .get(&key.name)
            .await
            .map_err(|e| format!("reading {key}: {e}"))?;
        let live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
        let current = read_at(&live, spot.path);
        let op = match *edit {
            Edit::ForceApply { op, .. } | Edit::MergePatch { op, .. } => op_at(spot, op),
            Edit::ShareApply { .. } => Op::Same,
        };
        if op == Op::Respell && server == Server::Double {
            continue;
        }
        let Some(value) = value_for(spot, op, current, "edit") else {
            continue;
        };
        let result = match (edit, value) {
            (Edit::MergePatch { .. }, value) => {
                let Some(body) = merge_body(&live, spot.path, value) else {
                    continue;
                };
                let params = PatchParams {
                    field_manager: Some("kubectl-edit".into()),
                    ..PatchParams::default()
                };
                api.patch(&key.name, &params, &Patch::Merge(&body)).await
            }
            (_, None) => continue,
            (Edit::ForceApply { .. }, Some(value)) => {
                let body = apply_body(&key, spot.path, value);
                let params = PatchParams::apply(&intruder).force();
                api.patch(&key.name, &params, &Patch::Apply(&body)).await
            }
            (Edit::ShareApply { .. }, Some(value)) => {
                if current.is_none() {
                    continue;
                }
                let body = apply_body(&key, spot.path, value);
                let params = PatchParams::apply(&intruder);
                api.patch(&key.name, &params, &Patch::Apply(&body)).await
            }
        };
        result.map_err(|e| format!("{edit:?} ({op:?} on {spot:?}) of {key}: {e}"))?;
    }
    Ok(())
}

/// Applies the case's rendered edit; `false` when it does not apply.
fn edit_rendered(objects: &mut [Value], case: &Case, server: Server) -> bool {
    let Some(edit) = case.render else {
        return false;
    };
    let index = match edit.pick {
        Pick::Edited(any) => case.edits.last().map_or(any, Edit::spot),
        Pick::Any(index) => index,
    };
    let spot = &SPOTS[index];
    let op = op_at(spot, edit.op);
    if op == Op::Respell && server == Server::Double {
        return false;
    }
    let object = &mut objects[spot.object];
    let Some(value) = value_for(spot, op, read_at(object, spot.path), "render") else {
        return false;
    };
    write_at(object, spot.path, value)
}

/// What a checked case saw, for the caller's tallies.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Objects the reports show as changed (or added, removed).
    pub changes: usize,
    /// Dry runs the fast path sent.
    pub fast_dry_runs: usize,
    /// Dry runs the exact path sent (one per rendered object).
    pub exact_dry_runs: usize,
    /// Objects flagged, dry-run, and found to change only in ownership.
    pub ownership_only: usize,
}

impl std::ops::AddAssign for Outcome {
    fn add_assign(&mut self, other: Outcome) {
        self.changes += other.changes;
        self.fast_dry_runs += other.fast_dry_runs;
        self.exact_dry_runs += other.exact_dry_runs;
        self.ownership_only += other.ownership_only;
    }
}

/// The report as the property compares it: every field of every object,
/// except the text of an object both sides call unchanged. That text is the
/// live object, which the two diffs read at different moments, and a real
/// cluster's controllers write to it in between (the Deployment controller's
/// `deployment.kubernetes.io/revision` annotation lands after the apply);
/// its change, its empty diff and its drift are still compared.
fn comparable(report: &DiffReport) -> DiffReport {
    let mut report = report.clone();
    for object in &mut report.objects {
        if object.change == Change::Unchanged {
            object.before = None;
            object.after = None;
        }
    }
    report
}

fn show(report: &DiffReport) -> String {
    modelctl::manifest_diff::render(
        report,
        modelctl::manifest_diff::Format::Text(modelctl::manifest_diff::ColorChoice::Never),
    )
}

/// Waits until the Deployment controller has observed each Deployment's
/// latest generation (and so written its revision annotation).
async fn settle_deployments(cluster: &Cluster, objects: &[Value]) -> Result<(), String> {
    for object in objects.iter().filter(|o| o["kind"] == "Deployment") {
        let key = ObjectKey::of(object).map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = cluster.api_for(&key).await.map_err(|e| e.to_string())?;
        let what = format!("the Deployment controller to observe {key}'s last generation");
        crate::real_bed::eventually(&what, 60, || async {
            let live = api.get(&key.name).await.ok()?;
            let observed = live.data["status"]["observedGeneration"].as_i64();
            (observed.is_some() && observed == live.metadata.generation).then_some(())
        })
        .await;
    }
    Ok(())
}

/// Each object as the server holds it, read raw (not through the code
/// under test): what it is, and who owns what.
async fn read_raw(cluster: &Cluster, objects: &[Value]) -> Result<Vec<(Value, Value)>, String> {
    let mut out = Vec::new();
    for object in objects {
        let key = ObjectKey::of(object).map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = cluster.api_for(&key).await.map_err(|e| e.to_string())?;
        let live = api
            .get(&key.name)
            .await
            .map_err(|e| format!("reading {key}: {e}"))?;
        let mut live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
        let mut owners = live["metadata"]["managedFields"].take();
        for entry in owners.as_array_mut().into_iter().flatten() {
            if let Some(entry) = entry.as_object_mut() {
                entry.remove("time");
            }
        }
        if let Some(meta) = live["metadata"].as_object_mut() {
            for field in ["managedFields", "resourceVersion", "generation"] {
                meta.remove(field);
            }
            if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                annotations.remove("deployment.kubernetes.io/revision");
            }
        }
        if let Some(map) = live.as_object_mut() {
            map.remove("status");
        }
        out.push((live, owners));
    }
    Ok(out)
}

/// Where `a` and `b` differ, one line per path: `path: a → b`.
fn differences(a: &Value, b: &Value, at: &str) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .flat_map(|k| {
                    let (l, r) = (
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                    );
                    differences(l, r, &format!("{at}.{k}"))
                })
                .collect()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .flat_map(|(i, (l, r))| differences(l, r, &format!("{at}[{i}]")))
            .collect(),
        _ if a == b => Vec::new(),
        _ => vec![format!("{at}: {a} → {b}")],
    }
}

/// Dry runs `cluster` sent since `before` was taken.
fn dry_runs_since(cluster: &Cluster, before: &RequestCounts) -> usize {
    cluster.requests().of(RequestKind::DryRunApply) - before.of(RequestKind::DryRunApply)
}

/// Runs one case on `cluster` in `namespace`: applies the objects (named
/// with `suffix`, environment `env`), makes the edits, and checks the four
/// points of the module doc. `Err` describes a failure.
///
/// Against a real API server the Deployment controller writes its revision
/// annotation into a Deployment's metadata after an edit changes its
/// template, so the case waits for it to have observed the last generation
/// before reading the objects; otherwise one read could see the object
/// before that write and the next after it. `cluster` must be the case's
/// own: its request counts are read.
pub async fn check(
    cluster: &Cluster,
    namespace: &str,
    env: &str,
    suffix: &str,
    case: &Case,
    server: Server,
) -> Result<Outcome, String> {
    let target = Target {
        env: env.to_owned(),
        namespace: namespace.to_owned(),
    };
    let mut objects = objects(namespace, suffix);
    let mut options = ApplyOptions {
        dry_run: false,
        force_conflicts: false,
        prune: false,
        concurrency: 8,
        exact: false,
    };
    apply(cluster, &target, &objects, &options, &|_| {})
        .await
        .map_err(|e| format!("applying: {e}"))?;
    edit_live(cluster, &objects, &case.edits, server).await?;
    let settle = |objects: &[Value]| {
        let objects = objects.to_vec();
        async move {
            match server {
                Server::Real => settle_deployments(cluster, &objects).await,
                Server::Double => Ok(()),
            }
        }
    };
    settle(&objects).await?;
    edit_rendered(&mut objects, case, server);

    // 1. The fast diff reports what the exact one reports.
    let before = cluster.requests();
    let (fast, scan) = diff_counted(cluster, &target, &objects, &DiffOptions::default())
        .await
        .map_err(|e| format!("fast diff: {e}"))?;
    let fast_dry_runs = dry_runs_since(cluster, &before);
    let exact_options = DiffOptions {
        exact: true,
        ..DiffOptions::default()
    };
    let before = cluster.requests();
    let (exact, _) = diff_counted(cluster, &target, &objects, &exact_options)
        .await
        .map_err(|e| format!("exact diff: {e}"))?;
    let exact_dry_runs = dry_runs_since(cluster, &before);
    let scan = scan.ok_or("the fast diff did not scan")?;
    let (fast_seen, exact_seen) = (comparable(&fast), comparable(&exact));
    if fast_seen != exact_seen {
        let apart: Vec<String> = fast_seen
            .objects
            .iter()
            .zip(&exact_seen.objects)
            .filter(|(f, e)| f != e)
            .map(|(f, e)| format!("fast: {f:#?}\nexact: {e:#?}"))
            .collect();
        return Err(format!(
            "the fast diff disagrees with the exact one\nscan: {scan:?}\n--- fast:\n{}\n--- exact:\n{}\n--- the objects that differ:\n{}",
            show(&fast),
            show(&exact),
            apart.join("\n")
        ));
    }

    // 2. Only what the scan flagged (or did not find) was dry-run: the
    // exact diff dry-runs each object once (twice on a conflict, the second
    // time forced, to show the drift), and an object the scan calls the
    // same has no conflict, so the fast diff sends one dry run less for
    // each.
    if fast_dry_runs + scan.same != exact_dry_runs {
        return Err(format!(
            "the fast diff sent {fast_dry_runs} dry runs, the exact one {exact_dry_runs}, for {} objects found the same\nscan: {scan:?}",
            scan.same
        ));
    }

    // 3. The report tells the truth about the apply.
    let raw_before = read_raw(cluster, &objects).await?;
    options.force_conflicts = true;
    apply(cluster, &target, &objects, &options, &|_| {})
        .await
        .map_err(|e| format!("applying the rendered objects: {e}"))?;
    settle(&objects).await?;
    let raw_after = read_raw(cluster, &objects).await?;
    let mut ownership_only = 0;
    for (object, ((was, owners_were), (is, owners_are))) in
        objects.iter().zip(raw_before.iter().zip(&raw_after))
    {
        let key = ObjectKey::of(object).map_err(|e| e.to_string())?;
        let reported = fast
            .objects
            .iter()
            .find(|o| o.key == key)
            .ok_or_else(|| format!("{key} is not in the report"))?;
        // A change of content shows as one; drift alone (a field another
        // manager took, holding our value) and a flagged object the dry
        // run found unchanged are changes of ownership only.
        let changed = reported.change != Change::Unchanged;
        if changed != (was != is) {
            return Err(format!(
                "the diff shows {key} as {:?} but the apply {} it\n--- what the apply changed:\n{}\n--- report:\n{}",
                reported.change,
                if was != is {
                    "changed"
                } else {
                    "did not change"
                },
                differences(was, is, "").join("\n"),
                show(&fast)
            ));
        }
        let flagged = scan.reasons.iter().find(|(k, _)| *k == key);
        if !changed && (flagged.is_some() || !reported.drift.is_empty()) {
            if owners_were == owners_are {
                return Err(format!(
                    "{key} was flagged ({flagged:?}) or drifted ({:?}), but the apply changed nothing, not even its ownership",
                    reported.drift
                ));
            }
            ownership_only += 1;
        }
    }

    // 4. After the apply, the diff is empty.
    let (after, _) = diff_counted(cluster, &target, &objects, &DiffOptions::default())
        .await
        .map_err(|e| format!("diff after the apply: {e}"))?;
    if after.changes().count() > 0 || after.objects.iter().any(|o| !o.drift.is_empty()) {
        return Err(format!(
            "after the apply the diff still shows changes:\n{}",
            show(&after)
        ));
    }

    Ok(Outcome {
        changes: fast.changes().count(),
        fast_dry_runs,
        exact_dry_runs,
        ownership_only,
    })
}
