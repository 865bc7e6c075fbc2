//! The sync engine: the one place that decides what a twin must look like.
//!
//! Pure core: [`pair::pairs`] lists the pairs of a snapshot, [`plan::plan`] decides the writes
//! for one pair, [`translate`] builds host objects, [`backsync`] what flows back.
pub mod apply;
pub mod backsync;
pub mod change;
pub mod ctx;
pub mod diff;
pub mod fields;
pub mod memory;
pub mod ownership;
pub mod pair;
pub mod plan;
pub mod replicate;
pub mod translate;

pub use change::{Action, Blocked, Change, ObjKind, PairKind, Plan, SideName, Target};
pub use ctx::Ctx;
pub use memory::{LastSeen, Memory};
pub use pair::{Pair, pairs, pairs_seen};
pub use plan::{desired_host, plan, plan_seen};

pub mod controller;
pub mod events;
pub mod kube_writer;
pub mod lease;
pub mod queue;
pub mod runner;
pub mod tokens;
