//! The generic object store: JSON objects keyed by (kind id, namespace, name), one global
//! resourceVersion (like an etcd revision), a ring of recent events for watch replay, and a
//! broadcast channel for live watches and the simulated controllers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

/// (kind id, namespace or "", name)
pub type Key = (&'static str, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed write.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub etype: EventType,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The object after the write (for DELETED: the last state, stamped with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the write, for selector transitions: its [`Slot::head`] (a large
    /// object without its containers' env).
    pub old: Option<Arc<Value>>,
    /// The whole object before the write as JSON, when `old` is only its head.
    pub old_full: Option<Bytes>,
}

impl Event {
    /// The whole object before the write.
    pub fn old_object(&self) -> Option<Arc<Value>> {
        let head = self.old.as_ref()?;
        Some(match &self.old_full {
            Some(b) => parse_or(b, head),
            None => head.clone(),
        })
    }
}

/// Objects whose tree is larger than this are stored as JSON text plus a head. A pod twin with
/// hundreds of service-link env vars is ~40 KB of JSON but ~0.5 MB as a serde_json tree (every
/// `{"name", "value"}` is a B-tree node of ~650 bytes).
pub const LARGE_OBJECT: usize = 64 << 10;

/// One stored object.
#[derive(Debug, Clone)]
pub struct Slot {
    head: Arc<Value>,
    full: Option<Bytes>,
}

impl Slot {
    fn new(obj: &Arc<Value>, size: usize) -> Self {
        if size <= LARGE_OBJECT {
            return Self {
                head: obj.clone(),
                full: None,
            };
        }
        match serde_json::to_vec(&**obj) {
            Ok(text) => Self {
                head: Arc::new(head_of(obj)),
                full: Some(Bytes::from(text)),
            },
            Err(_) => Self {
                head: obj.clone(),
                full: None,
            },
        }
    }

    /// The object, or for a large one everything but its containers' env: enough for
    /// selectors, tables, metadata and the controllers.
    pub fn head(&self) -> &Arc<Value> {
        &self.head
    }

    /// The JSON text of a large object (exactly what serialising [`Slot::full`] gives), so a
    /// plain list or watch can send it without parsing it and writing it out again.
    pub fn text(&self) -> Option<&Bytes> {
        self.full.as_ref()
    }

    /// The whole object (parsed from its text when it is stored as text).
    pub fn full(&self) -> Arc<Value> {
        match &self.full {
            Some(b) => parse_or(b, &self.head),
            None => self.head.clone(),
        }
    }
}

/// The text we wrote ourselves always parses; if it ever did not, the head is the best left.
fn parse_or(text: &[u8], head: &Arc<Value>) -> Arc<Value> {
    serde_json::from_slice(text)
        .map(Arc::new)
        .unwrap_or_else(|_| head.clone())
}

/// A copy of `obj` without the env of its (init, ephemeral) containers.
fn head_of(obj: &Value) -> Value {
    let Value::Object(top) = obj else {
        return obj.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in top {
        let v = match (k.as_str(), v) {
            ("spec", Value::Object(spec)) => {
                let mut o = serde_json::Map::new();
                for (sk, sv) in spec {
                    let sv = match (sk.as_str(), sv) {
                        (
                            "containers" | "initContainers" | "ephemeralContainers",
                            Value::Array(cs),
                        ) => Value::Array(
                            cs.iter()
                                .map(|c| match c {
                                    Value::Object(c) => Value::Object(
                                        c.iter()
                                            .filter(|(ck, _)| ck.as_str() != "env")
                                            .map(|(ck, cv)| (ck.clone(), cv.clone()))
                                            .collect(),
                                    ),
                                    other => other.clone(),
                                })
                                .collect(),
                        ),
                        _ => sv.clone(),
                    };
                    o.insert(sk.clone(), sv);
                }
                Value::Object(o)
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// Events kept for watch replay; older resourceVersions get an in-stream 410.
pub const DEFAULT_RING: usize = 50_000;
/// Rough bytes of objects the replay ring may hold. Events share their objects with the store,
/// but every write makes a new version, so 50,000 writes of large pods (hundreds of service
/// link env vars each) would otherwise keep gigabytes of old versions alive.
pub const DEFAULT_RING_BYTES: usize = 256 << 20;

pub struct Store {
    objects: BTreeMap<Key, Slot>,
    /// Objects per kind and per (kind, namespace), kept with every insert and removal: a paged
    /// list's `remainingItemCount` must not walk the rest of the collection on every page
    /// (that made listing n objects O(n²)).
    per_kind: HashMap<&'static str, usize>,
    per_namespace: HashMap<(&'static str, String), usize>,
    rv: u64,
    /// Events with the rough size of their object.
    ring: VecDeque<(Arc<Event>, usize)>,
    ring_cap: usize,
    ring_bytes: usize,
    ring_byte_cap: usize,
    /// Oldest RV from which a watch can still be replayed exactly.
    compacted: u64,
    tx: broadcast::Sender<Arc<Event>>,
    controllers: Vec<mpsc::UnboundedSender<Arc<Event>>>,
    /// Server-side apply: the last applied configuration per object and field manager.
    pub applied: HashMap<Key, BTreeMap<String, Value>>,
}

impl Store {
    pub fn new(ring_cap: usize) -> Self {
        let (tx, _) = broadcast::channel(16_384);
        Self {
            objects: BTreeMap::new(),
            per_kind: HashMap::new(),
            per_namespace: HashMap::new(),
            rv: 1,
            ring: VecDeque::new(),
            ring_cap,
            ring_bytes: 0,
            ring_byte_cap: DEFAULT_RING_BYTES,
            compacted: 1,
            tx,
            controllers: Vec::new(),
            applied: HashMap::new(),
        }
    }

    /// Shrinks or grows the replay ring (tests use a tiny ring to provoke 410s).
    pub fn set_ring_capacity(&mut self, cap: usize) {
        self.ring_cap = cap.max(1);
        self.trim_ring();
    }

    /// Caps the replay ring by the rough size of its objects (the newest event always stays).
    pub fn set_ring_byte_capacity(&mut self, bytes: usize) {
        self.ring_byte_cap = bytes;
        self.trim_ring();
    }

    fn trim_ring(&mut self) {
        while self.ring.len() > self.ring_cap
            || (self.ring.len() > 1 && self.ring_bytes > self.ring_byte_cap)
        {
            let Some((old, size)) = self.ring.pop_front() else {
                break;
            };
            self.ring_bytes -= size;
            self.compacted = old.rv;
        }
    }

    pub fn rv(&self) -> u64 {
        self.rv
    }

    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Controllers get every event through an unbounded queue, so they never miss one.
    pub fn add_controller(&mut self) -> mpsc::UnboundedReceiver<Arc<Event>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.controllers.push(tx);
        rx
    }

    /// The whole object.
    pub fn get(&self, kind: &'static str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.slot(kind, ns, name).map(Slot::full)
    }

    /// The object's [`Slot::head`]: cheap, and all a reader of labels, status or owners needs.
    pub fn head(&self, kind: &'static str, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.slot(kind, ns, name).map(|s| s.head().clone())
    }

    fn slot(&self, kind: &'static str, ns: &str, name: &str) -> Option<&Slot> {
        self.objects.get(&(kind, ns.to_string(), name.to_string()))
    }

    /// Objects of a kind, optionally within one namespace, in key order, starting after `after`.
    pub fn range<'a>(
        &'a self,
        kind: &'static str,
        ns: Option<&'a str>,
        after: Option<(String, String)>,
    ) -> impl Iterator<Item = (&'a Key, &'a Slot)> + 'a {
        use std::ops::Bound;
        let lo = match after {
            Some((n, m)) => Bound::Excluded((kind, n, m)),
            None => Bound::Included((kind, ns.unwrap_or("").to_string(), String::new())),
        };
        self.objects
            .range((lo, Bound::Unbounded))
            .take_while(move |(k, _)| k.0 == kind && ns.is_none_or(|n| k.1 == n))
    }

    /// Objects of a kind, optionally within one namespace (constant time).
    pub fn count(&self, kind: &'static str, ns: Option<&str>) -> usize {
        match ns {
            None => self.per_kind.get(kind).copied().unwrap_or(0),
            Some(ns) => self
                .per_namespace
                .get(&(kind, ns.to_string()))
                .copied()
                .unwrap_or(0),
        }
    }

    fn counted(&mut self, kind: &'static str, ns: &str, added: bool) {
        fn bump(n: &mut usize, added: bool) {
            if added {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        bump(self.per_kind.entry(kind).or_default(), added);
        let key = (kind, ns.to_string());
        let n = self.per_namespace.entry(key.clone()).or_default();
        bump(n, added);
        if *n == 0 {
            self.per_namespace.remove(&key);
        }
    }

    /// Events retained after `rv`, or `None` when `rv` is older than the ring.
    pub fn since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.compacted {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|(e, _)| e.rv > rv)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(&mut self, ev: Event, size: usize) {
        let ev = Arc::new(ev);
        self.ring.push_back((ev.clone(), size));
        self.ring_bytes += size;
        self.trim_ring();
        let _ = self.tx.send(ev.clone());
        self.controllers.retain(|c| c.send(ev.clone()).is_ok());
    }

    /// Writes an object (create or update), stamping the new resourceVersion.
    pub fn put(&mut self, kind: &'static str, mut obj: Value) -> Arc<Value> {
        let rv = self.next_rv();
        set_rv(&mut obj, rv);
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let size = approx_size(&obj);
        let obj = Arc::new(obj);
        let key = (kind, ns.clone(), name.clone());
        let old = self.objects.insert(key, Slot::new(&obj, size));
        if old.is_none() {
            self.counted(kind, &ns, true);
        }
        let etype = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        let (old, old_full) = match old {
            Some(s) => (Some(s.head), s.full),
            None => (None, None),
        };
        self.emit(
            Event {
                rv,
                etype,
                kind,
                namespace: ns,
                name,
                object: obj.clone(),
                old,
                old_full,
            },
            size,
        );
        obj
    }

    /// Removes an object; the DELETED event carries its last state stamped with a new RV.
    pub fn remove(&mut self, kind: &'static str, ns: &str, name: &str) -> Option<Arc<Value>> {
        let key = (kind, ns.to_string(), name.to_string());
        let old = self.objects.remove(&key)?;
        self.counted(kind, ns, false);
        self.applied.remove(&key);
        let rv = self.next_rv();
        let mut last = (*old.full()).clone();
        set_rv(&mut last, rv);
        let size = approx_size(&last);
        let last = Arc::new(last);
        self.emit(
            Event {
                rv,
                etype: EventType::Deleted,
                kind,
                namespace: ns.to_string(),
                name: name.to_string(),
                object: last.clone(),
                old: Some(old.head),
                old_full: old.full,
            },
            size,
        );
        Some(last)
    }

    /// Drops everything (a restart that loses state); the RV keeps counting up.
    pub fn clear(&mut self) {
        self.objects.clear();
        self.per_kind.clear();
        self.per_namespace.clear();
        self.applied.clear();
        self.ring.clear();
        self.ring_bytes = 0;
        // Every resourceVersion handed out before the loss is gone: a watch from any of them
        // must get 410 and re-list (equal to the last one included, or it would miss the loss).
        self.rv += 1;
        self.compacted = self.rv;
    }
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Rough bytes a JSON value takes in memory: enough to budget the replay ring, cheap to
/// compute. Objects dominate: serde_json keeps them in B-tree nodes of up to 11 entries
/// (about 650 bytes each), so a small `{"name": .., "value": ..}` costs far more than its text.
pub fn approx_size(v: &Value) -> usize {
    const VALUE: usize = 32;
    VALUE + heap_size(v)
}

fn heap_size(v: &Value) -> usize {
    const NODE: usize = 650;
    // Bytes of one allocation of `n` bytes, with the allocator's rounding and header.
    fn alloc(n: usize) -> usize {
        if n == 0 {
            0
        } else {
            n.next_multiple_of(16) + 16
        }
    }
    match v {
        Value::String(s) => alloc(s.len()),
        Value::Array(a) => alloc(a.len() * 32) + a.iter().map(heap_size).sum::<usize>(),
        Value::Object(m) if m.is_empty() => 0,
        Value::Object(m) => {
            NODE * m.len().div_ceil(8)
                + m.iter()
                    .map(|(k, v)| alloc(k.len()) + heap_size(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(ns: &str, name: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}})
    }

    #[test]
    fn rv_is_global_and_range_is_scoped() {
        let mut s = Store::new(3);
        let a = s.put("pods", obj("a", "x"));
        let b = s.put("pods", obj("b", "y"));
        s.put("services", obj("a", "z"));
        assert_eq!(meta_str(&a, "resourceVersion"), "2");
        assert_eq!(meta_str(&b, "resourceVersion"), "3");
        assert_eq!(s.count("pods", None), 2);
        assert_eq!(s.count("pods", Some("a")), 1);
        assert_eq!(s.count("services", Some("b")), 0);
        let after: Vec<_> = s
            .range("pods", None, Some(("a".into(), "x".into())))
            .map(|(k, _)| k.2.clone())
            .collect();
        assert_eq!(after, vec!["y"]);
    }

    #[test]
    fn ring_compacts() {
        let mut s = Store::new(2);
        for i in 0..5 {
            s.put("pods", obj("a", &format!("p{i}")));
        }
        assert!(s.since(1).is_none());
        assert_eq!(s.since(5).map(|v| v.len()), Some(1));
        let gone = s.remove("pods", "a", "p0").unwrap();
        assert_eq!(meta_str(&gone, "resourceVersion"), "7");
    }

    #[test]
    fn ring_compacts_by_bytes_and_keeps_the_newest_event() {
        let mut s = Store::new(100);
        let big = |name: &str| json!({"metadata": {"namespace": "a", "name": name}, "data": "x".repeat(1000)});
        let one = approx_size(&big("p0"));
        s.set_ring_byte_capacity(one * 3);
        for i in 0..10 {
            s.put("configmaps", big(&format!("p{i}")));
        }
        let kept = s.since(s.compacted()).map(|v| v.len()).unwrap_or(0);
        assert!((2..=3).contains(&kept), "kept {kept} events");
        assert!(s.since(2).is_none(), "an evicted version must get 410");
        s.set_ring_byte_capacity(1);
        assert_eq!(s.since(s.rv() - 1).map(|v| v.len()), Some(1));
    }

    #[test]
    fn small_objects_are_budgeted_at_their_node_cost_not_their_text() {
        let env: Vec<Value> = (0..100)
            .map(|i| json!({"name": format!("S{i}_SERVICE_HOST"), "value": "10.0.0.1"}))
            .collect();
        let text = serde_json::to_string(&env).unwrap().len();
        let size = approx_size(&Value::Array(env));
        assert!(size >= 100 * 650, "size {size}");
        assert!(size > 10 * text, "size {size} vs text {text}");
        assert_eq!(approx_size(&json!(null)), 32);
    }

    fn big_pod(name: &str, label: &str) -> Value {
        let env: Vec<Value> = (0..400)
            .map(|i| json!({"name": format!("S{i}_SERVICE_HOST"), "value": "10.0.0.1"}))
            .collect();
        json!({
            "metadata": {"namespace": "a", "name": name, "labels": {"app": label}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i", "env": env, "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running"}
        })
    }

    #[test]
    fn a_large_object_comes_back_whole_and_its_head_lacks_only_the_env() {
        let mut s = Store::new(16);
        let written = s.put("pods", big_pod("p", "x"));
        assert!(approx_size(&written) > LARGE_OBJECT);
        let got = s.get("pods", "a", "p").unwrap();
        assert_eq!(*got, *written, "get returns the whole object");
        let head = s.head("pods", "a", "p").unwrap();
        assert!(head.pointer("/spec/containers/0/env").is_none());
        assert_eq!(
            head["spec"]["containers"][0]["ports"],
            written["spec"]["containers"][0]["ports"]
        );
        assert_eq!(head["metadata"], written["metadata"]);
        assert_eq!(head["status"], written["status"]);
        assert_eq!(head["spec"]["nodeName"], "n1");
        let (_, slot) = s.range("pods", None, None).next().unwrap();
        assert_eq!(*slot.full(), *written);

        // The event of the next write carries the head as `old` and the whole old object on request.
        let mut rx = s.subscribe();
        s.put("pods", big_pod("p", "y"));
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.old.as_ref().unwrap()["metadata"]["labels"]["app"], "x");
        assert_eq!(*ev.old_object().unwrap(), *written);
        let gone = s.remove("pods", "a", "p").unwrap();
        assert_eq!(gone["metadata"]["labels"]["app"], "y");
        assert_eq!(
            gone["spec"]["containers"][0]["env"]
                .as_array()
                .map(Vec::len),
            Some(400)
        );
    }

    #[test]
    fn a_small_object_is_stored_as_is() {
        let mut s = Store::new(16);
        let written = s.put("pods", obj("a", "p"));
        assert!(Arc::ptr_eq(&written, &s.get("pods", "a", "p").unwrap()));
        assert!(Arc::ptr_eq(&written, &s.head("pods", "a", "p").unwrap()));
    }

    #[test]
    fn a_cleared_store_sends_every_earlier_version_to_a_relist() {
        let mut st = Store::new(16);
        st.put(
            "configmaps",
            serde_json::json!({"metadata": {"name": "a", "namespace": "d"}}),
        );
        let seen = st.rv();
        st.clear();
        assert!(
            st.since(seen).is_none(),
            "a watch from before the loss must get 410"
        );
        assert!(
            st.since(st.rv()).is_some(),
            "a list after the loss can be watched from"
        );
    }
}
