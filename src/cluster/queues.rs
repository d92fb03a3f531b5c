//! Whether the Kueue LocalQueues the rendered training Jobs name exist: a
//! Job labelled for a queue that does not exist stays suspended by Kueue's
//! webhook and is never admitted, with nothing said. One GET per distinct
//! queue and namespace, which `modelctl rbac` grants.

use std::collections::BTreeSet;

use serde_json::Value;

use super::connect::Cluster;
use crate::object::ObjectKey;
use crate::object::labels::{KUEUE_QUEUE, label};
use crate::reconcile::ClusterError;

/// The LocalQueues' API.
pub const LOCAL_QUEUE_API: &str = "kueue.x-k8s.io/v1beta2";

/// What is wrong with the queues the training Jobs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueProblem {
    /// No LocalQueue `queue` in `namespace`.
    Missing {
        /// The LocalQueue's name.
        queue: String,
        /// Where the Jobs naming it go.
        namespace: String,
    },
    /// The cluster does not serve Kueue's LocalQueues at all (Kueue is not
    /// installed): the labels admit nothing.
    NotInstalled {
        /// `queue` in `namespace`, each named once.
        queues: Vec<(String, String)>,
    },
}

/// The queue and namespace of every rendered Job in a queue, each once.
pub fn named_queues(objects: &[Value]) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some("Job"))
        .filter_map(|o| {
            let queue = label(o, KUEUE_QUEUE)?;
            let namespace = o.pointer("/metadata/namespace")?.as_str()?;
            Some((queue.to_owned(), namespace.to_owned()))
        })
        .collect()
}

/// The problems with the queues `objects` name; none when every one exists.
pub async fn check_queues(
    cluster: &Cluster,
    objects: &[Value],
) -> Result<Vec<QueueProblem>, ClusterError> {
    let named = named_queues(objects);
    let mut problems = Vec::new();
    for (queue, namespace) in &named {
        let key = ObjectKey {
            api_version: LOCAL_QUEUE_API.to_owned(),
            kind: "LocalQueue".to_owned(),
            namespace: Some(namespace.clone()),
            name: queue.clone(),
        };
        let api = match cluster.api_for(&key).await {
            Ok(api) => api,
            Err(ClusterError::KindNotServed { .. }) => {
                return Ok(vec![QueueProblem::NotInstalled {
                    queues: named.into_iter().collect(),
                }]);
            }
            Err(e) => return Err(e),
        };
        let found = api
            .get_opt(queue)
            .await
            .map_err(|e| ClusterError::classify(e, Some(&key), &format!("reading {key}")))?;
        if found.is_none() {
            problems.push(QueueProblem::Missing {
                queue: queue.clone(),
                namespace: namespace.clone(),
            });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_queue_is_named_once_per_namespace() {
        let job = |queue: Option<&str>, ns: &str| {
            let labels = queue.map_or_else(|| json!({}), |q| json!({KUEUE_QUEUE: q}));
            json!({"kind": "Job", "metadata": {"name": "j", "namespace": ns, "labels": labels}})
        };
        let mut cm = job(Some("gpu"), "ml");
        cm["kind"] = json!("ConfigMap");
        let objects = [
            job(Some("gpu"), "ml"),
            job(Some("gpu"), "ml"),
            job(Some("gpu"), "team-b"),
            job(None, "ml"),
            cm,
        ];
        let named: Vec<_> = named_queues(&objects).into_iter().collect();
        assert_eq!(
            named,
            [
                ("gpu".to_owned(), "ml".to_owned()),
                ("gpu".to_owned(), "team-b".to_owned())
            ]
        );
    }
}
