//! What vinspect knows about both clusters at one instant: plain data, cheap to clone.
//!
//! The watch caches in this module build it; the inspector, the DNS resolver, the engine's
//! controller and the TUI only read it. One side failing never empties the other: each side
//! carries its own connection state next to the last objects it saw.

use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `(namespace, name)`; namespace is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Key of any Kubernetes object from its metadata (missing fields become empty strings).
    pub fn of<K: kube::Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        Self {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for ObjKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

pub type ObjMap<K> = BTreeMap<ObjKey, Arc<K>>;

/// Connection state of one side, shown in the TUI header and in `check` errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnState {
    #[default]
    Connecting,
    Live,
    /// The last attempt failed; the message says what and (where known) what to do.
    Error {
        message: String,
    },
    /// Failed before, trying again (`attempt` counts from 1).
    Retrying {
        message: String,
        attempt: u32,
    },
}

impl ConnState {
    pub fn is_live(&self) -> bool {
        matches!(self, ConnState::Live)
    }
}

/// Everything cached from one cluster.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// The kubeconfig context this side was read through.
    pub context: String,
    /// The API server URL (for error lines).
    pub server: String,
    pub conn: ConnState,
    pub namespaces: ObjMap<Namespace>,
    pub nodes: ObjMap<Node>,
    pub pods: ObjMap<Pod>,
    pub services: ObjMap<Service>,
    pub endpoints: ObjMap<Endpoints>,
    pub ingresses: ObjMap<Ingress>,
    pub ingress_classes: ObjMap<IngressClass>,
    /// Only the config Secret `vc-config-<vc>` on the host; nothing on the virtual side.
    pub secrets: ObjMap<Secret>,
    /// Events with reason SyncError/SyncWarning (virtual) or about managed objects (host).
    pub events: ObjMap<Event>,
}

/// Both sides at one version. Cloning is cheap: share it as `Arc<Snapshot>`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases by one every time either side changes.
    pub version: u64,
    pub vcluster: String,
    pub host_namespace: String,
    pub virtual_side: Side,
    pub host: Side,
}
