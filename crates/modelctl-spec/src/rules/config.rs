//! Rules within `modelctl.toml`: route settings that fit their kind, GPU
//! settings Kubernetes accepts, at least one environment, an autoscaling
//! provider with what it needs.

use super::Checker;
use crate::config::{
    AutoscalingProvider, Config, GpuConfig, RouteConfig, RouteKind, TolerationOperator,
};
use crate::locate::Target::{Key, Value};
use crate::values::names::{check_dns_label, check_dns_subdomain};
use crate::values::regex;

/// An extended resource name: `domain/name`.
const RESOURCE_NAME: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";

/// Checks every rule of the repository settings.
pub(crate) fn check(c: &mut Checker<'_, '_>, config: &Config) {
    if config.environments.is_empty() {
        c.error(
            &["environments"],
            Key,
            "`modelctl.toml` defines no environment".to_owned(),
            "add one: `[environments.production]`",
        );
    }
    check_route(c, &["defaults", "route"], &config.defaults.route);
    check_environments(c, config);
    check_autoscaling(c, config);
    check_gpu(c, &config.defaults.gpu);
    if let Some(p) = &config.defaults.part_of {
        let ok = p.len() <= 63 && regex!(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$").is_match(p);
        if !ok {
            c.error(
                &["defaults", "part-of"],
                Value,
                format!("`{p}` is not a label value"),
                "use at most 63 letters, digits, `-`, `_` and `.`",
            );
        }
    }
}

/// Each environment's route settings fit their kind, and its `context`, when
/// given, names something.
fn check_environments(c: &mut Checker<'_, '_>, config: &Config) {
    for (name, env) in &config.environments {
        // A priority class orders the Workloads of one queue; without a queue
        // Kueue never sees the Job.
        let queue = env.queue.as_ref().or(config.defaults.queue.as_ref());
        if queue.is_none() {
            let at: &[&str] = if env.priority.is_some() {
                &["environments", name.as_str(), "priority"]
            } else {
                &["defaults", "priority"]
            };
            if env.priority.is_some() || config.defaults.priority.is_some() {
                c.error(
                    at,
                    Value,
                    format!("environment `{name}` has a Kueue `priority` but no `queue`"),
                    format!(
                        "set `queue` (a LocalQueue) under `[defaults]` or `[environments.{name}]`: Kueue applies priorities to the Jobs of a queue"
                    ),
                );
            }
        }
        if let Some(route) = &env.route {
            check_route(c, &["environments", name.as_str(), "route"], route);
        }
        if env
            .context
            .as_deref()
            .is_some_and(|ctx| ctx.trim().is_empty())
        {
            c.error(
                &["environments", name.as_str(), "context"],
                Value,
                "`context` is empty".to_owned(),
                "name a context of your kubeconfig, or leave `context` out for the current one",
            );
        }
    }
}

/// The GPU resource is an extended resource name, and each toleration is
/// one Kubernetes accepts.
fn check_gpu(c: &mut Checker<'_, '_>, gpu: &GpuConfig) {
    if !regex!(RESOURCE_NAME).is_match(&gpu.resource) || gpu.resource.len() > 253 {
        c.error(
            &["defaults", "gpu", "resource"],
            Value,
            format!("`{}` is not an extended resource name", gpu.resource),
            "write `<domain>/<name>`, e.g. `nvidia.com/gpu` or `amd.com/gpu`",
        );
    }
    for (i, t) in gpu.tolerations.iter().enumerate() {
        let idx = i.to_string();
        let at = |k: &'static str| ["defaults", "gpu", "tolerations", idx.as_str(), k];
        match (t.operator, &t.value) {
            (TolerationOperator::Equal, None) => c.error(
                &at("operator"),
                Value,
                "toleration with `operator = \"Equal\"` has no `value`".to_owned(),
                "add the taint's `value`, or use `operator = \"Exists\"`",
            ),
            (TolerationOperator::Exists, Some(_)) => c.error(
                &at("value"),
                Key,
                "toleration with `operator = \"Exists\"` cannot have a `value`".to_owned(),
                "remove `value`, or use `operator = \"Equal\"`",
            ),
            _ => {}
        }
        if let Some(effect) = &t.effect
            && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect.as_str())
        {
            c.error(
                &at("effect"),
                Value,
                format!("`{effect}` is not a taint effect"),
                "use `NoSchedule`, `PreferNoSchedule` or `NoExecute`, or leave it out for all",
            );
        }
        if t.key.is_empty() {
            c.error(
                &at("key"),
                Value,
                "toleration `key` is empty".to_owned(),
                "name the taint's key, e.g. `nvidia.com/gpu`",
            );
        }
    }
}

/// Every Prometheus address is an `http(s)://` URL, and each environment
/// that ends up with provider `keda` has an address to query.
fn check_autoscaling(c: &mut Checker<'_, '_>, config: &Config) {
    let tables = std::iter::once((
        vec!["defaults", "autoscaling"],
        Some(&config.defaults.autoscaling),
    ))
    .chain(config.environments.iter().map(|(name, env)| {
        (
            vec!["environments", name.as_str(), "autoscaling"],
            env.autoscaling.as_ref(),
        )
    }));
    for (at, table) in tables {
        let Some(address) = table.and_then(|t| t.prometheus.as_deref()) else {
            continue;
        };
        if !is_http_url(address) {
            let mut path = at.clone();
            path.push("prometheus");
            c.error(
                &path,
                Value,
                format!("`{address}` is not an http(s) URL"),
                "write the Prometheus server's address, e.g. `http://prometheus.monitoring:9090`",
            );
        }
    }
    for (name, env) in &config.environments {
        let Ok(settings) = config.environment(name.as_str()) else {
            continue;
        };
        let a = &settings.autoscaling;
        if a.provider != Some(AutoscalingProvider::Keda) || a.prometheus.is_some() {
            continue;
        }
        // Point at the `provider` that chose KEDA: the environment's own, or
        // the default one it inherits.
        let own = env
            .autoscaling
            .as_ref()
            .is_some_and(|t| t.provider.is_some());
        let path: Vec<&str> = if own {
            vec!["environments", name.as_str(), "autoscaling", "provider"]
        } else {
            vec!["defaults", "autoscaling", "provider"]
        };
        c.error(
            &path,
            Value,
            "autoscaling provider `keda` needs a Prometheus address".to_owned(),
            format!(
                "KEDA queries Prometheus for the server's load; set `prometheus = \"http://…\"` beside `provider` (environment `{name}` has none)"
            ),
        );
    }
}

/// An `http://` or `https://` URL with a host and no spaces.
fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.starts_with(':') && !s.chars().any(char::is_whitespace)
    })
}

fn check_route(c: &mut Checker<'_, '_>, at: &[&str], route: &RouteConfig) {
    let path = |k: &'static str| {
        let mut p = at.to_vec();
        p.push(k);
        p
    };
    match route.kind {
        RouteKind::Gateway => match &route.gateway {
            None => c.error(
                &path("kind"),
                Value,
                "route kind `gateway` needs `gateway`".to_owned(),
                "name the Gateway HTTPRoutes attach to: `gateway = \"ml-gateway\"`",
            ),
            Some(g) => {
                if let Err(e) = check_dns_subdomain(g) {
                    c.error(&path("gateway"), Value, e.message, e.help);
                }
            }
        },
        _ => {
            for key in ["gateway", "gateway-namespace"] {
                let set = if key == "gateway" {
                    route.gateway.is_some()
                } else {
                    route.gateway_namespace.is_some()
                };
                if set {
                    c.error(
                        &path(key),
                        Key,
                        format!("`{key}` applies only to route kind `gateway`"),
                        "remove it, or set `kind = \"gateway\"`",
                    );
                }
            }
        }
    }
    if let Some(ns) = &route.gateway_namespace
        && let Err(e) = check_dns_label(ns)
    {
        c.error(&path("gateway-namespace"), Value, e.message, e.help);
    }
    if let Some(class) = &route.ingress_class {
        if route.kind != RouteKind::Ingress {
            c.error(
                &path("ingress-class"),
                Key,
                "`ingress-class` applies only to route kind `ingress`".to_owned(),
                "remove it, or set `kind = \"ingress\"`",
            );
        } else if let Err(e) = check_dns_subdomain(class) {
            c.error(&path("ingress-class"), Value, e.message, e.help);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{Source, check_sources};

    fn errors(text: &str) -> Vec<String> {
        let src = Source {
            path: PathBuf::from("modelctl.toml"),
            text: text.to_owned(),
        };
        let (_, report) = check_sources(Some(&src), &[]);
        report
            .diagnostics()
            .iter()
            .map(|d| d.message.clone())
            .collect()
    }

    const DEFAULTS: &str = "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\n";

    #[test]
    fn gateway_route_needs_a_gateway() {
        let e = errors(&format!(
            "{DEFAULTS}route = {{ kind = \"gateway\" }}\n[environments.prod]\n"
        ));
        assert_eq!(e, ["route kind `gateway` needs `gateway`"]);
    }

    #[test]
    fn ingress_settings_only_with_ingress() {
        let e = errors(&format!(
            "{DEFAULTS}route = {{ kind = \"openshift\", ingress-class = \"nginx\", gateway = \"g\" }}\n[environments.prod]\n"
        ));
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn keda_needs_a_prometheus_address() {
        let base = format!("{DEFAULTS}route = {{ kind = \"ingress\" }}\n");
        let e = errors(&format!(
            "{base}[defaults.autoscaling]\nprovider = \"keda\"\n[environments.prod]\n[environments.staging]\n"
        ));
        assert_eq!(
            e,
            ["autoscaling provider `keda` needs a Prometheus address"]
        );
        let e = errors(&format!(
            "{base}[defaults.autoscaling]\nprovider = \"hpa\"\n[environments.prod]\nautoscaling = {{ provider = \"keda\" }}\n[environments.staging]\n"
        ));
        assert_eq!(
            e,
            ["autoscaling provider `keda` needs a Prometheus address"]
        );
        let e = errors(&format!(
            "{base}[defaults.autoscaling]\nprovider = \"keda\"\nprometheus = \"prometheus:9090\"\n[environments.prod]\n"
        ));
        assert_eq!(e, ["`prometheus:9090` is not an http(s) URL"]);
        let e = errors(&format!(
            "{base}[defaults.autoscaling]\nprovider = \"keda\"\nprometheus = \"http://prometheus.monitoring:9090\"\n[environments.prod]\n"
        ));
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn at_least_one_environment() {
        let e = errors(&format!(
            "{DEFAULTS}route = {{ kind = \"ingress\" }}\n[environments]\n"
        ));
        assert_eq!(e, ["`modelctl.toml` defines no environment"]);
    }

    #[test]
    fn gpu_resource_and_tolerations_are_checked() {
        let e = errors(&format!(
            "{DEFAULTS}route = {{ kind = \"ingress\" }}\n[defaults.gpu]\nresource = \"nvidia gpu\"\ntolerations = [{{ key = \"k\", value = \"v\", effect = \"Never\" }}]\n[environments.prod]\n"
        ));
        assert_eq!(e.len(), 3, "{e:?}");
    }
}
