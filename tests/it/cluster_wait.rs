//! `apply --wait` against the test double: Deployments watched until their
//! pods are ready and Jobs until they complete, from the recorded watch
//! streams; failures and timeouts name the objects and the reasons.

use crate::kube_double;

use std::sync::Mutex;
use std::time::Duration;

use kube_double::{KubeDouble, fixtures};
use modelctl::cluster::ClusterError;
use modelctl::cluster::wait::{WaitEvent, wait};
use modelctl::object::ObjectKey;
use modelctl::reconcile::progress::Progress;
use serde_json::{Value, json};

fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
    ObjectKey {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some("ml".into()),
        name: name.into(),
    }
}

fn deployment() -> ObjectKey {
    key("apps/v1", "Deployment", "digits")
}

#[tokio::test]
async fn deployment_is_ready_once_its_pods_are() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-deployment"]);
    double.script_watch("11-watch-deployment-pods-become-ready");
    wait(
        &double.cluster().await,
        &[deployment()],
        Duration::from_secs(20),
        &|_| {},
    )
    .await
    .expect("the rollout finishes");

    // The initial list and the watch look like the recorded ones.
    let requests = double.requests();
    let list = fixtures::load("11-list-deployment-by-name").request;
    assert!(requests.iter().any(|r| r.matches(&list)), "{requests:#?}");
    let recorded = fixtures::load("11-watch-deployment-pods-become-ready").request;
    let watch = requests
        .iter()
        .find(|r| r.query.contains_key("watch"))
        .expect("a watch request");
    assert_eq!(watch.path, recorded.path);
    for param in ["watch", "fieldSelector", "allowWatchBookmarks"] {
        assert_eq!(watch.query.get(param), recorded.query.get(param), "{param}");
    }
}

#[tokio::test]
async fn progress_is_sent_as_events_ending_in_ready() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-deployment"]);
    double.script_watch("11-watch-deployment-pods-become-ready");
    let seen = Mutex::new(Vec::new());
    let service = key("v1", "Service", "digits");
    wait(
        &double.cluster().await,
        &[service, deployment()],
        Duration::from_secs(20),
        &|event| seen.lock().unwrap().push(event),
    )
    .await
    .expect("the rollout finishes");
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen[0], WaitEvent::Watching(vec![deployment()]));
    let progress: Vec<&Progress> = seen[1..]
        .iter()
        .map(|event| match event {
            WaitEvent::Progress { object, progress } if *object == deployment() => progress,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(progress.last(), Some(&&Progress::Ready), "{progress:?}");
    assert!(
        progress.len() > 1 && progress.windows(2).all(|w| w[0] != w[1]),
        "one event per change: {progress:?}"
    );
}

#[tokio::test]
async fn job_is_done_when_complete() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job"]);
    double.script_watch("11-watch-job-complete");
    let job = key("batch/v1", "Job", "image-tagging-train-1a2b3c4d");
    wait(
        &double.cluster().await,
        &[job],
        Duration::from_secs(20),
        &|_| {},
    )
    .await
    .expect("the Job completes");
}

#[tokio::test]
async fn failed_job_is_an_error_with_the_reason() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["11-ssa-create-job-adhoc"]);
    double.script_watch("11-watch-job-failed");
    let job = key("batch/v1", "Job", "image-tagging-train-1a2b3c4d-r7x2k");
    let err = wait(
        &double.cluster().await,
        &[job],
        Duration::from_secs(20),
        &|_| {},
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("BackoffLimitExceeded"), "{text}");
    assert!(
        text.contains("image-tagging-train-1a2b3c4d-r7x2k"),
        "{text}"
    );
}

/// A Warning event about `pod`, shaped like the recorded core/v1 events.
fn probe_failure(pod: &str) -> Value {
    let mut event = fixtures::list_items("14-list-events-deployment", "v1", "Event").remove(0);
    event["metadata"]["name"] = json!(format!("{pod}.probe"));
    event["type"] = json!("Warning");
    event["reason"] = json!("Unhealthy");
    event["message"] = json!("Readiness probe failed: HTTP probe failed with statuscode: 503");
    event["involvedObject"] =
        json!({"kind": "Pod", "namespace": "ml", "name": pod, "apiVersion": "v1"});
    event
}

#[tokio::test]
async fn timeout_names_what_is_not_ready_and_why() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-deployment"]);
    double.seed(fixtures::list_items("12-list-pods-deployment", "v1", "Pod"));
    double.seed(fixtures::list_items(
        "14-list-events-name-digits",
        "v1",
        "Event",
    ));
    double.seed([probe_failure("digits-5fb747979b-2rzgs")]);
    let err = wait(
        &double.cluster().await,
        &[deployment()],
        Duration::from_millis(300),
        &|_| {},
    )
    .await
    .unwrap_err();
    let ClusterError::Timeout { pending, .. } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(pending.len(), 1);
    insta::assert_snapshot!("cluster_wait_timeout", err.to_string());
}

#[tokio::test]
async fn objects_without_rollouts_are_not_waited_for() {
    let double = KubeDouble::start().await;
    let service = key("v1", "Service", "digits");
    wait(
        &double.cluster().await,
        &[service],
        Duration::from_millis(50),
        &|_| {},
    )
    .await
    .expect("nothing to wait for");
    assert!(double.requests().is_empty());
}

#[tokio::test]
async fn expired_resource_version_relists_and_keeps_waiting() {
    let double = KubeDouble::start().await;
    double.seed_fixtures(&["03-get-job"]);
    // The first watch ends with an ERROR event (410 Expired in a 200 stream);
    // the watcher lists again and the second watch sees the Job complete.
    double.script_watch("11-watch-expired-resource-version");
    double.script_watch("11-watch-job-complete");
    let job = key("batch/v1", "Job", "image-tagging-train-1a2b3c4d");
    wait(
        &double.cluster().await,
        &[job],
        Duration::from_secs(20),
        &|_| {},
    )
    .await
    .expect("the Job completes after a re-list");
    let lists = double
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/jobs") && !r.query.contains_key("watch"))
        .count();
    assert!(
        lists >= 2,
        "expected a re-list after the expired watch, saw {lists} list(s)"
    );
}

#[tokio::test]
async fn rollout_waits_for_the_new_generation() {
    let double = KubeDouble::start().await;
    // Right after the apply: generation 3 not yet observed, while the old
    // ReplicaSet's pods are all ready. That is not "ready" yet.
    double.seed_fixtures(&["11-ssa-apply-deployment-image-change"]);
    double.script_watch("11-watch-deployment-rollout");
    wait(
        &double.cluster().await,
        &[deployment()],
        Duration::from_secs(20),
        &|_| {},
    )
    .await
    .expect("the rollout finishes");
    assert!(
        double
            .requests()
            .iter()
            .any(|r| r.query.contains_key("watch")),
        "returned before watching the rollout"
    );
}
