//! `[serve]` to objects: Deployment(s), Service(s), autoscaler(s),
//! disruption budget, PodMonitor and route(s), in that order.
//!
//! Owns the replica rules: a fixed count goes on the Deployment; a range
//! becomes an autoscaler and the Deployment has no `replicas`; a budget
//! exists when at least two replicas run; a canary runs its share of the
//! (minimum) replicas, at least one. A range with load targets
//! (`target-inflight`, `target-queue`) scales the canary too, on its own
//! pods' load, within its share of `min` and `max`; the environment's
//! provider decides between a KEDA ScaledObject and an HPA.

use modelctl_spec::model::{ReplicaRange, Replicas, Serve};
use modelctl_spec::{AutoscalingProvider, ScrapeMode};

use super::hpa::Scaling;
use super::labels::Track;
use super::{Ctx, Manifest, deployment, hash, hpa, pdb, podmonitor, route, scaledobject, service};

/// A canary's share of `n` replicas at `weight` percent: at least one.
fn share(n: u32, weight: u32) -> u32 {
    let share = (u64::from(n) * u64::from(weight)).div_ceil(100).max(1);
    u32::try_from(share).unwrap_or(u32::MAX)
}

/// Appends the serving objects of `serve` to `out`.
pub(crate) fn render(ctx: &Ctx<'_>, serve: &Serve, out: &mut Vec<Manifest>) {
    let version = hash::hash8(serve.model.as_str());
    let (fixed, range, min) = match &serve.replicas {
        None => (Some(1), None, 1),
        Some(Replicas::Fixed(n)) => (Some(n.get()), None, n.get()),
        Some(Replicas::Range(r)) => (None, Some(r), r.min.get()),
    };
    let fixed = fixed.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    // The canary follows its own load when the main track does.
    let canary_scaled = range.filter(|r| r.scales_on_load());

    out.push(ctx.manifest(&deployment::build(
        ctx,
        serve,
        Track::Stable,
        serve.model.as_str(),
        fixed,
    )));
    if let Some(canary) = &serve.canary {
        let replicas = i32::try_from(share(min, canary.weight.get())).unwrap_or(i32::MAX);
        out.push(ctx.manifest(&deployment::build(
            ctx,
            serve,
            Track::Canary,
            canary.model.as_str(),
            canary_scaled.is_none().then_some(replicas),
        )));
    }
    out.push(ctx.manifest(&service::build(ctx, Track::Stable, &version)));
    let canary_version = serve.canary.as_ref().map(|c| hash::hash8(c.model.as_str()));
    if let Some(canary_version) = &canary_version {
        out.push(ctx.manifest(&service::build(ctx, Track::Canary, canary_version)));
    }
    if let Some(range) = range {
        let bounds = (range.min.get(), range.max.get());
        let stable = Scaling::new(ctx, range, Track::Stable, &version, bounds);
        autoscaler(ctx, range, &stable, out);
        if let (Some(range), Some(canary), Some(canary_version)) =
            (canary_scaled, &serve.canary, &canary_version)
        {
            let w = canary.weight.get();
            let bounds = (share(range.min.get(), w), share(range.max.get(), w));
            let scaling = Scaling::new(ctx, range, Track::Canary, canary_version, bounds);
            autoscaler(ctx, range, &scaling, out);
        }
    }
    if min >= 2 {
        out.push(ctx.manifest(&pdb::build(ctx, &version)));
    }
    if ctx.env.scrape == ScrapeMode::Podmonitor {
        out.push(ctx.manifest(&podmonitor::build(ctx, &version)));
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

/// The autoscaler of one track: a ScaledObject when the range scales on
/// load and the environment's provider is KEDA (with its Prometheus), an
/// HPA otherwise (CPU alone never needs KEDA).
fn autoscaler(ctx: &Ctx<'_>, range: &ReplicaRange, scaling: &Scaling<'_>, out: &mut Vec<Manifest>) {
    let autoscaling = &ctx.env.autoscaling;
    match (autoscaling.provider, &autoscaling.prometheus) {
        (Some(AutoscalingProvider::Keda), Some(prometheus)) if range.scales_on_load() => {
            out.push(ctx.manifest(&scaledobject::build(ctx, scaling, prometheus)));
        }
        _ => out.push(ctx.manifest(&hpa::build(ctx, scaling))),
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn a_canary_share_rounds_up_and_is_never_zero() {
        assert_eq!(share(2, 10), 1);
        assert_eq!(share(20, 10), 2);
        assert_eq!(share(21, 10), 3);
        assert_eq!(share(1, 1), 1);
    }
}
