//! How far a live Deployment, Job or pod got, read from its status: the
//! progress a wait follows, the state a `status` row shows for a training
//! run, and why something is still not ready when a wait runs out of time.
//! Typed answers only; `commands/` words them for the terminal and
//! [`super::error`] for the timeout's message.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};

use crate::object::ObjectKey;

/// How far one object got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going: `done` of `total` (ready pods, succeeded completions).
    Pending {
        /// Ready or succeeded.
        done: u64,
        /// Desired.
        total: u64,
    },
    /// Finished successfully.
    Ready,
    /// Finished and failed (a Job that failed, a rollout past its deadline).
    Failed(String),
}

/// Where a Deployment's rollout stands.
pub fn deployment_progress(d: &Deployment) -> Progress {
    let generation = d.metadata.generation.unwrap_or(0);
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as u64;
    let Some(status) = &d.status else {
        return Progress::Pending {
            done: 0,
            total: desired,
        };
    };
    let n = |v: Option<i32>| v.unwrap_or(0).max(0) as u64;
    if let Some(cond) = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        // The condition's message is the controller's; the reason stands in
        // when it has none.
        return Progress::Failed(
            cond.message
                .clone()
                .unwrap_or_else(|| "ProgressDeadlineExceeded".into()),
        );
    }
    let observed = status.observed_generation.unwrap_or(0) >= generation;
    let updated = n(status.updated_replicas);
    let available = n(status.available_replicas);
    let total = n(status.replicas);
    if observed && updated == desired && total == desired && available == desired {
        return Progress::Ready;
    }
    // The pods of the new revision that are available: the status counts
    // old and new pods together, so the old ones (`total - updated`, all
    // available while a rollout with `maxUnavailable: 0` runs) are taken
    // away. Mid-rollout, old pods that still serve are not progress.
    let old = total.saturating_sub(updated);
    Progress::Pending {
        done: if observed {
            available.saturating_sub(old).min(updated)
        } else {
            0
        },
        total: desired,
    }
}

/// Where a Job stands.
pub fn job_progress(job: &Job) -> Progress {
    let total = job
        .spec
        .as_ref()
        .and_then(|s| s.completions)
        .unwrap_or(1)
        .max(0) as u64;
    let Some(status) = &job.status else {
        return Progress::Pending { done: 0, total };
    };
    for cond in status.conditions.iter().flatten() {
        if cond.status != "True" {
            continue;
        }
        match cond.type_.as_str() {
            "Complete" => return Progress::Ready,
            "Failed" => {
                let reason = cond.reason.clone().unwrap_or_default();
                let message = cond.message.clone().unwrap_or_default();
                return Progress::Failed(format!("{reason}: {message}"));
            }
            _ => {}
        }
    }
    Progress::Pending {
        done: status.succeeded.unwrap_or(0).max(0) as u64,
        total,
    }
}

/// A training Job's state, for a `status` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Every completion succeeded.
    Complete,
    /// The Job failed.
    Failed,
    /// Pods are active: `done` of `total` completions succeeded.
    Running {
        /// Succeeded completions.
        done: u64,
        /// Completions asked for.
        total: u64,
    },
    /// Not finished and no pod active (not scheduled yet, or between retries).
    Pending,
    /// Waiting in a Kueue queue for quota, with Kueue's reason.
    Queued(Option<String>),
    /// Admitted by Kueue; no pod has started yet.
    Admitted,
    /// Preempted by Kueue, waiting to be admitted anew, with its reason.
    Preempted(Option<String>),
}

/// The state of a training Job.
pub fn run_state(job: &Job) -> RunState {
    match job_progress(job) {
        Progress::Ready => RunState::Complete,
        Progress::Failed(_) => RunState::Failed,
        Progress::Pending { done, total } => {
            let active = job.status.as_ref().and_then(|s| s.active).unwrap_or(0);
            if active > 0 {
                RunState::Running { done, total }
            } else {
                RunState::Pending
            }
        }
    }
}

/// Why one Deployment or Job is still not ready when a wait runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// The Deployment or Job.
    pub object: ObjectKey,
    /// Where it stands (never [`Progress::Ready`]).
    pub progress: Progress,
    /// Up to five of its pods that are not ready.
    pub pods: Vec<PodState>,
    /// The Warning events of the object and of those pods.
    pub warnings: Vec<Warning>,
}

/// Where one pod that is not ready stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    /// The pod's name.
    pub name: String,
    /// Its phase (`Pending`, `Running`); `None` when it has no status yet.
    pub phase: Option<String>,
    /// Not bound to a node: the scheduler's message or reason, if it gave one.
    pub unscheduled: Option<Option<String>>,
    /// Each container that is waiting or not ready.
    pub containers: Vec<ContainerState>,
}

/// One container of a pod that is not ready: waiting, not ready, or restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// The container's name.
    pub name: String,
    /// Waiting: its reason and message (`CrashLoopBackOff`, …); `None` when
    /// it runs but its readiness probe does not pass yet.
    pub waiting: Option<(String, String)>,
    /// Whether its readiness probe passes.
    pub ready: bool,
    /// How often it restarted.
    pub restarts: i32,
}

/// One Warning event about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The kind of the object it is about (`Pod`, `Deployment`).
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// The event's reason (`FailedScheduling`).
    pub reason: String,
    /// The event's message.
    pub message: String,
}

impl Warning {
    /// The Warning events among `events`, about the object named `name`.
    pub fn of(events: &[CoreEvent], name: &str) -> Vec<Warning> {
        events
            .iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .map(|e| Warning {
                kind: e
                    .involved_object
                    .kind
                    .clone()
                    .unwrap_or_else(|| "object".to_owned()),
                name: name.to_owned(),
                reason: e.reason.clone().unwrap_or_default(),
                message: e.message.as_deref().unwrap_or("").trim().to_owned(),
            })
            .collect()
    }
}

/// Whether a pod is ready (or ran to success).
pub fn pod_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Succeeded")
        || status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Where a pod stands: its phase, whether it is scheduled, and its
/// containers that wait or are not ready.
pub fn pod_state(pod: &Pod) -> PodState {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(status) = &pod.status else {
        return PodState {
            name,
            phase: None,
            unscheduled: None,
            containers: Vec::new(),
        };
    };
    let scheduled = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    let unscheduled = (!scheduled).then(|| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status != "True")
            .and_then(|c| c.message.clone().or(c.reason.clone()))
    });
    let containers = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|cs| {
            let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
            (waiting.is_some() || !cs.ready || cs.restart_count > 0).then(|| ContainerState {
                name: cs.name.clone(),
                waiting: waiting.map(|w| {
                    (
                        w.reason.clone().unwrap_or_default(),
                        w.message.clone().unwrap_or_default(),
                    )
                }),
                ready: cs.ready,
                restarts: cs.restart_count,
            })
        })
        .collect();
    PodState {
        name,
        phase: Some(status.phase.clone().unwrap_or_else(|| "Unknown".into())),
        unscheduled,
        containers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"completions": 3, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    fn deployment(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": 2},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    /// A rolling update of two replicas with `maxUnavailable: 0`: the two
    /// old pods serving beside a new pod that is not ready are no progress.
    #[test]
    fn old_pods_are_not_progress_of_a_rollout() {
        let at = |total: u64, updated: u64, available: u64| {
            deployment_progress(&deployment(
                2,
                json!({"observedGeneration": 2, "replicas": total,
                       "updatedReplicas": updated, "availableReplicas": available}),
            ))
        };
        let pending = |done| Progress::Pending { done, total: 2 };
        assert_eq!(at(3, 1, 2), pending(0));
        assert_eq!(at(3, 1, 3), pending(1));
        assert_eq!(at(3, 2, 2), pending(1));
        assert_eq!(at(3, 2, 3), pending(2));
        assert_eq!(at(2, 2, 2), Progress::Ready);
        assert_eq!(at(1, 1, 0), pending(0));
    }

    #[test]
    fn run_states() {
        assert_eq!(
            run_state(&job(json!({"active": 1, "succeeded": 1}))),
            RunState::Running { done: 1, total: 3 }
        );
        assert_eq!(run_state(&job(json!({}))), RunState::Pending);
        let complete = json!({"conditions": [{"type": "Complete", "status": "True"}]});
        assert_eq!(run_state(&job(complete)), RunState::Complete);
        let failed = json!({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]});
        assert_eq!(run_state(&job(failed)), RunState::Failed);
    }

    #[test]
    fn an_unscheduled_pod_with_a_crashing_container() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": []},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}],
                "containerStatuses": [
                    {"name": "server", "ready": false, "restartCount": 2, "image": "i", "imageID": "",
                     "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}},
                    {"name": "side", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
                     "state": {"running": {}}}
                ]
            }
        }))
        .unwrap();
        let state = pod_state(&pod);
        assert_eq!(state.phase.as_deref(), Some("Pending"));
        assert_eq!(
            state.unscheduled,
            Some(Some("0/1 nodes are available".to_owned()))
        );
        assert_eq!(
            state.containers,
            vec![ContainerState {
                name: "server".into(),
                waiting: Some(("CrashLoopBackOff".into(), "back-off".into())),
                ready: false,
                restarts: 2,
            }]
        );
        assert!(!pod_ready(&pod));
    }
}
