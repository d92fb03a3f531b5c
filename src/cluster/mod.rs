//! The only code that talks to a Kubernetes API server: connection and
//! discovery ([`connect`]), server-side apply dry runs and diffs ([`diff`]),
//! staged apply ([`apply`]), the inventory and prune ([`inventory`],
//! [`prune`]), rollout and Job waits ([`wait`]), `status` rows ([`status`]),
//! training runs and their logs ([`runs`]), and the Role those requests
//! need ([`rbac`]).
//!
//! Everything takes whole JSON objects (what `compile` renders), never spec
//! types, so it can be tested against a test double of the API server. It
//! returns data and sends events; it never prints or draws progress (that
//! is `commands/`' job). Objects are named by [`crate::object::ObjectKey`].

pub mod apply;
pub mod compare;
pub mod connect;
pub mod diff;
pub mod error;
pub mod fields;
pub mod history;
pub mod inventory;
pub mod normalize;
pub mod prune;
pub mod rbac;
pub mod requests;
pub mod runs;
pub mod scan;
pub mod status;
pub mod wait;

pub use connect::Cluster;
pub use error::ClusterError;
pub use inventory::Target;
