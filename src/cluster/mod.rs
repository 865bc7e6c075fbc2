//! kube-rs plumbing: clients per context, watch caches, and the [`snapshot::Snapshot`] they publish.
pub mod snapshot;
