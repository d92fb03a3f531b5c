//! Training objects carry what the design's table says, for the example
//! repository and every fixture: GPU limits and tolerations, retries and
//! deadline, Indexed Jobs for sweeps, the script ConfigMap, hashed names.

use crate::render_support;

use std::collections::BTreeMap;

use modelctl::compile::render_env;
use modelctl_spec::Repo;
use modelctl_spec::values::Command;
use render_support::{all_repos, example_root, find, load, manifests, of_kind, pod_spec, spec_of};
use serde_json::Value;

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
                .map(|g| g.get())
                .filter(|g| *g > 0)
            else {
                continue;
            };
            let gpu = &repo.config.defaults.gpu;
            let pod = pod_spec(job);
            let container = train_container(pod);
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
fn job_limits_come_from_retries_and_timeout_and_nothing_deletes_it() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let train = spec_of(&repo, env, &job.model)
                .train
                .as_ref()
                .expect("job has train");
            let spec = &job.object["spec"];
            let retries = train.retries.map_or(0, |r| r.get());
            match &train.sweep {
                // A sweep retries per trial: one crashing trial fails alone.
                Some(sweep) => {
                    assert!(spec.get("backoffLimit").is_none(), "{name}");
                    assert_eq!(
                        spec["backoffLimitPerIndex"],
                        sweep.retries_per_trial.map_or(retries, |r| r.get()),
                        "{name}"
                    );
                    match sweep.max_failed_trials {
                        Some(m) => assert_eq!(spec["maxFailedIndexes"], m.get(), "{name}"),
                        None => assert!(spec.get("maxFailedIndexes").is_none(), "{name}"),
                    }
                }
                // A multi-node run retries as a group: each attempt may
                // fail every worker.
                None => {
                    let nodes = train.nodes.map_or(1, |n| n.get());
                    assert_eq!(spec["backoffLimit"], retries * nodes, "{name}");
                    assert!(spec.get("backoffLimitPerIndex").is_none(), "{name}");
                }
            }
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
                let nodes = train.nodes.map_or(1, |n| n.get());
                if nodes > 1 {
                    assert_eq!(spec["completionMode"], "Indexed", "{name}");
                    assert_eq!(spec["completions"], nodes, "{name}");
                    assert_eq!(spec["parallelism"], nodes, "{name}");
                } else {
                    assert!(spec.get("completionMode").is_none(), "{name}");
                }
                continue;
            };
            let size: usize = match (sweep.random, &sweep.grid) {
                (Some(n), _) => n.get() as usize,
                (None, Some(grid)) => grid.values().map(|v| v.len()).product(),
                (None, None) => panic!("{name}: a sweep without trials validated"),
            };
            assert_eq!(spec["completionMode"], "Indexed", "{name}");
            assert_eq!(spec["completions"], size, "{name}");
            assert_eq!(
                spec["parallelism"],
                sweep.parallelism.map_or(1, |p| p.get()),
                "{name}"
            );
            let cm = find(&ms, env, "ConfigMap", job.name()).expect("the Job's ConfigMap");
            let list: Vec<BTreeMap<String, String>> =
                serde_json::from_str(cm.object["data"]["sweep.json"].as_str().unwrap()).unwrap();
            assert_eq!(list.len(), size, "{name}");
            // The Job's annotation lists the same trials by parameter name.
            let annotated: Vec<BTreeMap<String, String>> = serde_json::from_str(
                job.object["metadata"]["annotations"]["modelctl.io/sweep"]
                    .as_str()
                    .expect("a sweep's Job carries modelctl.io/sweep"),
            )
            .unwrap();
            assert_eq!(annotated.len(), size, "{name}");
            for (by_name, by_env) in annotated.iter().zip(&list) {
                let renamed: BTreeMap<String, String> = by_name
                    .iter()
                    .map(|(k, v)| (modelctl_spec::values::env_var_name(k), v.clone()))
                    .collect();
                assert_eq!(&renamed, by_env, "{name}");
            }
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
            assert_eq!(train_container(pod)["command"][1], "/etc/modelctl/start.sh");
        }
    }
}

/// The training init container, which runs `start.sh`.
fn train_container(pod: &Value) -> &Value {
    pod["initContainers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "train"))
        .expect("a `train` init container")
}

#[test]
fn the_export_container_runs_model_export_after_the_training_with_a_plan_per_index() {
    let mut checked = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let pod = pod_spec(job);
            let inits: Vec<&str> = pod["initContainers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert_eq!(inits.last(), Some(&"train"), "{name}: {inits:?}");
            let containers = pod["containers"].as_array().unwrap();
            assert_eq!(containers.len(), 1, "{name}");
            let export = &containers[0];
            assert_eq!(export["name"], "export", "{name}");
            let settings = repo.environment(env).unwrap();
            assert_eq!(
                export["image"],
                settings.settings.server_image.as_str(),
                "{name}"
            );
            assert_eq!(export["command"][0], "/usr/local/bin/model-export");
            assert_eq!(export["terminationMessagePolicy"], "File");
            let mounts = export["volumeMounts"].as_array().unwrap();
            assert!(
                mounts.iter().any(|m| m["name"] == "code"
                    && m["mountPath"] == "/workspace"
                    && m["readOnly"] == true),
                "{name}: the export reads the training's workspace"
            );
            // The export needs the same credentials as the training.
            let train_from = train_container(pod).get("envFrom").cloned();
            if let Some(Value::Array(sources)) = train_from {
                for source in sources {
                    assert!(
                        export["envFrom"].as_array().unwrap().contains(&source),
                        "{name}: {source}"
                    );
                }
            }
            let config = find(&ms, env, "ConfigMap", job.name()).unwrap();
            let plan: Value =
                serde_json::from_str(config.object["data"]["export.json"].as_str().unwrap())
                    .unwrap();
            // A multi-node run is one run, whatever its workers.
            let completions = match plan.get("workers") {
                Some(workers) => {
                    assert_eq!(workers, &job.object["spec"]["completions"], "{name}");
                    1
                }
                None => job.object["spec"]["completions"].as_u64().unwrap_or(1),
            };
            assert_eq!(
                plan["runs"].as_array().unwrap().len() as u64,
                completions,
                "{name}: one planned run per index"
            );
            assert_eq!(plan["model"], job.model.as_str(), "{name}");
            assert_eq!(
                plan["sweep"],
                job.object["spec"]["completionMode"] == "Indexed" && plan.get("workers").is_none()
            );
            checked += 1;
        }
    }
    assert!(checked >= 4);
}

#[test]
fn a_changed_train_spec_is_a_new_job_and_an_unchanged_one_is_not() {
    let repo = load(&example_root());
    let names = |repo: &Repo| -> Vec<String> {
        render_env(&repo.environment("production").unwrap())
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
                let mut argv: Vec<String> = train.command.to_vec();
                argv.push("--epochs=1".to_owned());
                train.command = Command::try_from(argv).expect("a command with a program");
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
fn pods_run_as_the_named_service_account_and_mount_no_token_without_one() {
    use modelctl_spec::{Source, load_sources};
    let config = Source {
        path: "modelctl.toml".into(),
        text: "[defaults]\nnamespace = \"ml\"\nserver-image = \"registry.example.com/ml/model-server:0.1.0\"\n\
               route = { kind = \"gateway\", gateway = \"ml-gateway\" }\n\
               service-accounts = { train = \"trainer\" }\n\
               [environments.lab]\n[environments.other]\nservice-accounts = { serve = \"reader\" }\n"
            .to_owned(),
    };
    let model = |name: &str, extra: &str| Source {
        path: format!("models/{name}.toml").into(),
        text: format!(
            "[train]\nimage = \"python:3.12-slim\"\ncommand = [\"true\"]\n{extra}\n\
             [serve]\nmodel = \"s3://m/{name}.onnx\"\n"
        ),
    };
    let repo = load_sources(
        &config,
        &[
            model("plain", ""),
            model("own", "service-account = \"own-trainer\""),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let pods = |env: &str| -> BTreeMap<(String, String), Value> {
        render_env(&repo.environment(env).unwrap())
            .into_iter()
            .filter(|m| m.kind() == "Job" || m.kind() == "Deployment")
            .map(|m| {
                let key = (m.model.clone(), m.kind().to_owned());
                (key, m.object["spec"]["template"]["spec"].clone())
            })
            .collect()
    };
    let lab = pods("lab");
    let job = &lab[&("plain".to_owned(), "Job".to_owned())];
    assert_eq!(job["serviceAccountName"], "trainer");
    assert!(job.get("automountServiceAccountToken").is_none());
    assert_eq!(
        lab[&("own".to_owned(), "Job".to_owned())]["serviceAccountName"],
        "own-trainer"
    );
    let server = &lab[&("plain".to_owned(), "Deployment".to_owned())];
    assert!(server.get("serviceAccountName").is_none());
    assert_eq!(server["automountServiceAccountToken"], false);
    let other = pods("other");
    assert_eq!(
        other[&("plain".to_owned(), "Deployment".to_owned())]["serviceAccountName"],
        "reader"
    );
    assert!(
        other[&("plain".to_owned(), "Deployment".to_owned())]
            .get("automountServiceAccountToken")
            .is_none()
    );
}
