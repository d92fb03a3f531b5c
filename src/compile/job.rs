//! The training Job: init containers that fetch the code (`fetch-code`) and
//! train (`train`, running `start.sh` in the framework image), then the main
//! container `export` (see [`super::export`]) that uploads what the training
//! wrote to the shared `code` emptyDir; data volumes, GPU limits and
//! tolerations, the ServiceAccount and `env-from`; an Indexed Job for a
//! sweep, retried per trial, with its trials' parameters in the
//! `modelctl.io/sweep` annotation; an Indexed Job of one worker per node
//! for a multi-node run, with the headless Service that names its workers.
//!
//! Owns the Job's pod template. The Job is immutable once created, so its
//! name carries a hash of everything in it (see [`super::training`]).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, ObjectFieldSelector,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modelctl_spec::model::Train;

use super::Ctx;
use super::env_from::{env_from, service_account};
use super::fetch::{LOGS_ON_ERROR, fetch_container};
use super::resources::{requirements, tolerations};
use super::script::CODE_DIR;
use super::security::{self, ContainerKind, PodKind};
use super::sweep::trials;
use super::volumes::{empty_dir, mount};
use crate::object::labels::{COMPONENT, NAME, NODES, SWEEP, TRAIN_HASH};

/// Where the ConfigMap's files are mounted.
pub(crate) const SCRIPTS_DIR: &str = "/etc/modelctl";
/// The port the rank-0 worker of a multi-node run listens on for the
/// rendezvous (`MASTER_PORT`; torchrun's default).
pub(crate) const MASTER_PORT: i32 = 29500;
/// The pod annotation the Job controller writes each Indexed Job pod's
/// completion index to.
const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// The headless Service named `name` (the Job's name) that gives each
/// worker of a multi-node run a stable DNS name, `<job>-<index>.<name>`:
/// it selects the pods of this training spec (its hash label), and
/// publishes them before they are ready, since workers meet before any
/// could be.
pub(crate) fn workers_service(
    ctx: &Ctx<'_>,
    name: &str,
    hash: &str,
    labels: BTreeMap<String, String>,
) -> Service {
    let selector = [
        (NAME.to_owned(), ctx.name().to_owned()),
        (COMPONENT.to_owned(), "train".to_owned()),
        (TRAIN_HASH.to_owned(), hash.to_owned()),
    ]
    .into();
    Service {
        metadata: super::labels::metadata(ctx, name, labels),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some("rendezvous".to_owned()),
                port: MASTER_PORT,
                target_port: Some(IntOrString::Int(MASTER_PORT)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The Job named `name`, reading the ConfigMap `config_map`.
pub(crate) fn build(
    ctx: &Ctx<'_>,
    train: &Train,
    name: &str,
    config_map: &str,
    labels: BTreeMap<String, String>,
) -> Job {
    let retries = i32::try_from(train.retries.map_or(0, |r| r.get())).unwrap_or(i32::MAX);
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let mut metadata = super::labels::metadata(ctx, name, labels.clone());
    let mut spec = JobSpec {
        backoff_limit: Some(retries),
        ..JobSpec::default()
    };
    if let Some(sweep) = &train.sweep {
        let trials = trials(sweep, ctx.name());
        spec.completions = Some(i32::try_from(trials.len()).unwrap_or(i32::MAX));
        spec.parallelism = Some(int(sweep.parallelism.map_or(1, |p| p.get())));
        spec.completion_mode = Some("Indexed".to_owned());
        // Retries count per trial, so a trial that keeps crashing fails
        // alone and the others run on; the Job-wide limit is left to its
        // default (unlimited once a per-index limit is set).
        spec.backoff_limit = None;
        spec.backoff_limit_per_index = Some(int(sweep
            .retries_per_trial
            .or(train.retries)
            .map_or(0, |r| r.get())));
        spec.max_failed_indexes = sweep.max_failed_trials.map(|m| int(m.get()));
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(SWEEP.to_owned(), trials_annotation(&trials));
    }
    let nodes = train.workers();
    if nodes > 1 {
        // One worker per node, all running at once: Kueue admits the Job as
        // a whole, so no worker waits for the others' quota. One failed
        // worker fails the attempt (the others' rendezvous breaks and they
        // exit too), so the Job-wide limit allows `retries` attempts of
        // the whole group; a pod disrupted by the cluster (a drained or
        // lost node, a preemption) is not counted.
        spec.completions = Some(int(nodes));
        spec.parallelism = Some(int(nodes));
        spec.completion_mode = Some("Indexed".to_owned());
        spec.backoff_limit = Some(retries.saturating_mul(int(nodes)));
        spec.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![PodFailurePolicyRule {
                action: "Ignore".to_owned(),
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".to_owned(),
                    status: Some("True".to_owned()),
                }]),
                on_exit_codes: None,
            }],
        });
        metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(NODES.to_owned(), nodes.to_string());
    }
    let deadline = train
        .timeout
        .as_ref()
        .map(|t| i64::try_from(t.as_std().as_secs().max(1)).unwrap_or(i64::MAX));
    Job {
        metadata,
        spec: Some(JobSpec {
            active_deadline_seconds: deadline,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(ctx, train, name, config_map)),
            },
            ..spec
        }),
        ..Job::default()
    }
}

/// The [`SWEEP`] annotation: each trial's parameters as a JSON object, in
/// index order, compact.
fn trials_annotation(trials: &[BTreeMap<String, String>]) -> String {
    // A list of string maps always serializes.
    serde_json::to_string(trials).expect("string maps serialize to JSON")
}

fn pod_spec(ctx: &Ctx<'_>, train: &Train, name: &str, config_map: &str) -> PodSpec {
    let data = DataInputs::of(train);
    let mut volumes = vec![empty_dir("code"), scripts_volume(config_map)];
    volumes.extend(data.volumes);
    let mut mounts = vec![
        mount("code", "/workspace", false),
        mount("scripts", SCRIPTS_DIR, true),
    ];
    mounts.extend(data.mounts);
    let mut env = vec![
        value_env("MODELCTL_MODEL", ctx.name()),
        value_env("MODELCTL_ENV", &ctx.env.name),
        value_env("MODELCTL_NAMESPACE", ctx.namespace()),
        run_env(),
    ];
    if train.nodes.is_some() {
        env.extend(worker_env(train, name));
    }
    env.extend(data.env);
    for (name, value) in &train.env {
        env.push(value_env(name.as_str(), value));
    }

    let sources = env_from(&train.env_from);
    let mut init_containers: Vec<Container> = fetch_code(ctx, train).into_iter().collect();
    init_containers.push(Container {
        name: "train".to_owned(),
        image: Some(train.image.as_str().to_owned()),
        command: Some(vec![
            "/bin/sh".to_owned(),
            format!("{SCRIPTS_DIR}/start.sh"),
        ]),
        env: Some(env),
        env_from: (!sources.is_empty()).then(|| sources.clone()),
        resources: requirements(&train.resources, &ctx.env.gpu),
        security_context: Some(security::container(ContainerKind::UserImage)),
        termination_message_policy: Some(LOGS_ON_ERROR.to_owned()),
        volume_mounts: Some(mounts),
        ..Container::default()
    });
    let account = service_account(
        train.service_account.as_ref(),
        ctx.env.service_accounts.train.as_ref(),
    );

    PodSpec {
        automount_service_account_token: account.is_none().then_some(false),
        restart_policy: Some("Never".to_owned()),
        init_containers: Some(init_containers),
        containers: vec![super::export::container(
            ctx,
            train,
            SCRIPTS_DIR,
            run_env(),
            sources,
        )],
        security_context: Some(security::pod(PodKind::Training)),
        service_account_name: account,
        subdomain: (train.workers() > 1).then(|| name.to_owned()),
        tolerations: tolerations(&train.resources, &ctx.env.gpu),
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

/// The ConfigMap's files (`start.sh`, the sweep files, `export.json`),
/// executable.
fn scripts_volume(config_map: &str) -> Volume {
    Volume {
        name: "scripts".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            default_mode: Some(0o555),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// What `train.data` adds to the training container, in the order of its
/// entries: a claim's volume and mount, or a URI's environment variable
/// (`DATA_<index>` unless `env` names it).
struct DataInputs {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
    env: Vec<EnvVar>,
}

impl DataInputs {
    fn of(train: &Train) -> DataInputs {
        let mut inputs = DataInputs {
            volumes: Vec::new(),
            mounts: Vec::new(),
            env: Vec::new(),
        };
        for (index, data) in train.data.iter().enumerate() {
            if let Some(claim) = &data.pvc {
                let volume = format!("data-{index}");
                let path = data
                    .mount
                    .as_ref()
                    .map_or_else(|| format!("/data/{claim}"), |m| m.as_str().to_owned());
                inputs.volumes.push(Volume {
                    name: volume.clone(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim.as_str().to_owned(),
                        read_only: data.read_only.then_some(true),
                    }),
                    ..Volume::default()
                });
                inputs.mounts.push(mount(&volume, &path, data.read_only));
            }
            let uri =
                (data.hdfs.as_ref().map(|h| h.as_str())).or(data.uri.as_ref().map(|u| u.as_str()));
            if let Some(uri) = uri {
                let name = data
                    .env
                    .as_ref()
                    .map_or_else(|| format!("DATA_{index}"), |e| e.as_str().to_owned());
                inputs.env.push(value_env(&name, uri));
            }
        }
        inputs
    }
}

/// The `fetch-code` init container, when the code is fetched in the pod.
fn fetch_code(ctx: &Ctx<'_>, train: &Train) -> Option<Container> {
    let code = train.code.as_ref()?;
    let base = Container {
        security_context: Some(security::container(ContainerKind::UserImage)),
        volume_mounts: Some(vec![mount("code", "/workspace", false)]),
        ..Container::default()
    };
    fetch_container(code, ctx.env.git_image.as_str(), CODE_DIR, base)
}

/// What each worker of a run with `nodes` set reads to find the others: the
/// rank-0 worker's address (`<job>-0.<service>`, `MODELCTL_RUN` being the
/// Job's name) and port, how many nodes and processes there are, and its
/// own rank (the completion index). With one node the same variables name
/// the pod itself, so one `command` serves both.
fn worker_env(train: &Train, service: &str) -> Vec<EnvVar> {
    let nodes = train.workers();
    let per_node = train.resources.gpu.map_or(0, |g| g.get()).max(1);
    if nodes == 1 {
        return vec![
            value_env("MASTER_ADDR", "127.0.0.1"),
            value_env("MASTER_PORT", &MASTER_PORT.to_string()),
            value_env("NNODES", "1"),
            value_env("NPROC_PER_NODE", &per_node.to_string()),
            value_env("WORLD_SIZE", &per_node.to_string()),
            value_env("NODE_RANK", "0"),
        ];
    }
    vec![
        value_env("MASTER_ADDR", &format!("$(MODELCTL_RUN)-0.{service}")),
        value_env("MASTER_PORT", &MASTER_PORT.to_string()),
        value_env("NNODES", &nodes.to_string()),
        value_env("NPROC_PER_NODE", &per_node.to_string()),
        value_env("WORLD_SIZE", &(nodes * per_node).to_string()),
        EnvVar {
            name: "NODE_RANK".to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: format!("metadata.annotations['{INDEX_ANNOTATION}']"),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
    ]
}

/// `MODELCTL_RUN`: the Job's name, from the pod's label.
fn run_env() -> EnvVar {
    EnvVar {
        name: "MODELCTL_RUN".to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.labels['batch.kubernetes.io/job-name']".to_owned(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn value_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    }
}
