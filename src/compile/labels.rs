//! Labels, selectors and annotations every generated object carries.
//!
//! Owns which labels and annotations each object gets and which of them go
//! into immutable selectors; their names live in [`crate::object::labels`].
//! Must not change a selector's keys: Deployment selectors cannot be changed
//! in place.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Ctx;
use crate::object::labels::{
    COMPONENT, MANAGED_BY, MANAGER, NAME, OWNER, PART_OF, SOURCE, TRACK, VERSION,
};

/// Which part of a model an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Training: ConfigMap and Job.
    Train,
    /// Serving: Deployment, Service, route, autoscaler, disruption budget.
    Serve,
}

impl Component {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Train => "train",
            Component::Serve => "serve",
        }
    }
}

/// Which serving Deployment: the main one or the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The main version.
    Stable,
    /// The canary version.
    Canary,
}

impl Track {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }

    /// The name of this track's Deployment and Service.
    pub fn object_name(self, model: &str) -> String {
        match self {
            Track::Stable => model.to_owned(),
            Track::Canary => format!("{model}-canary"),
        }
    }
}

/// The labels selecting a model's pods of one component (and track). These
/// keys never change, since selectors are immutable.
pub(crate) fn selector(
    ctx: &Ctx<'_>,
    component: Component,
    track: Option<Track>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(NAME.to_owned(), ctx.name().to_owned());
    labels.insert(COMPONENT.to_owned(), component.as_str().to_owned());
    if let Some(track) = track {
        labels.insert(TRACK.to_owned(), track.as_str().to_owned());
    }
    labels
}

/// The full label set: the selector plus `part-of`, `managed-by` and `version`.
pub(crate) fn labels(
    ctx: &Ctx<'_>,
    component: Component,
    track: Option<Track>,
    version: &str,
) -> BTreeMap<String, String> {
    let mut labels = selector(ctx, component, track);
    labels.insert(PART_OF.to_owned(), ctx.env.part_of.clone());
    labels.insert(MANAGED_BY.to_owned(), MANAGER.to_owned());
    if !version.is_empty() {
        labels.insert(VERSION.to_owned(), version.to_owned());
    }
    labels
}

/// The annotations of every top-level object: its source spec and owner.
pub(crate) fn annotations(ctx: &Ctx<'_>) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    annotations.insert(
        SOURCE.to_owned(),
        ctx.model.source.to_string_lossy().replace('\\', "/"),
    );
    if let Some(owner) = &ctx.spec.owner {
        annotations.insert(OWNER.to_owned(), owner.to_string());
    }
    annotations
}

/// Metadata of a top-level object in the environment's namespace.
pub(crate) fn metadata(ctx: &Ctx<'_>, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ctx.namespace().to_owned()),
        labels: Some(labels),
        annotations: Some(annotations(ctx)),
        ..ObjectMeta::default()
    }
}
