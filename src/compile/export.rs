//! The training Job's `export` container and its plan: after the training
//! init container has written the model into `$MODEL_DIR`, the server
//! image's `model-export` uploads it to `output`, verifies it, writes
//! `run.json` beside it and leaves a summary as its termination message.
//!
//! Owns `export.json` (the plan `model-export` reads from the ConfigMap:
//! per completion index, the parameters and the output with `{{ run }}`
//! left to fill in) and the container's flags and mounts; its security
//! context is [`super::security`]'s `Export` variant.
//! The plan's format is `model_server::export::plan`'s.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, ResourceRequirements, SecretEnvSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use modelctl_spec::model::{CodeFetch, Train};
use serde_json::{Value, json};

use super::Ctx;
use super::script::output_for_export;
use super::security::{self, ContainerKind};
use super::sweep::trials;
use super::volumes::mount;

/// Where the workspace (code, and the model in `out/`) is mounted.
pub(crate) const WORKSPACE: &str = "/workspace";
/// The default `$MODEL_DIR`, inside the workspace.
pub(crate) const MODEL_DIR: &str = "/workspace/out";
/// The binary in the server image.
const EXPORT_BINARY: &str = "/usr/local/bin/model-export";

/// `export.json`: the model, the code's source, and one entry per
/// completion index (one without a sweep) with its parameters and output.
pub(crate) fn plan(ctx: &Ctx<'_>, train: &Train) -> String {
    let combos = match &train.sweep {
        Some(sweep) => trials(sweep, ctx.name()),
        None => vec![BTreeMap::new()],
    };
    let runs: Vec<Value> = combos
        .iter()
        .map(|params| {
            json!({
                "params": params,
                "output": output_for_export(ctx, train, params),
            })
        })
        .collect();
    let code = train
        .code
        .as_ref()
        .and_then(|c| c.fetch())
        .map(|fetch| match fetch {
            CodeFetch::Git { url, rev } => json!({ "git": url.as_str(), "rev": rev }),
            CodeFetch::Archive { url, sha256 } => match sha256 {
                Some(sum) => json!({ "archive": url.as_str(), "sha256": sum.as_str() }),
                None => json!({ "archive": url.as_str() }),
            },
        });
    let mut plan = json!({
        "model": ctx.name(),
        "sweep": train.sweep.is_some(),
        "runs": runs,
    });
    if let Some(code) = code {
        plan["code"] = code;
    }
    let workers = train.workers();
    if workers > 1 {
        // Every worker runs `export`; rank 0 alone uploads and records.
        plan["workers"] = json!(workers);
    }
    let mut text = serde_json::to_string_pretty(&plan).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The `export` container: `model-export` from the server image, reading
/// the workspace the training wrote, with the storage credentials of
/// `env_from`.
pub(crate) fn container(
    ctx: &Ctx<'_>,
    train: &Train,
    scripts_dir: &str,
    run_env: EnvVar,
    env_from: Vec<EnvFromSource>,
) -> Container {
    let model_dir = train
        .env
        .iter()
        .find(|(name, _)| name.as_str() == "MODEL_DIR")
        .map_or(MODEL_DIR, |(_, value)| value.as_str());
    let mut sources = vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: format!("{}-model-store", ctx.name()),
            optional: Some(true),
        }),
        ..EnvFromSource::default()
    }];
    sources.extend(env_from);
    let quantity = |q: &str| Quantity(q.to_owned());
    Container {
        name: "export".to_owned(),
        image: Some(ctx.env.server_image.as_str().to_owned()),
        command: Some(vec![EXPORT_BINARY.to_owned()]),
        args: Some(vec![
            format!("--plan={scripts_dir}/export.json"),
            format!("--model-dir={model_dir}"),
            format!("--workspace={WORKSPACE}"),
        ]),
        env: Some(vec![run_env]),
        env_from: Some(sources),
        resources: Some(ResourceRequirements {
            requests: Some(
                [
                    ("cpu".to_owned(), quantity("100m")),
                    ("memory".to_owned(), quantity("128Mi")),
                ]
                .into(),
            ),
            limits: Some([("memory".to_owned(), quantity("512Mi"))].into()),
            ..ResourceRequirements::default()
        }),
        security_context: Some(security::container(ContainerKind::Export)),
        termination_message_policy: Some("File".to_owned()),
        volume_mounts: Some(vec![
            mount("code", WORKSPACE, true),
            mount("scripts", scripts_dir, true),
        ]),
        ..Container::default()
    }
}
