//! `[serve]` to objects: Deployment(s), Service(s), autoscaler, disruption
//! budget and route, in that order.
//!
//! Owns the replica rules: a fixed count goes on the Deployment; a range
//! becomes an autoscaler and the Deployment has no `replicas`; a budget
//! exists when at least two replicas run; a canary runs its share of the
//! (minimum) replicas, at least one.

use modelctl_spec::model::{Replicas, Serve};

use super::labels::Track;
use super::{Ctx, Manifest, deployment, hash, hpa, pdb, route, service};

/// Appends the serving objects of `serve` to `out`.
pub(crate) fn render(ctx: &Ctx<'_>, serve: &Serve, out: &mut Vec<Manifest>) {
    let version = hash::hash8(serve.model.as_str());
    let (fixed, range, min) = match &serve.replicas {
        None => (Some(1), None, 1),
        Some(Replicas::Fixed(n)) => (Some(n.get()), None, n.get()),
        Some(Replicas::Range(r)) => (None, Some(r), r.min.get()),
    };
    let fixed = fixed.map(|n| i32::try_from(n).unwrap_or(i32::MAX));

    out.push(ctx.manifest(&deployment::build(
        ctx,
        serve,
        Track::Stable,
        serve.model.as_str(),
        fixed,
    )));
    if let Some(canary) = &serve.canary {
        let share = (u64::from(min) * u64::from(canary.weight.get())).div_ceil(100);
        let replicas = i32::try_from(share.max(1)).unwrap_or(i32::MAX);
        out.push(ctx.manifest(&deployment::build(
            ctx,
            serve,
            Track::Canary,
            canary.model.as_str(),
            Some(replicas),
        )));
    }
    out.push(ctx.manifest(&service::build(ctx, Track::Stable, &version)));
    if let Some(canary) = &serve.canary {
        let canary_version = hash::hash8(canary.model.as_str());
        out.push(ctx.manifest(&service::build(ctx, Track::Canary, &canary_version)));
    }
    if let Some(range) = range {
        out.push(ctx.manifest(&hpa::build(ctx, range, &version)));
    }
    if min >= 2 {
        out.push(ctx.manifest(&pdb::build(ctx, &version)));
    }
    if let Some(r) = &serve.route {
        let canary = serve
            .canary
            .as_ref()
            .map(|c| (Track::Canary.object_name(ctx.name()), c.weight.get()));
        let backends = route::backends(ctx.name(), canary);
        route::render(ctx, r, &backends, &version, out);
    }
}
