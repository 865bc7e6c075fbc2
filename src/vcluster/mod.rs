//! The vCluster model: naming rules, the vcluster.yaml subset, context names. Pure, no I/O.
pub mod config;
pub mod naming;
