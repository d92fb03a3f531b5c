//! The control plane going away in the middle of the work, on a kube-bed:
//! its `restart-apiserver.sh` stops the API server (a crash, `KILL`) and
//! starts it again with etcd and its data kept. An `apply` of a few hundred
//! objects that loses the server part way exits 2 saying why and how far it
//! got; a second `apply` finishes, `diff` is then empty, nothing is there
//! twice and the inventory lists every object. An `apply --wait` whose API
//! server restarts during the wait carries on when it is back.
//!
//! Skipped with one line where the cluster is not a kube-bed this test may
//! restart (`KUBE_BED_STATE` names its state; `ci/real-cluster.sh` sets it).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use kube::api::ListParams;
use modelctl::cluster::Target;
use modelctl::cluster::inventory;

use crate::real_bed::{ENV, Scratch, eventually};

/// How many copies of the digits model the interrupted apply renders (six
/// objects each).
const MODELS: usize = 80;

/// The kube-bed's `restart-apiserver.sh` and its state folder, when the
/// cluster is a kube-bed.
fn restarter(test: &str) -> Option<(PathBuf, PathBuf)> {
    let state = std::env::var_os("KUBE_BED_STATE").map(PathBuf::from);
    let folder = std::env::var_os("KUBE_BED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/kube-bed"),
        PathBuf::from,
    );
    let script = folder.join("restart-apiserver.sh");
    match state {
        Some(state) if script.is_file() && state.is_dir() => Some((script, state)),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "skipping {test}: the cluster is not a kube-bed this test may restart (KUBE_BED_STATE unset, or no restart-apiserver.sh)"
            );
            None
        }
    }
}

/// Stops the API server with `signal` and starts it again after `down`
/// seconds; returns once it answers `/readyz`.
async fn restart(script: PathBuf, state: PathBuf, signal: &'static str, down: u32) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(script)
            .env("KUBE_BED_STATE", state)
            .env("KUBE_BED_SIGNAL", signal)
            .env("KUBE_BED_DOWN_SECONDS", down.to_string())
            .output()
            .expect("running restart-apiserver.sh")
    })
    .await
    .expect("joining restart-apiserver.sh");
    assert!(
        out.status.success(),
        "restart-apiserver.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a kube-bed: ci/real-cluster.sh"]
async fn an_apply_cut_off_by_a_crashed_api_server_says_how_far_it_got_and_the_next_converges() {
    let Some((script, state)) = restarter("control_plane::apply") else {
        return;
    };
    let Some(s) = Scratch::new("cp-apply").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    let digits = std::fs::read_to_string(repo.spec("digits")).expect("digits.toml");
    for n in 0..MODELS {
        let spec = digits.replace("digits.ml.example.com", &format!("d{n}.ml.example.com"));
        std::fs::write(repo.root().join(format!("models/d{n}.toml")), spec).expect("a spec");
    }

    // The server goes away once the apply has created some Services (the
    // first stages), and well before it is done.
    let services = s.api("v1", "Service").await;
    let run = repo.run(&["apply"]);
    let watch = async {
        eventually("the apply to create some Services", 120, || async {
            let listed = services.list(&ListParams::default()).await.ok()?;
            (listed.items.len() >= 10).then_some(())
        })
        .await;
        restart(script.clone(), state.clone(), "KILL", 3).await;
    };
    let (out, ()) = tokio::join!(run, watch);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the apply finished before the API server went away, or failed otherwise:\n{stderr}"
    );
    let total = (MODELS + 1) * 6;
    assert!(
        stderr.contains("applying stopped after ")
            && stderr.contains(&format!(" of {total} object(s) were applied"))
            && stderr.contains("apply again once the API server answers"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot reach the API server"), "{stderr}");

    // Once the server is back, the next apply finishes the work.
    let (_, stderr) = repo.expect(0, &["apply"]).await;
    assert!(
        stderr.contains(&format!("applied {total} object(s)")),
        "{stderr}"
    );
    repo.expect(0, &["diff"]).await;

    // Nothing twice, nothing missing: one Deployment per model, and the
    // inventory names every object rendered.
    let deployments = s.api("apps/v1", "Deployment").await;
    let listed = deployments
        .list(&ListParams::default())
        .await
        .expect("listing Deployments");
    assert_eq!(listed.items.len(), MODELS + 1);
    let target = Target {
        env: ENV.into(),
        namespace: s.ns().to_owned(),
    };
    let recorded = inventory::read(&s.cluster, &target)
        .await
        .expect("reading the inventory");
    assert_eq!(recorded.len(), total, "{recorded:?}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a kube-bed: ci/real-cluster.sh"]
async fn apply_wait_carries_on_through_an_api_server_restart() {
    let Some((script, state)) = restarter("control_plane::wait") else {
        return;
    };
    let Some(s) = Scratch::new("cp-wait").await else {
        return;
    };
    let repo = s.repo(&["digits"]);
    let run = repo.run(&["apply", "--wait", "--timeout", "180s"]);
    let selector = "app.kubernetes.io/name=digits,app.kubernetes.io/component=serve";
    let drive = async {
        // The wait is under way once the Deployment's pods exist.
        eventually("the Deployment's pods", 60, || async {
            (!s.pods(selector).await.is_empty()).then_some(())
        })
        .await;
        restart(script.clone(), state.clone(), "KILL", 3).await;
        // Back: the pods turn ready (as a kubelet would say), and the
        // watch, reconnected, sees the rollout finish.
        tokio::time::sleep(Duration::from_secs(1)).await;
        eventually("the pods to be marked ready", 60, || async {
            (s.make_pods_ready(selector).await >= 2).then_some(())
        })
        .await;
    };
    let (out, ()) = tokio::join!(run, drive);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("every Deployment is ready"), "{stderr}");
    s.finish().await;
}
