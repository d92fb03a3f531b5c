//! `env-from` and `service-account`, shared by the training and serving pods.
//!
//! Owns how a spec's Secret and ConfigMap references become `envFrom`
//! entries, and which ServiceAccount a pod runs as (the spec's, else the
//! environment's default). A pod without one also gets no API token mounted.

use k8s_openapi::api::core::v1::{ConfigMapEnvSource, EnvFromSource, SecretEnvSource};
use modelctl_spec::model::EnvFrom;
use modelctl_spec::values::ResourceName;

/// The `envFrom` entries of `sources`, in spec order.
pub(crate) fn env_from(sources: &[EnvFrom]) -> Vec<EnvFromSource> {
    sources
        .iter()
        .filter_map(|source| {
            let optional = source.optional.then_some(true);
            match (&source.secret, &source.config_map) {
                (Some(name), _) => Some(EnvFromSource {
                    secret_ref: Some(SecretEnvSource {
                        name: name.as_str().to_owned(),
                        optional,
                    }),
                    ..EnvFromSource::default()
                }),
                (None, Some(name)) => Some(EnvFromSource {
                    config_map_ref: Some(ConfigMapEnvSource {
                        name: name.as_str().to_owned(),
                        optional,
                    }),
                    ..EnvFromSource::default()
                }),
                // Validation rejects an entry naming neither.
                (None, None) => None,
            }
        })
        .collect()
}

/// The ServiceAccount a pod runs as: the spec's, else the environment's default.
pub(crate) fn service_account(
    spec: Option<&ResourceName>,
    default: Option<&ResourceName>,
) -> Option<String> {
    spec.or(default).map(|name| name.as_str().to_owned())
}
