//! Which virtual object goes with which host object.
//!
//! Pairing follows vCluster's mapper: a managed host object names its virtual object in the
//! `vcluster.loft.sh/object-*` annotations, and `IsManaged` only accepts annotations that agree
//! with the naming rule, so the annotation look-up and the name look-up meet at the same twin.
//! Legacy (≤ 0.20) twins carry the same annotations and the same names, so they pair too.

use crate::cluster::snapshot::{KeyRef, ObjKey, ObjMap, in_namespace};
use crate::engine::change::{ObjKind, PairKind};
use crate::engine::ctx::Ctx;
use crate::engine::ownership::{is_controlled, is_managed, twin_name, virtual_ref};
use crate::engine::replicate;
use crate::engine::translate::endpoint_slice::{self, Fate};
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashSet;

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
    let v = &ctx.snapshot.virtual_side;
    let h = &ctx.snapshot.host;
    // Collected then sorted once: cheaper than keeping a tree ordered on every insert.
    let mut out = Vec::new();
    regular(ctx, ObjKind::Pod, &v.pods, &h.pods, |_| true, &mut out);
    regular(
        ctx,
        ObjKind::Service,
        &v.services,
        &h.services,
        |_| true,
        &mut out,
    );
    regular(
        ctx,
        ObjKind::Ingress,
        &v.ingresses,
        &h.ingresses,
        |_| true,
        &mut out,
    );
    regular(
        ctx,
        ObjKind::Endpoints,
        &v.endpoints,
        &h.endpoints,
        |key| endpoints_synced(ctx, key),
        &mut out,
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
        &mut out,
    );
    // Virtual `default/kubernetes` slice ⇄ host Endpoints `<vc>` (vCluster's default-endpoint
    // controller writes it; no host slice is involved).
    if crate::cluster::snapshot::lookup(&h.endpoints, ctx.host_namespace, ctx.vcluster).is_some() {
        out.push(Pair::new(
            PairKind::EndpointSlice,
            Some(ObjKey::new("default", "kubernetes")),
            Some(ObjKey::new(ctx.host_namespace, ctx.vcluster)),
        ));
    }
    out.extend(replicate::pairs(ctx));
    // Each kind arrives as a few already-sorted runs: the stable sort merges runs in linear time.
    out.sort();
    out.dedup();
    out
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

fn regular<K: kube::Resource>(
    ctx: &Ctx,
    kind: ObjKind,
    virt: &ObjMap<K>,
    host: &ObjMap<K>,
    wanted: impl Fn(&ObjKey) -> bool,
    out: &mut Vec<Pair>,
) {
    let pk = PairKind::from(kind);
    let hns = ctx.host_namespace;
    // Host names already paired with a live virtual object: no need to run IsManaged on them.
    // Borrowed from the host map, so remembering one costs no allocation.
    let mut paired: HashSet<&str> = HashSet::with_capacity(virt.len().min(host.len()));
    for (key, obj) in virt {
        if is_controlled(obj.meta()) || key.name.is_empty() {
            continue;
        }
        let twin = twin_name(ctx, kind, &key.namespace, &key.name);
        let existing = host.get_key_value(&(hns, twin.as_str()) as &dyn KeyRef);
        if !wanted(key) {
            // Not synced, but a managed twin left behind (e.g. the service gained a selector)
            // is still ours to clean up.
            let managed = existing.is_some_and(|(_, h)| is_managed(ctx, kind, h.meta()));
            if managed {
                out.push(Pair::new(
                    pk,
                    Some(key.clone()),
                    Some(ObjKey::new(hns, twin)),
                ));
            }
            continue;
        }
        if let Some((hk, _)) = existing {
            paired.insert(hk.name.as_str());
        }
        out.push(Pair::new(
            pk,
            Some(key.clone()),
            Some(ObjKey::new(hns, twin)),
        ));
    }
    // Managed host objects whose virtual object is gone (or never paired): orphans.
    for (key, obj) in in_namespace(host, hns) {
        if paired.contains(key.name.as_str()) {
            continue;
        }
        let meta: &ObjectMeta = obj.meta();
        if !is_managed(ctx, kind, meta) {
            continue;
        }
        // IsManaged guarantees the annotations translate to this very name, so a live
        // virtual object was already paired above with the same keys; the final dedup drops it.
        let vkey = virtual_ref(meta).map(|(ns, name)| ObjKey::new(ns, name));
        out.push(Pair::new(pk, vkey, Some(key.clone())));
    }
}
