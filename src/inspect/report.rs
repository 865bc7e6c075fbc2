//! What `check` prints: row filters, the kubectl-style table, and the JSON/YAML report.
//!
//! # JSON / YAML schema (stable; fields are only ever added)
//!
//! ```text
//! {
//!   "vcluster": "my-vcluster",            // the vCluster's name
//!   "hostNamespace": "vcluster-my-vcluster",
//!   "summary": {"total": 7, "problems": 1, "byStatus": {"Synced": 6, "Drift": 1}},
//!   "items": [{
//!     "kind": "service",                  // pod | service | endpoints | ingress |
//!                                         // replicated-from-host | replicated-to-host
//!     "namespace": "default",             // virtual namespace (fromHost: the virtual target)
//!     "name": "web",                      // virtual name
//!     "status": "Drift",                  // Synced | Drift | Missing | Orphan | Squatter |
//!                                         // Disabled | Waiting | Error
//!     "fields": ["spec.selector"],        // Drift only: what the plan writes
//!     "reason": "one line for humans",
//!     "virtual": Side, "host": Side,
//!     "ipMismatch": false,                // both sides have an IP and they differ
//!     "hostNameHashed": false,            // the twin's name was cut and hashed (> 63 bytes)
//!     "dns": {"virtual": ["web.default.svc.cluster.local"], "host": ["…"]},
//!     "events": [{"reason": "SyncError", "message": "…", "count": 1, "lastSeen": "RFC 3339"}],
//!     "plan": [{"side": "host", "kind": "service", "namespace": "…", "name": "…",
//!               "action": "patch", "reason": "…", "patch": {…}}]
//!   }]
//! }
//! Side = {"exists": true, "namespace": "…", "name": "…", "uid": "…", "ip": "…",
//!         "state": "ClusterIP", "ready": 2, "selectedPods": 2, "created": "RFC 3339"}
//! ```
//! Absent values are omitted, never `null`.

use crate::engine::{Action, ObjKind, PairKind, Plan};
use crate::inspect::model::{PairRow, SideView, Status};
use crate::inspect::status::obj_kind;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which rows to show.
#[derive(Debug, Clone, Default)]
pub struct RowFilter {
    /// Only this virtual namespace (`None` = all, i.e. `-A`).
    pub namespace: Option<String>,
    /// Only these kinds (empty = all). Replicated rows count as services.
    pub kinds: Vec<ObjKind>,
    /// `[kind/]namespace/name` references; a row matches by its virtual or its host name.
    pub refs: Vec<RefFilter>,
}

/// A parsed REF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFilter {
    pub kind: Option<ObjKind>,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "bad reference {input:?}: {why} (expected [kind/]namespace/name, kind one of pod|service|svc|ingress|ing|endpoints|ep|endpointslice|eps)"
)]
pub struct RefError {
    pub input: String,
    pub why: &'static str,
}

impl RefFilter {
    pub fn parse(s: &str) -> Result<Self, RefError> {
        let err = |why| RefError {
            input: s.to_string(),
            why,
        };
        let parts: Vec<&str> = s.split('/').collect();
        let (kind, ns, name) = match parts.as_slice() {
            [ns, name] => (None, *ns, *name),
            [k, ns, name] => (
                Some(ObjKind::parse_ref_kind(k).ok_or_else(|| err("unknown kind"))?),
                *ns,
                *name,
            ),
            _ => return Err(err("wrong number of '/'")),
        };
        if ns.is_empty() || name.is_empty() {
            return Err(err("empty namespace or name"));
        }
        Ok(Self {
            kind,
            namespace: ns.to_string(),
            name: name.to_string(),
        })
    }

    pub fn matches(&self, row: &PairRow) -> bool {
        if self.kind.is_some_and(|k| k != obj_kind(row.kind)) {
            return false;
        }
        let v = &row.virtual_side;
        let h = &row.host;
        (row.namespace == self.namespace && row.name == self.name)
            || (v.namespace == self.namespace && v.name == self.name)
            || (h.namespace == self.namespace && h.name == self.name)
    }
}

impl RowFilter {
    pub fn matches(&self, row: &PairRow) -> bool {
        if let Some(ns) = &self.namespace
            && &row.namespace != ns
        {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&obj_kind(row.kind)) {
            return false;
        }
        self.refs.is_empty() || self.refs.iter().any(|r| r.matches(row))
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub vcluster: String,
    pub host_namespace: String,
    pub summary: Summary,
    pub items: Vec<Item>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total: usize,
    pub problems: usize,
    pub by_status: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub kind: PairKind,
    pub namespace: String,
    pub name: String,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    pub reason: String,
    #[serde(rename = "virtual")]
    pub virtual_side: ItemSide,
    pub host: ItemSide,
    pub ip_mismatch: bool,
    /// The host name was cut to 52 bytes and hashed (vCluster's SafeConcatName).
    pub host_name_hashed: bool,
    pub dns: ItemDns,
    pub events: Vec<ItemEvent>,
    pub plan: Vec<ItemChange>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSide {
    pub exists: bool,
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_pods: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ItemDns {
    #[serde(rename = "virtual")]
    pub virtual_names: Vec<String>,
    pub host: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemEvent {
    pub reason: String,
    pub message: String,
    pub count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ItemChange {
    pub side: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub action: &'static str,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
}

fn item_side(s: &SideView) -> ItemSide {
    ItemSide {
        exists: s.exists,
        namespace: s.namespace.clone(),
        name: s.name.clone(),
        uid: s.uid.clone(),
        ip: s.ip.clone(),
        state: s.state.clone(),
        ready: s.ready,
        selected_pods: s.selected_pods,
        created: s.created.clone(),
    }
}

pub fn plan_items(plan: &Plan) -> Vec<ItemChange> {
    plan.changes
        .iter()
        .map(|c| ItemChange {
            side: c.target.side.to_string(),
            kind: c.target.kind.to_string(),
            namespace: c.target.namespace.clone(),
            name: c.target.name.clone(),
            action: c.action.verb(),
            reason: c.reason.clone(),
            patch: change_body(&c.action),
        })
        .collect()
}

/// The JSON a change sends: the merge patch, or the object it creates.
pub fn change_body(a: &Action) -> Option<serde_json::Value> {
    match a {
        Action::Patch { patch, .. } => Some(patch.clone()),
        Action::Create { object } | Action::Recreate { object, .. } => Some(object.clone()),
        Action::Bind { node } => {
            Some(serde_json::json!({"target": {"kind": "Node", "name": node}}))
        }
        Action::Delete { .. } => None,
    }
}

pub fn item(r: &PairRow, vcluster: &str) -> Item {
    let regular = !matches!(
        r.kind,
        PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost
    );
    Item {
        host_name_hashed: regular
            && r.virtual_side.name.len() + r.virtual_side.namespace.len() > 0
            && crate::vcluster::naming::is_hashed(
                &r.virtual_side.name,
                &r.virtual_side.namespace,
                vcluster,
            ),
        kind: r.kind,
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        status: r.status.word(),
        fields: match &r.status {
            Status::Drift { fields } => fields.clone(),
            _ => Vec::new(),
        },
        reason: r.reason.clone(),
        virtual_side: item_side(&r.virtual_side),
        host: item_side(&r.host),
        ip_mismatch: r.ip_mismatch,
        dns: ItemDns {
            virtual_names: r.dns.virtual_names.clone(),
            host: r.dns.host_names.clone(),
        },
        events: r
            .events
            .iter()
            .map(|e| ItemEvent {
                reason: e.reason.clone(),
                message: e.message.clone(),
                count: e.count,
                last_seen: e.last_seen.clone(),
            })
            .collect(),
        plan: plan_items(&r.plan),
    }
}

pub fn report(vcluster: &str, host_namespace: &str, rows: &[&PairRow]) -> Report {
    let mut by_status = BTreeMap::new();
    for r in rows {
        *by_status.entry(r.status.word()).or_insert(0) += 1;
    }
    Report {
        vcluster: vcluster.to_string(),
        host_namespace: host_namespace.to_string(),
        summary: Summary {
            total: rows.len(),
            problems: rows.iter().filter(|r| r.status.is_problem()).count(),
            by_status,
        },
        items: rows.iter().map(|r| item(r, vcluster)).collect(),
    }
}

/// Exit code of `check` for the rows shown: 0 when all are Synced or Disabled, else 1.
pub fn exit_code(rows: &[&PairRow]) -> i32 {
    if rows.iter().any(|r| r.status.is_problem()) {
        1
    } else {
        0
    }
}

/// kubectl's short age: `45s`, `12m`, `5h`, `3d`, `2y`.
pub fn short_age(created: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> String {
    let Some(t) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "<unknown>".to_string();
    };
    let secs = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s if s < 2 * 365 * 86400 => format!("{}d", s / 86400),
        s => format!("{}y", s / (365 * 86400)),
    }
}

fn colour(status: &Status) -> &'static str {
    match status {
        Status::Synced => "\x1b[32m",
        Status::Disabled => "\x1b[2m",
        Status::Drift { .. } | Status::Waiting { .. } => "\x1b[33m",
        Status::Squatter => "\x1b[35m",
        Status::Missing | Status::Orphan | Status::Error { .. } => "\x1b[31m",
    }
}

fn ip_cell(r: &PairRow) -> String {
    match (&r.virtual_side.ip, &r.host.ip) {
        (Some(v), Some(h)) if v == h => v.clone(),
        (Some(v), Some(h)) => format!("{v}!={h}"),
        (Some(v), None) => format!("{v}/-"),
        (None, Some(h)) => format!("-/{h}"),
        (None, None) => "-".to_string(),
    }
}

/// The table, aligned like kubectl (columns padded, three spaces apart, REASON last).
pub fn table(rows: &[&PairRow], color: bool, now: chrono::DateTime<chrono::Utc>) -> String {
    const HEAD: [&str; 8] = [
        "KIND",
        "NAMESPACE",
        "NAME",
        "STATUS",
        "HOST",
        "IP",
        "AGE",
        "REASON",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let created = if r.virtual_side.exists {
                r.virtual_side.created.as_deref()
            } else {
                r.host.created.as_deref()
            };
            let host = if r.host.name.is_empty() {
                "-".to_string()
            } else {
                format!("{}/{}", r.host.namespace, r.host.name)
            };
            [
                serde_json::to_value(r.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                r.namespace.clone(),
                r.name.clone(),
                r.status.word().to_string(),
                host,
                ip_cell(r),
                short_age(created, now),
                r.reason.clone(),
            ]
        })
        .collect();
    let mut width = HEAD.map(str::len);
    for c in &cells {
        for (i, cell) in c.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String; 8], status: Option<&Status>| {
        for (i, cell) in c.iter().enumerate() {
            let last = i == c.len() - 1;
            let pad = width[i] - cell.chars().count();
            match (i, status) {
                (3, Some(s)) if color => {
                    out.push_str(colour(s));
                    out.push_str(cell);
                    out.push_str("\x1b[0m");
                }
                _ => out.push_str(cell),
            }
            if !last {
                out.extend(std::iter::repeat_n(' ', pad + 3));
            }
        }
        out.push('\n');
    };
    line(&mut out, &HEAD.map(str::to_string), None);
    for (c, r) in cells.iter().zip(rows) {
        line(&mut out, c, Some(&r.status));
    }
    out
}

/// Whether to colour: only on a terminal, never when `NO_COLOR` is set (to anything non-empty).
pub fn want_color(is_tty: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_tty && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::model::{DnsNames, PairRow};

    fn row(kind: PairKind, ns: &str, name: &str, status: Status) -> PairRow {
        PairRow {
            kind,
            namespace: ns.into(),
            name: name.into(),
            status,
            reason: "r".into(),
            virtual_side: SideView {
                namespace: ns.into(),
                name: name.into(),
                exists: true,
                ip: Some("10.0.0.1".into()),
                created: Some("2026-01-01T00:00:00Z".into()),
                ..Default::default()
            },
            host: SideView {
                namespace: "hns".into(),
                name: format!("{name}-x-{ns}-x-vc"),
                exists: true,
                ip: Some("10.0.0.2".into()),
                ..Default::default()
            },
            ip_mismatch: true,
            dns: DnsNames::default(),
            events: vec![],
            plan: Plan::default(),
        }
    }

    #[test]
    fn refs_parse_and_match_either_side() {
        let r = RefFilter::parse("svc/default/web").unwrap();
        assert_eq!(r.kind, Some(ObjKind::Service));
        let row = row(PairKind::Service, "default", "web", Status::Synced);
        assert!(r.matches(&row));
        assert!(
            RefFilter::parse("hns/web-x-default-x-vc")
                .unwrap()
                .matches(&row)
        );
        assert!(!RefFilter::parse("pod/default/web").unwrap().matches(&row));
        assert!(RefFilter::parse("web").is_err());
        assert!(
            RefFilter::parse("foo/a/b")
                .unwrap_err()
                .to_string()
                .contains("unknown kind")
        );
        let f = RowFilter {
            namespace: Some("other".into()),
            ..Default::default()
        };
        assert!(!f.matches(&row));
    }

    #[test]
    fn table_is_aligned_and_coloured_only_when_asked() {
        let a = row(PairKind::Service, "default", "web", Status::Synced);
        let b = row(PairKind::Pod, "kube-system", "coredns-abc", Status::Missing);
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:05:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let t = table(&[&a, &b], false, now);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = |l: &str, word: &str| l.find(word).unwrap();
        assert_eq!(col(lines[0], "STATUS"), col(lines[1], "Synced"));
        assert_eq!(col(lines[0], "STATUS"), col(lines[2], "Missing"));
        assert!(lines[1].contains("10.0.0.1!=10.0.0.2"));
        assert!(lines[1].contains(" 5m "));
        assert!(!t.contains('\x1b'));
        assert!(table(&[&a], true, now).contains("\x1b[32mSynced\x1b[0m"));
        assert!(want_color(true, None));
        assert!(!want_color(true, Some(std::ffi::OsStr::new("1"))));
        assert!(!want_color(false, None));
    }

    #[test]
    fn report_schema_fields() {
        let a = row(
            PairKind::Service,
            "default",
            "web",
            Status::Drift {
                fields: vec!["spec.selector".into()],
            },
        );
        let v = serde_json::to_value(report("vc", "hns", &[&a])).unwrap();
        let it = &v["items"][0];
        for k in [
            "kind",
            "namespace",
            "name",
            "status",
            "reason",
            "virtual",
            "host",
            "dns",
            "events",
        ] {
            assert!(it.get(k).is_some(), "missing {k}");
        }
        assert_eq!(it["kind"], "service");
        assert_eq!(it["status"], "Drift");
        assert_eq!(it["fields"][0], "spec.selector");
        assert_eq!(v["summary"]["problems"], 1);
        assert!(
            it["virtual"].get("uid").is_none(),
            "absent values are omitted"
        );
        assert_eq!(exit_code(&[&a]), 1);
    }
}
