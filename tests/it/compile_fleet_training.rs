//! Training on a shared GPU cluster: the Kueue labels a training Job
//! carries (on the Job alone, in its hash, no `suspend`), and a multi-node
//! run's Indexed Job, headless Service and worker environment, down to the
//! rendered `start.sh` run as two workers that meet at a real TCP
//! rendezvous on the loopback.

use std::fs;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use crate::render_support;

use modelctl::compile::{Manifest, render_env};
use modelctl_spec::{Source, load_sources};
use render_support::{all_repos, manifests, of_kind, pod_spec, spec_of};
use serde_json::{Value, json};

const QUEUE: &str = "kueue.x-k8s.io/queue-name";
const PRIORITY: &str = "kueue.x-k8s.io/priority-class";

/// Renders environment `env` of a repository of one model `trainee`.
fn render(config: &str, spec: &str, env: &str) -> Vec<Manifest> {
    let config = Source {
        path: "modelctl.toml".into(),
        text: format!(
            "[defaults]\nnamespace = \"ml\"\nserver-image = \"r.example.com/s:1\"\nroute = {{ kind = \"ingress\" }}\n{config}"
        ),
    };
    let model = Source {
        path: "models/trainee.toml".into(),
        text: spec.to_owned(),
    };
    let repo = load_sources(&config, &[model]).unwrap_or_else(|e| panic!("{e}"));
    render_env(&repo.environment(env).expect("the environment exists"))
}

fn job(manifests: &[Manifest]) -> &Manifest {
    manifests.iter().find(|m| m.kind() == "Job").expect("a Job")
}

fn env_of(container: &Value) -> Vec<(String, Value)> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let value = e
                .get("value")
                .cloned()
                .unwrap_or_else(|| e["valueFrom"].clone());
            (e["name"].as_str().unwrap().to_owned(), value)
        })
        .collect()
}

const TRAIN: &str = "[train]\nimage = \"python:3.12-slim\"\ncommand = [\"python\", \"train.py\"]\n";

#[test]
fn kueue_labels_are_on_the_job_alone_and_in_its_hash() {
    let config = "queue = \"team-a\"\npriority = \"batch-low\"\n[environments.lab]\n[environments.prod]\nqueue = \"prod-gpu\"\npriority = \"prod-high\"\n";
    let lab = render(config, TRAIN, "lab");
    let labels = &job(&lab).object["metadata"]["labels"];
    assert_eq!(labels[QUEUE], "team-a");
    assert_eq!(labels[PRIORITY], "batch-low");
    // Kueue's webhook suspends the Job; a rendered `suspend` would fight
    // Kueue when it resumes the Job on admission.
    assert!(job(&lab).object["spec"].get("suspend").is_none());
    // Kueue reads the Job's labels; on pods they would ask its pod
    // integration to queue each pod once more.
    let template = &job(&lab).object["spec"]["template"]["metadata"]["labels"];
    assert!(template.get(QUEUE).is_none() && template.get(PRIORITY).is_none());
    for m in &lab {
        if m.kind() != "Job" {
            assert!(
                m.object["metadata"]["labels"].get(QUEUE).is_none(),
                "{}",
                m.name()
            );
        }
    }

    let prod = render(config, TRAIN, "prod");
    assert_eq!(job(&prod).object["metadata"]["labels"][QUEUE], "prod-gpu");
    assert_eq!(
        job(&prod).object["metadata"]["labels"][PRIORITY],
        "prod-high"
    );

    // The spec's queue wins over the environment's; another queue is
    // another Job, since a Job's labels are its admission.
    let own = render(config, &format!("{TRAIN}queue = \"research\"\n"), "lab");
    assert_eq!(job(&own).object["metadata"]["labels"][QUEUE], "research");
    assert_ne!(job(&own).name(), job(&lab).name());
    let other_priority = render(&config.replace("batch-low", "batch-high"), TRAIN, "lab");
    assert_ne!(job(&other_priority).name(), job(&lab).name());

    // Without a queue nothing Kueue's is rendered, and the name is the one
    // the same spec always had.
    let plain = render("[environments.lab]\n", TRAIN, "lab");
    let labels = job(&plain).object["metadata"]["labels"]
        .as_object()
        .unwrap();
    assert!(
        labels.keys().all(|k| !k.starts_with("kueue.x-k8s.io/")),
        "{labels:?}"
    );
    let again = render("[environments.lab]\n", TRAIN, "lab");
    assert_eq!(job(&plain).name(), job(&again).name());
}

#[test]
fn an_adhoc_run_keeps_the_queue() {
    let manifests = render("queue = \"team-a\"\n[environments.lab]\n", TRAIN, "lab");
    let adhoc =
        modelctl::reconcile::adhoc_run::adhoc_job(&job(&manifests).object, "x1y2z").expect("a Job");
    assert_eq!(adhoc["metadata"]["labels"][QUEUE], "team-a");
    assert!(adhoc["spec"].get("suspend").is_none());
}

#[test]
fn multi_node_runs_name_their_workers_and_fail_as_a_group() {
    let mut checked = 0;
    for (name, repo) in all_repos() {
        let ms = manifests(&repo);
        for (env, job) in of_kind(&ms, "Job") {
            let train = spec_of(&repo, env, &job.model).train.as_ref().unwrap();
            let nodes = train.nodes.map_or(1, |n| n.get());
            let gpus = train.resources.gpu.map_or(0, |g| g.get()).max(1);
            let pod = pod_spec(job);
            let train_env = env_of(
                pod["initContainers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == "train")
                    .unwrap(),
            );
            let var = |n: &str| {
                train_env
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
            };
            if nodes == 1 {
                assert!(pod.get("subdomain").is_none(), "{name}");
                if train.nodes.is_some() {
                    // One node: the same variables name the pod itself.
                    assert_eq!(var("MASTER_ADDR"), Some(json!("127.0.0.1")), "{name}");
                    assert_eq!(var("NODE_RANK"), Some(json!("0")), "{name}");
                    assert_eq!(var("NNODES"), Some(json!("1")), "{name}");
                } else {
                    assert_eq!(var("NODE_RANK"), None, "{name}");
                }
                continue;
            }
            checked += 1;
            let spec = &job.object["spec"];
            assert_eq!(spec["completionMode"], "Indexed");
            assert_eq!(
                (&spec["completions"], &spec["parallelism"]),
                (&json!(nodes), &json!(nodes))
            );
            assert!(spec.get("backoffLimitPerIndex").is_none(), "{name}");
            assert_eq!(
                spec["podFailurePolicy"]["rules"],
                json!([{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}])
            );
            assert_eq!(
                job.object["metadata"]["annotations"]["modelctl.io/nodes"],
                nodes.to_string()
            );

            // The headless Service of the Job's name selects exactly its pods.
            let service = of_kind(&ms, "Service")
                .into_iter()
                .find(|(e, s)| e == env && s.name() == job.name())
                .map(|(_, s)| s)
                .unwrap_or_else(|| panic!("{name}: no Service {}", job.name()));
            assert_eq!(service.object["spec"]["clusterIP"], "None");
            assert_eq!(service.object["spec"]["publishNotReadyAddresses"], true);
            let template_labels = &spec["template"]["metadata"]["labels"];
            for (k, v) in service.object["spec"]["selector"].as_object().unwrap() {
                assert_eq!(&template_labels[k], v, "{name}: selector {k}");
            }
            assert!(
                service.object["spec"]["selector"]
                    .get("modelctl.io/train-hash")
                    .is_some()
            );
            assert_eq!(pod["subdomain"], job.name());

            assert_eq!(
                var("MASTER_ADDR"),
                Some(json!(format!("$(MODELCTL_RUN)-0.{}", job.name())))
            );
            assert_eq!(var("MASTER_PORT"), Some(json!("29500")));
            assert_eq!(var("NNODES"), Some(json!(nodes.to_string())));
            assert_eq!(var("NPROC_PER_NODE"), Some(json!(gpus.to_string())));
            assert_eq!(var("WORLD_SIZE"), Some(json!((nodes * gpus).to_string())));
            assert_eq!(
                var("NODE_RANK"),
                Some(
                    json!({"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}})
                )
            );
            // MODELCTL_RUN is defined before MASTER_ADDR refers to it.
            let position = |n: &str| train_env.iter().position(|(k, _)| k == n).unwrap();
            assert!(position("MODELCTL_RUN") < position("MASTER_ADDR"));
        }
    }
    assert!(checked >= 1, "no fixture renders a multi-node run");
}

/// A free port on the loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Worker 0 listens on MASTER_PORT and waits for every other worker to
/// say its rank; each other worker dials MASTER_ADDR:MASTER_PORT until it
/// answers. What torchrun's static rendezvous does first, in a few lines.
const RENDEZVOUS: &str = r#"
import os, socket, sys, time
rank, nodes = int(os.environ["NODE_RANK"]), int(os.environ["NNODES"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
if rank == 0:
    server = socket.create_server((addr, port))
    server.settimeout(30)
    seen = []
    for _ in range(nodes - 1):
        conn, _ = server.accept()
        seen.append(int(conn.makefile().readline()))
        conn.sendall(b"welcome\n")
        conn.close()
    print("rank 0 met ranks", sorted(seen), "of", os.environ["WORLD_SIZE"], flush=True)
    open(os.path.join(os.environ["MODEL_DIR"], "model.onnx"), "w").write("rank0")
else:
    deadline = time.time() + 30
    while True:
        try:
            conn = socket.create_connection((addr, port), timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("no rendezvous")
            time.sleep(0.05)
    conn.sendall(f"{rank}\n".encode())
    print(f"rank {rank} got", conn.makefile().readline().strip(), flush=True)
"#;

#[test]
fn the_rendered_start_sh_run_as_two_workers_meets_at_a_tcp_rendezvous() {
    let python = ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        eprintln!("skipped: no python3 on PATH to play the training code");
        return;
    };
    let spec = format!(
        "[train]\nimage = \"python:3.12-slim\"\ncommand = [\"{python}\", \"-c\", '''{RENDEZVOUS}''', \"--node-rank=$NODE_RANK\"]\nnodes = 2\n"
    );
    let manifests = render("[environments.lab]\n", &spec, "lab");
    let job = job(&manifests);
    let train_env = env_of(
        &pod_spec_of(job)["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "train")
            .cloned()
            .unwrap(),
    );
    let config = manifests.iter().find(|m| m.kind() == "ConfigMap").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config_dir = tmp.path().join("config");
    fs::create_dir_all(&config_dir).unwrap();
    for (file, text) in config.object["data"].as_object().unwrap() {
        fs::write(config_dir.join(file), text.as_str().unwrap()).unwrap();
    }
    let port = free_port().to_string();
    let workers: Vec<_> = (0..2)
        .map(|rank| {
            let workspace = tmp.path().join(format!("worker-{rank}"));
            fs::create_dir_all(&workspace).unwrap();
            let mut command = Command::new("sh");
            command
                .arg(config_dir.join("start.sh"))
                .env("MODELCTL_WORKSPACE", &workspace)
                .env("MODELCTL_CONFIG_DIR", &config_dir)
                .env("MODELCTL_RUN", "trainee-train-0123abcd")
                .env_remove("MODEL_DIR")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            // The rendered environment, as the kubelet would give it: the
            // variables with values as they are, NODE_RANK from the
            // completion index, and MASTER_ADDR's host on the loopback
            // (there is no cluster DNS here).
            for (name, value) in &train_env {
                match (name.as_str(), value.as_str()) {
                    ("MASTER_ADDR", Some(addr)) => {
                        assert_eq!(addr, format!("$(MODELCTL_RUN)-0.{}", job.name()));
                        command.env(name, "127.0.0.1");
                    }
                    ("MASTER_PORT", Some(_)) => {
                        command.env(name, &port);
                    }
                    ("NODE_RANK", None) => {
                        command.env(name, rank.to_string());
                    }
                    (_, Some(v)) => {
                        command.env(name, v);
                    }
                    _ => {}
                }
            }
            command.env("JOB_COMPLETION_INDEX", rank.to_string());
            (rank, workspace, command.spawn().expect("sh runs"))
        })
        .collect();
    let mut said = Vec::new();
    for (rank, workspace, child) in workers {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "worker {rank}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "modelctl: worker {rank} of 2, rendezvous at 127.0.0.1:{port}"
            )),
            "{stderr}"
        );
        said.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        let model = workspace.join("out/model.onnx");
        assert_eq!(model.exists(), rank == 0, "worker {rank}");
    }
    assert_eq!(said, ["rank 0 met ranks [1] of 2", "rank 1 got welcome"]);
}

fn pod_spec_of(job: &Manifest) -> &Value {
    &job.object["spec"]["template"]["spec"]
}
