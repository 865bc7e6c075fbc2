//! A pair's status, derived from the engine's plan (never computed separately).
//!
//! Synced = empty plan and not blocked; Missing = the plan creates the twin; Orphan = the plan
//! deletes a twin whose origin is gone; Drift = anything else the plan writes; Squatter,
//! Disabled and Waiting = the plan is blocked; Error = a side could not be read, or the pair
//! would be Missing/Drift and the syncer's latest write for it was refused (see
//! [`refused_write`]).

use crate::engine::{Action, Blocked, ObjKind, PairKind, Plan, SideName};
use crate::inspect::model::{EventView, Status};
use serde_json::Value;

/// What the status needs to know about a pair besides its plan.
#[derive(Debug, Clone, Copy)]
pub struct PairFacts<'a> {
    pub kind: PairKind,
    /// Name of the twin (the object the engine creates to mirror the origin).
    pub twin_name: Option<&'a str>,
    /// Whether the origin (virtual object; host source for fromHost) exists.
    pub origin_exists: bool,
}

/// The side whose object mirrors the other: the host, except for fromHost replication.
pub fn twin_side(kind: PairKind) -> SideName {
    match kind {
        PairKind::ReplicatedFromHost => SideName::Virtual,
        _ => SideName::Host,
    }
}

pub fn obj_kind(kind: PairKind) -> ObjKind {
    match kind {
        PairKind::Pod => ObjKind::Pod,
        PairKind::Service | PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost => {
            ObjKind::Service
        }
        PairKind::Endpoints => ObjKind::Endpoints,
        PairKind::EndpointSlice => ObjKind::EndpointSlice,
        PairKind::Ingress => ObjKind::Ingress,
    }
}

/// Status of a pair from its plan. `unreadable` is the message of a side that could not be read.
pub fn status_of(plan: &Plan, facts: &PairFacts, unreadable: Option<&str>) -> Status {
    if let Some(msg) = unreadable {
        return Status::Error {
            message: msg.to_string(),
        };
    }
    if let Some(blocked) = &plan.blocked {
        return match blocked {
            Blocked::Squatter { .. } => Status::Squatter,
            Blocked::Disabled { .. } => Status::Disabled,
            Blocked::Waiting { message } => Status::Waiting {
                reason: message.clone(),
            },
        };
    }
    if plan.changes.is_empty() {
        return Status::Synced;
    }
    let side = twin_side(facts.kind);
    let kind = obj_kind(facts.kind);
    let on_twin = |c: &&crate::engine::Change| {
        c.target.side == side
            && c.target.kind == kind
            && facts.twin_name.is_none_or(|n| n == c.target.name)
    };
    let creates_twin = plan
        .changes
        .iter()
        .filter(on_twin)
        .any(|c| matches!(c.action, Action::Create { .. }));
    let deletes_twin = plan
        .changes
        .iter()
        .filter(on_twin)
        .any(|c| matches!(c.action, Action::Delete { .. }));
    if !facts.origin_exists && deletes_twin {
        return Status::Orphan;
    }
    if creates_twin && !deletes_twin {
        return Status::Missing;
    }
    Status::Drift {
        fields: drift_fields(plan),
    }
}

/// The event reason vCluster's syncers record when the API server refuses a write.
pub const SYNC_ERROR: &str = "SyncError";

/// A Missing or Drift pair whose newest sync event is a `SyncError` is an Error: the syncer
/// already tried to write the twin and the API server refused it (quota, admission, a taken
/// NodePort, a name still held by an older object), so the same write again will not help and
/// the operator has to remove the cause. The message is the refusal as vCluster recorded it.
/// Every other status is kept: a blocked or in-line pair did not fail, and an orphan has no
/// virtual object to carry events.
pub fn refused_write(status: Status, newest_event: Option<&EventView>) -> Status {
    match (&status, newest_event) {
        (Status::Missing | Status::Drift { .. }, Some(ev)) if ev.reason == SYNC_ERROR => {
            let times = if ev.count > 1 {
                format!(" ({} times)", ev.count)
            } else {
                String::new()
            };
            Status::Error {
                message: format!("the syncer's write was refused{times}: {}", ev.message),
            }
        }
        _ => status,
    }
}

/// Dotted paths a plan writes, two levels deep (`spec.selector`, `status.podIP`), in plan
/// order without repeats. Whole-object writes name what they stand for.
pub fn drift_fields(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for c in &plan.changes {
        if !c.fields.is_empty() {
            for f in &c.fields {
                push(f.clone());
            }
            continue;
        }
        match &c.action {
            Action::Bind { .. } => push("spec.nodeName".to_string()),
            Action::Patch { patch, .. } => {
                for p in patch_paths(patch, 2) {
                    push(p);
                }
            }
            Action::Recreate { .. } => {
                if c.target.kind == ObjKind::Service && c.target.side == SideName::Virtual {
                    push("spec.clusterIP".to_string());
                } else {
                    push("metadata.uid".to_string());
                }
            }
            Action::Delete { .. } | Action::Create { .. } => {
                push(format!("{} object", c.target.side));
            }
        }
    }
    out
}

/// Leaf paths of a JSON merge patch, cut at `depth` segments.
pub fn patch_paths(patch: &Value, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    walk(patch, String::new(), depth, &mut out);
    out
}

fn walk(v: &Value, prefix: String, depth: usize, out: &mut Vec<String>) {
    match v {
        Value::Object(map) if depth > 0 && !map.is_empty() => {
            for (k, child) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(child, p, depth - 1, out);
            }
        }
        _ => {
            if !prefix.is_empty() && !out.contains(&prefix) {
                out.push(prefix);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Change, Target};
    use serde_json::json;

    fn change(side: SideName, kind: ObjKind, name: &str, action: Action) -> Change {
        Change {
            target: Target {
                side,
                kind,
                namespace: "hns".into(),
                name: name.into(),
            },
            action,
            reason: String::new(),
            fields: Vec::new(),
        }
    }

    fn facts(origin: bool) -> PairFacts<'static> {
        PairFacts {
            kind: PairKind::Service,
            twin_name: Some("web-x-default-x-vc"),
            origin_exists: origin,
        }
    }

    #[test]
    fn empty_plan_is_synced_and_blocks_map_one_to_one() {
        assert_eq!(
            status_of(&Plan::default(), &facts(true), None),
            Status::Synced
        );
        let mut p = Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Squatter {
                message: "x".into(),
            }),
        };
        assert_eq!(status_of(&p, &facts(true), None), Status::Squatter);
        p.blocked = Some(Blocked::Waiting {
            message: "kube-dns".into(),
        });
        assert_eq!(
            status_of(&p, &facts(true), None),
            Status::Waiting {
                reason: "kube-dns".into()
            }
        );
        assert_eq!(
            status_of(&p, &facts(true), Some("host down")),
            Status::Error {
                message: "host down".into()
            }
        );
    }

    #[test]
    fn a_refused_write_is_an_error_and_other_events_change_nothing() {
        let ev = |reason: &str, count: u32| EventView {
            reason: reason.into(),
            message: "Error syncing to host cluster: provided port is already allocated".into(),
            count,
            last_seen: None,
        };
        let drift = Status::Drift {
            fields: vec!["spec.selector".into()],
        };
        assert_eq!(
            refused_write(Status::Missing, Some(&ev(SYNC_ERROR, 4))),
            Status::Error {
                message: "the syncer's write was refused (4 times): Error syncing to host \
                          cluster: provided port is already allocated"
                    .into()
            }
        );
        assert!(matches!(
            refused_write(drift.clone(), Some(&ev(SYNC_ERROR, 1))),
            Status::Error { .. }
        ));
        assert_eq!(
            refused_write(drift.clone(), Some(&ev("SyncWarning", 1))),
            drift
        );
        assert_eq!(refused_write(drift.clone(), None), drift);
        for kept in [
            Status::Synced,
            Status::Squatter,
            Status::Orphan,
            Status::Disabled,
        ] {
            assert_eq!(refused_write(kept.clone(), Some(&ev(SYNC_ERROR, 2))), kept);
        }
    }

    #[test]
    fn create_delete_and_patch() {
        let create = change(
            SideName::Host,
            ObjKind::Service,
            "web-x-default-x-vc",
            Action::Create { object: json!({}) },
        );
        let delete = change(
            SideName::Host,
            ObjKind::Service,
            "web-x-default-x-vc",
            Action::Delete {
                uid: None,
                grace_period_seconds: None,
            },
        );
        let patch = change(
            SideName::Host,
            ObjKind::Service,
            "web-x-default-x-vc",
            Action::Patch {
                patch: json!({"spec": {"selector": {"app": "web", "old": null}}, "metadata": {"labels": {"a": "b"}}}),
                subresource: None,
                resource_version: None,
            },
        );
        let plan = |c: Vec<Change>| Plan {
            changes: c,
            blocked: None,
        };
        assert_eq!(
            status_of(&plan(vec![create.clone()]), &facts(true), None),
            Status::Missing
        );
        assert_eq!(
            status_of(&plan(vec![delete.clone()]), &facts(false), None),
            Status::Orphan
        );
        // A uid mismatch: the stale twin goes and a new one comes; the virtual object exists.
        assert!(matches!(
            status_of(&plan(vec![delete, create]), &facts(true), None),
            Status::Drift { .. }
        ));
        let Status::Drift { mut fields } = status_of(&plan(vec![patch]), &facts(true), None) else {
            panic!("a patch is drift");
        };
        fields.sort();
        assert_eq!(fields, vec!["metadata.labels", "spec.selector"]);
    }
}
