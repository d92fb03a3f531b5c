//! The pure half of the cluster work: what modelctl decides about a cluster
//! without sending a request. [`cluster`](crate::cluster) asks the API
//! server; this module reconciles what it renders with what the server holds
//! and answers:
//!
//! - [`compare`]: would a server-side apply change a listed object (the fast
//!   path's local comparison);
//! - [`fields`]: which field manager owns which field (`managedFields`);
//! - [`normalize`]: an object as a diff shows it, Secret values masked;
//! - [`outcomes`]: per-object results of a cluster diff folded into one
//!   [`DiffReport`](crate::manifest_diff::DiffReport);
//! - [`progress`]: how far a Deployment, Job or pod got, from its status;
//! - [`error`]: what an API server's answer means ([`ClusterError`]);
//! - [`requests`]: what kind of request each one is, for `--verbose`;
//! - [`rbac`]: the Role those requests need;
//! - [`adhoc_run`]: the objects of an ad-hoc training run.
//!
//! Named for what the pieces decide (does the rendered object match the live
//! one, what does the answer mean, what must be asked for) and kept apart
//! from `cluster/` so a reader knows from the path which code may touch the
//! network: nothing here holds a client, sends a request or prints. Every
//! function takes JSON objects or API answers and is tested without the API
//! server test double.

pub mod adhoc_run;
pub mod compare;
pub mod error;
pub mod fields;
pub mod kueue;
pub mod normalize;
pub mod outcomes;
pub mod progress;
pub mod rbac;
pub mod requests;

pub use error::ClusterError;
