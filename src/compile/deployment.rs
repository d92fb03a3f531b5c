//! The serving Deployment: `model-server` with the model URI, batching,
//! warm-up and the route's path prefix as arguments, health probes, a
//! security context that passes the Pod Security "restricted" profile (see
//! [`super::security`]), rolling updates that never take a ready pod away,
//! and pods spread across nodes.
//!
//! Owns the pod template of serving pods, for the main and the canary track.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, HTTPGetAction, PersistentVolumeClaimVolumeSource,
    PodSpec, PodTemplateSpec, Probe, SecretEnvSource, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modelctl_spec::ScrapeMode;
use modelctl_spec::model::{Serve, ServeBackend};

use super::Ctx;
use super::env_from::{env_from, service_account};
use super::labels::{self, Component, Track};
use super::ports::{GRPC_PORT, SERVER_PORT};
use super::resources::{requirements, tolerations};
use super::security::{self, ContainerKind, PodKind};
use super::volumes::{empty_dir, mount};

/// Where the model is downloaded to (an emptyDir; the root filesystem is read-only).
pub const CACHE_DIR: &str = "/var/cache/model-server";
/// Where a `pvc://<claim>/<path>` model's claim is mounted read-only.
pub const PVC_MODEL_DIR: &str = "/mnt/models";

/// The Deployment of one track serving `model_uri`, with `replicas` pods
/// (`None` when an autoscaler owns the count).
pub(crate) fn build(
    ctx: &Ctx<'_>,
    serve: &Serve,
    track: Track,
    model_uri: &str,
    replicas: Option<i32>,
) -> Deployment {
    let name = track.object_name(ctx.name());
    let version = super::hash::hash8(model_uri);
    let selector = labels::selector(ctx, Component::Serve, Some(track));
    let pod_labels = labels::labels(ctx, Component::Serve, Some(track), &version);
    Deployment {
        metadata: labels::metadata(ctx, &name, pod_labels.clone()),
        spec: Some(DeploymentSpec {
            replicas,
            revision_history_limit: Some(5),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: scrape_annotations(ctx.env.scrape),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(ctx, serve, model_uri, selector)),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn pod_spec(
    ctx: &Ctx<'_>,
    serve: &Serve,
    model_uri: &str,
    selector: BTreeMap<String, String>,
) -> PodSpec {
    let store = ModelStore::of(model_uri);
    let mut volumes = vec![empty_dir("model-cache"), empty_dir("tmp")];
    volumes.extend(store.volume);
    let mut mounts = vec![
        mount("model-cache", CACHE_DIR, false),
        mount("tmp", "/tmp", false),
    ];
    mounts.extend(store.mount);
    let account = service_account(
        serve.service_account.as_ref(),
        ctx.env.service_accounts.serve.as_ref(),
    );
    PodSpec {
        automount_service_account_token: account.is_none().then_some(false),
        containers: vec![server_container(ctx, serve, &store.uri, mounts)],
        security_context: Some(security::pod(PodKind::Serving)),
        service_account_name: account,
        termination_grace_period_seconds: Some(30),
        tolerations: tolerations(&serve.resources, &ctx.env.gpu),
        topology_spread_constraints: Some(vec![spread_across_nodes(selector)]),
        volumes: Some(volumes),
        ..PodSpec::default()
    }
}

/// Where the server reads the model from: the URI as given, or for a
/// `pvc://<claim>/<path>` model, the path under the claim mounted read-only
/// at [`PVC_MODEL_DIR`]`/<claim>`, with that volume and mount.
struct ModelStore {
    /// The `--model-uri` the server gets.
    uri: String,
    /// The claim's volume, for a `pvc://` model.
    volume: Option<Volume>,
    /// The claim's mount, for a `pvc://` model.
    mount: Option<VolumeMount>,
}

impl ModelStore {
    fn of(model_uri: &str) -> ModelStore {
        let Some((claim, path)) = model_uri
            .strip_prefix("pvc://")
            .and_then(|r| r.split_once('/'))
        else {
            return ModelStore {
                uri: model_uri.to_owned(),
                volume: None,
                mount: None,
            };
        };
        ModelStore {
            uri: format!("{PVC_MODEL_DIR}/{claim}/{}", path.trim_start_matches('/')),
            volume: Some(Volume {
                name: "model-store".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.to_owned(),
                    read_only: Some(true),
                }),
                ..Volume::default()
            }),
            mount: Some(mount(
                "model-store",
                &format!("{PVC_MODEL_DIR}/{claim}"),
                true,
            )),
        }
    }
}

/// The `server` container serving the model at `uri`, with `mounts`.
fn server_container(
    ctx: &Ctx<'_>,
    serve: &Serve,
    uri: &str,
    mounts: Vec<VolumeMount>,
) -> Container {
    let (image, args) = server_args(ctx, serve, uri);
    let mut sources = vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: format!("{}-model-store", ctx.name()),
            optional: Some(true),
        }),
        ..EnvFromSource::default()
    }];
    sources.extend(env_from(&serve.env_from));
    Container {
        name: "server".to_owned(),
        image: Some(image.to_owned()),
        args: Some(args),
        env_from: Some(sources),
        ports: Some(vec![
            container_port("http", SERVER_PORT),
            container_port("grpc", GRPC_PORT),
        ]),
        resources: requirements(&serve.resources, &ctx.env.gpu),
        startup_probe: Some(probe("/v2/health/ready", 2, 150)),
        readiness_probe: Some(probe("/v2/health/ready", 5, 2)),
        liveness_probe: Some(probe("/v2/health/live", 10, 3)),
        security_context: Some(security::container(ContainerKind::Server)),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The server's image and its arguments: the model, ports and cache,
/// batching, warm-up, backend, the GPU (from the GPU image) and the
/// route's path prefix.
fn server_args<'a>(ctx: &'a Ctx<'_>, serve: &Serve, uri: &str) -> (&'a str, Vec<String>) {
    let mut args = vec![
        format!("--model-name={}", ctx.name()),
        format!("--model-uri={uri}"),
        format!("--port={SERVER_PORT}"),
        format!("--grpc-port={GRPC_PORT}"),
        format!("--cache-dir={CACHE_DIR}"),
    ];
    if let Some(batching) = &serve.batching {
        args.push(format!("--max-batch={}", batching.max_batch));
        args.push(format!("--max-delay={}", batching.max_delay));
        if let Some(max_queue) = &batching.max_queue {
            args.push(format!("--max-queue={max_queue}"));
        }
    }
    if let Some(timeout) = &serve.timeout {
        args.push(format!("--request-timeout={timeout}"));
    }
    if let Some(warmup) = serve.warmup {
        args.push(format!("--warmup={warmup}"));
    }
    if serve.backend == Some(ServeBackend::Tract) {
        args.push("--backend=tract".to_owned());
    }
    // A pod with GPUs runs the model on them, from the GPU image; validation
    // guarantees the environment has one and the backend is ONNX Runtime.
    let image = match (&ctx.env.server_image_gpu, serve.gpus() > 0) {
        (Some(gpu_image), true) => {
            args.push("--device=cuda".to_owned());
            gpu_image
        }
        _ => &ctx.env.server_image,
    };
    // Every route kind forwards its path prefix unchanged, so the server
    // answers under it as well as at the root (where the probes are). The
    // path goes as written; the server drops a trailing `/` by the same
    // rule ([`modelctl_spec::values::UrlPath::prefix`]).
    if let Some(route) = serve.route.as_ref().filter(|r| !r.is_root()) {
        args.push(format!("--path-prefix={}", route.path_or_root()));
    }
    (image.as_str(), args)
}

/// A named TCP port of the server container.
fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: port,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    }
}

/// Spreads the pods of `selector` across nodes, as far as the scheduler can.
fn spread_across_nodes(selector: BTreeMap<String, String>) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname".to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: Some(LabelSelector {
            match_labels: Some(selector),
            ..LabelSelector::default()
        }),
        match_label_keys: Some(vec!["pod-template-hash".to_owned()]),
        ..TopologySpreadConstraint::default()
    }
}

/// The annotations that let Prometheus's pod discovery scrape the server,
/// with `scrape = "annotations"`.
fn scrape_annotations(scrape: ScrapeMode) -> Option<BTreeMap<String, String>> {
    (scrape == ScrapeMode::Annotations).then(|| {
        BTreeMap::from([
            ("prometheus.io/scrape".to_owned(), "true".to_owned()),
            ("prometheus.io/port".to_owned(), SERVER_PORT.to_string()),
            (
                "prometheus.io/path".to_owned(),
                super::podmonitor::METRICS_PATH.to_owned(),
            ),
        ])
    })
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}
