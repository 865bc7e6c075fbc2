//! The plan vocabulary: what the engine would write to bring a pair in line.
//!
//! A [`Plan`] is data. The inspector derives a pair's status from it, the TUI shows it in the
//! fix dialog, `fix` and `sync` hand it to `engine::apply`. Nothing here talks to a cluster.

use serde::{Deserialize, Serialize};

/// Which cluster a change is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    Virtual,
    Host,
}

impl std::fmt::Display for SideName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SideName::Virtual => "virtual",
            SideName::Host => "host",
        })
    }
}

/// The kinds of object the engine syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjKind {
    Pod,
    Service,
    Endpoints,
    /// `discovery.k8s.io/v1` EndpointSlice (serialised `endpointslice`).
    EndpointSlice,
    Ingress,
    Namespace,
}

impl ObjKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjKind::Pod => "pod",
            ObjKind::Service => "service",
            ObjKind::Endpoints => "endpoints",
            ObjKind::EndpointSlice => "endpointslice",
            ObjKind::Ingress => "ingress",
            ObjKind::Namespace => "namespace",
        }
    }

    /// The Kubernetes Kind (`Service`), as written in objects and events.
    pub fn kind_name(self) -> &'static str {
        match self {
            ObjKind::Pod => "Pod",
            ObjKind::Service => "Service",
            ObjKind::Endpoints => "Endpoints",
            ObjKind::EndpointSlice => "EndpointSlice",
            ObjKind::Ingress => "Ingress",
            ObjKind::Namespace => "Namespace",
        }
    }

    /// Parse the kind part of a REF (`pod|service|svc|ingress|ing|endpoints|ep|endpointslice|eps`).
    pub fn parse_ref_kind(s: &str) -> Option<ObjKind> {
        Some(match s {
            "pod" | "pods" | "po" => ObjKind::Pod,
            "service" | "services" | "svc" => ObjKind::Service,
            "endpoints" | "ep" => ObjKind::Endpoints,
            "endpointslice" | "endpointslices" | "eps" => ObjKind::EndpointSlice,
            "ingress" | "ingresses" | "ing" => ObjKind::Ingress,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ObjKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object a change writes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub side: SideName,
    pub kind: ObjKind,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}/{}",
            self.side, self.kind, self.namespace, self.name
        )
    }
}

/// What a change does to its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Action {
    /// Create the object (full body).
    Create { object: serde_json::Value },
    /// JSON merge patch (RFC 7386) against the object at `resource_version`.
    Patch {
        patch: serde_json::Value,
        /// Status fields go through the `/status` subresource.
        subresource: Option<String>,
        resource_version: Option<String>,
    },
    /// Delete, with a UID precondition where known (never delete a look-alike).
    Delete {
        uid: Option<String>,
        /// Pods only: `gracePeriodSeconds` of the delete (`None`: the pod's own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_period_seconds: Option<i64>,
    },
    /// Delete and create again (a virtual Service whose ClusterIP differs from the host's).
    Recreate {
        object: serde_json::Value,
        uid: Option<String>,
    },
    /// Bind a virtual pod to a node (`pods/binding`): the host scheduler chose it.
    Bind { node: String },
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Patch { .. } => "patch",
            Action::Delete { .. } => "delete",
            Action::Recreate { .. } => "recreate",
            Action::Bind { .. } => "bind",
        }
    }
}

/// One write, with the reason a human reads in the fix dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub target: Target,
    pub action: Action,
    pub reason: String,
    /// Dotted paths a patch changes (`spec.selector`, `metadata.labels`); empty for other actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// Ordered writes for one pair. Empty = in line. `blocked` explains an empty plan that is not
/// "in line" (a squatter, a missing dependency): the engine will not act and says why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub blocked: Option<Blocked>,
}

/// Why the engine will not (or cannot yet) act on a pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Blocked {
    /// A host object at the twin's name that this vCluster does not manage.
    Squatter { message: String },
    /// The pair depends on something that does not exist yet (kube-dns twin ClusterIP, …).
    Waiting { message: String },
    /// The kind is not synced by this vCluster's config.
    Disabled { message: String },
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The kind of a pair: the engine's object kinds plus replicated services, which pair a service
/// on one side with a differently named service on the other and get rows of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairKind {
    Pod,
    Service,
    Endpoints,
    /// EndpointSlices of selector-less services; one word like the kubectl resource.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    Ingress,
    /// networking.replicateServices.fromHost: host service → virtual service.
    ReplicatedFromHost,
    /// networking.replicateServices.toHost: virtual service → host service.
    ReplicatedToHost,
}

impl From<ObjKind> for PairKind {
    fn from(k: ObjKind) -> Self {
        match k {
            ObjKind::Pod => PairKind::Pod,
            ObjKind::Service | ObjKind::Namespace => PairKind::Service,
            ObjKind::Endpoints => PairKind::Endpoints,
            ObjKind::EndpointSlice => PairKind::EndpointSlice,
            ObjKind::Ingress => PairKind::Ingress,
        }
    }
}
