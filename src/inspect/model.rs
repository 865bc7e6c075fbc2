//! The rows the inspector produces: one per pair, fed to the TUI, `check` and `fix`.

/// Rows are of the engine's pair kinds.
pub use crate::engine::PairKind as RowKind;
use crate::engine::Plan;
use serde::{Deserialize, Serialize};

/// One word for what is wrong with a pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "PascalCase")]
pub enum Status {
    Synced,
    /// The plan patches these fields (dotted paths, e.g. `spec.selector`).
    Drift {
        fields: Vec<String>,
    },
    Missing,
    Orphan,
    Squatter,
    Disabled,
    Waiting {
        reason: String,
    },
    Error {
        message: String,
    },
}

impl Status {
    /// The one word shown in tables.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Synced => "Synced",
            Status::Drift { .. } => "Drift",
            Status::Missing => "Missing",
            Status::Orphan => "Orphan",
            Status::Squatter => "Squatter",
            Status::Disabled => "Disabled",
            Status::Waiting { .. } => "Waiting",
            Status::Error { .. } => "Error",
        }
    }

    /// Synced and Disabled are fine; everything else is a problem row.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Status::Synced | Status::Disabled)
    }
}

/// One side of a pair as shown to the operator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideView {
    pub namespace: String,
    pub name: String,
    /// Whether the object exists on this side.
    pub exists: bool,
    pub uid: Option<String>,
    /// ClusterIP for services, podIP for pods, LB address for ingresses.
    pub ip: Option<String>,
    /// Pod phase, service type, ingress class: the short state next to the IP.
    pub state: Option<String>,
    /// Ready endpoint addresses (services) or ready containers (pods), when known.
    pub ready: Option<u32>,
    /// Pods the selector matches on this side (services with a selector).
    pub selected_pods: Option<u32>,
    /// RFC 3339 creation time.
    pub created: Option<String>,
}

/// DNS names of a pair, both sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsNames {
    pub virtual_names: Vec<String>,
    pub host_names: Vec<String>,
}

/// The newest SyncError/SyncWarning event about the virtual object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub reason: String,
    pub message: String,
    pub count: u32,
    pub last_seen: Option<String>,
}

/// A pair with everything an operator needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    pub kind: RowKind,
    /// Virtual namespace/name (for fromHost rows: the virtual target).
    pub namespace: String,
    pub name: String,
    pub status: Status,
    /// One line for humans.
    pub reason: String,
    pub virtual_side: SideView,
    pub host: SideView,
    /// True when virtual and host IPs both exist and differ.
    pub ip_mismatch: bool,
    pub dns: DnsNames,
    pub events: Vec<EventView>,
    /// What the engine would write; empty when in line.
    pub plan: Plan,
}
