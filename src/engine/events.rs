//! SyncError / SyncWarning Events on virtual objects, the way vCluster's syncer reports.
//!
//! Users look at `kubectl describe` in their virtual cluster, not at syncer logs, so every
//! reason the controller could not sync an object lands there as a core/v1 Event with
//! reporting component `vinspect-syncer` — including the paths vCluster leaves silent
//! (squatter, waiting for the kube-dns twin, replicateServices failures). A repeated event is
//! not a new object: its `count` and `lastTimestamp` go up, like the kubelet's recorder does.
//!
//! [`build`] and [`matches`] are pure; [`Recorder`] is the thin kube-rs shell.

use crate::cluster::snapshot::Snapshot;
use crate::engine::change::ObjKind;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use std::collections::HashMap;
use tokio::sync::Mutex;

pub const REPORTING_COMPONENT: &str = "vinspect-syncer";
pub const REASON_SYNC_ERROR: &str = "SyncError";
pub const REASON_SYNC_WARNING: &str = "SyncWarning";
/// Longest message kept: events are for people, and the API server caps notes at 1 KiB.
const MAX_MESSAGE: usize = 1024;

/// The virtual object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Involved {
    pub kind: ObjKind,
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

impl Involved {
    fn api_version(&self) -> &'static str {
        match self.kind {
            ObjKind::Ingress => "networking.k8s.io/v1",
            ObjKind::EndpointSlice => "discovery.k8s.io/v1",
            _ => "v1",
        }
    }
}

/// One thing to say about a virtual object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notice {
    pub involved: Involved,
    /// `SyncError` (a write failed) or `SyncWarning` (the engine will not or cannot act yet).
    pub reason: &'static str,
    pub message: String,
}

impl Notice {
    pub fn error(involved: Involved, message: impl Into<String>) -> Self {
        Self {
            involved,
            reason: REASON_SYNC_ERROR,
            message: clip(message.into()),
        }
    }

    pub fn warning(involved: Involved, message: impl Into<String>) -> Self {
        Self {
            involved,
            reason: REASON_SYNC_WARNING,
            message: clip(message.into()),
        }
    }
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE - 3;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Event object name: `<object>.<16 hex>` like client-go, shortened to fit a DNS subdomain.
pub fn event_name(object: &str) -> String {
    let suffix: u64 = rand::random();
    let mut base = object.to_string();
    let max = 253 - 17;
    if base.len() > max {
        let mut cut = max;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base.truncate(cut);
    }
    format!("{base}.{suffix:016x}")
}

/// A new Event for `notice`, first seen now.
pub fn build(notice: &Notice, name: String, instance: &str) -> Event {
    let now = k8s_openapi::jiff::Timestamp::now();
    let inv = &notice.involved;
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(inv.namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some(inv.api_version().to_string()),
            kind: Some(inv.kind.kind_name().to_string()),
            namespace: Some(inv.namespace.clone()),
            name: Some(inv.name.clone()),
            uid: inv.uid.clone(),
            ..Default::default()
        },
        reason: Some(notice.reason.to_string()),
        message: Some(notice.message.clone()),
        type_: Some("Warning".to_string()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        action: Some("Sync".to_string()),
        reporting_component: Some(REPORTING_COMPONENT.to_string()),
        reporting_instance: Some(instance.to_string()),
        source: Some(EventSource {
            component: Some(REPORTING_COMPONENT.to_string()),
            host: None,
        }),
        ..Default::default()
    }
}

/// Whether `event` is an earlier copy of `notice` (same object, reason, message, reporter).
pub fn matches(event: &Event, notice: &Notice) -> bool {
    let inv = &notice.involved;
    let o = &event.involved_object;
    let ours = event.reporting_component.as_deref() == Some(REPORTING_COMPONENT)
        || event.source.as_ref().and_then(|s| s.component.as_deref()) == Some(REPORTING_COMPONENT);
    ours && o.kind.as_deref() == Some(inv.kind.kind_name())
        && o.namespace.as_deref() == Some(inv.namespace.as_str())
        && o.name.as_deref() == Some(inv.name.as_str())
        && (inv.uid.is_none() || o.uid == inv.uid)
        && event.reason.as_deref() == Some(notice.reason)
        && event.message.as_deref() == Some(notice.message.as_str())
}

/// The merge patch that counts one more occurrence.
pub fn bump_patch(count: i32) -> serde_json::Value {
    serde_json::json!({
        "count": count,
        "lastTimestamp": Time(k8s_openapi::jiff::Timestamp::now()),
    })
}

/// Where an event already lives and how often it was said.
#[derive(Debug, Clone)]
struct Recorded {
    name: String,
    count: i32,
}

/// Writes notices as Events into the virtual cluster, deduplicating by bumping `count`.
pub struct Recorder {
    client: kube::Client,
    instance: String,
    seen: Mutex<HashMap<Notice, Recorded>>,
}

impl Recorder {
    pub fn new(client: kube::Client, instance: impl Into<String>) -> Self {
        Self {
            client,
            instance: instance.into(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Record `notice`; `snapshot` lets a restarted controller continue counting on the
    /// events it wrote before. Failures are returned, callers log them: an event that cannot
    /// be written must never stop a sync.
    pub async fn record(
        &self,
        notice: &Notice,
        snapshot: Option<&Snapshot>,
    ) -> Result<(), kube::Error> {
        let ns = &notice.involved.namespace;
        let api: Api<Event> = Api::namespaced(self.client.clone(), ns);
        let mut seen = self.seen.lock().await;
        let earlier = seen.get(notice).cloned().or_else(|| {
            snapshot.and_then(|s| {
                s.virtual_side
                    .events
                    .values()
                    .filter(|e| matches(e, notice))
                    .max_by_key(|e| e.count.unwrap_or(1))
                    .and_then(|e| {
                        Some(Recorded {
                            name: e.metadata.name.clone()?,
                            count: e.count.unwrap_or(1),
                        })
                    })
            })
        });
        if let Some(prev) = earlier {
            let count = prev.count.saturating_add(1);
            let patch = bump_patch(count);
            match api
                .patch(&prev.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    seen.insert(
                        notice.clone(),
                        Recorded {
                            name: prev.name,
                            count,
                        },
                    );
                    return Ok(());
                }
                // The event aged out (events have a TTL): say it afresh.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = event_name(&notice.involved.name);
        let event = build(notice, name.clone(), &self.instance);
        api.create(&PostParams::default(), &event).await?;
        seen.insert(notice.clone(), Recorded { name, count: 1 });
        Ok(())
    }

    /// How many distinct notices were recorded (for tests and the shutdown summary).
    pub async fn distinct(&self) -> usize {
        self.seen.lock().await.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Involved {
        Involved {
            kind: ObjKind::Service,
            namespace: "default".into(),
            name: "web".into(),
            uid: Some("u1".into()),
        }
    }

    #[test]
    fn a_new_event_carries_the_reporter_and_the_object() {
        let n = Notice::warning(
            inv(),
            "squatter: host service hns/web-x-default-x-vc exists",
        );
        let e = build(&n, "web.0001".into(), "pod-1");
        assert_eq!(e.reporting_component.as_deref(), Some("vinspect-syncer"));
        assert_eq!(e.reporting_instance.as_deref(), Some("pod-1"));
        assert_eq!(e.reason.as_deref(), Some("SyncWarning"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.count, Some(1));
        assert_eq!(e.involved_object.kind.as_deref(), Some("Service"));
        assert_eq!(e.involved_object.api_version.as_deref(), Some("v1"));
        assert_eq!(e.involved_object.uid.as_deref(), Some("u1"));
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert!(matches(&e, &n));
    }

    #[test]
    fn ingress_events_name_the_networking_group() {
        let mut i = inv();
        i.kind = ObjKind::Ingress;
        let e = build(&Notice::error(i, "boom"), "x".into(), "me");
        assert_eq!(
            e.involved_object.api_version.as_deref(),
            Some("networking.k8s.io/v1")
        );
        assert_eq!(e.reason.as_deref(), Some("SyncError"));
    }

    #[test]
    fn other_messages_reasons_objects_and_reporters_do_not_match() {
        let n = Notice::warning(inv(), "a");
        let e = build(&n, "x".into(), "me");
        assert!(!matches(&e, &Notice::warning(inv(), "b")));
        assert!(!matches(&e, &Notice::error(inv(), "a")));
        let mut other = inv();
        other.uid = Some("u2".into());
        assert!(!matches(&e, &Notice::warning(other, "a")));
        let mut foreign = e.clone();
        foreign.reporting_component = Some("service-syncer".into());
        foreign.source = None;
        assert!(!matches(&foreign, &n));
    }

    #[test]
    fn long_messages_are_clipped_on_a_char_boundary() {
        let n = Notice::error(inv(), "é".repeat(2000));
        assert!(n.message.len() <= MAX_MESSAGE);
        assert!(n.message.ends_with("..."));
    }

    #[test]
    fn event_names_fit_and_differ() {
        let long = "a".repeat(300);
        let name = event_name(&long);
        assert!(name.len() <= 253);
        assert_ne!(event_name("web"), event_name("web"));
        assert!(event_name("web").starts_with("web."));
    }

    #[test]
    fn the_bump_patch_sets_count_and_last_timestamp() {
        let p = bump_patch(4);
        assert_eq!(p["count"], 4);
        assert!(p["lastTimestamp"].is_string());
    }
}
