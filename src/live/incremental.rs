//! Rows of a new snapshot from the rows of the previous one: only the virtual namespaces whose
//! inputs changed are paired, planned and built again. Pure: no tokio, no client.
//!
//! A row's inputs reach beyond its two objects, and every reach is mapped to the virtual
//! namespaces whose rows may read it:
//! - virtual objects (pods, services, endpoints, slices, ingresses, pod env) of namespace N,
//!   and sync events whose involved object is in N → N;
//! - host objects in the host namespace → the namespaces their name translates from
//!   (`<name>-x-<ns>-x-<vc>`, every split) and the namespace their `object-namespace`
//!   annotation names; an object neither explains (hashed squatters, the vCluster's own pods)
//!   is "global";
//! - a host pod is also read by every host Service whose selector matches it (counts) or
//!   names one of its labels whose last carrier came or went (the vcluster#2887 stale keys);
//! - a Service's plan reads services in other namespaces that share a ClusterIP with it (who
//!   holds the host twin's IP, and that holder's twin): a changed service's IPs dirty every
//!   namespace with a service on either side carrying one of them (looked up in an index by
//!   ClusterIP, kept from change to change).
//!
//! - a replicated service's row lives in its virtual namespace and reads the host objects the
//!   config names (whatever their names): their changes dirty that namespace.
//!
//! Within a changed namespace, a pod row whose own pods did not change is kept as it was
//! unless something every pod row reads changed too (see `Dirty`): under churn most rows of
//! a touched namespace are pods that did not move.
//!
//! Anything global recomputes everything: the config, conn states and listing flags,
//! namespaces, nodes, ingress classes, secrets, the vCluster's host Service, the kube-dns twin,
//! and host objects outside the host namespace or not explained by their name.
//!
//! Time: the only clock a row reads is the block-deletion window (a young host object created
//! through the vCluster API waits 2 minutes before it counts as an orphan). The namespaces of
//! such objects carry a deadline; an update at or after it recomputes them, and
//! [`IncrementalRows::next_deadline`] tells the caller when to ask for one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use imbl::ordmap::DiffItem;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::cluster::snapshot::{KeyMap, Obj, ObjKey, ObjMap, Side, Snapshot};
use crate::engine::ctx::cluster_ip;
use crate::engine::ownership::{controlled_by_service, virtual_ref};
use crate::engine::pair::Pair;
use crate::engine::translate::pod;
use crate::inspect::model::PairRow;
use crate::inspect::rows::{pair_rows_keeping, pair_rows_on};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;

/// How long a host object annotated with block-deletion waits for its virtual object.
const BLOCK_DELETION_SECONDS: i64 = 120;

/// What the last [`IncrementalRows::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateKind {
    #[default]
    None,
    /// Every row was computed again, for this reason.
    Full(&'static str),
    /// Only these many namespaces' rows were computed again (0: nothing changed); of their
    /// `rows`, `kept` pod rows were kept as they were (their inputs did not change).
    Partial {
        namespaces: usize,
        rows: usize,
        kept: usize,
    },
}

/// Host kinds rows are made of (events are not read by rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum HKind {
    Pod,
    Service,
    Endpoints,
    Slice,
    Ingress,
}

/// Where the rows that read a host object live.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Home {
    Namespaces(Vec<String>),
    Global,
}

/// The previous snapshot, its rows and the indexes kept up to date from change to change.
struct State {
    snapshot: Arc<Snapshot>,
    config: Arc<VClusterConfig>,
    rows: Vec<(Pair, Arc<PairRow>)>,
    /// Some row has no virtual object (so belongs to no namespace): every update recomputes
    /// everything. Known when the rows are made (a partial update never adds such a row).
    unhomed: bool,
    /// Host objects of the host namespace by the virtual namespace whose rows read them.
    by_namespace: HashMap<String, BTreeSet<(HKind, ObjKey)>>,
    /// Host objects that every computation includes (their changes recompute everything).
    global: BTreeSet<(HKind, ObjKey)>,
    /// `(label key, value)` → host pods of the host namespace carrying it.
    /// A pod's key is one `Arc` shared by all its labels' sets.
    labels: HashMap<(String, String), BTreeSet<Arc<ObjKey>>>,
    /// Host services of the host namespace by the first pair of their selector: a service
    /// selects a label set only if the set carries that pair, so a changed host pod is checked
    /// against these few services, not all of them.
    selectors: Selectors,
    /// Namespace → the earliest end of a block-deletion window among its host objects.
    deadlines: BTreeMap<String, i64>,
    /// ClusterIP → the services carrying it, per side (any namespace): who shares a changed
    /// service's IP is looked up here instead of walking every service of both sides (at
    /// 50,000 pairs that walk was a fifth of the TUI's CPU under churn).
    ips: IpIndex,
}

/// ClusterIP → services carrying it, virtual and host.
#[derive(Default)]
struct IpIndex {
    virtual_side: HashMap<String, Keys>,
    host: HashMap<String, Keys>,
}

impl IpIndex {
    fn of(snap: &Snapshot) -> Self {
        let mut out = Self::default();
        for (k, s) in &snap.virtual_side.services {
            ip_entry(&mut out.virtual_side, k, s, true);
        }
        for (k, s) in &snap.host.services {
            ip_entry(&mut out.host, k, s, true);
        }
        out
    }
}

/// Add or remove `key` under its service's ClusterIP.
fn ip_entry(map: &mut HashMap<String, Keys>, key: &ObjKey, svc: &Service, add: bool) {
    let Some(ip) = cluster_ip(svc) else { return };
    if add {
        map.entry(ip.to_string()).or_default().insert(key);
    } else if let Some(set) = map.get_mut(ip) {
        set.remove(key);
        if set.is_empty() {
            map.remove(ip);
        }
    }
}

/// Move an IP map on by one service change.
fn ip_change(
    map: &mut HashMap<String, Keys>,
    key: &ObjKey,
    a: Option<&Obj<Service>>,
    b: Option<&Obj<Service>>,
) {
    if let Some(a) = a {
        ip_entry(map, key, a, false);
    }
    if let Some(b) = b {
        ip_entry(map, key, b, true);
    }
}

/// Rows kept from snapshot to snapshot. See the module docs for what is tracked.
#[derive(Default)]
pub struct IncrementalRows {
    state: Option<State>,
    last: UpdateKind,
    /// The pairs (not the rows) are those of the update before: labels and statuses churn,
    /// pairs come and go far less often.
    same_pairs: bool,
}

impl IncrementalRows {
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows of the last snapshot given, in the engine's pair order.
    pub fn rows(&self) -> &[(Pair, Arc<PairRow>)] {
        self.state.as_ref().map_or(&[], |s| s.rows.as_slice())
    }

    /// What the last update recomputed.
    pub fn last(&self) -> UpdateKind {
        self.last
    }

    /// Whether the last update left the list of pairs as it was (same pairs, same order).
    pub fn same_pairs(&self) -> bool {
        self.same_pairs
    }

    /// Unix seconds at which some reused row may change by time alone.
    pub fn next_deadline(&self) -> Option<i64> {
        self.state
            .as_ref()
            .and_then(|s| s.deadlines.values().min().copied())
    }

    /// Rows of `snapshot`, equal to [`crate::inspect::rows::pair_rows`] of it.
    pub fn update(
        &mut self,
        snapshot: Arc<Snapshot>,
        config: Arc<VClusterConfig>,
    ) -> &[(Pair, Arc<PairRow>)] {
        self.update_at(snapshot, config, crate::engine::ctx::now_seconds())
    }

    /// [`Self::update`] with the clock given (for deadlines only; rows read the real clock).
    pub fn update_at(
        &mut self,
        snapshot: Arc<Snapshot>,
        config: Arc<VClusterConfig>,
        now: i64,
    ) -> &[(Pair, Arc<PairRow>)] {
        let dirty = match self.state.as_mut() {
            None => Err("first snapshot"),
            // A pair with no virtual namespace belongs to no namespace's rows.
            Some(state) if state.unhomed => Err("a pair without a virtual object"),
            Some(state) => dirty_namespaces(state, &snapshot, &config, now),
        };
        match dirty {
            Err(why) => self.full(snapshot, config, why),
            Ok(dirty) => {
                if !self.partial(snapshot.clone(), config.clone(), &dirty) {
                    self.full(snapshot, config, "a pair without a virtual object");
                }
            }
        }
        self.rows()
    }

    fn full(&mut self, snapshot: Arc<Snapshot>, config: Arc<VClusterConfig>, why: &'static str) {
        let rows = shared(pair_rows_on(&snapshot, &config, default_threads()));
        let mut state = State {
            snapshot,
            config,
            unhomed: rows.iter().any(|(p, _)| p.virtual_key.is_none()),
            rows,
            by_namespace: HashMap::new(),
            global: BTreeSet::new(),
            labels: HashMap::new(),
            selectors: Selectors::default(),
            deadlines: BTreeMap::new(),
            ips: IpIndex::default(),
        };
        index_host(&mut state);
        self.state = Some(state);
        self.last = UpdateKind::Full(why);
        self.same_pairs = false;
    }

    /// Recompute the rows of `dirty`; false when the result cannot be merged (a pair with no
    /// virtual namespace turned up): the caller recomputes everything.
    fn partial(
        &mut self,
        snapshot: Arc<Snapshot>,
        config: Arc<VClusterConfig>,
        dirty: &Dirty,
    ) -> bool {
        let Some(state) = self.state.as_mut() else {
            return false;
        };
        if dirty.namespaces.is_empty() {
            self.same_pairs = true;
            state.snapshot = snapshot;
            state.config = config;
            self.last = UpdateKind::Partial {
                namespaces: 0,
                rows: 0,
                kept: 0,
            };
            return true;
        }
        let sub = sub_snapshot(state, &snapshot, &config, &dirty.namespaces);
        let old = &state.rows;
        let kept = std::sync::atomic::AtomicUsize::new(0);
        let fresh: Vec<(Pair, Arc<PairRow>)> = pair_rows_keeping(&sub, &config, |p| {
            if !dirty.keeps(p) {
                return None;
            }
            // Rows are in pair order.
            let i = old.binary_search_by(|(q, _)| q.cmp(p)).ok()?;
            kept.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(old[i].1.clone())
        })
        .into_iter()
        .filter(|(p, _)| {
            p.virtual_key
                .as_ref()
                .is_none_or(|k| dirty.namespaces.contains(&k.namespace))
        })
        .collect();
        if fresh.iter().any(|(p, _)| p.virtual_key.is_none()) {
            return false;
        }
        let n = fresh.len();
        let old = std::mem::take(&mut state.rows);
        let (rows, same_pairs) = merge(old, fresh, &dirty.namespaces);
        state.rows = rows;
        self.same_pairs = same_pairs;
        state.snapshot = snapshot;
        state.config = config;
        self.last = UpdateKind::Partial {
            namespaces: dirty.namespaces.len(),
            rows: n,
            kept: kept.into_inner(),
        };
        true
    }
}

/// Rows behind `Arc`s: kept rows are shared with every update published since they were made.
fn shared(rows: Vec<(Pair, PairRow)>) -> Vec<(Pair, Arc<PairRow>)> {
    rows.into_iter().map(|(p, r)| (p, Arc::new(r))).collect()
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn in_dirty(pair: &Pair, dirty: &BTreeSet<String>) -> bool {
    pair.virtual_key
        .as_ref()
        .is_none_or(|k| dirty.contains(&k.namespace))
}

/// The old rows outside `dirty` and the fresh ones, both in pair order, merged in pair order;
/// true when the pairs are the same as before (only rows changed).
fn merge(
    old: Vec<(Pair, Arc<PairRow>)>,
    fresh: Vec<(Pair, Arc<PairRow>)>,
    dirty: &BTreeSet<String>,
) -> (Vec<(Pair, Arc<PairRow>)>, bool) {
    // Rows of one namespace mostly sit together: ask the set once per run of them.
    let mut last: Option<(&str, bool)> = None;
    let mut dirty_at: Vec<usize> = Vec::with_capacity(fresh.len());
    for (i, (p, _)) in old.iter().enumerate() {
        let hit = match &p.virtual_key {
            None => true,
            Some(k) => match last {
                Some((ns, hit)) if ns == k.namespace => hit,
                _ => {
                    let hit = dirty.contains(&k.namespace);
                    last = Some((&k.namespace, hit));
                    hit
                }
            },
        };
        if hit {
            dirty_at.push(i);
        }
    }
    // Under churn the pairs stay and only their rows change: each fresh row takes the place
    // of its old one, with no comparison of pairs across the whole list.
    if dirty_at.len() == fresh.len()
        && dirty_at
            .iter()
            .zip(&fresh)
            .all(|(&i, (p, _))| old[i].0 == *p)
    {
        let mut out = old;
        for (i, row) in dirty_at.into_iter().zip(fresh) {
            out[i] = row;
        }
        return (out, true);
    }
    let mut out = Vec::with_capacity(old.len() + fresh.len());
    let mut kept = old
        .into_iter()
        .filter(|(p, _)| !in_dirty(p, dirty))
        .peekable();
    let mut fresh = fresh.into_iter().peekable();
    loop {
        let take_old = match (kept.peek(), fresh.peek()) {
            (Some(a), Some(b)) => a.0 < b.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_old { kept.next() } else { fresh.next() };
        out.extend(next);
    }
    (out, false)
}

fn hkind_map<'s>(side: &'s Side, kind: HKind) -> HostMap<'s> {
    match kind {
        HKind::Pod => HostMap::Pod(&side.pods),
        HKind::Service => HostMap::Service(&side.services),
        HKind::Endpoints => HostMap::Endpoints(&side.endpoints),
        HKind::Slice => HostMap::Slice(&side.endpoint_slices),
        HKind::Ingress => HostMap::Ingress(&side.ingresses),
    }
}

const HKINDS: [HKind; 5] = [
    HKind::Pod,
    HKind::Service,
    HKind::Endpoints,
    HKind::Slice,
    HKind::Ingress,
];

enum HostMap<'s> {
    Pod(&'s ObjMap<Pod>),
    Service(&'s ObjMap<Service>),
    Endpoints(&'s ObjMap<k8s_openapi::api::core::v1::Endpoints>),
    Slice(&'s ObjMap<k8s_openapi::api::discovery::v1::EndpointSlice>),
    Ingress(&'s ObjMap<k8s_openapi::api::networking::v1::Ingress>),
}

impl HostMap<'_> {
    fn metas(&self) -> Box<dyn Iterator<Item = (&ObjKey, &ObjectMeta)> + '_> {
        match self {
            HostMap::Pod(m) => Box::new(m.iter().map(|(k, o)| (k, &o.metadata))),
            HostMap::Service(m) => Box::new(m.iter().map(|(k, o)| (k, &o.metadata))),
            HostMap::Endpoints(m) => Box::new(m.iter().map(|(k, o)| (k, &o.metadata))),
            HostMap::Slice(m) => Box::new(m.iter().map(|(k, o)| (k, &o.metadata))),
            HostMap::Ingress(m) => Box::new(m.iter().map(|(k, o)| (k, &o.metadata))),
        }
    }
}

/// The namespaces whose rows read host object `key` (see the module docs).
fn host_home(snap: &Snapshot, kind: HKind, key: &ObjKey, meta: &ObjectMeta) -> Home {
    let vc = snap.vcluster.as_str();
    if key.namespace != snap.host_namespace
        || key.name == vc
        || key.name == naming::kube_dns_host_name(vc)
    {
        return Home::Global;
    }
    let mut out: Vec<String> = Vec::new();
    let suffix = format!("-x-{vc}");
    if let Some(stem) = key.name.strip_suffix(suffix.as_str()) {
        for (i, _) in stem.match_indices("-x-") {
            out.push(stem[i + 3..].to_string());
        }
    }
    let mut explained = !out.is_empty();
    if let Some((ns, name)) = virtual_ref(meta) {
        let twin = match kind {
            HKind::Service | HKind::Endpoints | HKind::Slice => {
                naming::service_host_name(&name, &ns, vc)
            }
            HKind::Pod | HKind::Ingress => naming::host_name(&name, &ns, vc),
        };
        explained |= twin == key.name;
        out.push(ns);
    }
    if !explained {
        // Slices the host's own controller makes for the twins (`<twin>-<random>`, controlled
        // by the twin Service; they carry its labels, the vCluster's managed-by label included,
        // but none of the `object-*` annotations) are read by no row: pairing finds host slices
        // by twin name, and orphans need those annotations. There is one per host service, and
        // as global objects they would be copied into every partial update.
        if kind == HKind::Slice && virtual_ref(meta).is_none() && controlled_by_service(meta) {
            return Home::Namespaces(Vec::new());
        }
        return Home::Global;
    }
    out.sort();
    out.dedup();
    Home::Namespaces(out)
}

fn global_why(kind: HKind) -> &'static str {
    match kind {
        HKind::Pod => "a host pod outside any namespace's rows changed",
        HKind::Service => "a host service outside any namespace's rows changed",
        HKind::Endpoints => "host endpoints outside any namespace's rows changed",
        HKind::Slice => "a host endpoint slice outside any namespace's rows changed",
        HKind::Ingress => "a host ingress outside any namespace's rows changed",
    }
}

/// [`host_home`] of a host Service for the rows that read it as some row's twin (IP holders,
/// selected pods): the vCluster's own Service is the twin of `default/kubernetes` and the
/// kube-dns twin that of `kube-system/kube-dns`.
fn twin_home(snap: &Snapshot, key: &ObjKey, svc: &Service) -> Home {
    let vc = snap.vcluster.as_str();
    if key.namespace == snap.host_namespace {
        if key.name == vc {
            return Home::Namespaces(vec!["default".to_string()]);
        }
        if key.name == naming::kube_dns_host_name(vc) {
            return Home::Namespaces(vec!["kube-system".to_string()]);
        }
    }
    host_home(snap, HKind::Service, key, &svc.metadata)
}

/// When a host object's block-deletion window ends, if it is annotated with one.
fn block_deadline(meta: &ObjectMeta) -> Option<i64> {
    let on = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(naming::ANNOTATION_BLOCK_DELETION))
        .is_some_and(|v| v == "true");
    if !on {
        return None;
    }
    let created = meta.creation_timestamp.as_ref()?.0.as_second();
    Some(created + BLOCK_DELETION_SECONDS)
}

fn add_home(state: &mut State, kind: HKind, key: &ObjKey, home: &Home, deadline: Option<i64>) {
    match home {
        Home::Global => {
            state.global.insert((kind, key.clone()));
        }
        Home::Namespaces(list) => {
            for ns in list {
                state
                    .by_namespace
                    .entry(ns.clone())
                    .or_default()
                    .insert((kind, key.clone()));
                if let Some(d) = deadline {
                    let e = state.deadlines.entry(ns.clone()).or_insert(d);
                    *e = (*e).min(d);
                }
            }
        }
    }
}

fn remove_home(state: &mut State, kind: HKind, key: &ObjKey, home: &Home) {
    match home {
        Home::Global => {
            state.global.remove(&(kind, key.clone()));
        }
        Home::Namespaces(list) => {
            for ns in list {
                if let Some(set) = state.by_namespace.get_mut(ns) {
                    set.remove(&(kind, key.clone()));
                    if set.is_empty() {
                        state.by_namespace.remove(ns);
                    }
                }
            }
        }
    }
}

fn host_pod_labels(state: &mut State, key: &ObjKey, pod: &Pod, add: bool) {
    let shared = add.then(|| Arc::new(key.clone()));
    for (k, v) in pod.metadata.labels.iter().flatten() {
        let entry = (k.clone(), v.clone());
        if let Some(shared) = &shared {
            state
                .labels
                .entry(entry)
                .or_default()
                .insert(shared.clone());
        } else if let Some(set) = state.labels.get_mut(&entry) {
            set.remove(key);
            if set.is_empty() {
                state.labels.remove(&entry);
            }
        }
    }
}

/// A few keys, sorted, in one short list: most ClusterIPs and first selector pairs belong to
/// one service, and a B-tree set allocates a node for eleven (~500 bytes) even for one key.
#[derive(Debug, Default)]
struct Keys(Vec<ObjKey>);

impl Keys {
    fn insert(&mut self, key: &ObjKey) {
        if let Err(i) = self.0.binary_search(key) {
            self.0.insert(i, key.clone());
        }
    }

    fn remove(&mut self, key: &ObjKey) {
        if let Ok(i) = self.0.binary_search(key) {
            self.0.remove(i);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> std::slice::Iter<'_, ObjKey> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Keys {
    type Item = &'a ObjKey;
    type IntoIter = std::slice::Iter<'a, ObjKey>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Host services by the first `(key, value)` of their selector; an empty selector (which
/// selects every pod) is kept apart.
#[derive(Default)]
struct Selectors {
    by_first: HashMap<(String, String), Keys>,
    empty: Keys,
}

impl Selectors {
    fn set(&mut self, key: &ObjKey, svc: &Service, add: bool) {
        let Some(sel) = selector(svc) else { return };
        let set = match sel.iter().next() {
            None => &mut self.empty,
            Some((k, v)) => self.by_first.entry((k.clone(), v.clone())).or_default(),
        };
        if add {
            set.insert(key);
        } else {
            set.remove(key);
        }
        if let Some((k, v)) = sel.iter().next()
            && self
                .by_first
                .get(&(k.clone(), v.clone()))
                .is_some_and(Keys::is_empty)
        {
            self.by_first.remove(&(k.clone(), v.clone()));
        }
    }

    /// Services whose selector may select a pod carrying one of `label_sets`.
    fn candidates<'a>(&'a self, label_sets: &[&BTreeMap<String, String>]) -> BTreeSet<&'a ObjKey> {
        let mut out: BTreeSet<&ObjKey> = self.empty.iter().collect();
        for l in label_sets {
            for (k, v) in l.iter() {
                if let Some(keys) = self.by_first.get(&(k.clone(), v.clone())) {
                    out.extend(keys);
                }
            }
        }
        out
    }
}

/// Build the host indexes of `state.snapshot` from scratch.
fn index_host(state: &mut State) {
    let snap = state.snapshot.clone();
    let now = crate::engine::ctx::now_seconds();
    for kind in HKINDS {
        let map = hkind_map(&snap.host, kind);
        for (key, meta) in map.metas() {
            let home = host_home(&snap, kind, key, meta);
            let deadline = block_deadline(meta).filter(|d| *d > now);
            add_home(state, kind, key, &home, deadline);
        }
    }
    for (key, pod) in crate::cluster::snapshot::in_namespace(&snap.host.pods, &snap.host_namespace)
    {
        host_pod_labels(state, key, pod, true);
    }
    for (key, svc) in
        crate::cluster::snapshot::in_namespace(&snap.host.services, &snap.host_namespace)
    {
        state.selectors.set(key, svc, true);
    }
    state.ips = IpIndex::of(&snap);
}

/// Calls `f` for every key added, removed or holding another value between two maps. A
/// publish shares every unchanged subtree of a map with the one before it (see [`ObjMap`]),
/// and the walk skips shared subtrees, so its cost follows the changes, not the map's size.
pub fn diff<V: PartialEq + Clone>(
    a: &KeyMap<V>,
    b: &KeyMap<V>,
    mut f: impl FnMut(&ObjKey, Option<&V>, Option<&V>),
) {
    for d in a.diff(b) {
        match d {
            DiffItem::Add(k, v) => f(k, None, Some(v)),
            DiffItem::Remove(k, v) => f(k, Some(v), None),
            DiffItem::Update { old, new } => f(old.0, Some(old.1), Some(new.1)),
        }
    }
}

fn maps_differ<V: PartialEq + Clone>(a: &KeyMap<V>, b: &KeyMap<V>) -> bool {
    let mut any = false;
    diff(a, b, |_, _, _| any = true);
    any
}

/// What of a side that is not one of the per-namespace collections differs, if anything.
fn side_globals_differ(a: &Side, b: &Side) -> Option<&'static str> {
    if a.context != b.context || a.server != b.server {
        Some("another context")
    } else if a.conn != b.conn || a.listed != b.listed || a.relists != b.relists {
        Some("a connection state changed")
    } else if maps_differ(&a.namespaces, &b.namespaces) {
        Some("a namespace changed")
    } else if maps_differ(&a.nodes, &b.nodes) {
        Some("a node changed")
    } else if maps_differ(&a.ingress_classes, &b.ingress_classes) {
        Some("an ingress class changed")
    } else if maps_differ(&a.secrets, &b.secrets) {
        Some("a secret changed")
    } else {
        None
    }
}

fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

/// What a change dirtied: the namespaces whose rows are computed again, and in which of them
/// the pod rows may be kept.
///
/// A pod row reads its own two pods and their env links, the sync events about the virtual
/// pod, the service-link env of the virtual services in its namespace (name, ClusterIP,
/// ports) and things whose change recomputes everything. So in a namespace dirtied only by
/// pods, by service changes that leave the link env as it was, or by who selects a host pod
/// or shares an IP, a pod row whose pods did not change is kept as it is: under churn that is
/// most pod rows of the namespaces an update touches.
#[derive(Debug, Default)]
struct Dirty {
    namespaces: BTreeSet<String>,
    /// Namespaces where every row is computed again.
    every_row: HashSet<String>,
    /// Virtual and host pods (and pods whose env link) changed.
    virtual_pods: HashSet<ObjKey>,
    host_pods: HashSet<ObjKey>,
}

impl Dirty {
    fn every(&mut self, ns: &str) {
        self.not_pods(ns);
        if !self.every_row.contains(ns) {
            self.every_row.insert(ns.to_string());
        }
    }

    /// Rows of `ns` again, except pod rows whose pods did not change.
    fn not_pods(&mut self, ns: &str) {
        if !self.namespaces.contains(ns) {
            self.namespaces.insert(ns.to_string());
        }
    }

    fn virtual_pod(&mut self, key: &ObjKey) {
        self.not_pods(&key.namespace);
        self.virtual_pods.insert(key.clone());
    }

    fn host_pod(&mut self, key: &ObjKey, homes: &[String]) {
        homes.iter().for_each(|ns| self.not_pods(ns));
        self.host_pods.insert(key.clone());
    }

    /// Whether the row of `pair` (in a dirty namespace) may be kept as it was.
    fn keeps(&self, pair: &Pair) -> bool {
        let Some(vk) = &pair.virtual_key else {
            return false;
        };
        pair.kind == crate::engine::PairKind::Pod
            && !self.every_row.contains(&vk.namespace)
            && !self.virtual_pods.contains(vk)
            && pair
                .host_key
                .as_ref()
                .is_none_or(|hk| !self.host_pods.contains(hk))
    }
}

/// A host pod before and after.
type PodChange = (ObjKey, Option<Obj<Pod>>, Option<Obj<Pod>>);

/// A host service of the host namespace, before and after.
type ServiceChange = (ObjKey, Option<Obj<Service>>, Option<Obj<Service>>);

/// A host object: its kind and key, where it was read before and after, and the end of its
/// block-deletion window.
type HostChange = (HKind, ObjKey, Option<Home>, Option<Home>, Option<i64>);

/// The namespaces whose rows must be computed again for `next`, with the host indexes moved
/// on to it; `Err(why)` when everything must (then the indexes are stale and rebuilt).
fn dirty_namespaces(
    state: &mut State,
    next: &Arc<Snapshot>,
    config: &Arc<VClusterConfig>,
    now: i64,
) -> Result<Dirty, &'static str> {
    let prev = state.snapshot.clone();
    let (p, n) = (&*prev, &**next);
    if !(Arc::ptr_eq(&state.config, config) || *state.config == **config) {
        return Err("the config changed");
    }
    if p.vcluster != n.vcluster || p.host_namespace != n.host_namespace {
        return Err("another vCluster");
    }
    if let Some(why) = side_globals_differ(&p.virtual_side, &n.virtual_side) {
        return Err(why);
    }
    if let Some(why) = side_globals_differ(&p.host, &n.host) {
        return Err(why);
    }
    let mut dirty = Dirty::default();
    // ClusterIPs some changed service carried before or after.
    let mut ips: HashSet<String> = HashSet::new();
    let ip_of = |s: &Service| cluster_ip(s).map(str::to_string);

    // Virtual side: each object's namespace.
    let (pv, nv) = (&p.virtual_side, &n.virtual_side);
    diff(&pv.pods, &nv.pods, |k, _, _| dirty.virtual_pod(k));
    diff(&pv.pod_env, &nv.pod_env, |k, _, _| dirty.virtual_pod(k));
    diff(&pv.endpoints, &nv.endpoints, |k, _, _| {
        dirty.every(&k.namespace)
    });
    diff(&pv.endpoint_slices, &nv.endpoint_slices, |k, _, _| {
        dirty.every(&k.namespace)
    });
    diff(&pv.ingresses, &nv.ingresses, |k, _, _| {
        dirty.every(&k.namespace)
    });
    diff(&pv.services, &nv.services, |k, a, b| {
        // Pods read their namespace's services only for the service-link env.
        match (a, b) {
            (Some(a), Some(b)) if pod::same_link_env(a, b) => dirty.not_pods(&k.namespace),
            _ => dirty.every(&k.namespace),
        }
        ips.extend(a.and_then(|s| ip_of(s)));
        ips.extend(b.and_then(|s| ip_of(s)));
        ip_change(&mut state.ips.virtual_side, k, a, b);
    });
    diff(&pv.events, &nv.events, |k, a, b| {
        dirty.every(&k.namespace);
        for ev in a.into_iter().chain(b) {
            if let Some(ns) = &ev.involved_object.namespace {
                dirty.every(ns);
            }
        }
    });

    // Host side: where each object is read, kept in the indexes as we go.
    let (ph, nh) = (&p.host, &n.host);
    let mut global: Option<&'static str> = None;
    let mut changed_pods: Vec<PodChange> = Vec::new();
    let mut changed_services: Vec<ServiceChange> = Vec::new();
    let mut host_changes: Vec<HostChange> = Vec::new();
    let mut host_ip_changes: Vec<ServiceChange> = Vec::new();
    {
        let mut seen = |kind: HKind, k: &ObjKey, a: Option<&ObjectMeta>, b: Option<&ObjectMeta>| {
            let ha = a.map(|m| host_home(p, kind, k, m));
            let hb = b.map(|m| host_home(n, kind, k, m));
            host_changes.push((kind, k.clone(), ha, hb, b.and_then(block_deadline)));
        };
        diff(&ph.pods, &nh.pods, |k, a, b| {
            seen(
                HKind::Pod,
                k,
                a.map(|o| &o.metadata),
                b.map(|o| &o.metadata),
            );
            changed_pods.push((k.clone(), a.cloned(), b.cloned()));
        });
        diff(&ph.services, &nh.services, |k, a, b| {
            seen(
                HKind::Service,
                k,
                a.map(|o| &o.metadata),
                b.map(|o| &o.metadata),
            );
            ips.extend(a.and_then(|s| ip_of(s)));
            ips.extend(b.and_then(|s| ip_of(s)));
            host_ip_changes.push((k.clone(), a.cloned(), b.cloned()));
            if k.namespace == n.host_namespace {
                changed_services.push((k.clone(), a.cloned(), b.cloned()));
            }
        });
        diff(&ph.endpoints, &nh.endpoints, |k, a, b| {
            seen(
                HKind::Endpoints,
                k,
                a.map(|o| &o.metadata),
                b.map(|o| &o.metadata),
            )
        });
        diff(&ph.endpoint_slices, &nh.endpoint_slices, |k, a, b| {
            seen(
                HKind::Slice,
                k,
                a.map(|o| &o.metadata),
                b.map(|o| &o.metadata),
            )
        });
        diff(&ph.ingresses, &nh.ingresses, |k, a, b| {
            seen(
                HKind::Ingress,
                k,
                a.map(|o| &o.metadata),
                b.map(|o| &o.metadata),
            )
        });
    }
    // A pod's env link changes with the pod itself; a link alone changing is read like it.
    diff(&ph.pod_env, &nh.pod_env, |k, _, _| {
        if let Some(pod) = nh.pods.get(k).or_else(|| ph.pods.get(k)) {
            match host_home(n, HKind::Pod, k, &pod.metadata) {
                Home::Global => global = Some("a host pod's env outside any namespace's rows"),
                Home::Namespaces(list) => dirty.host_pod(k, &list),
            }
        } else {
            global = Some("a host pod's env outside any namespace's rows");
        }
    });
    for (kind, key, ha, hb, deadline) in &host_changes {
        for h in [ha, hb].into_iter().flatten() {
            match h {
                Home::Global => global = Some(global_why(*kind)),
                Home::Namespaces(list) if *kind == HKind::Pod => dirty.host_pod(key, list),
                Home::Namespaces(list) => list.iter().for_each(|ns| dirty.every(ns)),
            }
        }
        if let Some(h) = ha {
            remove_home(state, *kind, key, h);
        }
        if let Some(h) = hb {
            add_home(state, *kind, key, h, *deadline);
        }
        // The virtual services a changed host service may be the twin of: their IPs, for
        // rows whose twin's IP they hold.
        if *kind == HKind::Service {
            for h in [ha, hb].into_iter().flatten() {
                if let Home::Namespaces(list) = h {
                    for ns in list {
                        for (_, s) in crate::cluster::snapshot::in_namespace(&nv.services, ns) {
                            ips.extend(ip_of(s));
                        }
                        for (_, s) in crate::cluster::snapshot::in_namespace(&pv.services, ns) {
                            ips.extend(ip_of(s));
                        }
                    }
                }
            }
        }
    }

    // Replicated services read host objects by the names in the config, whatever those are.
    let links = replication_links(n, config);
    for (_, key, _, _, _) in &host_changes {
        for (hk, vns) in &links {
            if hk == key {
                dirty.every(vns);
            }
        }
    }

    for (key, a, b) in &changed_services {
        if let Some(a) = a {
            state.selectors.set(key, a, false);
        }
        if let Some(b) = b {
            state.selectors.set(key, b, true);
        }
    }

    // Host pods: the label index moves on, and services reading them are dirty.
    let hns = n.host_namespace.as_str();
    if !changed_pods.is_empty() {
        let mut flipped: HashSet<(String, String)> = HashSet::new();
        let mut before: HashMap<(String, String), bool> = HashMap::new();
        let mut label_sets: Vec<&BTreeMap<String, String>> = Vec::new();
        for (key, a, b) in &changed_pods {
            if key.namespace != hns {
                continue;
            }
            for pod in [a, b].into_iter().flatten() {
                for (k, v) in pod.metadata.labels.iter().flatten() {
                    let e = (k.clone(), v.clone());
                    before
                        .entry(e.clone())
                        .or_insert_with(|| state.labels.contains_key(&e));
                }
            }
            if let Some(a) = a {
                host_pod_labels(state, key, a, false);
            }
            if let Some(b) = b {
                host_pod_labels(state, key, b, true);
            }
        }
        for (e, had) in before {
            if had != state.labels.contains_key(&e) {
                flipped.insert(e);
            }
        }
        for (key, a, b) in &changed_pods {
            if key.namespace != hns {
                continue;
            }
            for pod in [a, b].into_iter().flatten() {
                label_sets.extend(pod.metadata.labels.as_ref());
            }
        }
        // Which services to check: all of them when a label appeared or disappeared (a
        // selector naming it may change its match count); else those the selector index
        // offers, plus the changed services as they were before and are now (an unchanged
        // service is the same object in both snapshots).
        let all: Vec<(&ObjKey, &Obj<Service>)>;
        let to_check: Box<dyn Iterator<Item = (&ObjKey, &Obj<Service>)>> = if flipped.is_empty() {
            let offered = state.selectors.candidates(&label_sets);
            all = offered
                .into_iter()
                .filter_map(|k| nh.services.get_key_value(k))
                .collect();
            Box::new(
                all.into_iter().chain(
                    changed_services
                        .iter()
                        .flat_map(|(k, a, b)| [a, b].into_iter().flatten().map(move |s| (k, s))),
                ),
            )
        } else {
            Box::new(
                crate::cluster::snapshot::in_namespace(&nh.services, hns)
                    .chain(crate::cluster::snapshot::in_namespace(&ph.services, hns)),
            )
        };
        for (key, svc) in to_check {
            let Some(sel) = selector(svc) else { continue };
            let matches = label_sets
                .iter()
                .any(|l| sel.iter().all(|(k, v)| l.get(k) == Some(v)));
            let names_flipped = !flipped.is_empty()
                && sel
                    .iter()
                    .any(|(k, v)| flipped.contains(&(k.clone(), v.clone())));
            if matches || names_flipped {
                // The service's rows count the pods; no pod row reads another pod.
                match twin_home(n, key, svc) {
                    Home::Global => global = Some("a host pod selected by a global host service"),
                    Home::Namespaces(list) => list.iter().for_each(|ns| dirty.not_pods(ns)),
                }
            }
        }
    }

    for (k, a, b) in &host_ip_changes {
        ip_change(&mut state.ips.host, k, a.as_ref(), b.as_ref());
    }
    // Services sharing a changed service's ClusterIP, on either side.
    for ip in &ips {
        // Only service rows read who else holds their IPs.
        for k in state.ips.virtual_side.get(ip).into_iter().flatten() {
            dirty.not_pods(&k.namespace);
        }
        for k in state.ips.host.get(ip).into_iter().flatten() {
            let Some(s) = nh.services.get(k) else {
                continue;
            };
            match twin_home(n, k, s) {
                Home::Global => global = Some("a global host service shares a changed IP"),
                Home::Namespaces(list) => list.iter().for_each(|ns| dirty.not_pods(ns)),
            }
        }
    }

    // Block-deletion windows that ended since: those rows may change by time alone.
    let expired: Vec<String> = state
        .deadlines
        .iter()
        .filter(|(_, d)| **d <= now)
        .map(|(ns, _)| ns.clone())
        .collect();
    for ns in expired {
        state.deadlines.remove(&ns);
        dirty.every(&ns);
    }
    if let Some(why) = global {
        return Err(why);
    }
    Ok(dirty)
}

fn copy_ns<V: Clone>(from: &KeyMap<V>, to: &mut KeyMap<V>, ns: &str) {
    for (k, v) in crate::cluster::snapshot::in_namespace(from, ns) {
        to.insert(k.clone(), v.clone());
    }
}

fn copy_key<V: Clone>(from: &KeyMap<V>, to: &mut KeyMap<V>, key: &ObjKey) {
    if let Some(v) = from.get(key) {
        to.insert(key.clone(), v.clone());
    }
}

fn side_shell(side: &Side) -> Side {
    Side {
        context: side.context.clone(),
        server: side.server.clone(),
        conn: side.conn.clone(),
        listed: side.listed,
        relists: side.relists,
        namespaces: side.namespaces.clone(),
        nodes: side.nodes.clone(),
        ingress_classes: side.ingress_classes.clone(),
        secrets: side.secrets.clone(),
        ..Side::default()
    }
}

/// `(host key, virtual namespace)` of every replicated service in the config: the row of the
/// pair lives in the namespace, and reads the host service (and its endpoints) at the key.
fn replication_links(snap: &Snapshot, config: &VClusterConfig) -> Vec<(ObjKey, String)> {
    let rs = &config.networking.replicate_services;
    if rs.to_host.is_empty() && rs.from_host.is_empty() {
        return Vec::new();
    }
    let ctx = crate::engine::ctx::Ctx::new(snap, config);
    let (from_host, to_host) = crate::engine::replicate::mappings(&ctx);
    let from = from_host.into_iter().map(|m| (m.from, m.to.namespace));
    let to = to_host.into_iter().map(|m| (m.to, m.from.namespace));
    from.chain(to).collect()
}

/// Everything the rows of `dirty` read, and little else: their namespaces' virtual objects,
/// the host objects the index puts there, the global ones, and the cross-namespace reads
/// (services sharing an IP, host pods their host selectors reach or name).
fn sub_snapshot(
    state: &State,
    snap: &Snapshot,
    config: &VClusterConfig,
    dirty: &BTreeSet<String>,
) -> Snapshot {
    let (v, h) = (&snap.virtual_side, &snap.host);
    let mut sv = side_shell(v);
    let mut sh = side_shell(h);
    for ns in dirty {
        copy_ns(&v.pods, &mut sv.pods, ns);
        copy_ns(&v.services, &mut sv.services, ns);
        copy_ns(&v.endpoints, &mut sv.endpoints, ns);
        copy_ns(&v.endpoint_slices, &mut sv.endpoint_slices, ns);
        copy_ns(&v.ingresses, &mut sv.ingresses, ns);
    }
    for (k, ev) in &v.events {
        let about = ev.involved_object.namespace.as_deref().unwrap_or("");
        if dirty.contains(about) || dirty.contains(&k.namespace) {
            sv.events.insert(k.clone(), ev.clone());
        }
    }
    let hosted = dirty
        .iter()
        .filter_map(|ns| state.by_namespace.get(ns))
        .flatten()
        .chain(state.global.iter());
    for (kind, key) in hosted {
        match kind {
            HKind::Pod => copy_key(&h.pods, &mut sh.pods, key),
            HKind::Service => copy_key(&h.services, &mut sh.services, key),
            HKind::Endpoints => copy_key(&h.endpoints, &mut sh.endpoints, key),
            HKind::Slice => copy_key(&h.endpoint_slices, &mut sh.endpoint_slices, key),
            HKind::Ingress => copy_key(&h.ingresses, &mut sh.ingresses, key),
        }
    }
    for (key, vns) in replication_links(snap, config) {
        if dirty.contains(&vns) {
            copy_key(&h.services, &mut sh.services, &key);
            copy_key(&h.endpoints, &mut sh.endpoints, &key);
            copy_key(&h.endpoint_slices, &mut sh.endpoint_slices, &key);
        }
    }
    // Holders of the host twins' IPs (any namespace) and their twins; host services holding
    // the virtual services' IPs.
    let host_ips: HashSet<&str> = sh.services.values().filter_map(|s| cluster_ip(s)).collect();
    let virt_ips: HashSet<&str> = sv.services.values().filter_map(|s| cluster_ip(s)).collect();
    let mut holders: Vec<(ObjKey, Obj<Service>)> = Vec::new();
    for ip in host_ips {
        for k in state.ips.virtual_side.get(ip).into_iter().flatten() {
            if let Some(s) = v.services.get(k) {
                holders.push((k.clone(), s.clone()));
            }
        }
    }
    let mut extra_host: Vec<ObjKey> = Vec::new();
    for ip in virt_ips {
        extra_host.extend(state.ips.host.get(ip).into_iter().flatten().cloned());
    }
    for (k, s) in holders {
        let twin = naming::service_host_name(&k.name, &k.namespace, &snap.vcluster);
        extra_host.push(ObjKey::new(snap.host_namespace.clone(), twin));
        sv.services.insert(k, s);
    }
    for k in extra_host {
        copy_key(&h.services, &mut sh.services, &k);
    }
    // Host pods the included host services' selectors reach, and one carrier of each label
    // they name (which keys no pod carries is part of the row).
    let mut pods: BTreeSet<&ObjKey> = BTreeSet::new();
    for svc in sh.services.values() {
        let Some(sel) = selector(svc) else { continue };
        let mut sets: Vec<&BTreeSet<Arc<ObjKey>>> = Vec::with_capacity(sel.len());
        let mut all = true;
        for (k, val) in sel {
            match state.labels.get(&(k.clone(), val.clone())) {
                Some(set) => {
                    pods.extend(set.iter().next().map(|k| &**k));
                    sets.push(set);
                }
                None => all = false,
            }
        }
        if !all {
            continue;
        }
        sets.sort_by_key(|s| s.len());
        if let Some((first, rest)) = sets.split_first() {
            for key in first.iter() {
                if rest.iter().all(|s| s.contains(key)) {
                    pods.insert(&**key);
                }
            }
        }
    }
    for key in pods {
        copy_key(&h.pods, &mut sh.pods, key);
    }
    for (from, to) in [(v, &mut sv), (h, &mut sh)] {
        let keys: Vec<ObjKey> = to.pods.keys().cloned().collect();
        for k in keys {
            if let Some(link) = from.pod_env.get(&k) {
                to.pod_env.insert(k, link.clone());
            }
        }
    }
    Snapshot {
        version: snap.version,
        vcluster: snap.vcluster.clone(),
        host_namespace: snap.host_namespace.clone(),
        virtual_side: sv,
        host: sh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: serde_json::Value) -> ObjectMeta {
        match serde_json::from_value(v) {
            Ok(m) => m,
            Err(e) => panic!("fixture metadata: {e}"),
        }
    }

    fn snap() -> Snapshot {
        Snapshot {
            vcluster: "demo".into(),
            host_namespace: "vcluster-demo".into(),
            ..Snapshot::default()
        }
    }

    fn home_of_slice(name: &str, m: serde_json::Value) -> Home {
        let s = snap();
        host_home(
            &s,
            HKind::Slice,
            &ObjKey::new("vcluster-demo", name),
            &meta(m),
        )
    }

    #[test]
    fn slices_the_host_controller_makes_for_twins_are_read_by_no_row() {
        let twin = "app-0-x-scale-0-x-demo";
        let owner = json!([{"apiVersion": "v1", "kind": "Service", "name": twin, "uid": "u",
                            "controller": true}]);
        // The twin Service's labels copied onto the slice, as Kubernetes does.
        let labels = json!({"vcluster.loft.sh/managed-by": "demo",
                            "kubernetes.io/service-name": twin});
        let made = home_of_slice(
            "app-0-x-scale-0-x-demo-vt5qz",
            json!({"labels": labels, "ownerReferences": owner}),
        );
        assert_eq!(made, Home::Namespaces(vec![]));
        // Not controlled by a Service: it may be a twin under a name this index cannot
        // explain (a hashed one written by an old vCluster), so every update reads it.
        let unowned = home_of_slice("app-0-x-scale-0-x-demo-vt5qz", json!({"labels": labels}));
        assert_eq!(unowned, Home::Global);
        // Claiming a virtual object under a name that is not its twin's: every update reads it.
        let claimed = home_of_slice(
            "app-0-x-scale-0-x-demo-vt5qz",
            json!({"labels": labels, "ownerReferences": owner, "annotations": {
                naming::ANNOTATION_OBJECT_NAME: "app-0",
                naming::ANNOTATION_OBJECT_NAMESPACE: "scale-0"}}),
        );
        assert_eq!(claimed, Home::Global);
        // A twin by name belongs to its namespace whatever it carries.
        let twin_slice = home_of_slice(twin, json!({"ownerReferences": owner}));
        assert_eq!(twin_slice, Home::Namespaces(vec!["scale-0".to_string()]));
    }
}
