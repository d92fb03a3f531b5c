//! `[train]` to objects: the ConfigMap and the Job, both named
//! `<model>-train-<hash8>`.
//!
//! Owns the naming rule: the hash covers everything the two objects contain
//! (the resolved train spec and the environment's settings as they land in
//! the pod), so any change yields a new Job rather than a patch of an
//! immutable one.

use modelctl_spec::model::Train;

use super::labels::{self, Component};
use super::{Ctx, Manifest, configmap, hash, job};
use crate::object::labels::TRAIN_HASH;

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
    let hashed = serde_json::to_vec(&(&data, &unnamed.spec)).expect("objects serialize to JSON");
    let hash = hash::hash8(hashed);
    let name = format!("{}-train-{hash}", ctx.name());

    let mut labels = labels::labels(ctx, Component::Train, None, &hash);
    labels.insert(TRAIN_HASH.to_owned(), hash.clone());

    out.push(ctx.manifest(&configmap::build(ctx, &name, labels.clone(), data)));
    out.push(ctx.manifest(&job::build(ctx, train, &name, &name, labels)));
}
