//! `plan`: the writes that bring one pair in line. Pure: snapshot + config + memory in, data out.
//!
//! Order of decisions (vCluster's syncer, §8): kind disabled → squatter (never touch) →
//! deletions both ways (§8.4) → create the missing twin → UID mismatch → per-field sync, host
//! first, then the virtual spec, then virtual status.

use crate::cluster::snapshot::Obj;
use crate::engine::backsync;
use crate::engine::change::{Action, Blocked, Change, ObjKind, PairKind, Plan, SideName, Target};
use crate::engine::ctx::{Ctx, cluster_ip};
use crate::engine::diff::patch_paths;
use crate::engine::fields::{TopFields, object_merge_patch};
use crate::engine::memory::{LastSeen, Seen};
use crate::engine::ownership::{
    self, clearly_synced, is_controlled, is_managed, recorded_uid, skip_backsync,
};
use crate::engine::pair::Pair;
use crate::engine::replicate;
use crate::engine::translate::endpoint_slice::{self, Fate};
use crate::engine::translate::metadata::{self, Labels, RefLabels};
use crate::engine::translate::{
    endpoints, ingress, ingress_class, pod, pod_delete, pod_update, service,
};
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{Endpoints, Pod, PodSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// The plan of one pair. `memory = None` is stateless: spec follows the virtual object,
/// status the host (vCluster right after a restart).
pub fn plan(ctx: &Ctx, pair: &Pair, memory: Option<&LastSeen>) -> Plan {
    match pair.kind {
        PairKind::ReplicatedFromHost => replicate::plan_from_host(ctx, pair, memory),
        PairKind::ReplicatedToHost => replicate::plan_to_host(ctx, pair, memory),
        _ => regular(ctx, pair, &LastSeen::observe(ctx, pair), memory),
    }
}

/// [`plan`] given both sides of the pair as they are now, exactly as [`LastSeen::observe`]
/// finds them in `ctx`'s snapshot (e.g. from [`crate::engine::pair::pairs_seen`]): the same
/// plan without searching the snapshot again.
pub fn plan_seen(ctx: &Ctx, pair: &Pair, now: &LastSeen, memory: Option<&LastSeen>) -> Plan {
    match pair.kind {
        PairKind::ReplicatedFromHost => replicate::plan_from_host(ctx, pair, memory),
        PairKind::ReplicatedToHost => replicate::plan_to_host(ctx, pair, memory),
        _ => regular(ctx, pair, now, memory),
    }
}

/// What the engine would make the host object look like (for the diff view): the current host
/// object with the plan's host patches applied, or the object it would create. `None` when the
/// engine writes nothing on the host for this pair (squatter, disabled, deletion, waiting).
pub fn desired_host(ctx: &Ctx, pair: &Pair) -> Option<Value> {
    let p = plan(ctx, pair, None);
    let seen = LastSeen::observe(ctx, pair);
    // Whole, env lists included, so the view shows no env difference the engine would not make.
    let mut current = seen.host_obj.as_ref().map(|h| match h {
        Seen::Pod(p) => to_json(ctx.snapshot.host.full(p).as_ref()),
        other => seen_json(other),
    });
    let mut any = false;
    for c in &p.changes {
        if c.target.side != SideName::Host {
            continue;
        }
        match &c.action {
            Action::Create { object } | Action::Recreate { object, .. } => {
                current = Some(object.clone());
                any = true;
            }
            Action::Patch { patch, .. } => {
                if let Some(cur) = current.as_mut() {
                    crate::engine::diff::apply_merge_patch(cur, patch);
                    any = true;
                }
            }
            Action::Delete { .. } => return None,
            Action::Bind { .. } => {}
        }
    }
    if p.blocked.is_some() && !any {
        return None;
    }
    if !any && pair.kind == PairKind::ReplicatedFromHost {
        return None;
    }
    current
}

pub(crate) fn seen_json(s: &Seen) -> Value {
    match s {
        Seen::Pod(o) => to_json(o.as_ref()),
        Seen::Service(o) => to_json(o.as_ref()),
        Seen::Endpoints(o) => to_json(o.as_ref()),
        Seen::EndpointSlice(o) => to_json(o.as_ref()),
        Seen::Ingress(o) => to_json(o.as_ref()),
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(crate) fn target(side: SideName, kind: ObjKind, meta: &ObjectMeta) -> Target {
    Target {
        side,
        kind,
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
    }
}

pub(crate) fn target_key(side: SideName, kind: ObjKind, ns: &str, name: &str) -> Target {
    Target {
        side,
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
    }
}

pub(crate) fn change(target: Target, action: Action, reason: impl Into<String>) -> Change {
    Change {
        target,
        action,
        reason: reason.into(),
        fields: Vec::new(),
    }
}

pub(crate) fn create<T: Serialize>(
    side: SideName,
    kind: ObjKind,
    obj: &T,
    meta: &ObjectMeta,
    reason: impl Into<String>,
) -> Change {
    change(
        target(side, kind, meta),
        Action::Create {
            object: to_json(obj),
        },
        reason,
    )
}

pub(crate) fn delete(
    side: SideName,
    kind: ObjKind,
    meta: &ObjectMeta,
    reason: impl Into<String>,
) -> Change {
    change(
        target(side, kind, meta),
        Action::Delete {
            uid: meta.uid.clone(),
            grace_period_seconds: None,
        },
        reason,
    )
}

/// Merge patches turning `current` into `updated`: the spec/metadata part, and `status` as a
/// separate change through the `/status` subresource.
pub(crate) fn patches<T: TopFields>(
    side: SideName,
    kind: ObjKind,
    current: &T,
    updated: &T,
    meta: &ObjectMeta,
    what: &str,
) -> Vec<Change> {
    if current == updated {
        return Vec::new();
    }
    let Some(mut patch) = object_merge_patch(current, updated) else {
        return Vec::new();
    };
    let status = patch.remove("status");
    let mut out = Vec::new();
    let mut one = |p: Value, sub: Option<&str>| {
        let fields = patch_paths(&p, 2);
        let reason = match sub {
            Some(_) => format!("{what}: status differs"),
            None => format!(
                "{what}: {} differ{}",
                fields.join(", "),
                if fields.len() == 1 { "s" } else { "" }
            ),
        };
        out.push(Change {
            target: target(side, kind, meta),
            action: Action::Patch {
                patch: p,
                subresource: sub.map(str::to_string),
                resource_version: meta.resource_version.clone(),
            },
            reason,
            fields,
        });
    };
    if !patch.is_empty() {
        one(Value::Object(patch), None);
    }
    if let Some(s) = status {
        let mut m = serde_json::Map::new();
        m.insert("status".to_string(), s);
        one(Value::Object(m), Some("status"));
    }
    out
}

fn disabled(ctx: &Ctx, kind: ObjKind) -> Option<String> {
    let t = &ctx.config.sync.to_host;
    let (on, key) = match kind {
        ObjKind::Pod => (t.pods.enabled, "pods"),
        ObjKind::Service => (t.services.enabled, "services"),
        ObjKind::Endpoints => (t.endpoints.enabled, "endpoints"),
        ObjKind::EndpointSlice => (t.endpoint_slices.enabled, "endpointSlices"),
        ObjKind::Ingress => (t.ingresses.enabled, "ingresses"),
        ObjKind::Namespace => (true, "namespaces"),
    };
    (!on).then(|| format!("{kind} sync is disabled (sync.toHost.{key}.enabled: false)"))
}

/// The exact squatter message the inspector and events show.
pub fn squatter_message(ctx: &Ctx, kind: ObjKind, ns: &str, name: &str) -> String {
    format!(
        "squatter: host {kind} {ns}/{name} exists and is not managed by vcluster {}",
        ctx.vcluster
    )
}

fn blocked(b: Blocked) -> Plan {
    Plan {
        changes: Vec::new(),
        blocked: Some(b),
    }
}

fn meta_of(s: &Seen) -> &ObjectMeta {
    match s {
        Seen::Pod(o) => &o.metadata,
        Seen::Service(o) => &o.metadata,
        Seen::Endpoints(o) => &o.metadata,
        Seen::EndpointSlice(o) => &o.metadata,
        Seen::Ingress(o) => &o.metadata,
    }
}

fn regular(ctx: &Ctx, pair: &Pair, now: &LastSeen, memory: Option<&LastSeen>) -> Plan {
    let kind = pair.obj_kind();
    let vkey_is_kubernetes = pair
        .virtual_key
        .as_ref()
        .is_some_and(|k| naming::is_default_kubernetes(&k.namespace, &k.name));
    if vkey_is_kubernetes && matches!(kind, ObjKind::Service | ObjKind::Endpoints) {
        return kubernetes_special(ctx, now);
    }
    if vkey_is_kubernetes && kind == ObjKind::EndpointSlice {
        return kubernetes_slice(ctx, now);
    }
    // Objects owned by replicateServices are not the regular syncers' business.
    let virt = now
        .virtual_obj
        .as_ref()
        .filter(|v| !is_controlled(meta_of(v)));
    let host = now.host_obj.as_ref();

    if virt.is_some()
        && let Some(msg) = disabled(ctx, kind)
    {
        return blocked(Blocked::Disabled { message: msg });
    }
    if let Some(Seen::Ingress(vi)) = virt
        && let Some(message) = ingress_class::blocked(ctx, vi)
    {
        return blocked(Blocked::Waiting { message });
    }
    if let Some(h) = host {
        let hm = meta_of(h);
        if !is_managed(ctx, kind, hm) {
            if virt.is_some() {
                return blocked(Blocked::Squatter {
                    message: squatter_message(
                        ctx,
                        kind,
                        hm.namespace.as_deref().unwrap_or(""),
                        hm.name.as_deref().unwrap_or(""),
                    ),
                });
            }
            return Plan::default();
        }
    }
    match (virt, host) {
        (None, None) => Plan::default(),
        (None, Some(h)) => {
            let hm = meta_of(h);
            if skip_backsync(hm) {
                return Plan::default();
            }
            let seen_virtual = memory.is_some_and(|m| m.virtual_obj.is_some());
            if ownership::deletion_blocked(hm, ctx.now) {
                return blocked(Blocked::Waiting {
                    message: format!(
                        "host {kind} {}/{} was created through the vCluster API and waits up to 2 minutes for its virtual object ({})",
                        hm.namespace.as_deref().unwrap_or(""),
                        hm.name.as_deref().unwrap_or(""),
                        naming::ANNOTATION_BLOCK_DELETION
                    ),
                });
            }
            if seen_virtual || clearly_synced(ctx, kind, hm) {
                let vref = pair
                    .virtual_key
                    .as_ref()
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                let mut p = Plan::default();
                p.changes.push(delete(
                    SideName::Host,
                    kind,
                    hm,
                    format!("orphan: virtual {kind} {vref} no longer exists"),
                ));
                return p;
            }
            Plan::default()
        }
        (Some(v), None) => {
            let vm = meta_of(v);
            if kind == ObjKind::Endpoints && !endpoints_wanted(ctx, vm) {
                return Plan::default();
            }
            if kind == ObjKind::EndpointSlice && endpoint_slice::fate(ctx, vm) != Fate::Sync {
                return Plan::default();
            }
            if twin_seen_then_deleted(ctx, kind, vm, memory) {
                let mut p = Plan::default();
                let hname = pair
                    .host_key
                    .as_ref()
                    .map(|k| k.to_string())
                    .unwrap_or_default();
                p.changes.push(delete(
                    SideName::Virtual,
                    kind,
                    vm,
                    format!("host {kind} {hname} was deleted"),
                ));
                return with_pod_grace(p, Some(0));
            }
            if let Seen::Pod(vp) = v
                // A twin seen and then deleted returned above; here it was never seen.
                && let Some(d) = pod_delete::host_missing(vp, false)
            {
                return pod_deletions(vp, None, vec![d]);
            }
            create_host(ctx, v)
        }
        (Some(v), Some(h)) => {
            let vm = meta_of(v);
            let hm = meta_of(h);
            if kind == ObjKind::Endpoints && !endpoints_wanted(ctx, vm) {
                let mut p = Plan::default();
                p.changes.push(delete(
                    SideName::Host,
                    kind,
                    hm,
                    "the virtual service has a selector: host endpoints come from the host's controller",
                ));
                return p;
            }
            if kind == ObjKind::EndpointSlice {
                match endpoint_slice::fate(ctx, vm) {
                    Fate::Sync => {}
                    Fate::Selector => {
                        let mut p = Plan::default();
                        p.changes.push(delete(
                            SideName::Host,
                            kind,
                            hm,
                            "the virtual service has a selector: host endpoint slices come from the host's controller",
                        ));
                        return p;
                    }
                    Fate::Skip => return Plan::default(),
                }
            }
            let vuid = vm.uid.as_deref().unwrap_or("");
            if kind != ObjKind::Service && recorded_uid(hm).is_some_and(|u| u != vuid) {
                let created = create_host(ctx, v);
                if created.blocked.is_some() {
                    return created;
                }
                let mut p = Plan::default();
                for c in created.changes {
                    if let Action::Create { object } = c.action {
                        p.changes.push(change(
                            c.target,
                            Action::Recreate {
                                object,
                                uid: hm.uid.clone(),
                            },
                            format!(
                                "host twin belongs to an older virtual {kind} (uid {} ≠ {vuid})",
                                recorded_uid(hm).unwrap_or("")
                            ),
                        ));
                    }
                }
                return p;
            }
            update(ctx, v, h, memory)
        }
    }
}

/// Whether memory holds this virtual object's twin: a host object we managed that recorded
/// this very virtual object. A squatter or another vCluster's object at the twin's name going
/// away says nothing about the virtual object, and neither does the twin of an older
/// incarnation (services excepted: re-creating a virtual service for its ClusterIP changes its
/// UID before the twin's annotation catches up).
fn twin_seen_then_deleted(
    ctx: &Ctx,
    kind: ObjKind,
    vm: &ObjectMeta,
    memory: Option<&LastSeen>,
) -> bool {
    let Some(seen) = memory.and_then(|m| m.host_obj.as_ref()) else {
        return false;
    };
    let hm = meta_of(seen);
    is_managed(ctx, kind, hm)
        && (kind == ObjKind::Service
            || recorded_uid(hm).is_none_or(|u| Some(u) == vm.uid.as_deref()))
}

fn endpoints_wanted(ctx: &Ctx, vm: &ObjectMeta) -> bool {
    crate::cluster::snapshot::lookup(
        &ctx.snapshot.virtual_side.services,
        vm.namespace.as_deref().unwrap_or_default(),
        vm.name.as_deref().unwrap_or_default(),
    )
    .is_some_and(|s| s.spec.as_ref().and_then(|s| s.selector.as_ref()).is_none())
}

fn create_host(ctx: &Ctx, v: &Seen) -> Plan {
    let mut p = Plan::default();
    match v {
        // The twin gets the virtual containers' env: the cached pod holds it pooled.
        Seen::Pod(vp) => match pod::to_host(ctx, &ctx.snapshot.virtual_side.full(vp)) {
            Ok(h) => p.changes.push(create(
                SideName::Host,
                ObjKind::Pod,
                &h,
                &h.metadata,
                "host twin is missing",
            )),
            Err(pod::Waiting(msg)) => return blocked(Blocked::Waiting { message: msg }),
        },
        Seen::Service(vs) => {
            let h = service::to_host(ctx, vs);
            p.changes.push(create(
                SideName::Host,
                ObjKind::Service,
                &h,
                &h.metadata,
                "host twin is missing",
            ));
        }
        Seen::Endpoints(ve) => {
            let h = endpoints::to_host(ctx, ve);
            p.changes.push(create(
                SideName::Host,
                ObjKind::Endpoints,
                &h,
                &h.metadata,
                "host twin is missing",
            ));
        }
        Seen::EndpointSlice(ve) => {
            let h = endpoint_slice::to_host(ctx, ve);
            p.changes.push(create(
                SideName::Host,
                ObjKind::EndpointSlice,
                &h,
                &h.metadata,
                "host twin is missing",
            ));
        }
        Seen::Ingress(vi) => {
            let h = ingress::to_host(ctx, vi);
            p.changes.push(create(
                SideName::Host,
                ObjKind::Ingress,
                &h,
                &h.metadata,
                "host twin is missing",
            ));
        }
    }
    p
}

fn update(ctx: &Ctx, v: &Seen, h: &Seen, memory: Option<&LastSeen>) -> Plan {
    if let (Seen::Service(v), Seen::Service(h)) = (v, h)
        && let Some(message) = ip_held_for_good(ctx, v, h)
    {
        return blocked(Blocked::Waiting { message });
    }
    let changes = match (v, h) {
        (Seen::Service(v), Seen::Service(h)) => update_service(ctx, v, h, memory),
        (Seen::Pod(v), Seen::Pod(h)) => update_pod(ctx, v, h, memory),
        (Seen::Ingress(v), Seen::Ingress(h)) => update_ingress(ctx, v, h, memory),
        (Seen::Endpoints(v), Seen::Endpoints(h)) => update_endpoints(ctx, v, h, memory),
        (Seen::EndpointSlice(v), Seen::EndpointSlice(h)) => {
            update_endpoint_slice(ctx, v, h, memory)
        }
        _ => Vec::new(),
    };
    Plan {
        changes,
        blocked: None,
    }
}

/// The host twin's ClusterIP is held by another virtual service that will never give it up:
/// its own sync is blocked (squatter, replication, no managed twin) or its twin already has
/// that very IP. Stepping out of its way would re-create this service every round for nothing.
fn ip_held_for_good(ctx: &Ctx, v: &Service, h: &Service) -> Option<String> {
    let hip = cluster_ip(h)?;
    if cluster_ip(v) == Some(hip) {
        return None;
    }
    let vm = &v.metadata;
    let holder = ctx.snapshot.virtual_side.services.values().find(|o| {
        cluster_ip(o) == Some(hip)
            && (o.metadata.namespace != vm.namespace || o.metadata.name != vm.name)
    })?;
    let hns = holder.metadata.namespace.as_deref().unwrap_or("");
    let hname = holder.metadata.name.as_deref().unwrap_or("");
    let twin = ctx.host_service(&naming::service_host_name(hname, hns, ctx.vcluster));
    let movable = !is_controlled(&holder.metadata)
        && twin.is_some_and(|t| {
            is_managed(ctx, ObjKind::Service, &t.metadata) && cluster_ip(t) != Some(hip)
        });
    if !movable {
        return Some(format!(
            "ClusterIP {hip} of the host twin is held by virtual service {hns}/{hname}, whose own sync cannot move it; free it there"
        ));
    }
    // The holder moves on its own. Stepping out of the way only helps when another twin
    // waits for our IP (a swap); otherwise it would re-create this service on every plan
    // until the holder has moved.
    let ours = cluster_ip(v);
    let own_twin = h.metadata.name.as_deref();
    let wanted = ours.is_some_and(|vip| {
        ctx.snapshot.host.services.values().any(|t| {
            t.metadata.namespace.as_deref() == Some(ctx.host_namespace)
                && t.metadata.name.as_deref() != own_twin
                && cluster_ip(t) == Some(vip)
                && is_managed(ctx, ObjKind::Service, &t.metadata)
        })
    });
    (!wanted).then(|| {
        format!("waiting for virtual service {hns}/{hname} to give up ClusterIP {hip} (it is re-created with its host twin's IP)")
    })
}

/// Labels/annotations under the three-way rule: which keys changed on the host since last seen
/// (and not on the virtual side) flow back; everything else follows the virtual object.
pub(crate) struct MetaSync {
    pub host_labels: Labels,
    pub host_annotations: Labels,
    pub virtual_labels: Option<Labels>,
}

pub(crate) fn sync_meta(
    ctx: &Ctx,
    kind: ObjKind,
    vm: &ObjectMeta,
    hm: &ObjectMeta,
    old: Option<(&ObjectMeta, &ObjectMeta)>,
) -> MetaSync {
    let virt = virtual_meta_sync(ctx, kind, vm, hm, old);
    let (host_labels, host_annotations) = host_meta_sync(ctx, kind, vm, hm, &virt);
    let (host_labels, host_annotations) = (
        metadata::owned(host_labels),
        metadata::owned(host_annotations),
    );
    MetaSync {
        host_labels,
        host_annotations,
        virtual_labels: virt.virtual_labels,
    }
}

/// The virtual half of [`sync_meta`]: labels/annotations that flow back from the host.
pub(crate) struct VirtualMetaSync {
    pub virtual_labels: Option<Labels>,
    pub virtual_annotations: Option<Labels>,
}

pub(crate) fn virtual_meta_sync(
    ctx: &Ctx,
    kind: ObjKind,
    vm: &ObjectMeta,
    hm: &ObjectMeta,
    old: Option<(&ObjectMeta, &ObjectMeta)>,
) -> VirtualMetaSync {
    let mut virtual_labels = None;
    let mut virtual_annotations = None;
    if let Some((ov, oh)) = old {
        if ov.labels == vm.labels && oh.labels != hm.labels {
            let changed = changed_keys(oh.labels.as_ref(), hm.labels.as_ref());
            let mut labels = vm.labels.clone().unwrap_or_default();
            for (k, val) in changed {
                let Some(vk) = naming::virtual_label_key(&k, ctx.vcluster) else {
                    continue;
                };
                // The host slice's service-name label is always translated: it never flows back.
                if kind == ObjKind::EndpointSlice && k == endpoint_slice::SERVICE_NAME_LABEL {
                    continue;
                }
                if k.starts_with(naming::NS_LABEL_PREFIX) {
                    continue;
                }
                match val {
                    Some(val) => labels.insert(vk.into_owned(), val),
                    None => labels.remove(vk.as_ref()),
                };
            }
            if Some(&labels) != vm.labels.as_ref() && !(labels.is_empty() && vm.labels.is_none()) {
                virtual_labels = Some(labels);
            }
        }
        if ov.annotations == vm.annotations && oh.annotations != hm.annotations {
            let changed = changed_keys(oh.annotations.as_ref(), hm.annotations.as_ref());
            let mut ann = vm.annotations.clone().unwrap_or_default();
            for (k, val) in changed {
                if k.starts_with("vcluster.loft.sh/")
                    || metadata::excluded_annotations(kind).contains(&k.as_str())
                {
                    continue;
                }
                match val {
                    Some(val) => ann.insert(k, val),
                    None => ann.remove(&k),
                };
            }
            if Some(&ann) != vm.annotations.as_ref()
                && !(ann.is_empty() && vm.annotations.is_none())
            {
                virtual_annotations = Some(ann);
            }
        }
    }
    VirtualMetaSync {
        virtual_labels,
        virtual_annotations,
    }
}

/// The host half of [`sync_meta`], borrowing: the labels and annotations the twin should carry
/// (the virtual object's as the three-way rule left them in `virt`).
pub(crate) fn host_meta_sync<'a>(
    ctx: &Ctx<'a>,
    kind: ObjKind,
    vm: &'a ObjectMeta,
    hm: &'a ObjectMeta,
    virt: &'a VirtualMetaSync,
) -> (RefLabels<'a>, RefLabels<'a>) {
    let labels = virt.virtual_labels.as_ref().or(vm.labels.as_ref());
    let annotations = virt
        .virtual_annotations
        .as_ref()
        .or(vm.annotations.as_ref());
    let vns = vm.namespace.as_deref().unwrap_or("");
    let hname = hm.name.as_deref().unwrap_or("");
    (
        metadata::updated_labels_ref(ctx.vcluster, labels, vns, hm.labels.as_ref()),
        metadata::host_annotations_ref(
            kind,
            vm,
            annotations,
            hname,
            ctx.host_namespace,
            hm.annotations.as_ref(),
        ),
    )
}

fn changed_keys(old: Option<&Labels>, new: Option<&Labels>) -> Vec<(String, Option<String>)> {
    let empty = Labels::new();
    let old = old.unwrap_or(&empty);
    let new = new.unwrap_or(&empty);
    let mut out = Vec::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            out.push((k.clone(), Some(v.clone())));
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            out.push((k.clone(), None));
        }
    }
    out
}

fn apply_virtual_meta(updated: &mut ObjectMeta, ms: &VirtualMetaSync) {
    if let Some(l) = &ms.virtual_labels {
        updated.labels = Some(l.clone());
    }
    if let Some(a) = &ms.virtual_annotations {
        updated.annotations = Some(a.clone());
    }
}

fn old_pair(
    memory: Option<&LastSeen>,
    f: fn(&Seen) -> Option<&ObjectMeta>,
) -> Option<(&ObjectMeta, &ObjectMeta)> {
    let m = memory?;
    Some((f(m.virtual_obj.as_ref()?)?, f(m.host_obj.as_ref()?)?))
}

fn any_meta(s: &Seen) -> Option<&ObjectMeta> {
    Some(meta_of(s))
}

fn update_service(ctx: &Ctx, v: &Service, h: &Service, memory: Option<&LastSeen>) -> Vec<Change> {
    let mut out = Vec::new();
    let vm = &v.metadata;
    let hm = &h.metadata;
    let vip = v
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .filter(|s| !s.is_empty());
    let hip = h
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .filter(|s| !s.is_empty());
    // §4.2: the virtual ClusterIP must be the host's; ClusterIP is immutable, so re-create.
    if hip.is_some() && vip != hip {
        let holder = hip.and_then(|ip| {
            ctx.snapshot.virtual_side.services.values().find(|o| {
                cluster_ip(o) == Some(ip)
                    && (o.metadata.namespace != vm.namespace || o.metadata.name != vm.name)
            })
        });
        let (ip, reason) = match holder {
            // Another virtual service holds our IP (e.g. two services swapped IPs): step out of
            // the way first; our old IP is freed for whoever wants it, and the holder moves on
            // its own re-create, after which ours succeeds.
            Some(o) if hip != Some("None") => (
                None,
                format!(
                    "ClusterIP {} differs from host {}, which virtual service {}/{} holds: re-create with a fresh IP to free {}",
                    vip.unwrap_or("<none>"),
                    hip.unwrap_or(""),
                    o.metadata.namespace.as_deref().unwrap_or(""),
                    o.metadata.name.as_deref().unwrap_or(""),
                    vip.unwrap_or("<none>")
                ),
            ),
            _ => (
                hip,
                format!(
                    "ClusterIP {} differs from host {}: re-create the virtual service with the host's IP",
                    vip.unwrap_or("<none>"),
                    hip.unwrap_or("")
                ),
            ),
        };
        let obj = backsync::recreated_service(v, h, ip);
        out.push(change(
            target(SideName::Virtual, ObjKind::Service, vm),
            Action::Recreate {
                object: to_json(&obj),
                uid: vm.uid.clone(),
            },
            reason,
        ));
        return out;
    }

    let old = old_pair(memory, any_meta);
    let ms = virtual_meta_sync(ctx, ObjKind::Service, vm, hm, old);
    let (host_labels, mut ann) = host_meta_sync(ctx, ObjKind::Service, vm, hm, &ms);
    if vip == hip {
        ann.remove(naming::ANNOTATION_BLOCK_DELETION);
    }

    let (vs_owned, hs_owned);
    let vspec = match &v.spec {
        Some(s) => s,
        None => {
            vs_owned = ServiceSpec::default();
            &vs_owned
        }
    };
    let hspec = match &h.spec {
        Some(s) => s,
        None => {
            hs_owned = ServiceSpec::default();
            &hs_owned
        }
    };
    let old_v = memory
        .and_then(|m| m.virtual_service())
        .and_then(|s| s.spec.as_ref());
    let old_h = memory
        .and_then(|m| m.host_service())
        .and_then(|s| s.spec.as_ref());
    // Specs are borrowed and only cloned when a field really has to change: most pairs are
    // in line and the old unconditional clones were a large share of a plan.
    let mut hs = Cow::Borrowed(hspec);
    let mut vs = Cow::Borrowed(vspec);
    // Ports: nodePorts are the host's to allocate; fill the virtual side's blanks first.
    let hports = hspec.ports.as_deref().unwrap_or_default();
    let vports_filled: Cow<Option<Vec<ServicePort>>> = match &vspec.ports {
        Some(p) if node_ports_to_fill(p, hports) => {
            let mut filled = p.clone();
            backsync::fill_node_ports(&mut filled, hports);
            Cow::Owned(Some(filled))
        }
        _ => Cow::Borrowed(&vspec.ports),
    };
    let veff: Cow<ServiceSpec> = if *vports_filled != vspec.ports
        || (vspec.health_check_node_port.is_none() && hspec.health_check_node_port.is_some())
        || lacks_defaults(vspec)
    {
        let mut veff = vspec.clone();
        veff.ports = vports_filled.as_ref().clone();
        if vspec.health_check_node_port.is_none() {
            veff.health_check_node_port = hspec.health_check_node_port;
        }
        fill_defaults(&mut veff, hspec);
        Cow::Owned(veff)
    } else {
        Cow::Borrowed(vspec)
    };
    for field in service::BIDIRECTIONAL {
        if service::field_eq(field, &veff, hspec) {
            continue;
        }
        let v_changed = match (old_v, old_h) {
            (Some(ov), Some(_)) => !service::field_eq(field, ov, vspec),
            _ => true,
        };
        let h_changed = old_h.is_some_and(|oh| !service::field_eq(field, oh, hspec));
        if !v_changed && h_changed {
            service::copy_field(field, hspec, vs.to_mut());
        } else {
            service::copy_field(field, &veff, hs.to_mut());
        }
    }
    // Host-allocated nodePorts flow back into virtual ports that have none.
    if vs.ports == vspec.ports && *vports_filled != vspec.ports {
        vs.to_mut().ports = vports_filled.into_owned();
    }
    if vspec.health_check_node_port.is_none()
        && hspec.health_check_node_port.is_some()
        && vs.health_check_node_port.is_none()
    {
        vs.to_mut().health_check_node_port = hspec.health_check_node_port;
    }
    // Selector (§4.3): the virtual one wins unless only the host changed.
    let vns = vm.namespace.as_deref().unwrap_or("");
    let v_sel_changed = match (old_v, old_h) {
        (Some(ov), Some(_)) => ov.selector != vspec.selector,
        _ => true,
    };
    let h_sel_changed = old_h.is_some_and(|oh| oh.selector != hspec.selector);
    if v_sel_changed || !h_sel_changed {
        let add_extras = hspec
            .selector
            .as_ref()
            .is_none_or(|s| s.contains_key(naming::LABEL_MANAGED_BY));
        // Built borrowing, compared, and only copied when the host's differs.
        let sel: Option<RefLabels> = vspec.selector.as_ref().map(|s| {
            if add_extras {
                metadata::host_labels_ref(ctx.vcluster, Some(s), vns)
            } else {
                s.iter()
                    .map(|(k, v)| {
                        (
                            naming::host_label_key(k, ctx.vcluster),
                            Cow::Borrowed(v.as_str()),
                        )
                    })
                    .collect()
            }
        });
        let in_line = match &sel {
            Some(want) => metadata::same(hs.selector.as_ref(), want),
            None => hs.selector.is_none(),
        };
        if !in_line {
            hs.to_mut().selector = sel.map(metadata::owned);
        }
    } else {
        let sel = hspec
            .selector
            .as_ref()
            .map(|s| metadata::virtual_labels(ctx, Some(s)));
        if sel != vs.selector {
            vs.to_mut().selector = sel;
        }
    }
    let mut status = backsync::service_status(h);
    // An API server stores `status: {loadBalancer: {}}` on every Service: that is "no status".
    let empty_status = |s: &k8s_openapi::api::core::v1::ServiceStatus| {
        s.conditions.as_ref().is_none_or(|c| c.is_empty())
            && s.load_balancer
                .as_ref()
                .is_none_or(|lb| lb.ingress.as_ref().is_none_or(|i| i.is_empty()))
    };
    if status.is_none() && v.status.as_ref().is_some_and(empty_status) {
        status = v.status.clone();
    }

    // Whole objects are cloned only when something differs: most pairs are in line.
    let hs_changed = matches!(hs, Cow::Owned(_)) && *hs != *hspec;
    let vs_changed = matches!(vs, Cow::Owned(_)) && *vs != *vspec;
    if !metadata::same(hm.labels.as_ref(), &host_labels)
        || !metadata::same(hm.annotations.as_ref(), &ann)
        || hs_changed
    {
        let hu = Service {
            metadata: ObjectMeta {
                labels: Some(metadata::owned(host_labels)),
                annotations: Some(metadata::owned(ann)),
                ..hm.clone()
            },
            spec: Some(hs.into_owned()),
            status: h.status.clone(),
        };
        out.extend(patches(
            SideName::Host,
            ObjKind::Service,
            h,
            &hu,
            hm,
            "host service",
        ));
    }
    if vs_changed
        || status != v.status
        || ms.virtual_labels.is_some()
        || ms.virtual_annotations.is_some()
    {
        let mut vu = v.clone();
        apply_virtual_meta(&mut vu.metadata, &ms);
        vu.spec = Some(vs.into_owned());
        vu.status = status;
        out.extend(patches(
            SideName::Virtual,
            ObjKind::Service,
            v,
            &vu,
            vm,
            "virtual service",
        ));
    }
    out
}

/// Whether `backsync::fill_node_ports` would change any port (it is only worth a clone then).
fn node_ports_to_fill(vports: &[ServicePort], hports: &[ServicePort]) -> bool {
    vports.iter().any(|p| {
        if p.node_port.is_some() {
            return false;
        }
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        hports
            .iter()
            .find(|h| h.port == p.port && h.protocol.as_deref().unwrap_or("TCP") == proto)
            .is_some_and(|h| h.node_port.is_some())
    })
}

/// Whether [`fill_defaults`] could change anything: a conservative test, so that a spec
/// without gaps is compared as it is instead of being cloned first.
fn lacks_defaults(v: &ServiceSpec) -> bool {
    v.type_.is_none()
        || v.session_affinity.is_none()
        || v.external_traffic_policy.is_none()
        || v.publish_not_ready_addresses.is_none()
        || v.ports
            .iter()
            .flatten()
            .any(|p| p.protocol.is_none() || p.target_port.is_none())
}

/// API-server defaults the virtual object may lack when built by hand (or by an older server):
/// an unset field is not a difference.
fn fill_defaults(
    v: &mut k8s_openapi::api::core::v1::ServiceSpec,
    h: &k8s_openapi::api::core::v1::ServiceSpec,
) {
    if v.type_.is_none() {
        v.type_ = h.type_.clone();
    }
    if v.session_affinity.is_none() {
        v.session_affinity = h.session_affinity.clone();
    }
    if v.external_traffic_policy.is_none() {
        v.external_traffic_policy = h.external_traffic_policy.clone();
    }
    if v.publish_not_ready_addresses.is_none() {
        v.publish_not_ready_addresses = h.publish_not_ready_addresses;
    }
    if let (Some(vp), Some(hp)) = (v.ports.as_mut(), h.ports.as_ref()) {
        for (a, b) in vp.iter_mut().zip(hp) {
            if a.port != b.port {
                continue;
            }
            if a.protocol.is_none() {
                a.protocol = b.protocol.clone();
            }
            if a.target_port.is_none() {
                a.target_port = b.target_port.clone();
            }
        }
    }
}

/// The changes of pod deletions (`translate::pod_delete`), plus, while the host pod
/// terminates, its status flowing back.
fn pod_deletions(v: &Pod, h: Option<&Pod>, deletions: Vec<pod_delete::Deletion>) -> Plan {
    let mut p = Plan::default();
    for d in deletions {
        let (side, meta, grace, reason) = match d {
            pod_delete::Deletion::Virtual { grace, reason } => {
                (SideName::Virtual, &v.metadata, Some(grace), reason)
            }
            pod_delete::Deletion::Host { grace, reason } => match h {
                Some(h) => (SideName::Host, &h.metadata, grace, reason),
                None => continue,
            },
        };
        p.changes.push(change(
            target(side, ObjKind::Pod, meta),
            Action::Delete {
                uid: meta.uid.clone(),
                grace_period_seconds: grace,
            },
            reason,
        ));
    }
    if let Some(h) = h.filter(|h| h.metadata.deletion_timestamp.is_some())
        && !backsync::pod_status_in_line(v, h)
        && let Some(status) = backsync::pod_status(v, h)
    {
        let mut vu = v.clone();
        vu.status = Some(status);
        p.changes.extend(patches(
            SideName::Virtual,
            ObjKind::Pod,
            v,
            &vu,
            &v.metadata,
            "virtual pod",
        ));
    }
    p
}

/// Sets the grace period of a plan's pod deletions.
fn with_pod_grace(mut p: Plan, grace: Option<i64>) -> Plan {
    for c in &mut p.changes {
        if c.target.kind == ObjKind::Pod
            && let Action::Delete {
                grace_period_seconds,
                ..
            } = &mut c.action
        {
            *grace_period_seconds = grace;
        }
    }
    p
}

fn update_pod(ctx: &Ctx, v: &Pod, h: &Obj<Pod>, memory: Option<&LastSeen>) -> Vec<Change> {
    if let Some(d) = pod_delete::both(v, h) {
        return pod_deletions(v, Some(h), d).changes;
    }
    let mut out = Vec::new();
    let vm = &v.metadata;
    let hm = &h.metadata;
    let (vs_owned, hs_owned);
    let vspec = match &v.spec {
        Some(s) => s,
        None => {
            vs_owned = PodSpec::default();
            &vs_owned
        }
    };
    let hspec = match &h.spec {
        Some(s) => s,
        None => {
            hs_owned = PodSpec::default();
            &hs_owned
        }
    };
    // Scheduled on different nodes: the virtual pod cannot follow, vCluster deletes it.
    if let (Some(vn), Some(hn)) = (vspec.node_name.as_deref(), hspec.node_name.as_deref())
        && vn != hn
    {
        out.push(delete(
            SideName::Virtual,
            ObjKind::Pod,
            vm,
            format!("virtual pod is bound to node {vn} but its host twin runs on {hn}"),
        ));
        return out;
    }
    let old = old_pair(memory, any_meta);
    let ms = virtual_meta_sync(ctx, ObjKind::Pod, vm, hm, old);
    let vns = vm.namespace.as_deref().unwrap_or("");
    // Borrowed maps: compared with the host's, and only made owned when written.
    let (mut labels, mut ann) = host_meta_sync(ctx, ObjKind::Pod, vm, hm, &ms);
    labels.extend(metadata::cow(pod::namespace_labels(ctx, vns)));
    // The label/annotation copies on the host describe the virtual pod as it will be after
    // this plan, host-side edits that flow back included (else the next plan patches again).
    if ms.virtual_labels.is_some() || ms.virtual_annotations.is_some() {
        let mut after = v.clone();
        apply_virtual_meta(&mut after.metadata, &ms);
        ann.extend(metadata::cow(pod::pod_annotations(&after)));
    } else {
        ann.extend(pod::pod_annotations_ref(v));
    }
    // Host-only pod bookkeeping vCluster wrote at creation stays.
    for (k, val) in hm.annotations.iter().flatten() {
        if k == naming::ANNOTATION_POD_HOSTS_REWRITTEN
            || k.starts_with(naming::ANNOTATION_POD_TOKEN_PREFIX)
        {
            ann.insert(Cow::Borrowed(k.as_str()), Cow::Borrowed(val.as_str()));
        }
    }
    if vm.owner_references.as_ref().is_none_or(|o| o.is_empty()) {
        ann.remove(naming::ANNOTATION_POD_OWNER_REFERENCES);
        ann.remove(naming::ANNOTATION_POD_OWNER_SET_KIND);
    }
    // Spec fields the API server lets change on a running pod (`translate::pod_update`).
    // Checked on the cached pod, which holds no container env (cheap: this runs for every
    // synced pod); a merge patch replaces the container lists, so a patch that carries them is
    // built from the whole host pod (`Side::full`).
    let spec_differs = pod_update::host_spec(vspec, hspec).is_some();
    let resize = pod_update::resize_patch(vspec, hspec).is_some();
    let whole = if spec_differs || resize {
        ctx.snapshot.host.full(h)
    } else {
        Cow::Borrowed(&**h)
    };
    let whole_spec = whole.spec.as_ref().unwrap_or(hspec);
    let spec_update = spec_differs
        .then(|| pod_update::host_spec(vspec, whole_spec))
        .flatten();
    let host_differs = !metadata::same(hm.labels.as_ref(), &labels)
        || !metadata::same(hm.annotations.as_ref(), &ann)
        || spec_update.is_some();
    if host_differs {
        // Only what this patch may change is compared: the metadata, and the spec when it is
        // updated. Cloning the rest (containers with their env) would only find it equal.
        let (spec_now, spec_next) = match &spec_update {
            Some(s) => (whole.spec.clone(), Some(s.clone())),
            None => (None, None),
        };
        let now = Pod {
            metadata: hm.clone(),
            spec: spec_now,
            status: None,
        };
        let next = Pod {
            metadata: ObjectMeta {
                labels: Some(metadata::owned(labels)),
                annotations: Some(metadata::owned(ann)),
                ..hm.clone()
            },
            spec: spec_next,
            status: None,
        };
        out.extend(patches(
            SideName::Host,
            ObjKind::Pod,
            &now,
            &next,
            hm,
            "host pod",
        ));
    }
    // The resize goes after the main patch: built on the spec that patch leaves (new images),
    // else it would carry the old images back and the API server refuses it.
    let after = spec_update.as_ref().unwrap_or(whole_spec);
    out.extend(pod_update_subresources(ctx, v, h, vspec, after, resize));
    // The synced status is only built (cloned from the host) when it is going to be written.
    let status_differs = !backsync::pod_status_in_line(v, h);
    if status_differs || ms.virtual_labels.is_some() || ms.virtual_annotations.is_some() {
        // The spec is not written here: it is left out of both sides (not cloned).
        let now = Pod {
            metadata: vm.clone(),
            spec: None,
            status: v.status.clone(),
        };
        let mut next = now.clone();
        apply_virtual_meta(&mut next.metadata, &ms);
        if let Some(status) = backsync::pod_status(v, h) {
            next.status = Some(status);
        }
        out.extend(patches(
            SideName::Virtual,
            ObjKind::Pod,
            &now,
            &next,
            vm,
            "virtual pod",
        ));
    }
    if vspec.node_name.is_none()
        && let Some(node) = hspec.node_name.as_deref().filter(|n| !n.is_empty())
    {
        out.push(change(
            target(SideName::Virtual, ObjKind::Pod, vm),
            Action::Bind {
                node: node.to_string(),
            },
            format!("host scheduler placed the twin on node {node}"),
        ));
    }
    out
}

/// Ephemeral containers and in-place resize go through their own subresources. They carry no
/// resourceVersion: each writes one field list, and the main patch before them bumps it.
fn pod_update_subresources(
    ctx: &Ctx,
    v: &Pod,
    h: &Pod,
    vspec: &PodSpec,
    hspec: &PodSpec,
    resize: bool,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut sub = |patch: Value, name: &str, field: &str, reason: &str| {
        out.push(Change {
            target: target(SideName::Host, ObjKind::Pod, &h.metadata),
            action: Action::Patch {
                patch,
                subresource: Some(name.to_string()),
                resource_version: None,
            },
            reason: reason.to_string(),
            fields: vec![field.to_string()],
        });
    };
    if let Some(p) = pod_update::ephemeral_patch(ctx, v, h) {
        sub(
            p,
            "ephemeralcontainers",
            "spec.ephemeralContainers",
            "host pod: ephemeral containers differ",
        );
    }
    if resize && let Some(p) = pod_update::resize_patch(vspec, hspec) {
        sub(
            p,
            "resize",
            "spec.containers",
            "host pod: container resources differ (in-place resize)",
        );
    }
    out
}

fn update_ingress(ctx: &Ctx, v: &Ingress, h: &Ingress, memory: Option<&LastSeen>) -> Vec<Change> {
    let vm = &v.metadata;
    let hm = &h.metadata;
    let vns = vm.namespace.as_deref().unwrap_or("");
    let translated = ingress::translated_virtual_meta(ctx, vm);
    let old = old_pair(memory, any_meta);
    let old_t = old.map(|(ov, oh)| (ingress::translated_virtual_meta(ctx, ov), oh.clone()));
    let ms = sync_meta(
        ctx,
        ObjKind::Ingress,
        &translated,
        hm,
        old_t.as_ref().map(|(a, b)| (a, b)),
    );
    let mut hu = h.clone();
    let mut vu = v.clone();
    // Host-side annotation edits flow back untranslated only for keys the ingress syncer does
    // not rewrite; labels flow back as usual.
    if let Some(l) = ms.virtual_labels {
        vu.metadata.labels = Some(l);
    }
    hu.metadata.labels = Some(ms.host_labels);
    hu.metadata.annotations = Some(ms.host_annotations);
    let mut desired = v.spec.as_ref().map(|s| ingress::host_spec(ctx, s, vns));
    // ingressClassName is bidirectional.
    let old_v = memory.and_then(|m| m.virtual_obj.as_ref()?.as_ingress().cloned());
    let old_h = memory.and_then(|m| m.host_obj.as_ref()?.as_ingress().cloned());
    let class = |i: &Ingress| i.spec.as_ref().and_then(|s| s.ingress_class_name.clone());
    let (vc, hc) = (class(v), class(h));
    if vc != hc
        && let (Some(ov), Some(oh)) = (&old_v, &old_h)
        && class(ov) == vc
        && class(oh) != hc
    {
        vu.spec
            .get_or_insert_with(Default::default)
            .ingress_class_name = hc.clone();
        if let Some(d) = desired.as_mut() {
            d.ingress_class_name = hc;
        }
    }
    hu.spec = desired;
    vu.status = backsync::ingress_status(h).or_else(|| v.status.clone());
    let mut out = patches(SideName::Host, ObjKind::Ingress, h, &hu, hm, "host ingress");
    out.extend(patches(
        SideName::Virtual,
        ObjKind::Ingress,
        v,
        &vu,
        vm,
        "virtual ingress",
    ));
    out
}

fn update_endpoints(
    ctx: &Ctx,
    v: &Endpoints,
    h: &Endpoints,
    memory: Option<&LastSeen>,
) -> Vec<Change> {
    let vm = &v.metadata;
    let hm = &h.metadata;
    let vns = vm.namespace.as_deref().unwrap_or("");
    let old = old_pair(memory, any_meta);
    let ms = sync_meta(ctx, ObjKind::Endpoints, vm, hm, old);
    let mut hu = h.clone();
    hu.metadata.labels = Some(ms.host_labels);
    hu.metadata.annotations = Some(ms.host_annotations);
    hu.subsets = endpoints::host_subsets(ctx, v.subsets.as_deref(), vns);
    patches(
        SideName::Host,
        ObjKind::Endpoints,
        h,
        &hu,
        hm,
        "host endpoints",
    )
}

/// vCluster's slice `Sync`: the host endpoints follow the virtual ones, labels and annotations
/// the three-way rule. Ports and addressType are only written at creation (upstream copies
/// nothing else on update; addressType is immutable anyway).
fn update_endpoint_slice(
    ctx: &Ctx,
    v: &EndpointSlice,
    h: &EndpointSlice,
    memory: Option<&LastSeen>,
) -> Vec<Change> {
    let vm = &v.metadata;
    let hm = &h.metadata;
    let vns = vm.namespace.as_deref().unwrap_or("");
    let old = old_pair(memory, any_meta);
    let ms = sync_meta(ctx, ObjKind::EndpointSlice, vm, hm, old);
    let mut hu = h.clone();
    let mut labels = ms.host_labels;
    labels.insert(
        endpoint_slice::SERVICE_NAME_LABEL.to_string(),
        endpoint_slice::host_service_label(ctx, vm),
    );
    hu.metadata.labels = Some(labels);
    hu.metadata.annotations = Some(ms.host_annotations);
    hu.endpoints = endpoint_slice::host_endpoints(ctx, &v.endpoints, vns);
    patches(
        SideName::Host,
        ObjKind::EndpointSlice,
        h,
        &hu,
        hm,
        "host endpoint slice",
    )
}

/// Virtual `default/kubernetes` slice: made from the virtual `default/kubernetes` Endpoints as
/// they are meant to be (mirroring host Endpoints `<vc>`), so both converge in one round.
fn kubernetes_slice(ctx: &Ctx, now: &LastSeen) -> Plan {
    let mut p = Plan::default();
    let snap = ctx.snapshot;
    let Some(host_eps) =
        crate::cluster::snapshot::lookup(&snap.host.endpoints, ctx.host_namespace, ctx.vcluster)
    else {
        return p;
    };
    let veps =
        crate::cluster::snapshot::lookup(&snap.virtual_side.endpoints, "default", "kubernetes");
    let want_eps = backsync::kubernetes_endpoints(veps.map(|e| e.as_ref()), host_eps);
    let v = now.virtual_obj.as_ref().and_then(|s| s.as_endpoint_slice());
    let want = endpoint_slice::kubernetes_slice(v, &want_eps);
    match v {
        Some(v) => p.changes.extend(patches(
            SideName::Virtual,
            ObjKind::EndpointSlice,
            v,
            &want,
            &v.metadata,
            "default/kubernetes endpoint slice",
        )),
        None => p.changes.push(create(
            SideName::Virtual,
            ObjKind::EndpointSlice,
            &want,
            &want.metadata,
            "default/kubernetes endpoint slice mirrors the vCluster's host endpoints",
        )),
    }
    p
}

/// Virtual `default/kubernetes` follows host service `<vc>` (never the other way).
fn kubernetes_special(_ctx: &Ctx, now: &LastSeen) -> Plan {
    let mut p = Plan::default();
    match (&now.virtual_obj, &now.host_obj) {
        (Some(Seen::Service(v)), Some(Seen::Service(h))) => {
            let want = backsync::kubernetes_service(v, h);
            if backsync::kubernetes_needs_recreate(v, h) {
                let mut obj = want.clone();
                obj.metadata = backsync::clean_meta(&v.metadata);
                obj.status = None;
                p.changes.push(change(
                    target(SideName::Virtual, ObjKind::Service, &v.metadata),
                    Action::Recreate {
                        object: to_json(&obj),
                        uid: v.metadata.uid.clone(),
                    },
                    "default/kubernetes must have the ClusterIP of the vCluster's host service",
                ));
            } else {
                p.changes.extend(patches(
                    SideName::Virtual,
                    ObjKind::Service,
                    v.as_ref(),
                    &want,
                    &v.metadata,
                    "default/kubernetes",
                ));
            }
        }
        (vep, Some(Seen::Endpoints(h))) => {
            let v = vep.as_ref().and_then(|s| s.as_endpoints());
            let want = backsync::kubernetes_endpoints(v, h);
            match v {
                Some(v) => p.changes.extend(patches(
                    SideName::Virtual,
                    ObjKind::Endpoints,
                    v,
                    &want,
                    &v.metadata,
                    "default/kubernetes endpoints",
                )),
                None => p.changes.push(create(
                    SideName::Virtual,
                    ObjKind::Endpoints,
                    &want,
                    &want.metadata,
                    "default/kubernetes endpoints mirror the vCluster's host endpoints",
                )),
            }
        }
        _ => {}
    }
    p
}
