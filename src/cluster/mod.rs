//! The only code that talks to a Kubernetes API server, and only code that
//! does: connection and discovery ([`connect`]), the fast path's LIST scan
//! ([`scan`]), server-side apply dry runs and diffs ([`diff`]), staged apply
//! ([`apply`]), the inventory and prune ([`inventory`], [`prune`]), rollout
//! and Job waits ([`wait`]), `status` rows ([`status`]), ad-hoc training
//! runs ([`train`]), their logs ([`logs`]) and the run history `modelctl
//! runs` lists ([`run_history`]).
//!
//! What it decides without a request (comparing, normalizing, classifying
//! answers, the Role its requests need) is in [`crate::reconcile`].
//!
//! Everything takes whole JSON objects (what `compile` renders), never spec
//! types, so it can be tested against a test double of the API server. It
//! returns typed data and sends typed events ([`apply::ApplyEvent`],
//! [`logs::LogLine`], [`wait::WaitEvent`]); it never prints or draws
//! progress. `commands/` words all of it for the terminal: a `status` row
//! ([`status::ModelStatus`]: the run's [`RunState`](crate::reconcile::progress::RunState),
//! the [`status::Autoscaler`]), why the scan flagged an object
//! ([`Difference`](crate::reconcile::compare::Difference)). Two kinds of
//! text remain, both messages rather than words for one screen: errors
//! carry their message ([`ClusterError`], worded in `reconcile/error.rs`,
//! a wait's timeout from the typed [`NotReady`](crate::reconcile::progress::NotReady)
//! included), and a failed run's `error` ([`run_history::TrainingRun`]) is the
//! cluster's own message, prefixed with the container and exit code.
//! Objects are named by
//! [`crate::object::ObjectKey`].

pub mod apply;
pub mod connect;
pub mod diff;
pub mod inventory;
pub mod logs;
pub mod prune;
pub mod queues;
pub mod run_history;
pub mod scan;
pub mod status;
pub mod train;
pub mod wait;

/// The error every function here returns, classified in [`crate::reconcile::error`].
pub use crate::reconcile::ClusterError;
pub use connect::Cluster;
pub use inventory::Target;
