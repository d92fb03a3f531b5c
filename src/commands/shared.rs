//! What more than one command says or prints, worded once: the diff report
//! on stdout (`diff --base`, `diff`, `promote`), the line naming the cluster
//! a command connects to, how the cluster was read (`diff` and `apply
//! --verbose`), how a training Job ended (`train --follow`, `logs`), why
//! `--best` cannot choose (`runs`, `promote`), and what a render of
//! `generated/` did (`render`, `promote`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use modelctl_spec::model::Objective;

use crate::cluster::Cluster;
use crate::cluster::run_history::{RunStatus, TrainingRun, list_runs};
use crate::cluster::scan::ScanCounts;
use crate::environment::{Prepared, runtime};
use crate::generated_dir::{Conflicted, Plan};
use crate::manifest_diff::{ColorChoice, DiffReport, Format, render};
use crate::reconcile::compare::Difference;
use crate::reconcile::progress::Progress;
use crate::reconcile::requests::{RequestCounts, RequestKind};

/// How a diff report (`diff`) or a table (`status`) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Unified diff or aligned columns, coloured on a terminal.
    Text,
    /// Markdown for a pull-request comment.
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// The renderer's format for `format`, colouring text for stdout.
fn format_for_stdout(format: ReportFormat) -> Format {
    match format {
        ReportFormat::Text => {
            Format::Text(ColorChoice::from(crate::term::colour(&std::io::stdout())))
        }
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Json => Format::Json,
    }
}

/// Prints the report to stdout in `format`, through the one renderer in
/// [`crate::manifest_diff`], coloured only on a terminal without `NO_COLOR`.
pub(crate) fn print_report(report: &DiffReport, format: ReportFormat) {
    crate::term::out(&render(report, format_for_stdout(format)));
}

/// Says which environment, namespace and context, then connects.
pub(crate) async fn connect(prepared: &Prepared) -> anyhow::Result<Cluster> {
    let namespaces = prepared.all_namespaces();
    eprintln!(
        "environment `{}`: namespace{} {}, kubeconfig context {}",
        prepared.target.env,
        if namespaces.len() == 1 { "" } else { "s" },
        namespaces.join(", "),
        prepared.context.as_deref().unwrap_or("(current)")
    );
    prepared.connect().await
}

/// Every run of `model` in its namespace, newest first.
pub(crate) fn fetch_runs(prepared: &Prepared, model: &str) -> anyhow::Result<Vec<TrainingRun>> {
    let namespace = prepared.namespace_of(model);
    runtime()?.block_on(async {
        let cluster = connect(prepared).await?;
        list_runs(&cluster, namespace, model)
            .await
            .with_context(|| format!("listing the runs of `{model}` in {namespace}"))
    })
}

/// `compared 700 objects locally (2 list pages): 693 unchanged, 7 differ, 0 not found`.
/// and one line per object that differs, saying why.
pub(crate) fn scan_line(scan: &ScanCounts) -> String {
    let mut out = format!(
        "compared {} object(s) locally ({} list page(s)): {} unchanged, {} differ, {} not found",
        scan.same + scan.flagged + scan.unlisted,
        scan.pages,
        scan.same,
        scan.flagged,
        scan.unlisted
    );
    for (key, why) in &scan.reasons {
        out.push_str(&format!("\n  differs: {key}: {}", difference_words(why)));
    }
    out
}

/// Why the local comparison flagged an object, for `--verbose`.
fn difference_words(why: &Difference) -> String {
    match why {
        Difference::Deleting => "the live object is being deleted".to_owned(),
        Difference::NotApplied => "modelctl has not applied it (no managedFields entry)".to_owned(),
        Difference::OtherApiVersion => "modelctl applied it in another apiVersion".to_owned(),
        Difference::Malformed => "its managedFields entry is malformed".to_owned(),
        Difference::NoLongerRendered(path) => format!("{path} is no longer rendered"),
        Difference::NotOwned(path) => format!("{path} is not owned by modelctl"),
        Difference::NotSetLive(path) => format!("{path} is not set live"),
        Difference::Reordered(path) => format!("{path} would be reordered"),
        Difference::ValueDiffers(path) => format!("{path} differs"),
    }
}

/// `31 request(s): 4 discovery, 1 get, 9 list, 17 dry-run apply`: what
/// `diff` and `apply --verbose` sent.
pub(crate) fn requests_line(counts: &RequestCounts) -> String {
    let mut out = format!("sent {} request(s)", counts.total());
    let parts: Vec<String> = counts
        .by_kind()
        .map(|(kind, n)| format!("{n} {}", request_kind(kind)))
        .collect();
    if !parts.is_empty() {
        out.push_str(&format!(": {}", parts.join(", ")));
    }
    out
}

fn request_kind(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Discovery => "discovery",
        RequestKind::Get => "get",
        RequestKind::List => "list",
        RequestKind::Watch => "watch",
        RequestKind::DryRunApply => "dry-run apply",
        RequestKind::Apply => "apply",
        RequestKind::Delete => "delete",
        RequestKind::Other => "other",
    }
}

/// Says how a training Job ended: 0 when it completed, 1 when it failed.
pub(crate) fn job_end(end: &Progress, what: &str) -> ExitCode {
    match end {
        Progress::Failed(why) => {
            eprintln!("{what} failed: {why}");
            ExitCode::from(1)
        }
        Progress::Ready => {
            eprintln!("{what} completed");
            ExitCode::SUCCESS
        }
        Progress::Pending { .. } => ExitCode::SUCCESS,
    }
}

/// Why `--best` cannot choose: no objective.
pub(crate) fn no_objective(model: &str) -> String {
    format!(
        "models/{model}.toml declares no objective to rank runs by; add \
         `objective = {{ metric = \"val_accuracy\", goal = \"max\" }}` to its [train] section \
         (a key of the metrics.json your code writes), or name the run with --run"
    )
}

/// Why `--best` cannot choose: no succeeded run reported the metric.
pub(crate) fn no_best(model: &str, objective: &Objective, runs: &[TrainingRun]) -> String {
    let succeeded = runs
        .iter()
        .filter(|r| r.status == RunStatus::Succeeded)
        .count();
    format!(
        "no succeeded run of `{model}` reported `{}` ({} run(s), {succeeded} succeeded); \
         the objective ranks by a key of the metrics.json the training code writes",
        objective.metric,
        runs.len()
    )
}

/// Refuses a render whose models would overwrite each other's objects:
/// names each object and its specs, and exits 2; nothing was rendered.
pub(crate) fn refuse_conflicts(conflicted: &Conflicted) -> ExitCode {
    for c in &conflicted.conflicts {
        let sources: Vec<String> = c.sources.iter().map(|s| s.display().to_string()).collect();
        eprintln!(
            "error: {} in environment `{}` is rendered by {}",
            c.object,
            conflicted.env,
            sources.join(" and ")
        );
    }
    eprintln!("error: rename one of the models so their objects differ; nothing was rendered");
    ExitCode::from(2)
}

/// `rendered 2 environment(s) into generated: 3 file(s) written, 0 removed, 40 unchanged`.
pub(crate) fn say_rendered(plan: &Plan, shown: &Path) {
    eprintln!(
        "rendered {} environment(s) into {}: {} file(s) written, {} removed, {} unchanged",
        plan.environments,
        shown.display(),
        plan.write.len(),
        plan.remove.len(),
        plan.unchanged
    );
}

/// Warns, on stderr, of each Kueue LocalQueue the rendered Jobs name that
/// the cluster lacks. Only a warning: an admin may create the queue later,
/// and the Jobs wait for it.
pub async fn warn_of_queues(
    cluster: &Cluster,
    objects: &[serde_json::Value],
) -> anyhow::Result<()> {
    use crate::cluster::queues::{QueueProblem, check_queues};
    for problem in check_queues(cluster, objects).await? {
        match problem {
            QueueProblem::Missing { queue, namespace } => eprintln!(
                "warning: Kueue LocalQueue `{queue}` does not exist in namespace `{namespace}`: \
                 its training Jobs stay suspended until an admin creates it"
            ),
            QueueProblem::NotInstalled { queues } => {
                let named: Vec<String> = queues
                    .iter()
                    .map(|(q, ns)| format!("`{q}` in `{ns}`"))
                    .collect();
                eprintln!(
                    "warning: the cluster does not serve Kueue's LocalQueues, so the queues the training Jobs name ({}) admit nothing: \
                     the Jobs run as soon as they are applied",
                    named.join(", ")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectKey;
    use crate::reconcile::requests::RequestLog;

    #[test]
    fn requests_line_counts_by_kind() {
        let log = RequestLog::default();
        let get = |p: &str| http::Request::get(p).body(()).unwrap();
        log.record(&get("/api/v1/namespaces/ml/configmaps?limit=500"));
        log.record(&get("/api/v1/namespaces/ml/configmaps/x"));
        log.record(&get("/api/v1/namespaces/ml/services?limit=500"));
        assert_eq!(
            requests_line(&log.snapshot()),
            "sent 3 request(s): 1 get, 2 list"
        );
        assert_eq!(
            requests_line(&RequestCounts::default()),
            "sent 0 request(s)"
        );
    }

    #[test]
    fn scan_line_names_each_flagged_object_and_why() {
        let key = |name: &str| ObjectKey {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ml".into()),
            name: name.into(),
        };
        let scan = ScanCounts {
            pages: 2,
            same: 5,
            flagged: 2,
            unlisted: 1,
            reasons: vec![
                (key("a"), Difference::ValueDiffers(".spec.replicas".into())),
                (key("b"), Difference::NotApplied),
            ],
        };
        assert_eq!(
            scan_line(&scan),
            "compared 8 object(s) locally (2 list page(s)): 5 unchanged, 2 differ, 1 not found\n  \
             differs: Deployment ml/a: .spec.replicas differs\n  \
             differs: Deployment ml/b: modelctl has not applied it (no managedFields entry)"
        );
    }
}
