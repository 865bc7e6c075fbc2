//! The data the TUI receives from, and hands to, the rest of vinspect.

use crate::cluster::snapshot::ConnState;
use crate::engine::{Plan, SideName, Target};
use crate::inspect::{PairRow, RowKind};
use std::sync::Arc;

/// Identifies a pair across snapshots: rows are re-created on every snapshot, keys stay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub kind: RowKind,
    pub namespace: String,
    pub name: String,
}

impl RowKey {
    pub fn of(row: &PairRow) -> Self {
        Self {
            kind: row.kind,
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        }
    }

    pub fn matches(&self, row: &PairRow) -> bool {
        self.kind == row.kind && self.namespace == row.namespace && self.name == row.name
    }
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One line of the DNS tab. The DNS module builds these (the lead maps its own model here):
/// a name, what it resolves to, why, and whether that is a problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsRow {
    /// The queried name (`web.shop.svc.cluster.local`).
    pub name: String,
    /// What the virtual cluster's DNS answers (`10.96.4.12`, `NXDOMAIN`, a CNAME target).
    pub answer: String,
    /// One line on how the answer comes about (`service web/shop → twin ClusterIP`).
    pub explanation: String,
    /// True when the answer is wrong or missing; such rows count as problems.
    pub problem: bool,
}

/// The rows of one update. Each row sits behind its own `Arc`: an update after a change shares
/// every row it did not recompute with the update before (a row can hold its plan's JSON
/// patches, so copying and dropping 10,000 of them per update cost more than computing the
/// changed ones).
pub type Rows = Arc<Vec<Arc<PairRow>>>;

/// [`Rows`] of rows made one by one (fixtures, the demo, tests).
pub fn rows_of(rows: impl IntoIterator<Item = PairRow>) -> Rows {
    Arc::new(rows.into_iter().map(Arc::new).collect())
}

/// Everything the TUI shows, published by the watch side whenever either cluster changes.
/// Cheap to clone: rows and DNS lines sit behind `Arc`.
#[derive(Debug, Clone, Default)]
pub struct DataUpdate {
    pub rows: Rows,
    pub dns: Arc<Vec<DnsRow>>,
    pub virtual_conn: ConnState,
    pub host_conn: ConnState,
    pub virtual_context: String,
    pub host_context: String,
    pub vcluster: String,
    pub host_namespace: String,
    /// A one-line caveat shown in the header (e.g. "vcluster.yaml not readable: defaults apply").
    pub note: Option<String>,
    /// Snapshot version, for logs and tests; every update received replaces what is shown
    /// (a context switch may restart the count).
    pub version: u64,
    /// The rows are not computed yet for what the watches hold (the initial lists are still
    /// arriving, or the first row computation is running): the table says "loading".
    pub loading: bool,
}

/// A pair to fix, with the plan the operator confirmed. The backend applies exactly this plan
/// (it may refuse if the object moved on, e.g. a resourceVersion conflict).
#[derive(Debug, Clone, PartialEq)]
pub struct FixRequest {
    pub key: RowKey,
    pub plan: Plan,
}

/// The result of one change of a fix.
#[derive(Debug, Clone, PartialEq)]
pub struct FixOutcome {
    pub key: RowKey,
    pub target: Target,
    pub verb: String,
    /// `Err` carries one line saying what went wrong.
    pub result: Result<(), String>,
}

/// The two objects the diff view compares: what the engine would write to the host, and what is
/// there now. Either may be absent (a missing twin, an orphan).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiffSource {
    pub desired: Option<serde_json::Value>,
    pub actual: Option<serde_json::Value>,
}

/// Which object a YAML view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlRequest {
    pub side: SideName,
    pub key: RowKey,
}
