//! The fast diff's contract, as a property: whatever other hands did to the
//! live objects, and whatever changed in the rendered ones, reading each
//! kind once and dry-running only what the local comparison flags gives the
//! same report as dry-running every object (`--exact`).
//!
//! A case applies the recorded request bodies of `tests/fixtures/kube/`
//! (ConfigMap, Service, Deployment, HPA, PDB, HTTPRoute, Job), then changes
//! the live objects the ways people and controllers do:
//! - another field manager force-applies a field modelctl owns (a hotfix);
//! - `kubectl edit`-style JSON merge patches (Update operations) change,
//!   remove or re-set (to the same value) a field modelctl owns, or add one
//!   it does not own;
//!
//! then optionally changes the rendered objects (a new label, a dropped
//! annotation or label, a new value), and compares the two diffs. Shared by the test
//! against the kube test double and the one against a real API server.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use modelctl::cluster::apply::{ApplyOptions, apply};
use modelctl::cluster::diff::{DiffOptions, diff_counted};
use modelctl::cluster::{Cluster, Target};
use modelctl::object::ObjectKey;
use modelctl::reconcile::requests::{RequestCounts, RequestKind};
use proptest::prelude::*;
use serde_json::{Value, json};

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

/// A field a case changes.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// A label modelctl sets: `managed-by` (true; the object then drops out
    /// of the managed-by LIST) or `component`.
    OwnLabel(bool),
    /// The `modelctl.io/source` annotation modelctl sets.
    OwnAnnotation,
    /// A label modelctl does not set.
    ForeignLabel,
    /// A field of the kind's spec modelctl sets: a ConfigMap's data, a
    /// Deployment's image, an HPA's maxReplicas, an HTTPRoute's hostnames
    /// (an atomic list); a label for the other kinds.
    Spec,
}

/// A change to the live objects.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Field manager `intruder` force-applies `field` with value `value`.
    ForceApply {
        object: usize,
        field: Field,
        value: u8,
    },
    /// Field manager `kubectl-edit` merge-patches `field` to `value`
    /// (`Some(0)`: the value it has; `None`: removed).
    MergePatch {
        object: usize,
        field: Field,
        value: Option<u8>,
    },
}

/// A change to the rendered objects.
#[derive(Debug, Clone)]
pub enum RenderEdit {
    /// A new label.
    AddLabel { object: usize },
    /// The `modelctl.io/source` annotation dropped (the last one).
    DropAnnotation { object: usize },
    /// The `component` label dropped (others stay).
    DropLabel { object: usize },
    /// `Field::Spec` set to a new value.
    NewValue { object: usize, value: u8 },
}

/// One case: edits to the live objects, then maybe one to the rendered ones.
#[derive(Debug, Clone)]
pub struct Case {
    pub edits: Vec<Edit>,
    pub render: Option<RenderEdit>,
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<bool>().prop_map(Field::OwnLabel),
        Just(Field::OwnAnnotation),
        Just(Field::ForeignLabel),
        Just(Field::Spec),
        Just(Field::Spec),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let object = 0..KINDS.len();
    prop_oneof![
        (object.clone(), field(), 1..4u8).prop_map(|(object, field, value)| Edit::ForceApply {
            object,
            field,
            value
        }),
        (object, field(), proptest::option::weighted(0.8, 0..4u8)).prop_map(
            |(object, field, value)| Edit::MergePatch {
                object,
                field,
                value
            }
        ),
    ]
}

fn render_edit() -> impl Strategy<Value = RenderEdit> {
    let object = 0..KINDS.len();
    prop_oneof![
        object
            .clone()
            .prop_map(|object| RenderEdit::AddLabel { object }),
        object
            .clone()
            .prop_map(|object| RenderEdit::DropAnnotation { object }),
        object
            .clone()
            .prop_map(|object| RenderEdit::DropLabel { object }),
        (object, 1..4u8).prop_map(|(object, value)| RenderEdit::NewValue { object, value }),
    ]
}

/// Cases: up to three live edits, and a rendered edit half the time.
pub fn cases() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(edit(), 0..=3),
        proptest::option::of(render_edit()),
    )
        .prop_map(|(edits, render)| Case { edits, render })
}

/// A runner of `cases` cases, seeded, so a failure is the same on every
/// machine, and with nothing written to disk.
pub fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// The case's objects: the recorded bodies in `namespace`, named with `suffix`.
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
            object
        })
        .collect()
}

/// A JSON merge patch or apply body setting `field` of `object` (as it is
/// now) to `value`; `None` removes it.
fn patch_for(object: &Value, field: Field, value: Option<String>) -> Value {
    let set = |v: Option<String>| v.map_or(Value::Null, Value::from);
    let label = |key: &str| json!({"metadata": {"labels": {key: set(value.clone())}}});
    match (field, object["kind"].as_str().unwrap_or_default()) {
        (Field::OwnLabel(true), _) => label("app.kubernetes.io/managed-by"),
        (Field::OwnLabel(false), _) => label("app.kubernetes.io/component"),
        (Field::OwnAnnotation, _) => {
            json!({"metadata": {"annotations": {"modelctl.io/source": set(value)}}})
        }
        (Field::ForeignLabel, _) => label("team"),
        (Field::Spec, "ConfigMap") => json!({"data": {"start.sh": set(value)}}),
        (Field::Spec, "Deployment") => {
            // A merge patch replaces lists: send them whole, one value changed.
            let mut containers = object["spec"]["template"]["spec"]["containers"].clone();
            let image = |v: String| match v.contains(':') {
                true => v,
                false => format!("registry.example.com/{v}:1"),
            };
            containers[0]["image"] = set(value.map(image));
            json!({"spec": {"template": {"spec": {"containers": containers}}}})
        }
        (Field::Spec, "HorizontalPodAutoscaler") => {
            let digit = |v: String| v.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0);
            let n = value.map_or(Value::Null, |v| json!(10 + digit(v)));
            json!({"spec": {"maxReplicas": n}})
        }
        (Field::Spec, "HTTPRoute") => {
            let hosts = value.map_or(Value::Null, |v| json!([format!("{v}.example.com")]));
            json!({"spec": {"hostnames": hosts}})
        }
        (Field::Spec, _) => label("app.kubernetes.io/component"),
    }
}

/// Fields a merge patch may not remove without the object turning invalid.
fn removable(object: &Value, field: Field) -> bool {
    !matches!(
        (field, object["kind"].as_str().unwrap_or_default()),
        (Field::Spec, "Deployment" | "HorizontalPodAutoscaler")
    )
}

/// The value a field has now, read back through the patch that would set it.
fn current(object: &Value, field: Field) -> Option<String> {
    let probe = patch_for(object, field, Some("\u{1}".into()));
    fn find(probe: &Value, live: &Value) -> Option<Value> {
        match probe {
            Value::Object(map) => map.iter().find_map(|(k, v)| find(v, live.get(k)?)),
            _ => Some(live.clone()),
        }
    }
    match object["kind"].as_str().unwrap_or_default() {
        "Deployment" if matches!(field, Field::Spec) => {
            object["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .map(str::to_owned)
        }
        _ => find(&probe, object).and_then(|v| v.as_str().map(str::to_owned)),
    }
}

fn text(value: u8) -> String {
    format!("edit-{value}")
}

/// Applies a case's live edits, through the API, as other field managers.
async fn edit_live(cluster: &Cluster, objects: &[Value], edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        let (index, field) = match edit {
            Edit::ForceApply { object, field, .. } | Edit::MergePatch { object, field, .. } => {
                (*object, *field)
            }
        };
        let key = ObjectKey::of(&objects[index]).map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = cluster.api_for(&key).await.map_err(|e| e.to_string())?;
        let live = api
            .get(&key.name)
            .await
            .map_err(|e| format!("reading {key}: {e}"))?;
        let mut live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
        live["kind"] = json!(key.kind);
        let result = match edit {
            Edit::ForceApply { value, .. } => {
                let mut body = patch_for(&live, field, Some(text(*value)));
                body["apiVersion"] = json!(key.api_version);
                body["kind"] = json!(key.kind);
                body["metadata"]["name"] = json!(key.name);
                body["metadata"]["namespace"] = json!(key.namespace);
                let params = PatchParams::apply("intruder").force();
                api.patch(&key.name, &params, &Patch::Apply(&body)).await
            }
            Edit::MergePatch { value, .. } => {
                let value = match value {
                    Some(0) => match current(&live, field) {
                        Some(now) => Some(now),
                        None => continue,
                    },
                    Some(v) => Some(text(*v)),
                    None if removable(&live, field) => None,
                    None => continue,
                };
                let body = patch_for(&live, field, value);
                let params = PatchParams {
                    field_manager: Some("kubectl-edit".into()),
                    ..PatchParams::default()
                };
                api.patch(&key.name, &params, &Patch::Merge(&body)).await
            }
        };
        result.map_err(|e| format!("{edit:?} on {key}: {e}"))?;
    }
    Ok(())
}

/// Applies the case's rendered edit.
fn edit_rendered(objects: &mut [Value], edit: &RenderEdit) {
    match edit {
        RenderEdit::AddLabel { object } => {
            objects[*object]["metadata"]["labels"]["modelctl.io/extra"] = json!("yes");
        }
        RenderEdit::DropAnnotation { object } => {
            if let Some(a) = objects[*object]["metadata"]["annotations"].as_object_mut() {
                a.remove("modelctl.io/source");
            }
        }
        RenderEdit::DropLabel { object } => {
            if let Some(a) = objects[*object]["metadata"]["labels"].as_object_mut() {
                a.remove("app.kubernetes.io/component");
            }
        }
        RenderEdit::NewValue { object, value } => {
            let patch = patch_for(
                &objects[*object],
                Field::Spec,
                Some(format!("render-{value}")),
            );
            merge(&mut objects[*object], &patch);
        }
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
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
}

/// The report as the property compares it: every field of every object,
/// except the text of an object both sides call unchanged. That text is the
/// live object, which the two diffs read at different moments, and a real
/// cluster's controllers write to it in between (the Deployment controller's
/// `deployment.kubernetes.io/revision` annotation lands after the apply);
/// its change, its empty diff and its drift are still compared.
fn comparable(report: &modelctl::manifest_diff::DiffReport) -> modelctl::manifest_diff::DiffReport {
    let mut report = report.clone();
    for object in &mut report.objects {
        if object.change == modelctl::manifest_diff::Change::Unchanged {
            object.before = None;
            object.after = None;
        }
    }
    report
}

/// Waits until the Deployment controller has observed each Deployment's
/// latest generation (and so written its revision annotation).
async fn settle_deployments(cluster: &Cluster, objects: &[Value]) -> Result<(), String> {
    for object in objects.iter().filter(|o| o["kind"] == "Deployment") {
        let key = ObjectKey::of(object).map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = cluster.api_for(&key).await.map_err(|e| e.to_string())?;
        let what = format!("the Deployment controller to observe {key}'s last generation");
        crate::real_bed::eventually(&what, 30, || async {
            let live = api.get(&key.name).await.ok()?;
            let observed = live.data["status"]["observedGeneration"].as_i64();
            (observed.is_some() && observed == live.metadata.generation).then_some(())
        })
        .await;
    }
    Ok(())
}

/// Dry runs `cluster` sent since `before` was taken.
fn dry_runs_since(cluster: &Cluster, before: &RequestCounts) -> usize {
    cluster.requests().of(RequestKind::DryRunApply) - before.of(RequestKind::DryRunApply)
}

/// Runs one case on `cluster` in `namespace`: applies the objects (named
/// with `suffix`, environment `env`), makes the edits, and compares the
/// fast diff with the exact one. `Err` describes a disagreement.
///
/// `controllers`: the cluster runs Kubernetes' controllers (a real API
/// server). The Deployment controller then writes its revision annotation
/// into a Deployment's metadata after an edit changes its template, so the
/// case waits for it to have observed the last generation before the two
/// diffs read the objects; otherwise one diff could read the object before
/// that write and the other after it.
pub async fn check(
    cluster: &Cluster,
    namespace: &str,
    env: &str,
    suffix: &str,
    case: &Case,
    controllers: bool,
) -> Result<Outcome, String> {
    let target = Target {
        env: env.to_owned(),
        namespace: namespace.to_owned(),
    };
    let mut objects = objects(namespace, suffix);
    let options = ApplyOptions {
        dry_run: false,
        force_conflicts: false,
        prune: false,
        concurrency: 8,
        exact: false,
    };
    apply(cluster, &target, &objects, &options, &|_| {})
        .await
        .map_err(|e| format!("applying: {e}"))?;
    edit_live(cluster, &objects, &case.edits).await?;
    if controllers {
        settle_deployments(cluster, &objects).await?;
    }
    if let Some(edit) = &case.render {
        edit_rendered(&mut objects, edit);
    }
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
    if comparable(&fast) != comparable(&exact) {
        let show = |r: &modelctl::manifest_diff::DiffReport| {
            modelctl::manifest_diff::render(
                r,
                modelctl::manifest_diff::Format::Text(modelctl::manifest_diff::ColorChoice::Never),
            )
        };
        return Err(format!(
            "the fast diff disagrees with the exact one\nscan: {scan:?}\n--- fast:\n{}\n--- exact:\n{}",
            show(&fast),
            show(&exact)
        ));
    }
    Ok(Outcome {
        changes: fast.changes().count(),
        fast_dry_runs,
        exact_dry_runs,
    })
}
