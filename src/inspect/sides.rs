//! Per-object facts for a row: what each side looks like, which pods a selector reaches, which
//! names resolve, the newest sync event. Pure functions over k8s-openapi objects.
//!
//! Selector matching and event look-ups are indexed once per snapshot ([`SideIndex`]) so that a
//! host namespace with tens of thousands of pods does not make `rows()` quadratic.

use crate::cluster::snapshot::{ObjKey, Side, lookup};
use crate::inspect::model::{EventView, SideView};
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointSlice};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash over 8-byte words (the scheme of rustc's FxHash): the index keys are
/// short label strings, for which SipHash's DoS resistance buys nothing and costs a third of
/// the index build, and byte-at-a-time hashes are slow on 30-byte label keys.
#[derive(Default)]
struct WordHash(u64);

const WORD_HASH_K: u64 = 0xf135_7aea_2e62_a9c5;

impl WordHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(WORD_HASH_K);
    }
}

impl Hasher for WordHash {
    fn finish(&self) -> u64 {
        // The table picks buckets from the high bits and tags from the top ones: mix them.
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        let mut w = [0u8; 8];
        for c in &mut words {
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// Pods whose labels [`SideIndex::new`] reads ahead at once.
const WARM_PODS: usize = 32;

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHash>>;

pub use crate::cluster::snapshot::SYNC_EVENT_REASONS;

/// RFC 3339 creation time of an object.
pub fn created(meta: &ObjectMeta) -> Option<String> {
    meta.creation_timestamp.as_ref().map(|t| t.0.to_string())
}

/// Pods that a selector reaches on one side: all of them, and the ready ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selected {
    pub matched: u32,
    pub ready: u32,
}

/// Look-up tables over one side, built once per `rows()` call.
pub struct SideIndex<'a> {
    side: &'a Side,
    /// `(namespace, label key, label value)` as [`label_key`] spells it → indexes into `pods`.
    /// The keys are copies, made once per distinct label while indexing: a look-up then reads
    /// a few kilobytes built together instead of the first pod's strings somewhere on the heap
    /// (on 40,000 objects that cache miss was a third of a service row).
    by_label: FastMap<Box<[u8]>, Vec<u32>>,
    pods: Vec<&'a Pod>,
    /// `(namespace, kind, name)` → newest SyncError/SyncWarning about that object.
    events: FastMap<(&'a str, &'a str, &'a str), &'a Event>,
}

impl<'a> SideIndex<'a> {
    pub fn new(side: &'a Side) -> Self {
        let mut by_label: FastMap<Box<[u8]>, Vec<u32>> = FastMap::default();
        let all: Vec<(&str, &Pod)> = side
            .pods
            .iter()
            .map(|(k, p)| (k.namespace.as_str(), p.as_ref()))
            .collect();
        let mut buf = Vec::new();
        // A few pods' labels are read ahead at once (independent loads the core overlaps),
        // then indexed from the cache: on a big side the labels are spread over the heap.
        for (first, batch) in (0..).step_by(WARM_PODS).zip(all.chunks(WARM_PODS)) {
            let touched: usize = batch
                .iter()
                .map(|(ns, pod)| {
                    ns.len()
                        + pod.metadata.labels.iter().flatten().fold(0, |n, (k, v)| {
                            n + usize::from(k.as_bytes().first().copied().unwrap_or(0))
                                + usize::from(v.as_bytes().first().copied().unwrap_or(0))
                        })
                })
                .sum();
            std::hint::black_box(touched);
            for (idx, (ns, pod)) in (first..).zip(batch) {
                for (k, v) in pod.metadata.labels.iter().flatten() {
                    label_key(&mut buf, ns, k, v);
                    match by_label.get_mut(buf.as_slice()) {
                        Some(list) => list.push(idx),
                        None => {
                            by_label.insert(buf.as_slice().into(), vec![idx]);
                        }
                    }
                }
            }
        }
        let pods: Vec<&Pod> = all.into_iter().map(|(_, p)| p).collect();
        let mut events: FastMap<(&str, &str, &str), &Event> = FastMap::default();
        for ev in side.events.values() {
            let Some(reason) = ev.reason.as_deref() else {
                continue;
            };
            if !SYNC_EVENT_REASONS.contains(&reason) {
                continue;
            }
            let io = &ev.involved_object;
            let key = (
                io.namespace.as_deref().unwrap_or(""),
                io.kind.as_deref().unwrap_or(""),
                io.name.as_deref().unwrap_or(""),
            );
            match events.get(&key) {
                Some(old) if event_time(old) >= event_time(ev) => {}
                _ => {
                    events.insert(key, ev.as_ref());
                }
            }
        }
        Self {
            side,
            by_label,
            pods,
            events,
        }
    }

    pub fn side(&self) -> &'a Side {
        self.side
    }

    /// Pods in `namespace` whose labels contain every pair of `selector`. An empty selector
    /// selects nothing (a Service with `selector: {}` gets no endpoints from the controller).
    pub fn select(&self, namespace: &str, selector: &BTreeMap<String, String>) -> Selected {
        let mut out = Selected::default();
        self.each_selected(namespace, selector, |i| {
            out.matched += 1;
            if pod_ready(self.pods[i as usize]) {
                out.ready += 1;
            }
        });
        out
    }

    /// `select(namespace, selector).matched`, without reading the pods themselves.
    pub fn matched(&self, namespace: &str, selector: &BTreeMap<String, String>) -> u32 {
        let mut n = 0;
        self.each_selected(namespace, selector, |_| n += 1);
        n
    }

    /// Calls `f` with the index of every pod the selector reaches. The index lists are sorted
    /// (pods are numbered in map order), so a pod is in every list if the shortest list's
    /// entry is found in each other one: no pod's labels are read, which on 20,000 pods
    /// spread over the heap is what the time went to.
    fn each_selected(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
        mut f: impl FnMut(u32),
    ) {
        let mut lists: Vec<&[u32]> = Vec::with_capacity(selector.len());
        let mut buf = Vec::new();
        for (k, v) in selector {
            label_key(&mut buf, namespace, k, v);
            match self.by_label.get(buf.as_slice()) {
                None => return,
                Some(list) => lists.push(list),
            }
        }
        lists.sort_unstable_by_key(|l| l.len());
        let Some((shortest, others)) = lists.split_first() else {
            return;
        };
        for &i in *shortest {
            if others.iter().all(|l| l.binary_search(&i).is_ok()) {
                f(i);
            }
        }
    }

    /// Keys of `selector` that no pod in `namespace` carries with that value: on a host Service
    /// that selects nothing, these are the stale keys of the vcluster#2887 signature.
    pub fn unmatched_keys(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut buf = Vec::new();
        selector
            .iter()
            .filter(|(k, v)| {
                label_key(&mut buf, namespace, k, v);
                !self.by_label.contains_key(buf.as_slice())
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// The newest SyncError/SyncWarning whose involved object is `kind namespace/name`.
    pub fn newest_event(&self, kind: &str, namespace: &str, name: &str) -> Option<EventView> {
        self.events
            .get(&(namespace, kind, name))
            .map(|ev| event_view(ev))
    }

    /// Ready and not-ready addresses of the Endpoints at `key`, if that object exists.
    pub fn endpoint_counts(&self, key: &ObjKey) -> Option<(u32, u32)> {
        self.side.endpoints.get(key).map(|ep| endpoints_counts(ep))
    }

    /// [`Self::endpoint_counts`] by namespace and name (no key to build).
    pub fn endpoint_counts_of(&self, namespace: &str, name: &str) -> Option<(u32, u32)> {
        lookup(&self.side.endpoints, namespace, name).map(|ep| endpoints_counts(ep))
    }
}

/// `(namespace, key, value)` as one byte string in `buf`: each part after its length, so no
/// two triples spell the same bytes whatever characters they hold.
fn label_key(buf: &mut Vec<u8>, namespace: &str, key: &str, value: &str) {
    buf.clear();
    for part in [namespace, key, value] {
        buf.extend_from_slice(&(part.len() as u64).to_le_bytes());
        buf.extend_from_slice(part.as_bytes());
    }
}

/// When an event last happened: series, lastTimestamp, eventTime, then creation.
fn event_time(ev: &Event) -> Option<String> {
    ev.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0.to_string())
        .or_else(|| ev.last_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| ev.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| created(&ev.metadata))
}

pub fn event_view(ev: &Event) -> EventView {
    let count = ev
        .series
        .as_ref()
        .and_then(|s| s.count)
        .or(ev.count)
        .unwrap_or(1)
        .max(0) as u32;
    EventView {
        reason: ev.reason.clone().unwrap_or_default(),
        message: ev.message.clone().unwrap_or_default(),
        count,
        last_seen: event_time(ev),
    }
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn endpoints_counts(ep: &Endpoints) -> (u32, u32) {
    let mut ready = 0u32;
    let mut not_ready = 0u32;
    for subset in ep.subsets.iter().flatten() {
        ready += subset.addresses.as_ref().map_or(0, |a| a.len() as u32);
        not_ready += subset
            .not_ready_addresses
            .as_ref()
            .map_or(0, |a| a.len() as u32);
    }
    (ready, not_ready)
}

/// A Service's selector, if it has one (`None` for selector-less services).
pub fn service_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec.as_ref()?.selector.as_ref()
}

pub fn service_cluster_ip(svc: &Service) -> Option<String> {
    svc.spec
        .as_ref()?
        .cluster_ip
        .clone()
        .filter(|ip| !ip.is_empty())
}

fn base_view(meta: &ObjectMeta) -> SideView {
    SideView {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        exists: true,
        uid: meta.uid.clone(),
        created: created(meta),
        ..Default::default()
    }
}

/// A side that has no object: only the name it would have.
pub fn absent_view(key: Option<&ObjKey>) -> SideView {
    SideView {
        namespace: key.map(|k| k.namespace.clone()).unwrap_or_default(),
        name: key.map(|k| k.name.clone()).unwrap_or_default(),
        exists: false,
        ..Default::default()
    }
}

pub fn pod_view(pod: &Pod) -> SideView {
    let mut v = base_view(&pod.metadata);
    let status = pod.status.as_ref();
    v.ip = status
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty());
    v.state = status.and_then(|s| s.phase.clone());
    v.ready = status
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().filter(|c| c.ready).count() as u32);
    v
}

/// A Service with its endpoints and the pods its selector reaches, all on the same side.
pub fn service_view(svc: &Service, index: &SideIndex) -> SideView {
    let mut v = base_view(&svc.metadata);
    v.ip = service_cluster_ip(svc);
    v.state = Some(
        svc.spec
            .as_ref()
            .and_then(|s| s.type_.clone())
            .unwrap_or_else(|| "ClusterIP".to_string()),
    );
    v.ready = index
        .endpoint_counts_of(&v.namespace, &v.name)
        .map(|(r, _)| r);
    v.selected_pods = service_selector(svc)
        .filter(|s| !s.is_empty())
        .map(|s| index.matched(&v.namespace, s));
    v
}

pub fn endpoints_view(ep: &Endpoints) -> SideView {
    let mut v = base_view(&ep.metadata);
    let (ready, not_ready) = endpoints_counts(ep);
    v.ready = Some(ready);
    v.state = Some(format!("{ready} ready, {not_ready} not ready"));
    v.ip = ep
        .subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .next();
    v
}

/// Whether a slice endpoint counts as ready: an unset condition means ready (discovery/v1).
pub fn slice_endpoint_ready(e: &SliceEndpoint) -> bool {
    e.conditions.as_ref().and_then(|c| c.ready) != Some(false)
}

pub fn endpoint_slice_view(slice: &EndpointSlice) -> SideView {
    let mut v = base_view(&slice.metadata);
    let ready = slice
        .endpoints
        .iter()
        .filter(|e| slice_endpoint_ready(e))
        .count();
    let not_ready = slice.endpoints.len() - ready;
    v.ready = Some(u32::try_from(ready).unwrap_or(u32::MAX));
    v.state = Some(format!("{ready} ready, {not_ready} not ready"));
    v.ip = slice
        .endpoints
        .iter()
        .filter(|e| slice_endpoint_ready(e))
        .flat_map(|e| e.addresses.first())
        .next()
        .cloned();
    v
}

pub fn ingress_view(ing: &Ingress) -> SideView {
    let mut v = base_view(&ing.metadata);
    v.state = ing.spec.as_ref().and_then(|s| s.ingress_class_name.clone());
    v.ip = ing
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|l| l.first())
        .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()));
    v
}

/// `<name>.<ns>.svc.<domain>`
pub fn service_fqdn(name: &str, namespace: &str, domain: &str) -> String {
    format!("{name}.{namespace}.svc.{domain}")
}

/// Pod A record: `a-b-c-d.<ns>.pod.<domain>` (IPv6: colons become dashes, as CoreDNS does).
pub fn pod_ip_fqdn(ip: &str, namespace: &str, domain: &str) -> String {
    // Built in one allocation: this runs for both sides of every pod row.
    let mut out = String::with_capacity(ip.len() + namespace.len() + domain.len() + 6);
    out.extend(
        ip.chars()
            .map(|c| if c == '.' || c == ':' { '-' } else { c }),
    );
    out.push('.');
    out.push_str(namespace);
    out.push_str(".pod.");
    out.push_str(domain);
    out
}

/// DNS names of a virtual pod: its IP name and, with a subdomain, `hostname.subdomain.ns.svc`.
pub fn virtual_pod_names(pod: &Pod, domain: &str) -> Vec<String> {
    pod_names(pod, domain, pod.metadata.name.as_deref())
}

/// DNS names of a host pod: only its IP name (vCluster clears the subdomain on the host).
pub fn host_pod_names(pod: &Pod, domain: &str) -> Vec<String> {
    pod_names(pod, domain, None)
}

/// The IP name and, with a subdomain, `hostname.subdomain.ns.svc` (an unset or empty hostname
/// is `hostname_fallback`, else empty).
fn pod_names(pod: &Pod, domain: &str, hostname_fallback: Option<&str>) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref())
        && !ip.is_empty()
    {
        out.push(pod_ip_fqdn(ip, ns, domain));
    }
    if let Some(spec) = pod.spec.as_ref()
        && let Some(sub) = spec.subdomain.as_deref().filter(|s| !s.is_empty())
    {
        let hostname = spec
            .hostname
            .as_deref()
            .filter(|h| !h.is_empty())
            .or(hostname_fallback)
            .unwrap_or_default();
        out.push(format!("{hostname}.{sub}.{ns}.svc.{domain}"));
    }
    out
}

/// The hosts an Ingress routes (rules and TLS), deduplicated in order.
pub fn ingress_hosts(ing: &Ingress) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let spec = ing.spec.as_ref();
    let rules = spec
        .and_then(|s| s.rules.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.host.clone());
    let tls = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.clone().unwrap_or_default());
    for h in rules.chain(tls) {
        if !h.is_empty() && !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(objs: Vec<serde_json::Value>) -> Side {
        let mut s = Side::default();
        for o in objs {
            s.insert_json(o).unwrap();
        }
        s
    }

    fn pod(ns: &str, name: &str, labels: serde_json::Value, ready: bool) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": ns, "name": name, "labels": labels},
            "status": {"phase": "Running", "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn selector_counts_matched_and_ready_pods_per_namespace() {
        let s = side(vec![
            pod("a", "p1", json!({"app": "web", "tier": "fe"}), true),
            pod("a", "p2", json!({"app": "web"}), false),
            pod("b", "p3", json!({"app": "web"}), true),
        ]);
        let idx = SideIndex::new(&s);
        let sel: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        assert_eq!(
            idx.select("a", &sel),
            Selected {
                matched: 2,
                ready: 1
            }
        );
        let sel2: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "fe".to_string()),
        ]
        .into();
        assert_eq!(
            idx.select("a", &sel2),
            Selected {
                matched: 1,
                ready: 1
            }
        );
        assert_eq!(idx.select("a", &BTreeMap::new()), Selected::default());
        let stale: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("gone".to_string(), "x".to_string()),
        ]
        .into();
        assert_eq!(idx.select("a", &stale).matched, 0);
        for (ns, sel) in [("a", &sel), ("a", &sel2), ("b", &sel), ("a", &stale)] {
            assert_eq!(
                idx.matched(ns, sel),
                idx.select(ns, sel).matched,
                "{ns} {sel:?}"
            );
        }
        assert_eq!(idx.unmatched_keys("a", &stale), vec!["gone=x".to_string()]);
    }

    #[test]
    fn label_keys_of_different_triples_differ() {
        let spell = |ns: &str, k: &str, v: &str| {
            let mut b = Vec::new();
            label_key(&mut b, ns, k, v);
            b
        };
        assert_ne!(spell("a", "bc", "d"), spell("ab", "c", "d"));
        assert_ne!(spell("a", "b", "cd"), spell("a", "bc", "d"));
        assert_ne!(spell("", "", "x"), spell("x", "", ""));
        assert_eq!(spell("a", "b", "c"), spell("a", "b", "c"));
    }

    #[test]
    fn selectors_match_across_more_pods_than_one_read_ahead_batch() {
        let pods: Vec<_> = (0..WARM_PODS * 3 + 5)
            .map(|i| {
                let app = if i % 2 == 0 { "even" } else { "odd" };
                pod(
                    "a",
                    &format!("p{i:03}"),
                    json!({"app": app, "n": i.to_string()}),
                    i % 4 == 0,
                )
            })
            .collect();
        let s = side(pods);
        let idx = SideIndex::new(&s);
        let sel = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let total = WARM_PODS * 3 + 5;
        assert_eq!(
            idx.matched("a", &sel(&[("app", "even")])) as usize,
            total.div_ceil(2)
        );
        assert_eq!(
            idx.select("a", &sel(&[("app", "even")])).ready as usize,
            total.div_ceil(4)
        );
        let last = (total - 1).to_string();
        assert_eq!(idx.matched("a", &sel(&[("n", last.as_str())])), 1);
        assert_eq!(idx.matched("b", &sel(&[("app", "even")])), 0);
    }

    #[test]
    fn newest_sync_event_wins_and_other_reasons_are_ignored() {
        let ev = |name: &str, reason: &str, t: &str, msg: &str| {
            json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"namespace": "default", "name": name},
                "involvedObject": {"kind": "Service", "namespace": "default", "name": "web"},
                "reason": reason, "message": msg, "lastTimestamp": t, "count": 2})
        };
        let s = side(vec![
            ev("e1", "SyncError", "2026-01-01T00:00:00Z", "old"),
            ev("e2", "SyncWarning", "2026-01-02T00:00:00Z", "new"),
            ev("e3", "Scheduled", "2026-01-03T00:00:00Z", "unrelated"),
        ]);
        let idx = SideIndex::new(&s);
        let got = idx.newest_event("Service", "default", "web").unwrap();
        assert_eq!(got.message, "new");
        assert_eq!(got.reason, "SyncWarning");
        assert_eq!(got.count, 2);
        assert!(idx.newest_event("Service", "default", "other").is_none());
    }

    #[test]
    fn pod_names_on_both_sides() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"namespace": "db", "name": "pg-0"},
            "spec": {"containers": [], "subdomain": "pg"},
            "status": {"podIP": "10.1.2.3"}}))
        .unwrap();
        assert_eq!(
            virtual_pod_names(&p, "cluster.local"),
            vec![
                "10-1-2-3.db.pod.cluster.local".to_string(),
                "pg-0.pg.db.svc.cluster.local".to_string()
            ]
        );
        let mut host = p.clone();
        host.spec.as_mut().unwrap().subdomain = None;
        host.metadata.namespace = Some("vcluster-vc".into());
        assert_eq!(
            host_pod_names(&host, "cluster.local"),
            vec!["10-1-2-3.vcluster-vc.pod.cluster.local".to_string()]
        );
    }

    #[test]
    fn pod_ip_names_for_both_address_families() {
        assert_eq!(
            pod_ip_fqdn("10.1.2.3", "db", "cluster.local"),
            "10-1-2-3.db.pod.cluster.local"
        );
        assert_eq!(
            pod_ip_fqdn("fd00::1:2", "db", "example.org"),
            "fd00--1-2.db.pod.example.org"
        );
    }

    #[test]
    fn ingress_hosts_are_deduplicated() {
        let i: Ingress = serde_json::from_value(json!({
            "metadata": {"namespace": "a", "name": "i"},
            "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                     "tls": [{"hosts": ["a.example.com"], "secretName": "s"}]}}))
        .unwrap();
        assert_eq!(ingress_hosts(&i), vec!["a.example.com", "b.example.com"]);
    }
}
