//! What every generated object carries, for the example repository and
//! every fixture: labels, the source annotation, namespace and file name;
//! GPU tolerations only where GPUs are asked for; the streamed render equals
//! the collected one.

use crate::render_support;

use modelctl::compile::render_env;
use render_support::{all_repos, manifests, pod_spec};

#[test]
fn cpu_only_pods_have_no_gpu_toleration() {
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, m) in ms
            .iter()
            .filter(|(_, m)| m.kind() == "Job" || m.kind() == "Deployment")
        {
            // Any container of the pod: a training Job's GPUs are its `train` init container's.
            let pod = pod_spec(m);
            let gpu = ["initContainers", "containers"]
                .iter()
                .filter_map(|key| pod[*key].as_array())
                .flatten()
                .any(|c| {
                    c["resources"]["limits"]
                        .get(&repo.config.defaults.gpu.resource)
                        .is_some()
                });
            if !gpu {
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
            let namespace = repo.config.environment(&env).unwrap().namespace;
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
            let collected =
                modelctl::compile::files::files_of(&render_env(&repo.environment(env).unwrap()));
            let streamed = modelctl::compile::render_output(&repo.environment(env).unwrap());
            assert!(streamed.conflicts.is_empty(), "{name}");
            assert_eq!(streamed.files, collected, "{name}: {env}");
        }
    }
}
