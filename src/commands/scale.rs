//! `vinspect sandbox --scale N`: N synced pairs, written straight into the sandbox's stores.
//!
//! The sandbox makes the virtual objects (`sandbox::scale`); their host twins and every
//! write back to the virtual side come from the engine's own planner (`engine::plan::plan`),
//! applied through the sandbox's apiserver verbs without HTTP. The result is what a fresh
//! `vinspect sync` run would leave behind, so `check` on it reports everything Synced.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::cluster::config_source::config_from_host_side;
use crate::cluster::snapshot::{Side, Snapshot};
use crate::engine::backsync::recreated_service;
use crate::engine::change::{Action, Blocked, Change, ObjKind, SideName};
use crate::engine::ctx::{Ctx, cluster_ip};
use crate::engine::pair::pairs;
use crate::engine::plan::plan;
use crate::sandbox::Sandbox;
use crate::sandbox::cluster::{Cluster, DeleteOpts, Sub, WriteOpts, kind};
use crate::sandbox::patch::PatchType;
use crate::sandbox::scale::{self, ScaleObject};
use crate::sandbox::store::DEFAULT_RING;
use std::sync::Arc;

/// Watch replay ring while generating (restored to the default afterwards).
const GENERATION_RING: usize = 1_000;
/// Rounds of plan-and-apply before giving up on convergence.
const MAX_ROUNDS: usize = 8;
/// How long the simulated controllers (kubelet, endpoints) may take to go quiet.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What [`generate`] did, for the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaleReport {
    pub virtual_objects: usize,
    pub namespaces: usize,
    pub rounds: usize,
    pub writes: usize,
}

/// Lays down `pairs` virtual objects and their synced twins. Fails with one line when the
/// engine cannot bring every pair in line (that would be a generator or engine bug).
pub async fn generate(sb: &Sandbox, pairs_wanted: u32) -> anyhow::Result<ScaleReport> {
    let virt = sb.virtual_().cluster().clone();
    let host = sb.host().cluster().clone();
    // Nobody watches yet: a small replay ring keeps the generation's ~3 writes per object
    // (each a new version; pods with service links are large) from piling up in memory.
    virt.set_ring_capacity(GENERATION_RING);
    host.set_ring_capacity(GENERATION_RING);
    let r = generate_into(sb, &virt, &host, pairs_wanted).await;
    virt.set_ring_capacity(DEFAULT_RING);
    host.set_ring_capacity(DEFAULT_RING);
    r
}

async fn generate_into(
    sb: &Sandbox,
    virt: &Arc<Cluster>,
    host: &Arc<Cluster>,
    pairs_wanted: u32,
) -> anyhow::Result<ScaleReport> {
    let (virt, host) = (virt.clone(), host.clone());
    let (namespaces, objects) = scale::virtual_objects(pairs_wanted);
    // Manual endpoints come last: re-creating a virtual service (for the host's ClusterIP)
    // makes the endpoints controller drop the Endpoints of that name.
    let (manual, first): (Vec<ScaleObject>, Vec<ScaleObject>) =
        objects.into_iter().partition(|o| o.kind == "endpoints");
    scale::create_all(&virt, &namespaces, &first)
        .map_err(|e| anyhow::anyhow!("scale: cannot create the virtual objects: {e}"))?;
    let mut report = ScaleReport {
        virtual_objects: first.len() + manual.len(),
        namespaces: namespaces.len(),
        ..Default::default()
    };
    // Round 1: host twins of everything.
    report.writes += round(sb, &virt, &host, |c| c.target.side == SideName::Host)?.0;
    settle(&host).await;
    // The virtual ClusterIPs become the host's. The engine re-creates one service at a time
    // (stepping aside when another virtual service holds the IP); all at once, deletes first,
    // reaches the same end state without the dance.
    report.writes += adopt_host_ips(sb, &virt)?;
    settle(&virt).await;
    scale::create_all(&virt, &[], &manual)
        .map_err(|e| anyhow::anyhow!("scale: cannot create the manual endpoints: {e}"))?;
    settle(&virt).await;
    for n in 0..MAX_ROUNDS {
        let (writes, waiting) = round(sb, &virt, &host, |_| true)?;
        report.rounds = n + 2;
        report.writes += writes;
        if writes == 0 && waiting == 0 {
            settle(&virt).await;
            settle(&host).await;
            let (again, waiting) = round(sb, &virt, &host, |_| true)?;
            if again == 0 && waiting == 0 {
                return Ok(report);
            }
            report.writes += again;
        }
        settle(&host).await;
        settle(&virt).await;
    }
    anyhow::bail!(
        "scale: the pairs did not converge after {MAX_ROUNDS} rounds; run `vinspect check` on the sandbox to see which"
    )
}

/// Both sides as the engine reads them (host: the host namespace and cluster-scoped kinds).
pub fn snapshot_of(sb: &Sandbox, virt: &Cluster, host: &Cluster) -> anyhow::Result<Snapshot> {
    let mut snap = Snapshot::new(sb.vcluster(), sb.host_namespace());
    snap.virtual_side = read_side(virt, None)?;
    snap.host = read_side(host, Some(sb.host_namespace()))?;
    Ok(snap)
}

fn read_side(cluster: &Cluster, ns: Option<&str>) -> anyhow::Result<Side> {
    let mut side = Side::default();
    let store = cluster.lock();
    for (id, namespaced) in [
        ("namespaces", false),
        ("nodes", false),
        ("ingressclasses.networking.k8s.io", false),
        ("pods", true),
        ("services", true),
        ("endpoints", true),
        ("endpointslices.discovery.k8s.io", true),
        ("ingresses.networking.k8s.io", true),
        ("secrets", true),
    ] {
        if id == "secrets" && ns.is_none() {
            continue;
        }
        let scope = if namespaced { ns } else { None };
        for (_, obj) in store.range(id, scope, None) {
            side.insert_json((*obj.full()).clone())
                .with_context(|| format!("scale: cannot read back a {id}"))?;
        }
    }
    Ok(side)
}

/// One pass of plan-and-apply over every pair. Returns (writes, pairs still waiting).
fn round(
    sb: &Sandbox,
    virt: &Cluster,
    host: &Cluster,
    wanted: impl Fn(&Change) -> bool,
) -> anyhow::Result<(usize, usize)> {
    let snap = snapshot_of(sb, virt, host)?;
    let config = config_from_host_side(&snap.host, sb.vcluster(), sb.host_namespace()).config;
    let ctx = Ctx::new(&snap, &config);
    let mut writes = 0;
    let mut waiting = 0;
    for pair in pairs(&ctx) {
        let p = plan(&ctx, &pair, None);
        match &p.blocked {
            Some(Blocked::Waiting { .. }) => waiting += 1,
            Some(b) => anyhow::bail!("scale: pair {pair:?} is blocked: {b:?}"),
            None => {}
        }
        for c in p.changes.iter().filter(|c| wanted(c)) {
            let cluster = match c.target.side {
                SideName::Virtual => virt,
                SideName::Host => host,
            };
            apply_direct(cluster, c)
                .map_err(|e| anyhow::anyhow!("scale: {} {}: {e}", c.target, c.action.verb()))?;
            writes += 1;
        }
    }
    Ok((writes, waiting))
}

/// Re-creates every virtual service whose ClusterIP is not its twin's, with the twin's IP.
fn adopt_host_ips(sb: &Sandbox, virt: &Cluster) -> anyhow::Result<usize> {
    let snap = snapshot_of(sb, virt, sb.host().cluster())?;
    let config = config_from_host_side(&snap.host, sb.vcluster(), sb.host_namespace()).config;
    let ctx = Ctx::new(&snap, &config);
    let mut todo = Vec::new();
    for pair in pairs(&ctx) {
        if pair.obj_kind() != ObjKind::Service {
            continue;
        }
        let (Some(vk), Some(hk)) = (&pair.virtual_key, &pair.host_key) else {
            continue;
        };
        let (Some(v), Some(h)) = (
            snap.virtual_side.services.get(vk),
            snap.host.services.get(hk),
        ) else {
            continue;
        };
        let hip = h.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
        if hip.is_none() || cluster_ip(v) == cluster_ip(h) {
            continue;
        }
        todo.push((vk.clone(), recreated_service(v, h, hip)));
    }
    for (k, _) in &todo {
        virt.delete(
            kind("services"),
            &k.namespace,
            &k.name,
            &DeleteOpts::default(),
        )
        .map_err(|e| anyhow::anyhow!("scale: delete virtual service {k}: {e}"))?;
    }
    for (k, svc) in &todo {
        let body = serde_json::to_value(svc)?;
        virt.create(
            kind("services"),
            Some(&k.namespace),
            body,
            &WriteOpts::default(),
        )
        .map_err(|e| anyhow::anyhow!("scale: re-create virtual service {k}: {e}"))?;
    }
    Ok(todo.len() * 2)
}

fn kind_id(k: ObjKind) -> &'static str {
    match k {
        ObjKind::Pod => "pods",
        ObjKind::Service => "services",
        ObjKind::Endpoints => "endpoints",
        ObjKind::EndpointSlice => "endpointslices.discovery.k8s.io",
        ObjKind::Ingress => "ingresses.networking.k8s.io",
        ObjKind::Namespace => "namespaces",
    }
}

/// A [`Change`] through the sandbox's verbs: what `engine::apply` does over HTTP.
fn apply_direct(cluster: &Cluster, c: &Change) -> Result<(), crate::sandbox::ApiError> {
    let k = kind(kind_id(c.target.kind));
    let ns = c.target.namespace.as_str();
    let name = c.target.name.as_str();
    let url_ns = (!ns.is_empty()).then_some(ns);
    let o = WriteOpts::default();
    match &c.action {
        Action::Create { object } => cluster.create(k, url_ns, object.clone(), &o).map(|_| ()),
        Action::Patch {
            patch, subresource, ..
        } => {
            let sub = match subresource.as_deref() {
                Some("status") => Sub::Status,
                _ => Sub::Main,
            };
            let body = serde_json::to_vec(patch).unwrap_or_default();
            cluster
                .patch(k, ns, name, PatchType::Merge, &body, sub, &o)
                .map(|_| ())
        }
        Action::Delete { .. } => cluster
            .delete(k, ns, name, &DeleteOpts::default())
            .map(|_| ()),
        Action::Recreate { object, .. } => {
            cluster.delete(k, ns, name, &DeleteOpts::default())?;
            cluster.create(k, url_ns, object.clone(), &o).map(|_| ())
        }
        Action::Bind { node } => cluster
            .bind(
                ns,
                name,
                &json!({"metadata": {"name": name}, "target": {"kind": "Node", "name": node}}),
                false,
            )
            .map(|_| ()),
    }
}

/// Waits until the cluster's resourceVersion has not moved for half a second: the simulated
/// controllers (kubelet start delay, endpoints) have caught up.
async fn settle(cluster: &Cluster) {
    let start = Instant::now();
    let mut last = cluster.lock().rv();
    let mut quiet = Duration::ZERO;
    let step = Duration::from_millis(100);
    while quiet < Duration::from_millis(500) && start.elapsed() < SETTLE_TIMEOUT {
        tokio::time::sleep(step).await;
        let now = cluster.lock().rv();
        if now == last {
            quiet += step;
        } else {
            quiet = Duration::ZERO;
            last = now;
        }
    }
}

/// Scale pods Running with an IP: on the virtual side (`host_namespace = None`) those in the
/// scale namespaces, on the host their twins in `host_namespace`.
pub fn running_pods(cluster: &Cluster, host_namespace: Option<&str>) -> usize {
    let twin_marker = format!("-x-{}", scale::NAMESPACE_PREFIX);
    let store = cluster.lock();
    store
        .range("pods", host_namespace, None)
        .filter(|(k, p)| {
            (if host_namespace.is_some() {
                k.2.contains(&twin_marker)
            } else {
                k.1.starts_with(scale::NAMESPACE_PREFIX)
            }) && p.head().pointer("/status/phase").and_then(Value::as_str) == Some("Running")
                && p.head()
                    .pointer("/status/podIP")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| !ip.is_empty())
        })
        .count()
}
