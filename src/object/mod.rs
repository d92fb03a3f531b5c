//! Which object, and the marks modelctl puts on what it owns: the one home
//! of an object's identity ([`ObjectKey`]) and of modelctl's label and
//! annotation names ([`labels`]).
//!
//! A leaf: both `compile` (which writes the labels) and `cluster` (which
//! selects and diffs by them) import it. It must not depend on either, nor on
//! any Kubernetes client code; it reads plain JSON objects.

mod key;
pub mod labels;
pub mod stage;

pub use key::{Identity, KeyError, ObjectKey};
