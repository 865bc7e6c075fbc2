//! kube-rs plumbing: clients per context, watch caches, and the [`snapshot::Snapshot`] they publish.
pub mod clients;
pub mod config_source;
pub mod cooling;
pub mod envpool;
pub mod fetch;
pub mod fit;
pub mod kinds;
pub mod obj;
pub mod pack;
pub mod session;
pub mod snapshot;
pub mod watch;
