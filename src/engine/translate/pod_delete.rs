//! Pod deletion with grace periods (§8.4; upstream `pods/syncer.go` `Sync` and `SyncToHost`).
//!
//! - Virtual pod terminating, host not: delete the host pod with the virtual pod's
//!   `deletionGracePeriodSeconds` (UID precondition).
//! - Host pod terminating, virtual not: delete the virtual pod with its
//!   `terminationGracePeriodSeconds` (30 when unset), and keep copying the host status, so a
//!   controller waiting for Succeeded/Failed sees it.
//! - Both terminating: when the host's grace period is shorter, delete the virtual pod again
//!   with it (an API server only ever shortens a grace period, so a longer one would be a
//!   write that changes nothing, every round; upstream re-sends it on any difference).
//! - Virtual pod whose host twin is gone, and which is terminating, has started
//!   (`status.startTime`), or whose twin was seen before: delete it at once (grace 0) rather
//!   than start it a second time.
//!
//! Pure: decisions only; `plan` turns them into changes.

use k8s_openapi::api::core::v1::Pod;

/// The grace period upstream uses when a pod sets none.
pub const DEFAULT_GRACE_SECONDS: i64 = 30;

/// One deletion the engine should send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    Virtual { grace: i64, reason: String },
    Host { grace: Option<i64>, reason: String },
}

fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

fn grace_of(p: &Pod) -> Option<i64> {
    p.metadata.deletion_grace_period_seconds
}

/// What to do with a pair whose pods are both there. `Some(list)` means the pair is being
/// deleted and nothing else is synced except the host status (`list` may be empty: wait).
pub fn both(v: &Pod, h: &Pod) -> Option<Vec<Deletion>> {
    match (terminating(v), terminating(h)) {
        (false, false) => None,
        (true, false) => Some(vec![Deletion::Host {
            grace: grace_of(v),
            reason: format!(
                "virtual pod is being deleted{}",
                grace_of(v)
                    .map(|g| format!(" (grace period {g}s)"))
                    .unwrap_or_default()
            ),
        }]),
        (false, true) => {
            let grace = v
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_GRACE_SECONDS);
            Some(vec![Deletion::Virtual {
                grace,
                reason: format!(
                    "host pod is being deleted: delete the virtual pod (grace period {grace}s)"
                ),
            }])
        }
        (true, true) => Some(match (grace_of(v), grace_of(h)) {
            (Some(vg), Some(hg)) if hg < vg => vec![Deletion::Virtual {
                grace: hg,
                reason: format!("host pod terminates with a shorter grace period ({hg}s < {vg}s)"),
            }],
            _ => Vec::new(),
        }),
    }
}

/// What to do with a virtual pod whose host twin is missing: `Some` = delete it at once.
pub fn host_missing(v: &Pod, seen_host: bool) -> Option<Deletion> {
    let started = v.status.as_ref().is_some_and(|s| s.start_time.is_some());
    let reason = if terminating(v) {
        "virtual pod is being deleted and has no host pod"
    } else if seen_host {
        "host pod was deleted"
    } else if started {
        "pod already ran and its host pod is gone: delete rather than start it again"
    } else {
        return None;
    };
    Some(Deletion::Virtual {
        grace: 0,
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }
    const TS: &str = "2026-11-26T10:00:00Z";

    #[test]
    fn a_terminating_virtual_pod_deletes_the_host_with_its_grace() {
        let v = pod(
            json!({"metadata": {"name": "a", "deletionTimestamp": TS, "deletionGracePeriodSeconds": 17}}),
        );
        let h = pod(json!({"metadata": {"name": "h"}}));
        assert_eq!(
            both(&v, &h),
            Some(vec![Deletion::Host {
                grace: Some(17),
                reason: "virtual pod is being deleted (grace period 17s)".into()
            }])
        );
        assert_eq!(both(&h, &h), None, "nothing terminating: the usual sync");
    }

    #[test]
    fn a_terminating_host_pod_deletes_the_virtual_with_its_termination_grace() {
        let h = pod(
            json!({"metadata": {"name": "h", "deletionTimestamp": TS, "deletionGracePeriodSeconds": 5}}),
        );
        let v = pod(
            json!({"metadata": {"name": "a"}, "spec": {"containers": [], "terminationGracePeriodSeconds": 12}}),
        );
        assert_eq!(
            both(&v, &h),
            Some(vec![Deletion::Virtual {
                grace: 12,
                reason: "host pod is being deleted: delete the virtual pod (grace period 12s)"
                    .into()
            }])
        );
        let bare = pod(json!({"metadata": {"name": "a"}}));
        assert!(matches!(
            both(&bare, &h).unwrap()[0],
            Deletion::Virtual { grace: 30, .. }
        ));
        // Both terminating: only a shorter host grace is sent again; equal or longer waits.
        let vt = |g: i64| {
            pod(
                json!({"metadata": {"name": "a", "deletionTimestamp": TS, "deletionGracePeriodSeconds": g}}),
            )
        };
        assert!(matches!(
            both(&vt(12), &h).unwrap()[..],
            [Deletion::Virtual { grace: 5, .. }]
        ));
        assert_eq!(both(&vt(5), &h), Some(Vec::new()));
        assert_eq!(both(&vt(3), &h), Some(Vec::new()));
    }

    #[test]
    fn a_virtual_pod_without_its_twin_goes_at_once_when_it_cannot_start_again() {
        let fresh = pod(json!({"metadata": {"name": "a"}}));
        assert_eq!(host_missing(&fresh, false), None, "create the twin");
        let started = pod(json!({"metadata": {"name": "a"}, "status": {"startTime": TS}}));
        let deleting = pod(json!({"metadata": {"name": "a", "deletionTimestamp": TS}}));
        for (p, seen) in [(&started, false), (&deleting, false), (&fresh, true)] {
            assert!(
                matches!(
                    host_missing(p, seen),
                    Some(Deletion::Virtual { grace: 0, .. })
                ),
                "{p:?} {seen}"
            );
        }
    }
}
