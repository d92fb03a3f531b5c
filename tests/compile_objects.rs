//! Each kind of generated object carries what the design's table says, for
//! the example repository and every fixture under `tests/fixtures/render/`.

mod render_support;

use std::collections::BTreeMap;

use modelctl::compile::{Manifest, render_env};
use modelctl_spec::Repo;
use modelctl_spec::model::Replicas;
use render_support::{all_repos, example_root, load, manifests};
use serde_json::Value;

fn of_kind<'a>(ms: &'a [(String, Manifest)], kind: &str) -> Vec<&'a (String, Manifest)> {
    ms.iter().filter(|(_, m)| m.kind() == kind).collect()
}

fn find<'a>(
    ms: &'a [(String, Manifest)],
    env: &str,
    kind: &str,
    name: &str,
) -> Option<&'a Manifest> {
    ms.iter()
        .find(|(e, m)| e == env && m.kind() == kind && m.name() == name)
        .map(|(_, m)| m)
}

fn spec_of<'a>(repo: &'a Repo, env: &str, model: &str) -> &'a modelctl_spec::ModelSpec {
    let m = repo
        .models
        .iter()
        .find(|m| m.name.as_str() == model)
        .expect("model exists");
    m.spec_for(env).expect("resolved for every environment")
}

fn pod_spec(m: &Manifest) -> &Value {
    &m.object["spec"]["template"]["spec"]
}

#[test]
fn gpu_jobs_limit_the_gpu_resource_and_tolerate_its_taint() {
    let mut checked = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let spec = spec_of(&repo, env, &job.model);
            let Some(gpus) = spec
                .train
                .as_ref()
                .and_then(|t| t.resources.gpu)
                .filter(|g| *g > 0)
            else {
                continue;
            };
            let gpu = &repo.config.defaults.gpu;
            let pod = pod_spec(job);
            let container = &pod["containers"][0];
            assert_eq!(
                container["resources"]["limits"][&gpu.resource],
                Value::String(gpus.to_string()),
                "{name}: {env}/{}",
                job.name()
            );
            assert!(
                container["resources"]["requests"]
                    .get(&gpu.resource)
                    .is_none(),
                "{name}: the GPU is a limit only"
            );
            let tolerations = pod["tolerations"].as_array().expect("GPU pods tolerate");
            for t in &gpu.tolerations {
                assert!(
                    tolerations.iter().any(|x| x["key"] == t.key.as_str()),
                    "{name}: {env}/{} lacks toleration {}",
                    job.name(),
                    t.key
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "the repositories have GPU jobs");
}

#[test]
fn cpu_only_pods_have_no_gpu_toleration() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, m) in ms
            .iter()
            .filter(|(_, m)| m.kind() == "Job" || m.kind() == "Deployment")
        {
            let limits = &pod_spec(m)["containers"][0]["resources"]["limits"];
            if limits.get(&repo.config.defaults.gpu.resource).is_none() {
                assert!(
                    pod_spec(m).get("tolerations").is_none(),
                    "{name}: {env}/{}",
                    m.name()
                );
            }
        }
    }
}

#[test]
fn job_limits_come_from_retries_and_timeout_and_nothing_deletes_it() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let train = spec_of(&repo, env, &job.model)
                .train
                .as_ref()
                .expect("job has train");
            let spec = &job.object["spec"];
            assert_eq!(spec["backoffLimit"], train.retries.unwrap_or(0), "{name}");
            match &train.timeout {
                Some(t) => assert_eq!(
                    spec["activeDeadlineSeconds"],
                    t.as_std().as_secs(),
                    "{name}"
                ),
                None => assert!(spec.get("activeDeadlineSeconds").is_none(), "{name}"),
            }
            assert!(spec.get("ttlSecondsAfterFinished").is_none(), "{name}");
            assert_eq!(pod_spec(job)["restartPolicy"], "Never");
            assert!(job.name().starts_with(&format!("{}-train-", job.model)));
            assert_eq!(job.name().len(), job.model.len() + "-train-".len() + 8);
        }
    }
}

#[test]
fn sweeps_are_indexed_jobs_over_the_whole_grid() {
    let mut checked = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let train = spec_of(&repo, env, &job.model)
                .train
                .as_ref()
                .expect("job has train");
            let spec = &job.object["spec"];
            let Some(sweep) = &train.sweep else {
                assert!(spec.get("completionMode").is_none(), "{name}");
                continue;
            };
            let size: usize = sweep.grid.values().map(Vec::len).product();
            assert_eq!(spec["completionMode"], "Indexed", "{name}");
            assert_eq!(spec["completions"], size, "{name}");
            assert_eq!(
                spec["parallelism"],
                sweep.parallelism.unwrap_or(1),
                "{name}"
            );
            let cm = find(&ms, env, "ConfigMap", job.name()).expect("the Job's ConfigMap");
            let list: Vec<BTreeMap<String, String>> =
                serde_json::from_str(cm.object["data"]["sweep.json"].as_str().unwrap()).unwrap();
            assert_eq!(list.len(), size, "{name}");
            for (index, combination) in list.iter().enumerate() {
                let env_file = cm.object["data"][format!("sweep-{index}.env")]
                    .as_str()
                    .unwrap();
                for (var, value) in combination {
                    assert!(
                        env_file.contains(&format!("export {var}=")),
                        "{name}: {var}"
                    );
                    assert!(env_file.contains(value.as_str()), "{name}: {value}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 2);
}

#[test]
fn the_job_mounts_its_configmap_and_runs_start_sh() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let pod = pod_spec(job);
            let volumes = pod["volumes"].as_array().unwrap();
            let cm = volumes
                .iter()
                .find_map(|v| v["configMap"]["name"].as_str())
                .expect("a ConfigMap volume");
            assert_eq!(cm, job.name(), "{name}");
            let config = find(&ms, env, "ConfigMap", cm).expect("ConfigMap rendered");
            let script = config.object["data"]["start.sh"].as_str().unwrap();
            assert!(script.starts_with("#!/bin/sh\n"), "{name}");
            assert!(script.contains("set -eu"), "{name}");
            assert_eq!(pod["containers"][0]["command"][1], "/etc/modelctl/start.sh");
        }
    }
}

#[test]
fn a_changed_train_spec_is_a_new_job_and_an_unchanged_one_is_not() {
    let repo = load(&example_root());
    let names = |repo: &Repo| -> Vec<String> {
        render_env(repo, "production")
            .unwrap()
            .into_iter()
            .filter(|m| m.kind() == "Job")
            .map(|m| m.name().to_owned())
            .collect()
    };
    let before = names(&repo);
    assert_eq!(before, names(&repo.clone()));

    let mut served = repo.clone();
    for model in &mut served.models {
        for spec in model.resolved.values_mut() {
            if let Some(serve) = &mut spec.serve {
                serve.warmup = Some(99);
            }
        }
    }
    assert_eq!(before, names(&served), "serving changes keep the Job");

    let mut trained = repo.clone();
    for model in &mut trained.models {
        for spec in model.resolved.values_mut() {
            if let Some(train) = &mut spec.train {
                train.command.push("--epochs=1".to_owned());
            }
        }
    }
    let after = names(&trained);
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        assert_ne!(a, b);
    }
}

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

#[test]
fn an_autoscaled_deployment_has_no_replicas_and_a_fixed_one_has() {
    let mut autoscaled = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, d) in of_kind(&ms, "Deployment") {
            let serve = spec_of(&repo, env, &d.model).serve.as_ref().unwrap();
            let hpa = find(&ms, env, "HorizontalPodAutoscaler", &d.model);
            let canary = d.name().ends_with("-canary");
            match (&serve.replicas, canary) {
                (Some(Replicas::Range(r)), false) => {
                    autoscaled += 1;
                    assert!(
                        d.object["spec"].get("replicas").is_none(),
                        "{name}: {env}/{}",
                        d.name()
                    );
                    let hpa = hpa.expect("an autoscaler");
                    assert_eq!(hpa.object["spec"]["scaleTargetRef"]["name"], d.name());
                    assert_eq!(hpa.object["spec"]["minReplicas"], r.min);
                    assert_eq!(hpa.object["spec"]["maxReplicas"], r.max);
                }
                (Some(Replicas::Fixed(n)), false) => {
                    assert_eq!(d.object["spec"]["replicas"], *n, "{name}");
                    assert!(hpa.is_none(), "{name}");
                }
                _ => assert!(
                    d.object["spec"]["replicas"].as_u64().unwrap() >= 1,
                    "{name}"
                ),
            }
        }
    }
    assert!(autoscaled >= 2);
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
                Some(Replicas::Fixed(n)) => *n,
                Some(Replicas::Range(r)) => r.min,
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

#[test]
fn every_object_is_labelled_annotated_and_namespaced() {
    for (name, repo) in all_repos() {
        for (env, m) in manifests(&repo) {
            let at = format!("{name}: {env}/{}", m.file.display());
            let meta = &m.object["metadata"];
            let labels = &meta["labels"];
            assert_eq!(labels["app.kubernetes.io/name"], m.model.as_str(), "{at}");
            assert_eq!(labels["app.kubernetes.io/managed-by"], "modelctl", "{at}");
            assert!(labels["app.kubernetes.io/part-of"].is_string(), "{at}");
            assert!(labels["app.kubernetes.io/version"].is_string(), "{at}");
            let component = labels["app.kubernetes.io/component"].as_str().unwrap();
            assert!(component == "train" || component == "serve", "{at}");
            let source = meta["annotations"]["modelctl.io/source"].as_str().unwrap();
            assert_eq!(source, format!("models/{}.toml", m.model), "{at}");
            let namespace = repo.config.env(&env).unwrap().namespace;
            assert_eq!(meta["namespace"], namespace.as_str(), "{at}");
            let file = m.file.to_string_lossy();
            let expected = format!("{}/{}-{}.yaml", m.model, m.kind().to_lowercase(), m.name());
            assert_eq!(file, expected, "{at}");
        }
    }
}

#[test]
fn streamed_and_collected_renders_give_the_same_files() {
    for (name, repo) in all_repos() {
        for env in repo.config.env_names() {
            let collected = modelctl::compile::files::files_of(&render_env(&repo, env).unwrap());
            let streamed = modelctl::compile::render_output(&repo, env).unwrap();
            assert!(streamed.conflicts.is_empty(), "{name}");
            assert_eq!(streamed.files, collected, "{name}: {env}");
        }
    }
}
