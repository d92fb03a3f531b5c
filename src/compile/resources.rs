//! Container resources and GPU scheduling.
//!
//! Owns how `resources = { cpu, memory, gpu }` becomes requests, limits and
//! tolerations: CPU and memory are both request and limit, GPUs are a limit
//! of the configured extended resource (the scheduler sets the request equal)
//! and bring the configured tolerations.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use modelctl_spec::config::{GpuConfig, TolerationOperator};
use modelctl_spec::model::Resources;

/// Requests and limits for `resources`; `None` when nothing is set.
pub(crate) fn requirements(resources: &Resources, gpu: &GpuConfig) -> Option<ResourceRequirements> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(cpu) = &resources.cpu {
        requests.insert("cpu".to_owned(), Quantity(cpu.as_str().to_owned()));
        limits.insert("cpu".to_owned(), Quantity(cpu.as_str().to_owned()));
    }
    if let Some(memory) = &resources.memory {
        requests.insert("memory".to_owned(), Quantity(memory.as_str().to_owned()));
        limits.insert("memory".to_owned(), Quantity(memory.as_str().to_owned()));
    }
    if let Some(count) = gpus(resources) {
        limits.insert(gpu.resource.clone(), Quantity(count.to_string()));
    }
    if requests.is_empty() && limits.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

/// The tolerations a pod with `resources` needs: the GPU tolerations when it asks for GPUs.
pub(crate) fn tolerations(resources: &Resources, gpu: &GpuConfig) -> Option<Vec<Toleration>> {
    gpus(resources)?;
    if gpu.tolerations.is_empty() {
        return None;
    }
    Some(
        gpu.tolerations
            .iter()
            .map(|t| Toleration {
                key: Some(t.key.clone()),
                operator: Some(
                    match t.operator {
                        TolerationOperator::Exists => "Exists",
                        TolerationOperator::Equal => "Equal",
                    }
                    .to_owned(),
                ),
                value: t.value.clone(),
                effect: t.effect.clone(),
                ..Toleration::default()
            })
            .collect(),
    )
}

/// The number of GPUs asked for, when more than zero.
pub(crate) fn gpus(resources: &Resources) -> Option<u32> {
    resources.gpu.map(|n| n.get()).filter(|n| *n > 0)
}
