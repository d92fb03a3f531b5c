//! The run history `modelctl runs` (and `promote`) reads: a model's training
//! runs read from the cluster alone (Jobs, their pods, and the termination
//! message of each pod's `export` container), one [`TrainingRun`] per run:
//! a plain Job is one run, each index of a sweep's Indexed Job is another.
//!
//! The termination message is one JSON object (`run`, `output`, `params`,
//! `metrics`, `model`, `truncated`, or `error` on failure). A trial that
//! ended before exporting has none; its parameters then come from the Job's
//! `modelctl.io/sweep` annotation. Objects from before either existed still
//! list, with what is known. Reads only; needs no storage credentials.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use modelctl_spec::ExportReport;
use serde::Serialize;
use serde_json::Value;

use super::connect::Cluster;
use crate::object::labels::{COMPONENT, KUEUE_QUEUE, NAME, NODES, SWEEP};
use crate::reconcile::ClusterError;
use crate::reconcile::kueue::{self, Admission};
use crate::reconcile::progress::{Progress, job_progress};

/// The container whose termination message records the run.
pub const EXPORT_CONTAINER: &str = "export";
const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// How a run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not started: no pod has run yet.
    Pending,
    /// Waiting in a Kueue queue for quota (suspended, not admitted).
    Queued,
    /// Admitted by Kueue; its pods have not started yet.
    Admitted,
    /// Preempted by Kueue: suspended again, waiting to be admitted anew.
    Preempted,
    /// A pod is running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished and failed.
    Failed,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunStatus::Pending => "pending",
            RunStatus::Queued => "queued",
            RunStatus::Admitted => "admitted",
            RunStatus::Preempted => "preempted",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        })
    }
}

/// One training run as the cluster records it (a row of `modelctl runs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRun {
    /// The run's name: the Job's, plus `-<index>` for a sweep trial.
    pub run: String,
    /// The Job.
    pub job: String,
    /// The sweep index, for a trial.
    pub index: Option<u32>,
    /// The trial's parameters (empty outside a sweep).
    pub params: BTreeMap<String, String>,
    /// When its pod (or, without one, its Job) started, RFC 3339.
    pub started: Option<String>,
    /// Seconds from start to end, once ended.
    pub duration_seconds: Option<i64>,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it failed, when known.
    pub error: Option<String>,
    /// Why it is queued or was preempted, as Kueue says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the code wrote to `metrics.json`.
    pub metrics: BTreeMap<String, f64>,
    /// Where the model was exported.
    pub output: Option<String>,
    /// The exported `.onnx` file, when the export holds exactly one.
    pub model: Option<String>,
    /// Metrics were dropped to fit the termination message.
    pub truncated: bool,
}

/// Every run of `model` in `namespace`, newest Job first, a sweep's trials
/// in index order.
pub async fn list_runs(
    cluster: &Cluster,
    namespace: &str,
    model: &str,
) -> Result<Vec<TrainingRun>, ClusterError> {
    let selector = format!("{NAME}={model},{COMPONENT}=train");
    let params = ListParams::default().labels(&selector);
    let jobs = Api::<Job>::namespaced(cluster.client().clone(), namespace)
        .list(&params)
        .await
        .map_err(|e| {
            ClusterError::classify(
                e,
                None,
                &format!("listing the training Jobs of {model} in {namespace}"),
            )
        })?;
    let pods = Api::<Pod>::namespaced(cluster.client().clone(), namespace)
        .list(&params)
        .await
        .map_err(|e| {
            ClusterError::classify(
                e,
                None,
                &format!("listing the training pods of {model} in {namespace}"),
            )
        })?;
    let workloads = if jobs.items.iter().any(in_queue) {
        workloads(cluster, namespace).await?
    } else {
        Vec::new()
    };
    Ok(records(jobs.items, &pods.items, &workloads))
}

fn in_queue(job: &Job) -> bool {
    job.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(KUEUE_QUEUE))
}

/// Kueue's Workloads in `namespace`, as JSON; none where Kueue's API is not
/// served.
pub async fn workloads(cluster: &Cluster, namespace: &str) -> Result<Vec<Value>, ClusterError> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kueue.x-k8s.io", "v1beta2", "Workload"),
        "workloads",
    );
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client().clone(), namespace, &resource);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list
            .items
            .iter()
            .filter_map(|w| serde_json::to_value(w).ok())
            .collect()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Vec::new()),
        Err(e) => Err(ClusterError::classify(
            e,
            None,
            &format!("listing Kueue's Workloads in {namespace}"),
        )),
    }
}

/// The runs of `jobs`, from their `pods` and Kueue's `workloads`: newest
/// Job first.
pub fn records(mut jobs: Vec<Job>, pods: &[Pod], workloads: &[Value]) -> Vec<TrainingRun> {
    jobs.sort_by(|a, b| {
        let key = |j: &Job| {
            (
                j.metadata.creation_timestamp.clone(),
                j.metadata.name.clone(),
            )
        };
        key(b).cmp(&key(a))
    });
    let mut by_job: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for pod in pods {
        if let Some(job) = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(JOB_NAME_LABEL))
        {
            by_job.entry(job.as_str()).or_default().push(pod);
        }
    }
    let mut out = Vec::new();
    for job in &jobs {
        let name = job.metadata.name.clone().unwrap_or_default();
        let pods = by_job.get(name.as_str()).cloned().unwrap_or_default();
        let spec = job.spec.as_ref();
        let indexed = spec.and_then(|s| s.completion_mode.as_deref()) == Some("Indexed");
        let started = pods.iter().any(|p| phase(p) != "Pending" || pod_started(p));
        let admission = kueue::admission(job, kueue::workload_of(job, workloads), started);
        let first = out.len();
        let multi_node = job
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(NODES));
        if !indexed || multi_node {
            // A multi-node run is one run; worker 0 exported it.
            let pods: Vec<&Pod> = if multi_node {
                pods.iter()
                    .copied()
                    .filter(|p| pod_index(p) == Some(0))
                    .collect()
            } else {
                pods
            };
            out.push(job_run(job, &name, &pods));
            admit(&mut out[first..], admission);
            continue;
        }
        let completions = spec.and_then(|s| s.completions).unwrap_or(1).max(0) as u32;
        let sweep: Vec<BTreeMap<String, Value>> = job
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SWEEP))
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let status = job.status.as_ref();
        let completed = indexes(status.and_then(|s| s.completed_indexes.as_deref()));
        let failed = indexes(status.and_then(|s| s.failed_indexes.as_deref()));
        let job_failed = matches!(job_progress(job), Progress::Failed(_));
        for index in 0..completions {
            let of_index: Vec<&Pod> = pods
                .iter()
                .copied()
                .filter(|p| pod_index(p) == Some(index))
                .collect();
            let known = if completed.contains(&index) {
                Some(RunStatus::Succeeded)
            } else if failed.contains(&index) {
                Some(RunStatus::Failed)
            } else {
                None
            };
            let mut record = pod_run(
                &format!("{name}-{index}"),
                &name,
                &of_index,
                known,
                job_failed,
            );
            record.index = Some(index);
            if record.params.is_empty()
                && let Some(params) = sweep.get(index as usize)
            {
                record.params = strings(params);
            }
            out.push(record);
        }
        admit(&mut out[first..], admission);
    }
    out
}

/// Kueue's word on the unfinished runs of one Job.
fn admit(runs: &mut [TrainingRun], admission: Option<Admission>) {
    let Some(admission) = admission else {
        return;
    };
    let (status, reason) = match admission {
        Admission::Queued(reason) => (RunStatus::Queued, reason),
        Admission::Admitted => (RunStatus::Admitted, None),
        Admission::Preempted(reason) => (RunStatus::Preempted, reason),
    };
    for run in runs
        .iter_mut()
        .filter(|r| matches!(r.status, RunStatus::Pending | RunStatus::Running))
    {
        run.status = status;
        run.reason.clone_from(&reason);
    }
}

/// Whether any container of the pod is running or ran.
fn pod_started(pod: &Pod) -> bool {
    statuses(pod).any(|s| {
        s.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
    })
}

/// A Job that is not a sweep: its status is the Job's.
fn job_run(job: &Job, name: &str, pods: &[&Pod]) -> TrainingRun {
    let known = match job_progress(job) {
        Progress::Ready => Some(RunStatus::Succeeded),
        Progress::Failed(_) => Some(RunStatus::Failed),
        Progress::Pending { .. } => None,
    };
    let mut record = pod_run(name, name, pods, known, false);
    if let Progress::Failed(why) = job_progress(job)
        && record.error.is_none()
    {
        record.error = Some(why);
    }
    let status = job.status.as_ref();
    if record.started.is_none() {
        record.started = status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string());
    }
    if record.duration_seconds.is_none()
        && let (Some(start), Some(end)) = (
            status.and_then(|s| s.start_time.as_ref()),
            status.and_then(|s| s.completion_time.as_ref()),
        )
    {
        record.duration_seconds = Some(seconds_between(start.0, end.0));
    }
    record
}

/// One run from the pods that ran it (retries included): the newest pod
/// that succeeded, else the newest pod.
fn pod_run(
    run: &str,
    job: &str,
    pods: &[&Pod],
    known: Option<RunStatus>,
    job_failed: bool,
) -> TrainingRun {
    let mut pods: Vec<&Pod> = pods.to_vec();
    pods.sort_by_key(|p| p.metadata.creation_timestamp.clone());
    let pod = pods
        .iter()
        .rev()
        .find(|p| phase(p) == "Succeeded")
        .or(pods.last())
        .copied();
    let export = pod.and_then(export_status);
    let report = export
        .and_then(termination_message)
        .and_then(|m| ExportReport::parse(&m));
    let status = known.unwrap_or_else(|| match pod.map(phase) {
        Some("Succeeded") => RunStatus::Succeeded,
        Some("Failed") => RunStatus::Failed,
        Some("Running") => RunStatus::Running,
        // A pod is Pending while its init containers (the training) run.
        _ if pod.is_some_and(|p| {
            statuses(p).any(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()))
        }) =>
        {
            RunStatus::Running
        }
        _ if job_failed => RunStatus::Failed,
        _ => RunStatus::Pending,
    });
    let started = pod.and_then(|p| p.status.as_ref()?.start_time.as_ref().map(|t| t.0));
    let ended = pod.and_then(finished_at);
    let report = report.unwrap_or_default();
    let error = report.error.clone().or_else(|| {
        (status == RunStatus::Failed)
            .then(|| pod.and_then(failure))
            .flatten()
    });
    TrainingRun {
        run: report.run.clone().unwrap_or_else(|| run.to_owned()),
        job: job.to_owned(),
        index: None,
        params: report.params.unwrap_or_default(),
        started: started.map(|t| t.to_string()),
        duration_seconds: match (started, ended, status) {
            (Some(s), Some(e), RunStatus::Succeeded | RunStatus::Failed) => {
                Some(seconds_between(s, e))
            }
            _ => None,
        },
        status,
        error,
        reason: None,
        metrics: report
            .metrics
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .collect(),
        output: report.output,
        model: report.model,
        truncated: report.truncated,
    }
}

fn strings(params: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn pod_index(pod: &Pod) -> Option<u32> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INDEX_ANNOTATION))
        .or_else(|| pod.metadata.labels.as_ref()?.get(INDEX_ANNOTATION))
        .and_then(|i| i.parse().ok())
}

/// Every container status of the pod, init containers first.
fn statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    pod.status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    })
}

/// The `export` container's status (a main container, or a native sidecar).
fn export_status(pod: &Pod) -> Option<&ContainerStatus> {
    statuses(pod).find(|s| s.name == EXPORT_CONTAINER)
}

fn termination_message(status: &ContainerStatus) -> Option<String> {
    let current = status.state.as_ref().and_then(|s| s.terminated.as_ref());
    let last = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    current
        .and_then(|t| t.message.clone())
        .or_else(|| last.and_then(|t| t.message.clone()))
}

/// When the pod's last container to end ended.
fn finished_at(pod: &Pod) -> Option<Timestamp> {
    statuses(pod)
        .filter_map(|s| s.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
}

/// Why a pod failed: the first container that ended non-zero, with its
/// exit code and its whole termination message (for `train` and
/// `fetch-code`, the last lines of its log: they fall back to the log on
/// error), else the container's reason; without one, the pod's reason.
/// A message of several lines starts on the line after the container's.
fn failure(pod: &Pod) -> Option<String> {
    let failed = statuses(pod).find_map(|s| {
        let t = s.state.as_ref()?.terminated.as_ref()?;
        (t.exit_code != 0).then(|| {
            let head = format!("container {} exited {}", s.name, t.exit_code);
            let message = t
                .message
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty());
            match message {
                Some(m) if m.contains('\n') => format!("{head}:\n{m}"),
                Some(m) => format!("{head}: {m}"),
                None => format!("{head}: {}", t.reason.as_deref().unwrap_or("")),
            }
        })
    });
    failed.or_else(|| {
        let status = pod.status.as_ref()?;
        status.message.clone().or(status.reason.clone())
    })
}

fn seconds_between(start: Timestamp, end: Timestamp) -> i64 {
    end.as_second() - start.as_second()
}

/// The indexes of a Job status' interval list (`1,3-5,7`).
fn indexes(list: Option<&str>) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in list.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    out.extend(a..=b.min(a.saturating_add(100_000)));
                }
            }
            None => {
                if let Ok(i) = part.trim().parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}

/// The best succeeded run by `metric` (`max`: largest; `min`: smallest);
/// among equals, the first (newest). `None` when no succeeded run has it.
pub fn best<'a>(
    runs: &'a [TrainingRun],
    metric: &str,
    goal: modelctl_spec::values::Goal,
) -> Option<&'a TrainingRun> {
    let mut best: Option<(&TrainingRun, f64)> = None;
    for run in runs.iter().filter(|r| r.status == RunStatus::Succeeded) {
        let Some(value) = run.metrics.get(metric).copied().filter(|v| v.is_finite()) else {
            continue;
        };
        if best.is_none_or(|(_, b)| goal.better(value, b)) {
            best = Some((run, value));
        }
    }
    best.map(|(run, _)| run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_parse() {
        assert_eq!(indexes(Some("0,2-4,7")), BTreeSet::from([0, 2, 3, 4, 7]));
        assert!(indexes(None).is_empty());
        assert!(indexes(Some("x")).is_empty());
    }
}
