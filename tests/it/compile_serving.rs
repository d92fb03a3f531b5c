//! Serving objects carry what the design's table says, for the example
//! repository and every fixture: probes, the restricted security context,
//! rolling updates, autoscaler or replicas, disruption budgets, weighted
//! routes and Services that select their own Deployment.

use crate::render_support;

use modelctl::compile::Manifest;
use modelctl_spec::model::Replicas;
use render_support::{all_repos, find, manifests, of_kind, pod_spec, spec_of};
use serde_json::Value;

#[test]
fn every_serving_container_probes_the_health_endpoints() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            for c in pod_spec(d)["containers"].as_array().unwrap() {
                let at = format!("{name}: {env}/{}", d.name());
                assert_eq!(
                    c["startupProbe"]["httpGet"]["path"], "/v2/health/ready",
                    "{at}"
                );
                assert_eq!(
                    c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready",
                    "{at}"
                );
                assert_eq!(
                    c["livenessProbe"]["httpGet"]["path"], "/v2/health/live",
                    "{at}"
                );
                for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    assert_eq!(c[probe]["httpGet"]["port"], "http", "{at}");
                }
                assert_eq!(c["ports"][0]["name"], "http", "{at}");
            }
        }
    }
}

#[test]
fn serving_pods_pass_the_restricted_pod_security_profile() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            let at = format!("{name}: {env}/{}", d.name());
            let pod = pod_spec(d);
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{at}"
            );
            assert_ne!(pod["securityContext"]["runAsUser"], 0, "{at}");
            assert!(
                pod.get("hostNetwork").is_none() && pod.get("hostPID").is_none(),
                "{at}"
            );
            for v in pod["volumes"].as_array().unwrap() {
                assert!(v.get("hostPath").is_none(), "{at}");
            }
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
                assert_eq!(
                    sc["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{at}"
                );
                assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
                assert_eq!(sc["runAsNonRoot"], true, "{at}");
                assert!(sc.get("privileged").is_none(), "{at}");
                let mounts = c["volumeMounts"].as_array().unwrap();
                assert!(
                    mounts
                        .iter()
                        .any(|m| m["mountPath"] == "/var/cache/model-server"),
                    "{at}: the model cache is writable"
                );
            }
        }
    }
}

#[test]
fn rolling_updates_never_take_a_pod_away_and_pods_spread_over_nodes() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (_, d) in of_kind(&ms, "Deployment") {
            let spec = &d.object["spec"];
            assert_eq!(
                spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0,
                "{name}"
            );
            let spread = &spec["template"]["spec"]["topologySpreadConstraints"][0];
            assert_eq!(spread["topologyKey"], "kubernetes.io/hostname", "{name}");
            assert_eq!(
                spread["labelSelector"]["matchLabels"],
                spec["selector"]["matchLabels"]
            );
        }
    }
}

/// The autoscaler of Deployment `name` in `env`: an HPA or a KEDA
/// ScaledObject, with its (min, max) replicas.
fn autoscaler_of<'a>(
    ms: &'a [(String, Manifest)],
    env: &str,
    name: &str,
) -> Option<(&'a Manifest, Value, Value)> {
    if let Some(hpa) = find(ms, env, "HorizontalPodAutoscaler", name) {
        let spec = &hpa.object["spec"];
        return Some((
            hpa,
            spec["minReplicas"].clone(),
            spec["maxReplicas"].clone(),
        ));
    }
    find(ms, env, "ScaledObject", name).map(|so| {
        let spec = &so.object["spec"];
        (
            so,
            spec["minReplicaCount"].clone(),
            spec["maxReplicaCount"].clone(),
        )
    })
}

#[test]
fn an_autoscaled_deployment_has_no_replicas_and_a_fixed_one_has() {
    let mut autoscaled = 0;
    let mut canaries_scaled = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            let serve = spec_of(&repo, env, &d.model).serve.as_ref().unwrap();
            let scaler = autoscaler_of(&ms, env, d.name());
            let canary = d.name().ends_with("-canary");
            match (&serve.replicas, canary) {
                (Some(Replicas::Range(r)), false) => {
                    autoscaled += 1;
                    assert!(
                        d.object["spec"].get("replicas").is_none(),
                        "{name}: {env}/{}",
                        d.name()
                    );
                    let (scaler, min, max) = scaler.expect("an autoscaler");
                    assert_eq!(scaler.object["spec"]["scaleTargetRef"]["name"], d.name());
                    assert_eq!(min, r.min.get());
                    assert_eq!(max, r.max.get());
                }
                // A canary follows its own load when the range scales on load.
                (Some(Replicas::Range(r)), true) if r.scales_on_load() => {
                    canaries_scaled += 1;
                    assert!(d.object["spec"].get("replicas").is_none(), "{name}");
                    let (scaler, min, max) = scaler.expect("a canary autoscaler");
                    assert_eq!(scaler.object["spec"]["scaleTargetRef"]["name"], d.name());
                    let (min, max) = (min.as_u64().unwrap(), max.as_u64().unwrap());
                    assert!(1 <= min && min <= max, "{name}");
                    assert!(max <= u64::from(r.max.get()), "{name}");
                }
                (Some(Replicas::Fixed(n)), false) => {
                    assert_eq!(d.object["spec"]["replicas"], n.get(), "{name}");
                    assert!(scaler.is_none(), "{name}");
                }
                _ => {
                    assert!(
                        d.object["spec"]["replicas"].as_u64().unwrap() >= 1,
                        "{name}"
                    );
                    assert!(scaler.is_none(), "{name}");
                }
            }
        }
    }
    assert!(autoscaled >= 2);
    assert!(canaries_scaled >= 2);
}

#[test]
fn a_disruption_budget_exists_exactly_when_two_or_more_replicas_run() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            if d.name().ends_with("-canary") {
                continue;
            }
            let serve = spec_of(&repo, env, &d.model).serve.as_ref().unwrap();
            let min = match &serve.replicas {
                None => 1,
                Some(Replicas::Fixed(n)) => n.get(),
                Some(Replicas::Range(r)) => r.min.get(),
            };
            let pdb = find(&ms, env, "PodDisruptionBudget", &d.model);
            assert_eq!(pdb.is_some(), min >= 2, "{name}: {env}/{}", d.name());
            if let Some(pdb) = pdb {
                assert_eq!(pdb.object["spec"]["selector"], d.object["spec"]["selector"]);
            }
        }
    }
}

#[test]
fn route_weights_sum_to_100_and_point_at_rendered_services() {
    let mut canaries = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        let services: Vec<(&String, &str)> = of_kind(&ms, "Service")
            .into_iter()
            .map(|(e, m)| (e, m.name()))
            .collect();
        for (env, m) in &ms {
            let backends: Vec<(String, u64)> = match m.kind() {
                "HTTPRoute" => m.object["spec"]["rules"][0]["backendRefs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| {
                        (
                            b["name"].as_str().unwrap().to_owned(),
                            b["weight"].as_u64().unwrap(),
                        )
                    })
                    .collect(),
                "Route" => {
                    let spec = &m.object["spec"];
                    let mut all = vec![spec["to"].clone()];
                    all.extend(
                        spec["alternateBackends"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default(),
                    );
                    all.iter()
                        .map(|b| {
                            (
                                b["name"].as_str().unwrap().to_owned(),
                                b["weight"].as_u64().unwrap(),
                            )
                        })
                        .collect()
                }
                _ => continue,
            };
            if backends.len() > 1 {
                canaries += 1;
            }
            let total: u64 = backends.iter().map(|b| b.1).sum();
            assert_eq!(total, 100, "{name}: {env}/{}", m.name());
            for (service, _) in &backends {
                assert!(
                    services.contains(&(env, service.as_str())),
                    "{name}: {service}"
                );
            }
        }
        for (env, m) in of_kind(&ms, "Ingress") {
            if m.name().ends_with("-canary") {
                let weight = &m.object["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"];
                let serve = spec_of(&repo, env, &m.model).serve.as_ref().unwrap();
                assert_eq!(
                    weight,
                    &serve.canary.as_ref().unwrap().weight.get().to_string()
                );
                canaries += 1;
            }
        }
    }
    assert!(
        canaries >= 3,
        "HTTPRoute, Route and Ingress canaries are covered"
    );
}

#[test]
fn services_select_exactly_one_deployments_pods() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, s) in of_kind(&ms, "Service") {
            let selector = s.object["spec"]["selector"].as_object().unwrap();
            if s.object["metadata"]["labels"]["app.kubernetes.io/component"] == "train" {
                continue; // a multi-node run's workers: `multi_node_runs` checks it
            }
            let matching: Vec<&str> = of_kind(&ms, "Deployment")
                .into_iter()
                .filter(|(e, _)| e == env)
                .filter(|(_, d)| {
                    let labels = &d.object["spec"]["template"]["metadata"]["labels"];
                    selector.iter().all(|(k, v)| &labels[k] == v)
                })
                .map(|(_, d)| d.name())
                .collect();
            assert_eq!(matching, vec![s.name()], "{name}: {env}/{}", s.name());
        }
    }
}

/// The container args of a Deployment, as strings.
fn server_args(d: &modelctl::compile::Manifest) -> Vec<String> {
    pod_spec(d)["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn gpu_serving_runs_the_gpu_image_on_cuda_and_cpu_serving_does_not() {
    let mut on_gpu = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            let at = format!("{name}: {env}/{}", d.name());
            let serve = spec_of(&repo, env, &d.model).serve.as_ref().unwrap();
            let settings = repo.config.environment(env).unwrap();
            let args = server_args(d);
            let image = pod_spec(d)["containers"][0]["image"].as_str().unwrap();
            if serve.gpus() > 0 {
                on_gpu += 1;
                assert!(args.iter().any(|a| a == "--device=cuda"), "{at}: {args:?}");
                assert_eq!(
                    Some(image),
                    settings.server_image_gpu.as_ref().map(|i| i.as_str()),
                    "{at}"
                );
            } else {
                assert!(!args.iter().any(|a| a.starts_with("--device")), "{at}");
                assert_eq!(image, settings.server_image.as_str(), "{at}");
            }
            assert!(!args.iter().any(|a| a == "--backend=ort"), "{at}: {args:?}");
        }
    }
    // models/translation.toml serves on a GPU (with a canary) in both
    // environments of the example.
    assert!(on_gpu >= 4, "{on_gpu}");
}

#[test]
fn a_tract_spec_renders_the_backend_flag_and_an_ort_spec_leaves_it_out() {
    let spec = |backend: &str| {
        format!(
            "[serve]\nmodel = \"s3://ml-models/trainee/model.onnx\"\n{backend}resources = {{ cpu = \"1\" }}\n"
        )
    };
    for (backend, expected) in [
        ("backend = \"tract\"\n", Some("--backend=tract")),
        ("backend = \"ort\"\n", None),
        ("", None),
    ] {
        let ms = render_support::render_trainee(spec(backend));
        let d = ms
            .iter()
            .find(|m| m.kind() == "Deployment")
            .expect("a Deployment");
        let args = server_args(d);
        let flags: Vec<&String> = args.iter().filter(|a| a.starts_with("--backend")).collect();
        assert_eq!(flags.first().map(|a| a.as_str()), expected, "{backend}");
        assert!(flags.len() <= 1, "{args:?}");
        assert!(!args.iter().any(|a| a.starts_with("--device")), "{args:?}");
    }
}
