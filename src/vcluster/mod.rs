//! The vCluster model: naming rules, the vcluster.yaml subset, context names, object references.
//! Pure, except the kubeconfig loader in `context`.
pub mod config;
pub mod context;
pub mod naming;
pub mod reference;
