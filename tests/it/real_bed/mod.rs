//! What the real-cluster tests share: a scratch namespace on the cluster
//! `KUBECONFIG` names (skipping with one line when it is unset), a scratch
//! repository of the example models targeting that namespace, the `modelctl`
//! binary run against it, and a stand-in kubelet that marks pods ready or
//! finished through the pod status subresource.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use modelctl::cluster::{Cluster, Target};
use serde_json::{Value, json};

/// The field manager of every write the tests make as "someone else".
pub const TEST_MANAGER: &str = "modelctl-test";
/// The field manager of the stand-in kubelet's pod status patches.
pub const KUBELET: &str = "fake-kubelet";
/// The environment of the scratch repository.
pub const ENV: &str = "test";

/// A namespace of its own on the real cluster. A failing test leaves it for
/// inspection; the next run of the same test deletes it first.
pub struct Scratch {
    pub cluster: Cluster,
    pub target: Target,
    context: Option<String>,
}

impl Scratch {
    /// Connects and makes an empty namespace `modelctl-test-<name>`; `None`
    /// (after one line on stderr) when `KUBECONFIG` is not set.
    pub async fn new(name: &str) -> Option<Scratch> {
        if std::env::var_os("KUBECONFIG").is_none() {
            // Straight to stderr: the test harness would swallow `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "skipping {name}: KUBECONFIG is not set (ci/real-cluster.sh starts a cluster and sets it)"
            );
            return None;
        }
        let context = std::env::var("MODELCTL_TEST_CONTEXT").ok();
        let cluster = Cluster::connect(context.as_deref())
            .await
            .expect("connecting to the cluster KUBECONFIG names");
        let namespace = format!("modelctl-test-{name}");
        fresh_namespace(&cluster, &namespace).await;
        Some(Scratch {
            cluster,
            target: Target {
                env: ENV.into(),
                namespace,
            },
            context,
        })
    }

    /// Another empty namespace, `<scratch namespace>-<suffix>` (deleted
    /// first when an earlier run left it): the test deletes it with
    /// [`Scratch::drop_namespace`].
    pub async fn namespace(&self, suffix: &str) -> String {
        let namespace = format!("{}-{suffix}", self.ns());
        fresh_namespace(&self.cluster, &namespace).await;
        namespace
    }

    /// Deletes namespace `name` (one [`Scratch::namespace`] made).
    pub async fn drop_namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.cluster.client().clone());
        api.delete(name, &DeleteParams::background())
            .await
            .unwrap_or_else(|e| panic!("deleting namespace {name}: {e}"));
    }

    /// The one training Job of `model` (the test applied one): its name
    /// and the object.
    pub async fn the_job(&self, model: &str) -> (String, Value) {
        let jobs = self.api("batch/v1", "Job").await;
        let listed = jobs
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={model}")))
            .await
            .expect("listing Jobs");
        let [job] = listed.items.as_slice() else {
            panic!("one training Job of {model}, got {}", listed.items.len());
        };
        let name = job.metadata.name.clone().expect("a name");
        (name, serde_json::to_value(job).expect("the Job as JSON"))
    }

    /// The namespace.
    pub fn ns(&self) -> &str {
        &self.target.namespace
    }

    /// Deletes the namespace (and with it everything the test made).
    pub async fn finish(self) {
        let api: Api<Namespace> = Api::all(self.cluster.client().clone());
        api.delete(&self.target.namespace, &DeleteParams::background())
            .await
            .expect("deleting the test namespace");
    }

    /// The dynamic API of `kind` in the scratch namespace.
    pub async fn api(&self, api_version: &str, kind: &str) -> Api<DynamicObject> {
        let (api, _) = self
            .cluster
            .api_in(api_version, kind, self.ns())
            .await
            .unwrap_or_else(|e| panic!("{kind} ({api_version}) is served: {e}"));
        api
    }

    /// The live object, or `None`.
    pub async fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        let api = self.api(api_version, kind).await;
        api.get_opt(name)
            .await
            .unwrap_or_else(|e| panic!("reading {kind} {name}: {e}"))
            .map(|o| serde_json::to_value(o).expect("object as JSON"))
    }

    /// Server-side applies `object` into the namespace as field manager `manager`.
    pub async fn apply_as(&self, manager: &str, mut object: Value, force: bool) -> Value {
        object["metadata"]["namespace"] = json!(self.ns());
        let api_version = object["apiVersion"]
            .as_str()
            .expect("apiVersion")
            .to_owned();
        let kind = object["kind"].as_str().expect("kind").to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let api = self.api(&api_version, &kind).await;
        let mut params = PatchParams::apply(manager);
        if force {
            params = params.force();
        }
        let stored = api
            .patch(&name, &params, &Patch::Apply(&object))
            .await
            .unwrap_or_else(|e| panic!("applying {kind} {name} as {manager}: {e}"));
        serde_json::to_value(stored).expect("object as JSON")
    }

    /// A scratch repository: the example `modelctl.toml` with its default
    /// namespace set to this one, environments `test` (the one the tests use)
    /// and `staging` (the example specs override it), and the example models
    /// named.
    pub fn repo(&self, models: &[&str]) -> Repo {
        self.repo_in(self.ns(), models)
    }

    /// [`Scratch::repo`] with another namespace.
    pub fn repo_in(&self, namespace: &str, models: &[&str]) -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let example = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config =
            std::fs::read_to_string(example.join("modelctl.toml")).expect("example modelctl.toml");
        let defaults = config
            .split("\n[environments.")
            .next()
            .expect("modelctl.toml has defaults")
            .replace("namespace = \"ml\"", &format!("namespace = {namespace:?}"));
        assert!(
            defaults.contains(namespace),
            "no default namespace in:\n{defaults}"
        );
        // The example's profiles, which its specs take.
        let profiles = config.find("\n[profiles.").map_or("", |at| &config[at..]);
        std::fs::write(
            dir.path().join("modelctl.toml"),
            // The example specs override `staging`, so it stays defined.
            format!(
                "{defaults}\n[environments.{ENV}]\n\n[environments.staging]\nnamespace = \"{namespace}-staging\"\n{profiles}"
            ),
        )
        .expect("writing modelctl.toml");
        std::fs::create_dir(dir.path().join("models")).expect("models/");
        for model in models {
            let file = format!("models/{model}.toml");
            std::fs::copy(example.join(&file), dir.path().join(&file))
                .unwrap_or_else(|e| panic!("copying {file}: {e}"));
        }
        Repo {
            dir,
            context: self.context.clone(),
            kubeconfig: None,
        }
    }

    /// The pods whose labels match `selector`.
    pub async fn pods(&self, selector: &str) -> Vec<Pod> {
        let api: Api<Pod> = Api::namespaced(self.cluster.client().clone(), self.ns());
        api.list(&ListParams::default().labels(selector))
            .await
            .expect("listing pods")
            .items
    }

    /// Does what a kubelet would once the containers of every pod matching
    /// `selector` run and pass their readiness probe (this cluster has no
    /// kubelet): patches `pods/<name>/status` to Running and Ready, as field
    /// manager `fake-kubelet`. Returns how many pods it patched.
    pub async fn make_pods_ready(&self, selector: &str) -> usize {
        let conditions = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
            .map(|t| json!({"type": t, "status": "True"}));
        self.patch_pod_status(
            selector,
            json!({"status": {"phase": "Running", "conditions": conditions}}),
        )
        .await
    }

    /// Does what a kubelet would once every container of the pods matching
    /// `selector` exited 0 (no kubelet here): patches `pods/<name>/status` to
    /// Succeeded, as field manager `fake-kubelet`.
    pub async fn make_pods_succeed(&self, selector: &str) -> usize {
        self.patch_pod_status(selector, json!({"status": {"phase": "Succeeded"}}))
            .await
    }

    async fn patch_pod_status(&self, selector: &str, patch: Value) -> usize {
        let api: Api<Pod> = Api::namespaced(self.cluster.client().clone(), self.ns());
        let pods = self.pods(selector).await;
        for pod in &pods {
            let name = pod.metadata.name.as_deref().expect("pod name");
            api.patch_status(
                name,
                &PatchParams {
                    field_manager: Some(KUBELET.to_owned()),
                    ..PatchParams::default()
                },
                &Patch::Merge(&patch),
            )
            .await
            .unwrap_or_else(|e| panic!("patching the status of pod {name}: {e}"));
        }
        pods.len()
    }
}

/// Makes namespace `namespace` anew: one an earlier run left is deleted
/// first, and the namespace controller is waited for to empty and remove it.
async fn fresh_namespace(cluster: &Cluster, namespace: &str) {
    let api: Api<Namespace> = Api::all(cluster.client().clone());
    if api
        .get_opt(namespace)
        .await
        .expect("reading namespaces")
        .is_some()
    {
        let _ = api.delete(namespace, &DeleteParams::background()).await;
        let api = &api;
        eventually(
            &format!("namespace {namespace} to go"),
            120,
            || async move {
                api.get_opt(namespace)
                    .await
                    .expect("reading namespaces")
                    .is_none()
                    .then_some(())
            },
        )
        .await;
    }
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
    api.patch(
        namespace,
        &PatchParams::apply(TEST_MANAGER),
        &Patch::Apply(&body),
    )
    .await
    .expect("creating the test namespace");
}

/// A scratch repository (deleted on drop).
pub struct Repo {
    dir: tempfile::TempDir,
    context: Option<String>,
    kubeconfig: Option<PathBuf>,
}

impl Repo {
    /// The repository's root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `models/<model>.toml`.
    pub fn spec(&self, model: &str) -> PathBuf {
        self.root().join(format!("models/{model}.toml"))
    }

    /// Replaces `from` with `to` in `models/<model>.toml` (which must contain it).
    pub fn edit(&self, model: &str, from: &str, to: &str) {
        let path = self.spec(model);
        let text = std::fs::read_to_string(&path).expect("reading the spec");
        assert!(text.contains(from), "{} has no {from:?}", path.display());
        std::fs::write(&path, text.replace(from, to)).expect("writing the spec");
    }

    /// From now on, runs `modelctl` as `user`: with a copy of the
    /// kubeconfig whose users impersonate `user` (`as:`), which the test's
    /// own identity may do.
    pub fn impersonate(&mut self, user: &str) {
        let path = std::env::var_os("KUBECONFIG").expect("KUBECONFIG is set");
        let text = std::fs::read_to_string(&path).expect("reading the kubeconfig");
        let mut config: serde_yaml::Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
        for entry in config["users"].as_sequence_mut().into_iter().flatten() {
            entry["user"]["as"] = serde_yaml::Value::from(user);
        }
        let copy = self.root().join("kubeconfig-as-user");
        std::fs::write(&copy, serde_yaml::to_string(&config).expect("kubeconfig"))
            .expect("writing the kubeconfig");
        self.kubeconfig = Some(copy);
    }

    /// Runs `modelctl -C <repo> <args> --env test [--context C]`.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_modelctl"));
        command
            .arg("-C")
            .arg(self.root())
            .args(args)
            .args(["--env", ENV])
            .env("NO_COLOR", "1");
        if let Some(kubeconfig) = &self.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
        }
        if let Some(context) = &self.context {
            command.args(["--context", context]);
        }
        tokio::task::spawn_blocking(move || command.output().expect("running modelctl"))
            .await
            .expect("joining modelctl")
    }

    /// Runs `modelctl`, expecting exit code `code`; returns stdout and stderr.
    pub async fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "modelctl {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            args.join(" ")
        );
        (stdout, stderr)
    }
}

/// Polls `check` every quarter second until it gives `Some`, failing the
/// test after `seconds` with what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {seconds}s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The managers in an object's `managedFields`.
pub fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["manager"].as_str().map(str::to_owned))
        .collect()
}
