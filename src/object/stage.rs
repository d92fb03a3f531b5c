//! The order kinds go to a cluster in: `apply` applies stage by stage (and
//! prunes in reverse), and `render` turns the same stages into Argo CD sync
//! waves, so both deliver objects in one order.
//!
//! A leaf: plain kind names in, numbers out; no client code, no spec types.

/// The stage of a kind: lower applies first and is pruned last. Namespaces
/// first, then what pods read (Secrets, ConfigMaps), Services, workloads,
/// what steers or guards them, routes once their backends exist, and
/// training Jobs last.
pub fn stage_of(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "ServiceAccount" => 1,
        "Secret" | "ConfigMap" => 2,
        "Service" => 3,
        "Deployment" => 4,
        "HorizontalPodAutoscaler" | "ScaledObject" => 5,
        "PodDisruptionBudget" | "PodMonitor" => 6,
        "HTTPRoute" | "GRPCRoute" | "Route" | "Ingress" => 7,
        "Job" => 8,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::stage_of;

    #[test]
    fn config_before_jobs_and_workloads_before_routes() {
        assert!(stage_of("ConfigMap") < stage_of("Job"));
        assert!(stage_of("Deployment") < stage_of("HTTPRoute"));
        assert!(stage_of("Deployment") < stage_of("ScaledObject"));
        assert_eq!(stage_of("GRPCRoute"), stage_of("HTTPRoute"));
        assert!(stage_of("Service") < stage_of("Ingress"));
        assert!(stage_of("Namespace") < stage_of("Secret"));
        assert_eq!(stage_of("SomethingNew"), 9);
    }
}
