//! A two-node training run on the real API server: it accepts every object
//! (the Indexed Job, its headless Service, the ConfigMap), and the Job
//! controller makes one pod per worker, each with its stable host name
//! `<job>-<index>` under the Service's subdomain and its rank from the
//! completion index.

use serde_json::{Value, json};

use crate::real_bed::{Scratch, eventually};

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn the_job_controller_makes_one_named_pod_per_worker() {
    let Some(s) = Scratch::new("multi-node").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    repo.edit(
        "digits",
        "timeout = \"30m\"\n",
        "timeout = \"30m\"\nnodes = 2\n",
    );
    let (_, err) = repo.expect(0, &["apply"]).await;
    assert!(err.contains("created"), "{err}");
    let (name, job) = s.the_job("digits").await;
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 2);
    assert_eq!(job["spec"]["parallelism"], 2);
    let service = s
        .get("v1", "Service", &name)
        .await
        .expect("the workers' Service");
    assert_eq!(service["spec"]["clusterIP"], "None");
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);

    // The Job controller makes the workers (they stay pending: the bed has
    // no node, and a pod's name and address need none).
    let selector = format!("batch.kubernetes.io/job-name={name}");
    let pods = eventually("the Job controller to make both workers", 60, || async {
        let pods = s.pods(&selector).await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    let mut seen: Vec<(String, String, String)> = pods
        .iter()
        .map(|p| {
            let v = serde_json::to_value(p).expect("JSON");
            (
                v["spec"]["hostname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v["spec"]["subdomain"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (format!("{name}-0"), name.clone(), "0".to_owned()),
            (format!("{name}-1"), name.clone(), "1".to_owned()),
        ]
    );
    // Each worker's rank comes from that index, and the master is worker 0
    // under the Service: `<job>-0.<service>`.
    let pod = serde_json::to_value(&pods[0]).expect("JSON");
    // The `train` init container runs the training command.
    let train = pod["spec"]["initContainers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "train"))
        .unwrap_or_else(|| panic!("a train container: {pod}"));
    let env: Vec<Value> = train["env"].as_array().cloned().unwrap_or_default();
    let var = |n: &str| env.iter().find(|e| e["name"] == n).cloned();
    assert_eq!(
        var("NODE_RANK").expect("NODE_RANK")["valueFrom"]["fieldRef"]["fieldPath"],
        json!("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    assert_eq!(var("NNODES").expect("NNODES")["value"], "2");
    let master = var("MASTER_ADDR").expect("MASTER_ADDR");
    assert_eq!(
        master["value"],
        json!(format!("$(MODELCTL_RUN)-0.{name}")),
        "{master}"
    );
    s.finish().await;
}
