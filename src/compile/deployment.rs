//! The serving Deployment: `model-server` with the model URI, batching,
//! warm-up and the route's path prefix as arguments, health probes, a security context that passes the
//! Pod Security "restricted" profile, rolling updates that never take a
//! ready pod away, and pods spread across nodes.
//!
//! Owns the pod template of serving pods, for the main and the canary track.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvFromSource, HTTPGetAction,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SeccompProfile, SecretEnvSource, SecurityContext, TopologySpreadConstraint, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modelctl_spec::ScrapeMode;
use modelctl_spec::model::{Serve, ServeBackend};

use super::Ctx;
use super::env_from::{env_from, service_account};
use super::labels::{self, Component, Track};
use super::resources::{requirements, tolerations};
use super::volumes::{empty_dir, mount};

/// The port `model-server` listens on (named `http`).
pub const SERVER_PORT: i32 = 8080;
/// The port `model-server` serves gRPC on (named `grpc`; `--grpc-port`).
pub const GRPC_PORT: i32 = 8081;
/// Where the model is downloaded to (an emptyDir; the root filesystem is read-only).
pub const CACHE_DIR: &str = "/var/cache/model-server";
/// Where a `pvc://<claim>/<path>` model's claim is mounted read-only.
pub const PVC_MODEL_DIR: &str = "/mnt/models";
/// The non-root user serving pods run as.
pub const RUN_AS_USER: i64 = 65532;

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
    let mut volumes = vec![empty_dir("model-cache"), empty_dir("tmp")];
    let mut mounts = vec![
        mount("model-cache", CACHE_DIR, false),
        mount("tmp", "/tmp", false),
    ];
    let uri = match model_uri
        .strip_prefix("pvc://")
        .and_then(|r| r.split_once('/'))
    {
        Some((claim, path)) => {
            volumes.push(Volume {
                name: "model-store".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.to_owned(),
                    read_only: Some(true),
                }),
                ..Volume::default()
            });
            mounts.push(mount(
                "model-store",
                &format!("{PVC_MODEL_DIR}/{claim}"),
                true,
            ));
            format!("{PVC_MODEL_DIR}/{claim}/{}", path.trim_start_matches('/'))
        }
        None => model_uri.to_owned(),
    };

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
    // answers under it as well as at the root (where the probes are).
    if let Some(prefix) = serve.route.as_ref().map(super::route::path)
        && prefix != "/"
    {
        args.push(format!("--path-prefix={prefix}"));
    }

    let mut sources = vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: format!("{}-model-store", ctx.name()),
            optional: Some(true),
        }),
        ..EnvFromSource::default()
    }];
    sources.extend(env_from(&serve.env_from));
    let account = service_account(
        serve.service_account.as_ref(),
        ctx.env.service_accounts.serve.as_ref(),
    );

    PodSpec {
        automount_service_account_token: account.is_none().then_some(false),
        containers: vec![Container {
            name: "server".to_owned(),
            image: Some(image.as_str().to_owned()),
            args: Some(args),
            env_from: Some(sources),
            ports: Some(vec![
                ContainerPort {
                    name: Some("http".to_owned()),
                    container_port: SERVER_PORT,
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                },
                ContainerPort {
                    name: Some("grpc".to_owned()),
                    container_port: GRPC_PORT,
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                },
            ]),
            resources: requirements(&serve.resources, &ctx.env.gpu),
            startup_probe: Some(probe("/v2/health/ready", 2, 150)),
            readiness_probe: Some(probe("/v2/health/ready", 5, 2)),
            liveness_probe: Some(probe("/v2/health/live", 10, 3)),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".to_owned()]),
                    ..Capabilities::default()
                }),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                seccomp_profile: Some(runtime_default()),
                ..SecurityContext::default()
            }),
            volume_mounts: Some(mounts),
            ..Container::default()
        }],
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS_USER),
            run_as_group: Some(RUN_AS_USER),
            fs_group: Some(RUN_AS_USER),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        service_account_name: account,
        termination_grace_period_seconds: Some(30),
        tolerations: tolerations(&serve.resources, &ctx.env.gpu),
        topology_spread_constraints: Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "kubernetes.io/hostname".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            }),
            match_label_keys: Some(vec!["pod-template-hash".to_owned()]),
            ..TopologySpreadConstraint::default()
        }]),
        volumes: Some(volumes),
        ..PodSpec::default()
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

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}
