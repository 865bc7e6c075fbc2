//! Which virtual object goes with which host object.
//!
//! Pairing follows vCluster's mapper: a managed host object names its virtual object in the
//! `vcluster.loft.sh/object-*` annotations, and `IsManaged` only accepts annotations that agree
//! with the naming rule, so the annotation look-up and the name look-up meet at the same twin.
//! Legacy (≤ 0.20) twins carry the same annotations and the same names, so they pair too.

use crate::cluster::obj::Cold;
use crate::cluster::snapshot::{KeyRef, Obj, ObjKey, ObjMap};
use crate::engine::change::{ObjKind, PairKind};
use crate::engine::ctx::Ctx;
use crate::engine::memory::{LastSeen, Seen};
use crate::engine::ownership::{is_controlled, is_managed, twin_name, virtual_ref};
use crate::engine::replicate;
use crate::engine::translate::endpoint_slice::{self, Fate};
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{HashMap, HashSet};

/// One row of the engine's world: a virtual object and its host twin.
///
/// Each key names its side's object whether or not it exists: a virtual object whose twin is
/// missing has `host_key` = the twin's name; an orphan has `virtual_key` = the object its
/// annotations name. A key is `None` only when that side cannot be named at all. Look the
/// objects up in the snapshot (see [`Pair::kind`] for the collection).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    pub kind: PairKind,
    pub virtual_key: Option<ObjKey>,
    pub host_key: Option<ObjKey>,
}

impl Pair {
    pub fn new(kind: PairKind, virtual_key: Option<ObjKey>, host_key: Option<ObjKey>) -> Self {
        Self {
            kind,
            virtual_key,
            host_key,
        }
    }

    /// The object kind on both sides (replicated pairs are services).
    pub fn obj_kind(&self) -> ObjKind {
        match self.kind {
            PairKind::Pod => ObjKind::Pod,
            PairKind::Service | PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost => {
                ObjKind::Service
            }
            PairKind::Endpoints => ObjKind::Endpoints,
            PairKind::EndpointSlice => ObjKind::EndpointSlice,
            PairKind::Ingress => ObjKind::Ingress,
        }
    }
}

/// Every pair of the snapshot, each exactly once, in a stable order.
pub fn pairs(ctx: &Ctx) -> Vec<Pair> {
    collect(ctx, &KeysOnly)
        .into_iter()
        .map(|(p, ())| p)
        .collect()
}

/// [`pairs`], each with both sides as [`LastSeen::observe`] would find them. Pairing looks the
/// objects up anyway, so a caller that plans every pair (the inspector) need not search the
/// snapshot's maps again: with 20,000 host keys sharing one namespace, each search is dozens
/// of string comparisons.
pub fn pairs_seen(ctx: &Ctx) -> Vec<(Pair, LastSeen)> {
    collect(ctx, &WithObjects)
}

/// What a pair carries besides its keys: nothing for [`pairs`], the objects for [`pairs_seen`].
trait Extra {
    type Out;
    fn of<K>(&self, v: Option<&Obj<K>>, h: Option<&Obj<K>>, seen: fn(Obj<K>) -> Seen) -> Self::Out;
    /// The extra of a pair found without a look-up of its own.
    fn look_up(&self, ctx: &Ctx, pair: &Pair) -> Self::Out;
}

struct KeysOnly;

impl Extra for KeysOnly {
    type Out = ();
    fn of<K>(&self, _: Option<&Obj<K>>, _: Option<&Obj<K>>, _: fn(Obj<K>) -> Seen) {}
    fn look_up(&self, _: &Ctx, _: &Pair) {}
}

struct WithObjects;

impl Extra for WithObjects {
    type Out = LastSeen;
    fn of<K>(&self, v: Option<&Obj<K>>, h: Option<&Obj<K>>, seen: fn(Obj<K>) -> Seen) -> LastSeen {
        LastSeen {
            virtual_obj: v.cloned().map(seen),
            host_obj: h.cloned().map(seen),
        }
    }
    fn look_up(&self, ctx: &Ctx, pair: &Pair) -> LastSeen {
        LastSeen::observe(ctx, pair)
    }
}

fn collect<X: Extra>(ctx: &Ctx, x: &X) -> Vec<(Pair, X::Out)> {
    let mut out = Vec::new();
    collect_part(ctx, x, PairsPart::Pods, &mut out);
    collect_part(ctx, x, PairsPart::Others, &mut out);
    sort_pairs(out)
}

/// A share of the pairing work, so that two threads can pair one snapshot: the pods are
/// most of the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairsPart {
    Pods,
    /// Services, ingresses, endpoints and replicated services.
    Others,
}

/// The pairs of one part with their objects, in no particular order: join the parts with
/// [`sort_pairs`]. Both parts together are [`pairs_seen`].
pub fn pairs_seen_part(ctx: &Ctx, part: PairsPart) -> Vec<(Pair, LastSeen)> {
    let mut out = Vec::new();
    collect_part(ctx, &WithObjects, part, &mut out);
    out
}

/// Pairs in the stable order of [`pairs`], each once.
pub fn sort_pairs<S>(mut out: Vec<(Pair, S)>) -> Vec<(Pair, S)> {
    // Each kind arrives as a few already-sorted runs: the stable sort merges runs in linear time.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn collect_part<X: Extra>(ctx: &Ctx, x: &X, part: PairsPart, out: &mut Vec<(Pair, X::Out)>) {
    let v = &ctx.snapshot.virtual_side;
    let h = &ctx.snapshot.host;
    if part == PairsPart::Pods {
        regular(
            ctx,
            ObjKind::Pod,
            &v.pods,
            &h.pods,
            |_| true,
            Seen::Pod,
            x,
            out,
        );
        return;
    }
    regular(
        ctx,
        ObjKind::Service,
        &v.services,
        &h.services,
        |_| true,
        Seen::Service,
        x,
        out,
    );
    regular(
        ctx,
        ObjKind::Ingress,
        &v.ingresses,
        &h.ingresses,
        |_| true,
        Seen::Ingress,
        x,
        out,
    );
    regular(
        ctx,
        ObjKind::Endpoints,
        &v.endpoints,
        &h.endpoints,
        |key| endpoints_synced(ctx, key),
        Seen::Endpoints,
        x,
        out,
    );
    regular(
        ctx,
        ObjKind::EndpointSlice,
        &v.endpoint_slices,
        &h.endpoint_slices,
        |key| {
            v.endpoint_slices
                .get(key)
                .is_some_and(|s| endpoint_slice::fate(ctx, &s.metadata) == Fate::Sync)
        },
        Seen::EndpointSlice,
        x,
        out,
    );
    // Virtual `default/kubernetes` slice ⇄ host Endpoints `<vc>` (vCluster's default-endpoint
    // controller writes it; no host slice is involved).
    if crate::cluster::snapshot::lookup(&h.endpoints, ctx.host_namespace, ctx.vcluster).is_some() {
        let p = Pair::new(
            PairKind::EndpointSlice,
            Some(ObjKey::new("default", "kubernetes")),
            Some(ObjKey::new(ctx.host_namespace, ctx.vcluster)),
        );
        let s = x.look_up(ctx, &p);
        out.push((p, s));
    }
    for p in replicate::pairs(ctx) {
        // Few, and not found by the look-ups above: the general look-up is good enough.
        let s = x.look_up(ctx, &p);
        out.push((p, s));
    }
}

/// Virtual Endpoints get a host twin only when their Service has no selector (§4.4), plus the
/// `default/kubernetes` endpoints that mirror the host `<vc>` endpoints.
fn endpoints_synced(ctx: &Ctx, key: &ObjKey) -> bool {
    if naming::is_default_kubernetes(&key.namespace, &key.name) {
        return true;
    }
    match ctx.snapshot.virtual_side.services.get(key) {
        Some(svc) => {
            !is_controlled(&svc.metadata)
                && svc
                    .spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .is_none()
        }
        None => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn regular<K: kube::Resource + Cold, X: Extra>(
    ctx: &Ctx,
    kind: ObjKind,
    virt: &ObjMap<K>,
    host: &ObjMap<K>,
    wanted: impl Fn(&ObjKey) -> bool,
    seen: fn(Obj<K>) -> Seen,
    x: &X,
    out: &mut Vec<(Pair, X::Out)>,
) {
    let pk = PairKind::from(kind);
    let hns = ctx.host_namespace;
    let both = |v: Option<&Obj<K>>, h: Option<&Obj<K>>| x.of(v, h, seen);
    // Host keys already paired with a live virtual object: no need to run IsManaged on them.
    // Remembered by their address in the host map (the map is not changed while we pair), so
    // neither remembering nor checking one reads its strings.
    let mut paired: HashSet<*const ObjKey> = HashSet::with_capacity(virt.len().min(host.len()));
    let twins = TwinsByName::new(host, hns, virt.len());
    // A few objects' names and labels are read ahead at once: independent loads the core
    // overlaps, where the checks below would wait for each string in turn (a big snapshot is
    // spread over far more memory than the caches hold). Nothing is decided from them.
    let mut ahead = virt.iter();
    let mut warmed = 0usize;
    for (i, (key, obj)) in virt.iter().enumerate() {
        if i == warmed {
            let touched: usize = ahead
                .by_ref()
                .take(WARM_OBJECTS)
                .map(|(k, o)| warm_text(&k.namespace) + warm_text(&k.name) + warm_labels(o.meta()))
                .sum();
            std::hint::black_box(touched);
            warmed += WARM_OBJECTS;
        }
        if is_controlled(obj.meta()) || key.name.is_empty() {
            continue;
        }
        let twin = twin_name(ctx, kind, &key.namespace, &key.name);
        let existing = twins.get(host, hns, &twin);
        if !wanted(key) {
            // Not synced, but a managed twin left behind (e.g. the service gained a selector)
            // is still ours to clean up.
            let managed = existing.is_some_and(|(_, h)| is_managed(ctx, kind, h.meta()));
            if managed {
                let s = both(Some(obj), existing.map(|(_, h)| h));
                out.push((
                    Pair::new(pk, Some(key.clone()), Some(ObjKey::new(hns, twin))),
                    s,
                ));
            }
            continue;
        }
        if let Some((hk, _)) = existing {
            paired.insert(hk as *const ObjKey);
        }
        let s = both(Some(obj), existing.map(|(_, h)| h));
        out.push((
            Pair::new(pk, Some(key.clone()), Some(ObjKey::new(hns, twin))),
            s,
        ));
    }
    // Managed host objects whose virtual object is gone (or never paired): orphans.
    for (key, obj) in namespace_range(host, hns) {
        if paired.contains(&(key as *const ObjKey)) {
            continue;
        }
        let meta: &ObjectMeta = obj.meta();
        if !is_managed(ctx, kind, meta) {
            continue;
        }
        // IsManaged guarantees the annotations translate to this very name, so a live
        // virtual object was already paired above with the same keys; the final dedup drops it.
        let vkey = virtual_ref(meta).map(|(ns, name)| ObjKey::new(ns, name));
        let vobj = vkey.as_ref().and_then(|k| virt.get(k));
        let s = both(vobj, Some(obj));
        out.push((Pair::new(pk, vkey, Some(key.clone())), s));
    }
}

/// Objects whose names and labels [`regular`] reads ahead at once.
const WARM_OBJECTS: usize = 16;

/// A byte at each end of `s`: the cache lines a comparison of `s` reads first.
fn warm_text(s: &str) -> usize {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&a), Some(&z)) => usize::from(a) + usize::from(z),
        _ => 0,
    }
}

fn warm_labels(meta: &ObjectMeta) -> usize {
    meta.labels
        .iter()
        .flatten()
        .map(|(k, v)| warm_text(k) + warm_text(v))
        .sum()
}

/// The host namespace's objects by name, for pairing many virtual objects.
///
/// All twins live in one host namespace, so a search of the host map compares the same
/// namespace and then the name against a dozen keys per twin, each a separate heap string:
/// with 20,000 host objects most of pairing went to those cache misses. Reading the
/// namespace's names once, in order, and hashing each twin name reads one stored name per twin.
/// For a few virtual objects the map's own search is cheaper than reading every name.
enum TwinsByName<'m, V> {
    Search,
    Names(HashMap<&'m str, (&'m ObjKey, &'m Obj<V>)>),
}

impl<'m, V> TwinsByName<'m, V> {
    /// Below this many virtual objects per host object the names are not worth reading.
    const MIN_SHARE: usize = 8;

    fn new(host: &'m ObjMap<V>, namespace: &str, lookups: usize) -> Self {
        if lookups < 64 || lookups.saturating_mul(Self::MIN_SHARE) < host.len() {
            return Self::Search;
        }
        let mut names = HashMap::with_capacity(lookups.min(host.len()));
        for (k, v) in namespace_range(host, namespace) {
            names.insert(k.name.as_str(), (k, v));
        }
        Self::Names(names)
    }

    fn get(
        &self,
        host: &'m ObjMap<V>,
        namespace: &str,
        name: &str,
    ) -> Option<(&'m ObjKey, &'m Obj<V>)> {
        match self {
            Self::Search => host.get_key_value(&(namespace, name) as &dyn KeyRef),
            Self::Names(names) => names.get(name).copied(),
        }
    }
}

/// The entries of `map` in `namespace`, in name order. Unlike a scan that stops at the first
/// key of another namespace, the range is bounded by two searches and then read without
/// comparing (so without reading) every key's namespace: `namespace + "\0"` is the least
/// namespace above it.
fn namespace_range<'m, V>(
    map: &'m ObjMap<V>,
    namespace: &str,
) -> imbl::ordmap::RangedIter<'m, ObjKey, Obj<V>, imbl::shared_ptr::DefaultSharedPtr> {
    use std::ops::Bound;
    let above = format!("{namespace}\0");
    let from: (&str, &str) = (namespace, "");
    let to: (&str, &str) = (above.as_str(), "");
    map.range::<_, dyn KeyRef>((
        Bound::Included(&from as &dyn KeyRef),
        Bound::Excluded(&to as &dyn KeyRef),
    ))
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn twins_by_name_finds_what_the_map_search_finds() {
        let mut m: ObjMap<u8> = ObjMap::new();
        for (ns, name) in [
            ("hns", "a"),
            ("hns", "b-x-ns-x-vc"),
            ("other", "a"),
            ("hns-1", "a"),
        ] {
            m.insert(ObjKey::new(ns, name), Obj::new(0));
        }
        let by_name = TwinsByName::new(&m, "hns", 100);
        assert!(matches!(by_name, TwinsByName::Names(_)));
        let search = TwinsByName::new(&m, "hns", 1);
        assert!(matches!(search, TwinsByName::Search));
        for name in ["a", "b-x-ns-x-vc", "missing", ""] {
            let want = m.get_key_value(&("hns", name) as &dyn KeyRef);
            assert_eq!(by_name.get(&m, "hns", name), want, "{name}");
            assert_eq!(search.get(&m, "hns", name), want, "{name}");
        }
    }

    #[test]
    fn a_namespace_range_holds_exactly_that_namespace() {
        let mut m: ObjMap<u8> = ObjMap::new();
        for (ns, name) in [
            ("a", "x"),
            ("ns", ""),
            ("ns", "a"),
            ("ns", "zz"),
            ("ns\0", "a"),
            ("ns-1", "a"),
            ("nsa", "a"),
            ("nr", "z"),
            ("", "cluster-scoped"),
        ] {
            m.insert(ObjKey::new(ns, name), Obj::new(0));
        }
        for ns in ["ns", "a", "", "nr", "missing", "ns\0"] {
            let got: Vec<&ObjKey> = namespace_range(&m, ns).map(|(k, _)| k).collect();
            let want: Vec<&ObjKey> = m.keys().filter(|k| k.namespace == ns).collect();
            assert_eq!(got, want, "{ns:?}");
        }
    }
}
