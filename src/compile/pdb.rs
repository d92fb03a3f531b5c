//! The PodDisruptionBudget of a model that runs at least two replicas: node
//! drains take at most one serving pod away at a time.
//!
//! Owns the budget only; when it exists is decided in [`super::serving`].

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Ctx;
use super::labels::{self, Component, Track};

/// The budget over the main Deployment's pods.
pub(crate) fn build(ctx: &Ctx<'_>, version: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: labels::metadata(
            ctx,
            ctx.name(),
            labels::labels(ctx, Component::Serve, Some(Track::Stable), version),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(ctx, Component::Serve, Some(Track::Stable))),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
