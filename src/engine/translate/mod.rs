//! Virtual object → desired host object, one module per kind. Pure functions over k8s-openapi types.
pub mod endpoint_slice;
pub mod endpoints;
pub mod ingress;
pub mod ingress_class;
pub mod metadata;
pub mod pod;
pub mod pod_delete;
pub mod pod_update;
pub mod service;
pub mod token;
