//! The sync engine: the one place that decides what a twin must look like.
pub mod change;
pub use change::{Action, Blocked, Change, ObjKind, PairKind, Plan, SideName, Target};
pub mod queue;
pub mod lease;
pub mod events;
