//! Team namespaces on the real API server: one environment whose models
//! live in two namespaces. A model moved from one namespace to another is
//! created in the new one and pruned from the old; objects modelctl did not
//! apply, in either namespace, survive the prune, even one that carries
//! modelctl's label.

use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::real_bed::{Scratch, eventually};

/// Server-side applies `object` into `namespace` as `manager`.
async fn put(s: &Scratch, namespace: &str, manager: &str, mut object: Value) {
    object["metadata"]["namespace"] = json!(namespace);
    let api_version = object["apiVersion"].as_str().unwrap().to_owned();
    let kind = object["kind"].as_str().unwrap().to_owned();
    let name = object["metadata"]["name"].as_str().unwrap().to_owned();
    let (api, _) = s
        .cluster
        .api_in(&api_version, &kind, namespace)
        .await
        .expect("a served kind");
    api.patch(&name, &PatchParams::apply(manager), &Patch::Apply(&object))
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {namespace}/{name}: {e}"));
}

/// Whether `kind` `namespace/name` exists.
async fn exists(s: &Scratch, api_version: &str, kind: &str, namespace: &str, name: &str) -> bool {
    let (api, _) = s
        .cluster
        .api_in(api_version, kind, namespace)
        .await
        .expect("a served kind");
    api.get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("reading {kind} {namespace}/{name}: {e}"))
        .is_some()
}

#[tokio::test]
#[ignore = "needs a cluster: ci/real-cluster.sh, or set KUBECONFIG"]
async fn a_model_moved_between_namespaces_is_created_there_and_pruned_here() {
    let Some(s) = Scratch::new("teams").await else {
        return;
    };
    let (team_a, team_b) = (s.namespace("a").await, s.namespace("b").await);
    let repo = s.repo(&["ads-bidding", "digits"]);
    repo.edit(
        "ads-bidding",
        "owner = \"team-ads\"\n",
        &format!("owner = \"team-ads\"\nnamespace = \"{team_a}\"\n"),
    );
    let (_, err) = repo.expect(0, &["apply"]).await;
    assert!(
        err.contains(&format!("namespaces {}, {team_a}", s.ns())),
        "{err}"
    );
    assert!(exists(&s, "apps/v1", "Deployment", &team_a, "ads-bidding").await);
    assert!(exists(&s, "apps/v1", "Deployment", s.ns(), "digits").await);
    assert!(!exists(&s, "apps/v1", "Deployment", s.ns(), "ads-bidding").await);

    // Objects modelctl never applied: a look-alike Service carrying
    // modelctl's label next to the model's, a ConfigMap in the same
    // namespace, and a Service in the namespace the model moves to.
    let labels = json!({"app.kubernetes.io/managed-by": "modelctl", "app.kubernetes.io/name": "ads-bidding"});
    let service = |name: &str, labels: Value| {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "labels": labels},
               "spec": {"ports": [{"port": 80}]}})
    };
    put(&s, &team_a, "someone-else", service("look-alike", labels)).await;
    put(
        &s,
        &team_a,
        "someone-else",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "team-settings"}, "data": {"a": "1"}}),
    )
    .await;
    put(&s, &team_b, "someone-else", service("hand-made", json!({}))).await;

    // The move: the diff creates in the new namespace and removes from the old.
    repo.edit(
        "ads-bidding",
        &format!("namespace = \"{team_a}\""),
        &format!("namespace = \"{team_b}\""),
    );
    let (out, _) = repo.expect(1, &["diff"]).await;
    for line in [
        format!("+ Deployment {team_b}/ads-bidding added"),
        format!("- Deployment {team_a}/ads-bidding removed"),
        format!("- Service {team_a}/ads-bidding removed"),
    ] {
        assert!(out.contains(&line), "{line}:\n{out}");
    }
    assert!(
        !out.contains("look-alike") && !out.contains("hand-made"),
        "{out}"
    );
    assert!(!out.contains("digits"), "{out}");

    repo.expect(0, &["apply", "--prune"]).await;
    for kind in [("apps/v1", "Deployment"), ("v1", "Service")] {
        assert!(
            exists(&s, kind.0, kind.1, &team_b, "ads-bidding").await,
            "{kind:?}"
        );
        eventually(
            &format!("{} {team_a}/ads-bidding to go", kind.1),
            60,
            || async { (!exists(&s, kind.0, kind.1, &team_a, "ads-bidding").await).then_some(()) },
        )
        .await;
    }
    // What modelctl did not apply stays, in both namespaces.
    assert!(exists(&s, "v1", "Service", &team_a, "look-alike").await);
    assert!(exists(&s, "v1", "ConfigMap", &team_a, "team-settings").await);
    assert!(exists(&s, "v1", "Service", &team_b, "hand-made").await);
    assert!(exists(&s, "apps/v1", "Deployment", s.ns(), "digits").await);

    // Nothing left to do, and status reads the model where it now is.
    let (out, _) = repo.expect(0, &["diff", "--format", "json"]).await;
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["changes"], json!([]), "{out}");
    let (out, _) = repo.expect(0, &["status", "--format", "json"]).await;
    let rows: Value = serde_json::from_str(&out).expect("JSON status");
    let ads = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["model"] == "ads-bidding"))
        .unwrap_or_else(|| panic!("a row for ads-bidding: {out}"));
    // Read from the live Deployment, which is in the new namespace only.
    assert_eq!(
        ads["model_uri"], "gs://ml-models-ads/bidding/2026-11-23/model.onnx",
        "{ads}"
    );

    // One Role and RoleBinding per namespace the environment uses now.
    let (yaml, _) = repo.expect(0, &["rbac", "--user", "ci"]).await;
    let namespaces: Vec<String> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).expect("YAML"))
        .filter(|d| d["kind"] == "Role")
        .map(|d| d["metadata"]["namespace"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec![s.ns().to_owned(), team_b.clone()];
    expected.sort();
    assert_eq!(namespaces, expected);

    s.drop_namespace(&team_a).await;
    s.drop_namespace(&team_b).await;
    s.finish().await;
}
