//! Training runs and `status` against the test double: the ad-hoc Job is
//! the recorded one, logs are prefixed per sweep index and follow the Job to
//! its end, and status rows come from the live objects.

use crate::kube_double;

use std::sync::Mutex;
use std::time::Duration;

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::logs::{LogLine, stream_logs};
use modelctl::cluster::status::{Autoscaler, ScaledBy, Target, status};
use modelctl::cluster::train::{latest_run, start_run};
use modelctl::commands::status::Row;
use modelctl::reconcile::adhoc_run::adhoc_job;
use modelctl::reconcile::progress::Progress;
use serde_json::{Value, json};

#[test]
fn adhoc_run_is_the_rendered_job_with_a_unique_name_and_ttl() {
    let rendered = fixtures::request_body("03-ssa-create-job");
    let job = adhoc_job(&rendered, "r7x2k").unwrap();
    assert_eq!(job, fixtures::request_body("11-ssa-create-job-adhoc"));
}

#[tokio::test]
async fn starting_a_run_sends_the_recorded_apply() {
    let double = KubeDouble::start().await;
    double.record("11-ssa-create-job-adhoc");
    let job = adhoc_job(&fixtures::request_body("03-ssa-create-job"), "r7x2k").unwrap();
    let key = start_run(&double.cluster().await, &job).await.unwrap();
    assert_eq!(key.to_string(), "Job ml/image-tagging-train-1a2b3c4d-r7x2k");
    let recorded = fixtures::load("11-ssa-create-job-adhoc").request;
    let sent = double
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert!(sent.matches(&recorded));
    assert_eq!(sent.body, recorded.body);
    assert!(
        double
            .object("/apis/batch/v1/namespaces/ml/jobs/image-tagging-train-1a2b3c4d-r7x2k")
            .is_some()
    );
}

#[tokio::test]
async fn latest_run_is_the_newest_job_of_the_model() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job", "11-get-job-failed"]);
    let job = latest_run(&double.cluster().await, "ml", "image-tagging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.metadata.name.as_deref(),
        Some("image-tagging-train-1a2b3c4d-r7x2k")
    );
    assert!(
        latest_run(&double.cluster().await, "ml", "digits")
            .await
            .unwrap()
            .is_none()
    );
}

/// Pods of a recorded list, bound to the recorded node, in `phase`.
fn started_pods(stem: &str, phase: &str, job: Option<&str>) -> Vec<Value> {
    let mut pods = fixtures::list_items(stem, "v1", "Pod");
    for (i, pod) in pods.iter_mut().enumerate() {
        pod["spec"]["nodeName"] = json!("worker-1");
        pod["status"]["phase"] = json!(phase);
        if let Some(job) = job {
            pod["metadata"]["name"] = json!(format!("{job}-{i}"));
            pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] = json!(job);
        }
    }
    pods
}

/// Log lines a stream printed.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Lines {
    fn push(&self, line: LogLine) {
        let shown = format!("[{}/{}] {}", line.pod, line.container, line.text);
        self.0.lock().unwrap().push(shown);
    }

    fn take(self) -> Vec<String> {
        self.0.into_inner().unwrap()
    }
}

#[tokio::test]
async fn sweep_logs_are_prefixed_by_index() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job-indexed"]);
    let pods = started_pods("12-list-pods-job-indexed", "Running", None);
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        let index = &pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
        double.set_logs(
            "ml",
            name,
            "train",
            &format!(
                "epoch 1 lr from index {}\nepoch 2\n",
                index.as_str().unwrap()
            ),
        );
    }
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    let end = stream_logs(
        &double.cluster().await,
        "ml",
        "image-tagging-train-5e6f7a8b",
        false,
        Duration::ZERO,
        &out,
    )
    .await
    .unwrap();
    assert!(matches!(end, Progress::Pending { .. }));
    assert_eq!(
        lines.take(),
        [
            "[0/train] epoch 1 lr from index 0",
            "[0/train] epoch 2",
            "[1/train] epoch 1 lr from index 1",
            "[1/train] epoch 2"
        ]
    );
    // Each pod's init container (the code fetch), then its container.
    let mut read: Vec<(String, String)> = double
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| {
            let pod = r.path.rsplit('/').nth(1).unwrap().to_owned();
            (pod, r.query.get("container").cloned().unwrap_or_default())
        })
        .collect();
    read.sort();
    let containers: Vec<&str> = read.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(containers, ["fetch-code", "train", "fetch-code", "train"]);
}

#[tokio::test]
async fn following_a_failed_run_reports_the_failure() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["11-get-job-failed"]);
    let job = "image-tagging-train-1a2b3c4d-r7x2k";
    let pods = started_pods("12-list-pods-job", "Failed", Some(job));
    double.set_logs(
        "ml",
        &format!("{job}-0"),
        "train",
        "Traceback (most recent call last):\nValueError: bad shape\n",
    );
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    let end = stream_logs(
        &double.cluster().await,
        "ml",
        job,
        true,
        Duration::from_millis(10),
        &out,
    )
    .await
    .unwrap();
    assert!(
        matches!(&end, Progress::Failed(why) if why.contains("BackoffLimitExceeded")),
        "{end:?}"
    );
    let lines = lines.take();
    assert_eq!(lines[1], format!("[{job}-0/train] ValueError: bad shape"));
}

fn terminated(exit_code: i32) -> Value {
    json!({"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" }}})
}

#[tokio::test]
async fn a_failed_init_container_shows_its_log_and_later_containers_are_skipped() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["11-get-job-failed"]);
    let job = "image-tagging-train-1a2b3c4d-r7x2k";
    let mut pods = started_pods("12-list-pods-job", "Failed", Some(job));
    pods[0]["status"]["initContainerStatuses"] = json!([{"name": "fetch-code", "state": terminated(128), "ready": false,
                "restartCount": 0, "image": "alpine/git:2.45.2", "imageID": ""}]);
    pods[0]["status"]["containerStatuses"] = json!([{"name": "train", "state": {"waiting": {"reason": "PodInitializing"}},
                "ready": false, "restartCount": 0, "image": "t", "imageID": ""}]);
    let pod = format!("{job}-0");
    double.set_logs(
        "ml",
        &pod,
        "fetch-code",
        "Cloning into '/workspace/src'...\nfatal: could not read Username for 'https://git.example.com'\n",
    );
    double.set_logs("ml", &pod, "train", "never printed\n");
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    let end = stream_logs(
        &double.cluster().await,
        "ml",
        job,
        true,
        Duration::from_millis(10),
        &out,
    )
    .await
    .unwrap();
    assert!(matches!(end, Progress::Failed(_)), "{end:?}");
    assert_eq!(
        lines.take(),
        [
            format!("[{pod}/fetch-code] Cloning into '/workspace/src'..."),
            format!(
                "[{pod}/fetch-code] fatal: could not read Username for 'https://git.example.com'"
            ),
        ]
    );
}

#[tokio::test]
async fn init_containers_then_containers_in_order_following_the_running_one() {
    // The layout where training is an init container and the main container
    // exports the model.
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job-indexed"]);
    let mut pods = started_pods("12-list-pods-job-indexed", "Running", None);
    pods.truncate(1);
    let pod = pods[0]["metadata"]["name"].as_str().unwrap().to_owned();
    pods[0]["spec"]["initContainers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "train", "image": "t"}));
    pods[0]["spec"]["containers"][0]["name"] = json!("export");
    pods[0]["status"]["initContainerStatuses"] = json!([
        {"name": "fetch-code", "state": terminated(0), "ready": false, "restartCount": 0, "image": "g", "imageID": ""},
        {"name": "train", "state": terminated(0), "ready": false, "restartCount": 0, "image": "t", "imageID": ""}
    ]);
    pods[0]["status"]["containerStatuses"] = json!([
        {"name": "export", "state": {"running": {}}, "ready": true, "restartCount": 0, "image": "s", "imageID": ""}
    ]);
    double.set_logs("ml", &pod, "fetch-code", "checked out 4f2c9e1\n");
    double.set_logs("ml", &pod, "train", "epoch 1\nepoch 2\n");
    double.set_logs("ml", &pod, "export", "uploading model.onnx\n");
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    let cluster = double.cluster().await;
    let follow = stream_logs(
        &cluster,
        "ml",
        "image-tagging-train-5e6f7a8b",
        true,
        Duration::from_millis(10),
        &out,
    );
    // The run completes a moment later; following ends with it.
    let complete = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut job = fixtures::response_body("03-get-job-indexed");
        job["status"] = json!({"succeeded": 4, "conditions": [
            {"type": "Complete", "status": "True"}
        ]});
        double.seed([job]);
    };
    let (end, ()) = tokio::join!(follow, complete);
    assert_eq!(end.unwrap(), Progress::Ready);
    assert_eq!(
        lines.take(),
        [
            "[0/fetch-code] checked out 4f2c9e1",
            "[0/train] epoch 1",
            "[0/train] epoch 2",
            "[0/export] uploading model.onnx",
        ]
    );
    let follows: Vec<(String, String)> = double
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| {
            (
                r.query.get("container").cloned().unwrap_or_default(),
                r.query.get("follow").cloned().unwrap_or_default(),
            )
        })
        .take(3)
        .collect();
    assert_eq!(
        follows,
        [
            ("fetch-code".to_owned(), String::new()),
            ("train".to_owned(), String::new()),
            ("export".to_owned(), "true".to_owned()),
        ]
    );
}

#[tokio::test]
async fn logs_show_the_training_init_container_then_the_export() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["11-get-job-failed"]);
    let job = "image-tagging-train-1a2b3c4d-r7x2k";
    let mut pods = started_pods("12-list-pods-job", "Failed", Some(job));
    // The layout rendered today: `train` is an init container, `export` the main one.
    let pod = &mut pods[0];
    let train = pod["spec"]["containers"][0].clone();
    pod["spec"]["initContainers"] = json!([train]);
    pod["spec"]["containers"] = json!([{"name": "export", "image": "model-server"}]);
    let ended = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    pod["status"]["initContainerStatuses"] = json!([{"name": "train", "state": {"terminated": {"exitCode": 0}}, "ready": false, "restartCount": 0, "image": "", "imageID": ""}]);
    pod["status"]["containerStatuses"] = json!([{"name": "export", "state": ended, "ready": false, "restartCount": 0, "image": "", "imageID": ""}]);
    let name = format!("{job}-0");
    double.set_logs("ml", &name, "train", "epoch 1\n");
    double.set_logs("ml", &name, "export", "export failed: no credentials\n");
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    stream_logs(
        &double.cluster().await,
        "ml",
        job,
        true,
        Duration::from_millis(10),
        &out,
    )
    .await
    .unwrap();
    assert_eq!(
        lines.take(),
        [
            format!("[{name}/train] epoch 1"),
            format!("[{name}/export] export failed: no credentials"),
        ]
    );
}

#[tokio::test]
async fn a_pod_still_training_streams_only_its_train_init_container() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job"]);
    let job = "image-tagging-train-1a2b3c4d";
    let mut pods = started_pods("12-list-pods-job", "Pending", Some(job));
    let pod = &mut pods[0];
    let train = pod["spec"]["containers"][0].clone();
    pod["spec"]["initContainers"] = json!([train]);
    pod["spec"]["containers"] = json!([{"name": "export", "image": "model-server"}]);
    pod["status"]["initContainerStatuses"] = json!([{"name": "train", "state": {"running": {}}, "ready": false, "restartCount": 0, "image": "", "imageID": ""}]);
    pod["status"]["containerStatuses"] = json!([{"name": "export", "state": {"waiting": {"reason": "PodInitializing"}}, "ready": false, "restartCount": 0, "image": "", "imageID": ""}]);
    let name = format!("{job}-0");
    double.set_logs("ml", &name, "train", "epoch 1\n");
    double.seed(pods);
    let lines = Lines::default();
    let out = |line: LogLine| lines.push(line);
    stream_logs(
        &double.cluster().await,
        "ml",
        job,
        false,
        Duration::ZERO,
        &out,
    )
    .await
    .unwrap();
    assert_eq!(lines.take(), [format!("[{name}/train] epoch 1")]);
}

#[tokio::test]
async fn pending_pods_have_no_logs_yet() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job"]);
    double.seed(fixtures::list_items("12-list-pods-job", "v1", "Pod"));
    let out = |line: LogLine| panic!("unexpected log line {line:?}");
    let end = stream_logs(
        &double.cluster().await,
        "ml",
        "image-tagging-train-1a2b3c4d",
        false,
        Duration::ZERO,
        &out,
    )
    .await
    .unwrap();
    assert_eq!(end, Progress::Pending { done: 0, total: 1 });
}

#[tokio::test]
async fn status_has_one_row_per_model_from_live_objects() {
    let double = KubeDouble::start().await;
    double.seed(fixtures::live(&[
        "deployment",
        "hpa",
        "httproute",
        "job",
        "service",
    ]));
    let mut manifests: Vec<(String, Value)> =
        fixtures::rendered(&["service", "deployment", "hpa", "httproute"])
            .into_iter()
            .map(|o| ("digits".to_owned(), o))
            .collect();
    manifests.push((
        "image-tagging".to_owned(),
        fixtures::request_body("02-ssa-dryrun-create-job"),
    ));
    let rows = status(&double.cluster().await, "ml", &manifests)
        .await
        .unwrap();
    let rows: Vec<Row> = rows.iter().map(Row::of).collect();
    insta::assert_snapshot!(
        "cluster_status_rows",
        serde_json::to_string_pretty(&rows).unwrap()
    );
}

/// A model KEDA scales: the row reads the HPA KEDA made for the
/// ScaledObject (`keda-hpa-<name>`) and names the ScaledObject's triggers;
/// before KEDA has made it, the row says so.
#[tokio::test]
async fn status_reads_the_hpa_keda_makes_for_a_scaled_object() {
    let double = KubeDouble::start().await;
    let mut keda_hpa = fixtures::live(&["hpa"]).remove(0);
    keda_hpa["metadata"]["name"] = json!("keda-hpa-digits");
    let scaled_object = json!({
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "digits", "namespace": "ml"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "digits"},
            "minReplicaCount": 2, "maxReplicaCount": 10,
            "triggers": [
                {"type": "prometheus", "name": "inflight", "metricType": "AverageValue",
                 "metadata": {"serverAddress": "http://prometheus:9090", "threshold": "8",
                              "query": "sum(model_server_requests_in_flight)"}},
                {"type": "cpu", "name": "cpu", "metricType": "Utilization",
                 "metadata": {"value": "70"}}
            ]
        }
    });
    let manifests: Vec<(String, Value)> = vec![("digits".to_owned(), scaled_object)];
    let cluster = double.cluster().await;
    let rows = status(&cluster, "ml", &manifests).await.unwrap();
    let triggers = vec![
        Target::Value {
            metric: "inflight".into(),
            value: "8".into(),
        },
        Target::Utilization {
            resource: "cpu".into(),
            percent: "70".into(),
        },
    ];
    assert_eq!(
        rows[0].autoscaler,
        Some(Autoscaler {
            replicas: None,
            min: 2,
            max: 10,
            targets: triggers.clone(),
            by: ScaledBy::Keda {
                hpa: "keda-hpa-digits".into()
            },
        })
    );
    assert_eq!(
        Row::of(&rows[0]).autoscaler.as_deref(),
        Some("(2-10, inflight 8, cpu 70%) via KEDA, no HPA `keda-hpa-digits` yet")
    );
    double.seed([keda_hpa]);
    let rows = status(&cluster, "ml", &manifests).await.unwrap();
    let autoscaler = rows[0].autoscaler.clone().unwrap();
    assert!(autoscaler.replicas.is_some(), "{autoscaler:?}");
    assert_eq!(autoscaler.targets, triggers);
    let summary = Row::of(&rows[0]).autoscaler.unwrap();
    assert!(
        summary.ends_with("(2-10, inflight 8, cpu 70%) via KEDA"),
        "{summary}"
    );
}
