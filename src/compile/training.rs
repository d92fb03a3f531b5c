//! `[train]` to objects: the ConfigMap and the Job, both named
//! `<model>-train-<hash8>`, and for a run on several nodes the headless
//! Service of the same name that gives each worker a stable host name.
//!
//! Owns the naming rule: the hash covers everything the two objects contain
//! (the resolved train spec and the environment's settings as they land in
//! the pod, and the Kueue queue and priority the Job is labelled with), so
//! any change yields a new Job rather than a patch of an immutable one.

use modelctl_spec::model::Train;

use std::collections::BTreeMap;

use super::labels::{self, Component};
use super::{Ctx, Manifest, configmap, hash, job};
use crate::object::labels::{KUEUE_PRIORITY, KUEUE_QUEUE, TRAIN_HASH};

/// Appends the training objects of `train` to `out`.
pub(crate) fn render(ctx: &Ctx<'_>, train: &Train, out: &mut Vec<Manifest>) {
    let data = configmap::data(ctx, train);

    // Hash the contents with the names left blank, then name both objects.
    let unnamed = job::build(
        ctx,
        train,
        "",
        "",
        labels::selector(ctx, Component::Train, None),
    );
    let kueue = kueue_labels(ctx, train);
    // Without Kueue the hash is what it always was, so Jobs rendered before
    // queues existed keep their names.
    let hashed = if kueue.is_empty() {
        serde_json::to_vec(&(&data, &unnamed.spec))
    } else {
        serde_json::to_vec(&(&data, &unnamed.spec, &kueue))
    }
    .expect("objects serialize to JSON");
    let hash = hash::hash8(hashed);
    let name = format!("{}-train-{hash}", ctx.name());

    let mut labels = labels::labels(ctx, Component::Train, None, &hash);
    labels.insert(TRAIN_HASH.to_owned(), hash.clone());

    out.push(ctx.manifest(&configmap::build(ctx, &name, labels.clone(), data)));
    if train.workers() > 1 {
        out.push(ctx.manifest(&job::workers_service(ctx, &name, &hash, labels.clone())));
    }
    let mut built = job::build(ctx, train, &name, &name, labels);
    if let Some(job_labels) = built.metadata.labels.as_mut() {
        job_labels.extend(kueue);
    }
    out.push(ctx.manifest(&built));
}

/// The Kueue labels of the training Job: its LocalQueue and priority class,
/// the spec's over the environment's. On the Job only: Kueue reads them
/// there, and on pods they would ask Kueue's pod integration to queue each
/// pod again.
fn kueue_labels(ctx: &Ctx<'_>, train: &Train) -> BTreeMap<String, String> {
    let queue = train.queue.as_ref().or(ctx.env.queue.as_ref());
    let priority = train.priority.as_ref().or(ctx.env.priority.as_ref());
    let mut labels = BTreeMap::new();
    if let Some(queue) = queue {
        labels.insert(KUEUE_QUEUE.to_owned(), queue.as_str().to_owned());
        if let Some(priority) = priority {
            labels.insert(KUEUE_PRIORITY.to_owned(), priority.as_str().to_owned());
        }
    }
    labels
}
