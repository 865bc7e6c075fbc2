//! Watch streams: replay from a resourceVersion, in-stream 410 for a too-old one, initial
//! events with the `k8s.io/initial-events-end` bookmark, periodic bookmarks, selector
//! transitions and Table rendering. One newline-terminated JSON event per line.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use futures::channel::mpsc;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch as tokio_watch;

use super::cluster::Cluster;
use super::error::ApiError;
use super::registry::KindInfo;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{Event, EventType, meta_str};
use super::table::{self, Include};

/// How event objects are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    Plain,
    Metadata,
    Table(Include),
}

/// A parsed watch request.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub kind: &'static KindInfo,
    pub namespace: Option<String>,
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub resource_version: Option<String>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Duration,
    pub bookmark_every: Duration,
    pub render: Render,
}

pub type Chunk = Result<Bytes, Infallible>;

fn render(spec: &WatchSpec, obj: &Value) -> Vec<u8> {
    match spec.render {
        Render::Plain => serde_json::to_vec(obj).unwrap_or_default(),
        Render::Metadata => serde_json::to_vec(&table::partial_metadata(obj)).unwrap_or_default(),
        Render::Table(inc) => {
            let rv = meta_str(obj, "resourceVersion").parse().unwrap_or(0);
            let t = table::table(spec.kind, &[Arc::new(obj.clone())], rv, None, inc);
            serde_json::to_vec(&t).unwrap_or_default()
        }
    }
}

/// An object of a watch's initial events: parsed, or a large object's stored JSON text.
enum Initial {
    Object(Arc<Value>),
    Text(Bytes),
}

fn line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn bookmark(spec: &WatchSpec, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj =
        json!({"kind": spec.kind.kind, "apiVersion": spec.kind.api_version(), "metadata": meta});
    line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

fn error_line(e: &ApiError) -> Bytes {
    line(
        "ERROR",
        &serde_json::to_vec(&e.to_status()).unwrap_or_default(),
    )
}

fn matches(spec: &WatchSpec, v: &Value) -> bool {
    spec.label.matches(v) && spec.field.matches(v)
}

/// What a store event looks like through this watch's namespace and selectors.
fn translate(spec: &WatchSpec, ev: &Event) -> Option<(&'static str, Arc<Value>)> {
    if ev.kind != spec.kind.id || spec.namespace.as_deref().is_some_and(|n| n != ev.namespace) {
        return None;
    }
    match ev.etype {
        EventType::Added => matches(spec, &ev.object).then(|| ("ADDED", ev.object.clone())),
        EventType::Deleted => matches(spec, &ev.object).then(|| ("DELETED", ev.object.clone())),
        EventType::Modified => {
            let was = ev.old.as_ref().is_some_and(|o| matches(spec, o));
            let is = matches(spec, &ev.object);
            match (was, is) {
                (true, true) => Some(("MODIFIED", ev.object.clone())),
                (false, true) => Some(("ADDED", ev.object.clone())),
                (true, false) => {
                    // Leaving the selection: the last matching state, at this event's RV.
                    let mut last = ev.old_object().map(|o| (*o).clone()).unwrap_or(Value::Null);
                    last["metadata"]["resourceVersion"] = json!(ev.rv.to_string());
                    Some(("DELETED", Arc::new(last)))
                }
                (false, false) => None,
            }
        }
    }
}

/// Starts a watch; the returned receiver is the response body.
pub fn start(
    cluster: Arc<Cluster>,
    spec: WatchSpec,
    mut stop: tokio_watch::Receiver<u64>,
) -> mpsc::Receiver<Chunk> {
    let (mut tx, rx) = mpsc::channel::<Chunk>(256);
    let rv_param = spec.resource_version.clone().unwrap_or_default();
    let from_state = rv_param.is_empty() || rv_param == "0" || spec.send_initial_events;
    // Snapshot and subscription under one lock, so no event falls between them.
    let (initial, replay, mut sub, start_rv) = {
        let store = cluster.lock();
        let sub = store.subscribe();
        let current = store.rv();
        if from_state {
            // Metadata is all a metadata watch renders, and a plain watch sends a large
            // object's stored text as it is: either way large objects stay unparsed, and the
            // store's lock is not held while thousands of them would be.
            let items: Vec<Initial> = store
                .range(spec.kind.id, spec.namespace.as_deref(), None)
                .filter(|(_, v)| matches(&spec, v.head()))
                .map(|(_, v)| match (&spec.render, v.text()) {
                    (Render::Metadata, _) => Initial::Object(v.head().clone()),
                    (Render::Plain, Some(text)) => Initial::Text(text.clone()),
                    _ => Initial::Object(v.full()),
                })
                .collect();
            (items, Some(Vec::new()), sub, current)
        } else {
            let n = rv_param.parse::<u64>().unwrap_or(0);
            (Vec::new(), store.since(n), sub, current.max(n))
        }
    };
    // A drop that happened before this watch started does not count.
    stop.borrow_and_update();
    tokio::spawn(async move {
        let Some(replay) = replay else {
            let current = cluster.lock().rv();
            let e = ApiError::expired(format!("too old resource version: {rv_param} ({current})"));
            let _ = tx.send(Ok(error_line(&e))).await;
            return;
        };
        let mut last_rv = start_rv;
        for item in &initial {
            let object = match item {
                Initial::Object(obj) => render(&spec, obj),
                Initial::Text(text) => text.to_vec(),
            };
            if tx.send(Ok(line("ADDED", &object))).await.is_err() {
                return;
            }
        }
        if spec.send_initial_events
            && spec.bookmarks
            && tx.send(Ok(bookmark(&spec, start_rv, true))).await.is_err()
        {
            return;
        }
        for ev in &replay {
            last_rv = last_rv.max(ev.rv);
            if let Some((t, obj)) = translate(&spec, ev)
                && tx.send(Ok(line(t, &render(&spec, &obj)))).await.is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(spec.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut since_bookmark = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    if spec.bookmarks {
                        loop {
                            match sub.try_recv() {
                                Ok(ev) => {
                                    if ev.rv <= last_rv { continue; }
                                    last_rv = ev.rv;
                                    if let Some((t, obj)) = translate(&spec, &ev)
                                        && tx.send(Ok(line(t, &render(&spec, &obj)))).await.is_err() {
                                        return;
                                    }
                                }
                                Err(TryRecvError::Lagged(_)) => return,
                                Err(_) => break,
                            }
                        }
                        let _ = tx.send(Ok(bookmark(&spec, last_rv, false))).await;
                    }
                    return;
                }
                _ = stop.changed() => return,
                _ = tick.tick() => {
                    if tx.is_closed() {
                        return;
                    }
                    if spec.bookmarks && since_bookmark.elapsed() >= spec.bookmark_every {
                        since_bookmark = tokio::time::Instant::now();
                        if tx.send(Ok(bookmark(&spec, last_rv, false))).await.is_err() {
                            return;
                        }
                    }
                }
                r = sub.recv() => match r {
                    Ok(ev) => {
                        // Replayed events were also queued on the subscription; skip them.
                        if ev.rv <= last_rv {
                            continue;
                        }
                        last_rv = ev.rv;
                        if let Some((t, obj)) = translate(&spec, &ev)
                            && tx.send(Ok(line(t, &render(&spec, &obj)))).await.is_err() {
                            return;
                        }
                    }
                    // A consumer too slow for the broadcast: end the stream; the client
                    // re-watches from its last resourceVersion and replays from the ring.
                    Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
                }
            }
        }
    });
    rx
}
