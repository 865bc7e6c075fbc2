//! `rows()`: every pair of a snapshot with its status, reason, both sides, DNS names and the
//! newest sync event. Pure: the same snapshot and config always give the same rows.

use crate::cluster::snapshot::{ConnState, ObjKey, Side, Snapshot};
use crate::engine::ctx::Ctx;
use crate::engine::memory::{LastSeen, Seen};
use crate::engine::pair::{Pair, PairsPart, pairs_seen, pairs_seen_part, sort_pairs};
use crate::engine::{Blocked, PairKind, Plan, SideName};
use crate::inspect::model::{DnsNames, PairRow, SideView, Status};
use crate::inspect::sides::{self, SideIndex};
use crate::inspect::status::{PairFacts, obj_kind, refused_write, status_of, twin_side};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::sync::Arc;

/// Rows of every pair in the snapshot, in the engine's pair order.
pub fn rows(snapshot: &Snapshot, config: &VClusterConfig) -> Vec<PairRow> {
    // Each pair is dropped where its row is made: no second pass over 20,000 rows.
    rows_with(snapshot, config, default_threads(), |p, make| make(&p))
}

/// Rows together with the engine pair each was built from (`fix` re-plans by pair).
pub fn pair_rows(snapshot: &Snapshot, config: &VClusterConfig) -> Vec<(Pair, PairRow)> {
    pair_rows_on(snapshot, config, default_threads())
}

/// Below this many pairs a second thread costs more than it saves.
const PARALLEL_MIN_PAIRS: usize = 4096;

/// One thread per core, at most 4: rows are independent, and a big snapshot is what an
/// operator waits for during an incident.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// [`pair_rows`] on at most `threads` threads (1 = on the caller's thread). The result does
/// not depend on the thread count: pairs are cut into consecutive chunks, joined in order.
pub fn pair_rows_on(
    snapshot: &Snapshot,
    config: &VClusterConfig,
    threads: usize,
) -> Vec<(Pair, PairRow)> {
    rows_with(snapshot, config, threads, |p, make| {
        let r = make(&p);
        (p, r)
    })
}

/// [`pair_rows_on`] on one thread, except that a pair for which `kept` gives a row keeps that
/// row and is not planned: a live view plans again only the pairs whose inputs changed.
pub fn pair_rows_keeping(
    snapshot: &Snapshot,
    config: &VClusterConfig,
    kept: impl Fn(&Pair) -> Option<Arc<PairRow>> + Sync,
) -> Vec<(Pair, Arc<PairRow>)> {
    rows_with(snapshot, config, 1, |p, make| {
        let r = kept(&p).unwrap_or_else(|| Arc::new(make(&p)));
        (p, r)
    })
}

/// The rows on at most `threads` threads: `keep` gets each pair and the function that plans
/// it and makes its row (called or not, as `keep` decides).
fn rows_with<T: Send>(
    snapshot: &Snapshot,
    config: &VClusterConfig,
    threads: usize,
    keep: impl Fn(Pair, &dyn Fn(&Pair) -> PairRow) -> T + Sync,
) -> Vec<T> {
    let ctx = Ctx {
        snapshot,
        config,
        vcluster: &snapshot.vcluster,
        host_namespace: &snapshot.host_namespace,
        now: crate::engine::ctx::now_seconds(),
    };
    // Pairing found both objects already; the plan and the row reuse them.
    let one = |inputs: &RowInputs, (p, seen): (Pair, LastSeen)| {
        let make = |p: &Pair| {
            let plan = crate::engine::plan::plan_seen(&ctx, p, &seen, None);
            row_with_seen(inputs, p, &seen, plan)
        };
        keep(p, &make)
    };
    let small =
        snapshot.virtual_side.object_count() + snapshot.host.object_count() < PARALLEL_MIN_PAIRS;
    if threads <= 1 || small {
        let inputs = RowInputs::new(&ctx);
        return warmed(pairs_seen(&ctx), |p| one(&inputs, p));
    }
    // Pod pairing on one thread; the indexes and the other kinds' pairing on this one.
    let (all, virt, host) = std::thread::scope(|s| {
        let pods = s.spawn(|| pairs_seen_part(&ctx, PairsPart::Pods));
        let host = SideIndex::new(&snapshot.host);
        let virt = SideIndex::new(&snapshot.virtual_side);
        let mut all = pairs_seen_part(&ctx, PairsPart::Others);
        match pods.join() {
            Ok(pods) => all.extend(pods),
            // A panic while pairing is a bug; surface it as if it happened on this thread.
            Err(panic) => std::panic::resume_unwind(panic),
        }
        (sort_pairs(all), virt, host)
    });
    let inputs = RowInputs {
        ctx: &ctx,
        virt,
        host,
        unreadable: unreadable(snapshot),
    };
    if all.len() < PARALLEL_MIN_PAIRS {
        return warmed(all, |p| one(&inputs, p));
    }
    // Small chunks handed out in turn: pod rows and service rows cost differently, so equal
    // halves would leave one thread waiting for the other.
    let mut chunks: Vec<Vec<(Pair, LastSeen)>> = Vec::new();
    let mut rest = all.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(CHUNK_PAIRS).collect());
    }
    let n = chunks.len();
    let queue = std::sync::Mutex::new(chunks.into_iter().enumerate());
    let work = || {
        let mut done = Vec::new();
        loop {
            let next = match queue.lock() {
                Ok(mut q) => q.next(),
                Err(poisoned) => poisoned.into_inner().next(),
            };
            let Some((i, chunk)) = next else { break };
            let part = warmed(chunk, |p| one(&inputs, p));
            done.push((i, part));
        }
        done
    };
    let mut parts: Vec<Option<Vec<T>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut done = work();
        for h in helpers {
            match h.join() {
                Ok(more) => done.extend(more),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, part) in done {
            parts[i] = Some(part);
        }
    });
    let mut out = Vec::with_capacity(parts.iter().flatten().map(Vec::len).sum());
    for part in parts.into_iter().flatten() {
        out.extend(part);
    }
    out
}

/// Pairs handed to a thread at a time.
const CHUNK_PAIRS: usize = 1024;

/// Pairs whose objects are read ahead together, before any of them is planned: about a
/// hundred kilobytes of objects, well inside a core's L2 cache.
const WARM_PAIRS: usize = 16;

/// `f` over `pairs` in order, a few pairs at a time, after reading ahead the strings their
/// plans and rows compare.
///
/// The objects of a large snapshot are spread over far more memory than the caches hold, and
/// a plan reads them by chasing pointers one string at a time, each read waiting for the one
/// before (a map search picks its next node from the last comparison). The read-ahead loads are
/// independent of each other, so the core has many of them in flight at once; the plans then
/// find their strings in the cache. It reads and decides nothing: the result is `f`'s alone.
fn warmed<T>(pairs: Vec<(Pair, LastSeen)>, mut f: impl FnMut((Pair, LastSeen)) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut rest = pairs.into_iter();
    loop {
        let batch: Vec<(Pair, LastSeen)> = rest.by_ref().take(WARM_PAIRS).collect();
        if batch.is_empty() {
            return out;
        }
        let touched: usize = batch.iter().map(|(_, seen)| warm::seen(seen)).sum();
        std::hint::black_box(touched);
        out.extend(batch.into_iter().map(&mut f));
    }
}

/// Reads of one byte at each end of the strings a plan or a row of an object compares.
mod warm {
    use crate::engine::memory::{LastSeen, Seen};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    pub(super) fn seen(seen: &LastSeen) -> usize {
        [&seen.virtual_obj, &seen.host_obj]
            .into_iter()
            .flatten()
            .map(|s| match s {
                Seen::Pod(p) => meta(&p.metadata) + pod(p),
                Seen::Service(s) => meta(&s.metadata),
                Seen::Endpoints(e) => meta(&e.metadata),
                Seen::EndpointSlice(e) => meta(&e.metadata),
                Seen::Ingress(i) => meta(&i.metadata),
            })
            .sum()
    }

    fn text(s: &str) -> usize {
        let b = s.as_bytes();
        match (b.first(), b.last()) {
            (Some(&a), Some(&z)) => usize::from(a) + usize::from(z),
            _ => 0,
        }
    }

    fn opt(s: &Option<String>) -> usize {
        s.as_deref().map_or(0, text)
    }

    fn map(m: &Option<BTreeMap<String, String>>) -> usize {
        m.iter().flatten().map(|(k, v)| text(k) + text(v)).sum()
    }

    fn meta(m: &ObjectMeta) -> usize {
        map(&m.labels) + map(&m.annotations) + opt(&m.name) + opt(&m.namespace) + opt(&m.uid)
    }

    fn pod(p: &Pod) -> usize {
        let spec = p.spec.as_ref().map_or(0, |s| {
            s.containers
                .iter()
                .map(|c| text(&c.name) + opt(&c.image))
                .sum::<usize>()
                + opt(&s.node_name)
        });
        let status = p.status.as_ref().map_or(0, |s| {
            opt(&s.pod_ip)
                + opt(&s.phase)
                + s.conditions
                    .iter()
                    .flatten()
                    .map(|c| text(&c.type_) + text(&c.status))
                    .sum::<usize>()
                + s.container_statuses
                    .iter()
                    .flatten()
                    .map(|c| text(&c.name) + text(&c.image))
                    .sum::<usize>()
        });
        spec + status
    }
}

/// Indexes shared by every row of one snapshot.
pub struct RowInputs<'a> {
    pub ctx: &'a Ctx<'a>,
    pub virt: SideIndex<'a>,
    pub host: SideIndex<'a>,
    unreadable: Option<String>,
}

impl<'a> RowInputs<'a> {
    pub fn new(ctx: &'a Ctx<'a>) -> Self {
        Self {
            ctx,
            virt: SideIndex::new(&ctx.snapshot.virtual_side),
            host: SideIndex::new(&ctx.snapshot.host),
            unreadable: unreadable(ctx.snapshot),
        }
    }
}

/// One line naming the side(s) that could not be read, if any.
pub fn unreadable(snapshot: &Snapshot) -> Option<String> {
    let one = |name: &str, side: &Side| match &side.conn {
        ConnState::Error { message } | ConnState::Retrying { message, .. } => Some(format!(
            "cannot read the {name} cluster ({}): {message}",
            side.describe()
        )),
        _ => None,
    };
    match (
        one("virtual", &snapshot.virtual_side),
        one("host", &snapshot.host),
    ) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// The row of one pair, given the plan the engine made for it.
pub fn row_with_plan(inputs: &RowInputs, pair: &Pair, plan: Plan) -> PairRow {
    row_with_seen(inputs, pair, &LastSeen::observe(inputs.ctx, pair), plan)
}

/// [`row_with_plan`] given both sides as [`LastSeen::observe`] finds them in the snapshot.
pub fn row_with_seen(inputs: &RowInputs, pair: &Pair, seen: &LastSeen, plan: Plan) -> PairRow {
    let ctx = inputs.ctx;
    let domain = ctx.config.networking.advanced.cluster_domain.as_str();
    let vkey = pair.virtual_key.as_ref();
    let hkey = pair.host_key.as_ref();
    let vs = &ctx.snapshot.virtual_side;
    let mut notes: Vec<String> = Vec::new();

    let (virtual_side, host, dns, ip_mismatch) = match pair.kind {
        PairKind::Pod => {
            let v = seen.virtual_obj.as_ref().and_then(Seen::as_pod);
            let h = seen.host_obj.as_ref().and_then(Seen::as_pod);
            let dns = DnsNames {
                virtual_names: v
                    .map(|p| sides::virtual_pod_names(p, domain))
                    .unwrap_or_default(),
                host_names: h
                    .map(|p| sides::host_pod_names(p, domain))
                    .unwrap_or_default(),
            };
            let vv = v.map_or_else(|| sides::absent_view(vkey), sides::pod_view);
            let hv = h.map_or_else(|| sides::absent_view(hkey), sides::pod_view);
            let mm = ips_differ(&vv, &hv);
            if mm {
                notes.push(format!(
                    "virtual pod IP {} but host pod IP {}",
                    vv.ip.as_deref().unwrap_or("-"),
                    hv.ip.as_deref().unwrap_or("-")
                ));
            }
            (vv, hv, dns, mm)
        }
        PairKind::Service | PairKind::ReplicatedToHost | PairKind::ReplicatedFromHost => {
            let v = seen.virtual_obj.as_ref().and_then(Seen::as_service);
            let h = seen.host_obj.as_ref().and_then(Seen::as_service);
            let vv = v.map_or_else(
                || sides::absent_view(vkey),
                |s| sides::service_view(s, &inputs.virt),
            );
            let hv = h.map_or_else(
                || sides::absent_view(hkey),
                |s| sides::service_view(s, &inputs.host),
            );
            let dns = DnsNames {
                virtual_names: vkey
                    .filter(|_| v.is_some())
                    .map(|k| vec![sides::service_fqdn(&k.name, &k.namespace, domain)])
                    .unwrap_or_default(),
                host_names: hkey
                    .filter(|_| h.is_some())
                    .map(|k| vec![sides::service_fqdn(&k.name, &k.namespace, domain)])
                    .unwrap_or_default(),
            };
            let (vv, hv, mm) = match pair.kind {
                PairKind::Service => {
                    if let (Some(v), Some(h)) = (v, h) {
                        selector_notes(inputs, (v, &vv), (h, &hv), vkey, hkey, &mut notes);
                    }
                    let mm = ips_differ(&vv, &hv);
                    if mm {
                        notes.push(format!(
                            "virtual ClusterIP {} but host ClusterIP {}",
                            vv.ip.as_deref().unwrap_or("-"),
                            hv.ip.as_deref().unwrap_or("-")
                        ));
                    }
                    (vv, hv, mm)
                }
                PairKind::ReplicatedFromHost => {
                    // The virtual target is headless: its name resolves to its Endpoints,
                    // which must point at the host source's ClusterIP.
                    let mut vv = vv;
                    let target_ips = vkey
                        .and_then(|k| vs.endpoints.get(k))
                        .map(|e| endpoint_ips(e))
                        .unwrap_or_default();
                    vv.ip = target_ips.first().cloned();
                    let source_ip = h
                        .and_then(sides::service_cluster_ip)
                        .filter(|ip| ip != "None");
                    let mm = match (&source_ip, v) {
                        (Some(ip), Some(_)) => !target_ips.contains(ip),
                        _ => false,
                    };
                    if mm {
                        notes.push(format!(
                            "virtual endpoints {} do not include the host ClusterIP {}",
                            if target_ips.is_empty() {
                                "(none)".to_string()
                            } else {
                                target_ips.join(",")
                            },
                            source_ip.as_deref().unwrap_or("-")
                        ));
                    }
                    (vv, hv, mm)
                }
                _ => (vv, hv, false),
            };
            (vv, hv, dns, mm)
        }
        PairKind::Endpoints => {
            let v = seen.virtual_obj.as_ref().and_then(Seen::as_endpoints);
            let h = seen.host_obj.as_ref().and_then(Seen::as_endpoints);
            let vv = v.map_or_else(|| sides::absent_view(vkey), sides::endpoints_view);
            let hv = h.map_or_else(|| sides::absent_view(hkey), sides::endpoints_view);
            let mm = match (v, h) {
                (Some(v), Some(h)) => endpoint_ips(v) != endpoint_ips(h),
                _ => false,
            };
            if mm {
                notes.push("virtual and host endpoint addresses differ".to_string());
            }
            (vv, hv, DnsNames::default(), mm)
        }
        PairKind::EndpointSlice => {
            let v = seen.virtual_obj.as_ref().and_then(Seen::as_endpoint_slice);
            let h = seen.host_obj.as_ref().and_then(Seen::as_endpoint_slice);
            let vv = v.map_or_else(|| sides::absent_view(vkey), sides::endpoint_slice_view);
            let kubernetes =
                vkey.is_some_and(|k| naming::is_default_kubernetes(&k.namespace, &k.name));
            let hv = match h {
                Some(e) => sides::endpoint_slice_view(e),
                // The virtual `default/kubernetes` slice mirrors host Endpoints `<vc>`.
                None if kubernetes => hkey
                    .and_then(|k| ctx.snapshot.host.endpoints.get(k))
                    .map_or_else(|| sides::absent_view(hkey), |e| sides::endpoints_view(e)),
                None => sides::absent_view(hkey),
            };
            let mm = match (v, h) {
                (Some(v), Some(h)) => slice_ips(v) != slice_ips(h),
                _ => false,
            };
            if mm {
                notes.push("virtual and host endpoint slice addresses differ".to_string());
            }
            (vv, hv, DnsNames::default(), mm)
        }
        PairKind::Ingress => {
            let v = seen.virtual_obj.as_ref().and_then(Seen::as_ingress);
            let h = seen.host_obj.as_ref().and_then(Seen::as_ingress);
            let dns = DnsNames {
                virtual_names: v.map(sides::ingress_hosts).unwrap_or_default(),
                host_names: h.map(sides::ingress_hosts).unwrap_or_default(),
            };
            let vv = v.map_or_else(|| sides::absent_view(vkey), sides::ingress_view);
            let hv = h.map_or_else(|| sides::absent_view(hkey), sides::ingress_view);
            let mm = ips_differ(&vv, &hv);
            (vv, hv, dns, mm)
        }
    };

    // Events are recorded on the virtual object (the origin for all but fromHost rows).
    let kind_name = obj_kind(pair.kind).kind_name();
    let events: Vec<_> = vkey
        .and_then(|k| inputs.virt.newest_event(kind_name, &k.namespace, &k.name))
        .into_iter()
        .collect();

    let origin_exists = match twin_side(pair.kind) {
        SideName::Host => virtual_side.exists,
        SideName::Virtual => host.exists,
    };
    let twin_name = match twin_side(pair.kind) {
        SideName::Host => hkey.map(|k| k.name.as_str()),
        SideName::Virtual => vkey.map(|k| k.name.as_str()),
    };
    let facts = PairFacts {
        kind: pair.kind,
        twin_name,
        origin_exists,
    };
    let status = status_of(&plan, &facts, inputs.unreadable.as_deref());
    // A squatter is not a twin: comparing its IPs or selector with the virtual object says nothing.
    let ip_mismatch = ip_mismatch && status != Status::Squatter;
    if status == Status::Squatter {
        notes.clear();
    }
    let mut reason = headline(ctx, pair, &plan, &status, &virtual_side, &host);
    for n in notes {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    if status.is_problem()
        && let Some(ev) = events.first()
    {
        reason.push_str(&format!("; last {}: {}", ev.reason, ev.message));
    }
    // Decided after the reason, which keeps what the plan says (uid mismatch, missing twin).
    let status = refused_write(status, events.first());

    let (namespace, name) = match (vkey, hkey) {
        (Some(k), _) | (None, Some(k)) => (k.namespace.clone(), k.name.clone()),
        (None, None) => (String::new(), String::new()),
    };
    PairRow {
        kind: pair.kind,
        namespace,
        name,
        status,
        reason,
        virtual_side,
        host,
        ip_mismatch,
        dns,
        events,
        plan,
    }
}

fn ips_differ(a: &SideView, b: &SideView) -> bool {
    match (&a.ip, &b.ip) {
        (Some(x), Some(y)) => x != y,
        _ => false,
    }
}

fn slice_ips(slice: &EndpointSlice) -> Vec<String> {
    let mut ips: Vec<String> = slice
        .endpoints
        .iter()
        .filter(|e| sides::slice_endpoint_ready(e))
        .flat_map(|e| e.addresses.iter().cloned())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

fn endpoint_ips(ep: &Endpoints) -> Vec<String> {
    let mut ips: Vec<String> = ep
        .subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Selector facts of a service pair; the vcluster#2887 signature is spelled out.
fn selector_notes(
    inputs: &RowInputs,
    (v, vview): (&Service, &SideView),
    (h, hview): (&Service, &SideView),
    vkey: Option<&ObjKey>,
    hkey: Option<&ObjKey>,
    notes: &mut Vec<String>,
) {
    let (Some(vk), Some(hk)) = (vkey, hkey) else {
        return;
    };
    let (Some(vsel), Some(hsel)) = (sides::service_selector(v), sides::service_selector(h)) else {
        return;
    };
    if vsel.is_empty() || hsel.is_empty() {
        return;
    }
    // The views counted the same selectors in the same namespaces already.
    let counted = |view: &SideView, key: &ObjKey| {
        view.selected_pods
            .filter(|_| view.namespace == key.namespace)
    };
    let vmatched = counted(vview, vk).unwrap_or_else(|| inputs.virt.matched(&vk.namespace, vsel));
    let hmatched = counted(hview, hk).unwrap_or_else(|| inputs.host.matched(&hk.namespace, hsel));
    if hmatched == 0 && vmatched > 0 {
        let stale = inputs.host.unmatched_keys(&hk.namespace, hsel);
        let mut note = format!(
            "host selector matches no pod while the virtual selector matches {} (vcluster#2887 signature)",
            vmatched
        );
        if !stale.is_empty() {
            note.push_str(&format!(
                "; host selector keys no host pod carries: {}",
                stale.join(", ")
            ));
        }
        notes.push(note);
    } else if vmatched != hmatched {
        notes.push(format!(
            "virtual selector matches {vmatched} pods, host selector {hmatched}"
        ));
    }
}

/// The first clause of the reason: what the status means for this pair.
fn headline(
    ctx: &Ctx,
    pair: &Pair,
    plan: &Plan,
    status: &Status,
    virt: &SideView,
    host: &SideView,
) -> String {
    let kind = obj_kind(pair.kind).as_str();
    let key = |v: &SideView| format!("{}/{}", v.namespace, v.name);
    match status {
        Status::Error { message } => message.clone(),
        Status::Squatter | Status::Disabled | Status::Waiting { .. } => match &plan.blocked {
            Some(Blocked::Squatter { message })
            | Some(Blocked::Disabled { message })
            | Some(Blocked::Waiting { message }) => message.clone(),
            None => status.word().to_lowercase(),
        },
        Status::Synced => match pair.kind {
            PairKind::ReplicatedFromHost => {
                format!("in sync: replicated from host service {}", key(host))
            }
            PairKind::ReplicatedToHost => {
                format!("in sync: replicated to host service {}", key(host))
            }
            _ => "in sync".to_string(),
        },
        Status::Missing => {
            let (side, twin) = match twin_side(pair.kind) {
                SideName::Host => ("host", host),
                SideName::Virtual => ("virtual", virt),
            };
            let hashed = if pair.kind != PairKind::ReplicatedFromHost
                && naming::is_hashed(&virt.name, &virt.namespace, ctx.vcluster)
            {
                " (hashed name)"
            } else {
                ""
            };
            format!(
                "no {side} {kind} {}{hashed}: the engine would create it",
                key(twin)
            )
        }
        Status::Orphan => {
            let (side, twin, origin) = match twin_side(pair.kind) {
                SideName::Host => ("host", host, virt),
                SideName::Virtual => ("virtual", virt, host),
            };
            let origin_side = if side == "host" { "virtual" } else { "host" };
            let gone = if origin.name.is_empty() {
                format!("its {origin_side} object is unknown")
            } else {
                format!("{origin_side} {} is gone", key(origin))
            };
            format!(
                "{side} {kind} {} is managed by vcluster {} but {gone}: the engine would delete it",
                key(twin),
                ctx.vcluster
            )
        }
        Status::Drift { fields } => {
            let mut reasons: Vec<&str> = Vec::new();
            for c in &plan.changes {
                if !c.reason.is_empty() && !reasons.contains(&c.reason.as_str()) {
                    reasons.push(&c.reason);
                }
            }
            if reasons.is_empty() {
                format!("{} differ: the engine would write them", fields.join(", "))
            } else {
                reasons.join("; ")
            }
        }
    }
}
