//! Where the TUI's heap goes at scale, by owner: each cached kind of each side, the live rows
//! with their indexes, and the DNS tab, on a sandbox generated in-process exactly as
//! `vinspect sandbox --scale N` makes it (the engine's own planner writes the host twins).
//!
//! The scale run (`scripts/scale-run.sh`) measures the RSS of the real binary against a real
//! API server; this measures the same objects in a minute, owner by owner, so a change to how
//! objects are held can be judged without a heap profiler. Bytes are what the program asked
//! the allocator for (RSS adds the allocator's rounding and free pages on top).
//!
//! The table counts objects as they arrive, parsed; for each kind it also prints their size
//! as compact JSON. The `cooled:` line is what the same objects hold once the TUI's caches
//! have cooled them (`cluster::obj`: JSON only, parsed again when read), which is how the TUI
//! holds them from a few seconds after its first screen. Last, one host and one virtual pod by
//! part (metadata, spec, status and their biggest fields): what a parsed pod is made of.
//!
//! `cargo bench --bench memory` (10,000 pairs); `VINSPECT_MEMORY_PAIRS=50000 cargo bench
//! --bench memory` for the scale run's large size (~3 minutes, most of it generating).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use vinspect::cluster::config_source::config_from_host_side;
use vinspect::cluster::obj::Cold;
use vinspect::cluster::snapshot::{ObjMap, Side, Snapshot};
use vinspect::commands::scale::generate;
use vinspect::live::data::LiveRows;
use vinspect::live::incremental::IncrementalRows;
use vinspect::sandbox::cluster::Cluster;
use vinspect::sandbox::{Sandbox, SandboxOptions};

/// The allocator the binary uses, counting the bytes held.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

// SAFETY: every call is forwarded unchanged to mimalloc; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { INNER.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            HELD.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn held() -> isize {
    HELD.load(Ordering::Relaxed)
}

fn mb(bytes: isize) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// One line of the table.
struct Line {
    owner: String,
    count: usize,
    bytes: isize,
    json: usize,
}

impl Line {
    fn print(&self) {
        let per = |b: f64| {
            if self.count == 0 {
                String::from("-")
            } else {
                format!("{:.0}", b / self.count as f64)
            }
        };
        let json = if self.json == 0 {
            String::from("-")
        } else {
            format!("{:.1}", mb(self.json as isize))
        };
        println!(
            "{:<28} {:>8} {:>10.1} {:>10} {:>10} {:>10}",
            self.owner,
            self.count,
            mb(self.bytes),
            per(self.bytes as f64),
            json,
            per(self.json as f64),
        );
    }
}

/// The registry ids a side caches, in the order the table shows them, with whether they are
/// namespaced (the host side reads namespaced kinds in its host namespace only).
const KINDS: [(&str, bool); 9] = [
    ("pods", true),
    ("services", true),
    ("endpoints", true),
    ("endpointslices.discovery.k8s.io", true),
    ("ingresses.networking.k8s.io", true),
    ("namespaces", false),
    ("nodes", false),
    ("ingressclasses.networking.k8s.io", false),
    ("secrets", true),
];

/// Compact JSON size of every object of a map (as cached: trimmed, pods without their pooled
/// env lists).
fn json_size<K: Cold>(map: &ObjMap<K>) -> usize {
    map.values()
        .map(|o| serde_json::to_vec(o).map_or(0, |v| v.len()))
        .sum()
}

fn kind_json(side: &Side, id: &str) -> (usize, usize) {
    match id {
        "pods" => (side.pods.len(), json_size(&side.pods)),
        "services" => (side.services.len(), json_size(&side.services)),
        "endpoints" => (side.endpoints.len(), json_size(&side.endpoints)),
        "endpointslices.discovery.k8s.io" => {
            (side.endpoint_slices.len(), json_size(&side.endpoint_slices))
        }
        "ingresses.networking.k8s.io" => (side.ingresses.len(), json_size(&side.ingresses)),
        "namespaces" => (side.namespaces.len(), json_size(&side.namespaces)),
        "nodes" => (side.nodes.len(), json_size(&side.nodes)),
        "ingressclasses.networking.k8s.io" => {
            (side.ingress_classes.len(), json_size(&side.ingress_classes))
        }
        _ => (side.secrets.len(), json_size(&side.secrets)),
    }
}

/// Reads one side kind by kind, the way the caches hold it, and records what each kind adds
/// to the heap. Pods' pooled env lists are counted with the pods (the pool is filled as they
/// are stored).
fn read_side(cluster: &Cluster, ns: Option<&str>, name: &str, out: &mut Vec<Line>) -> Side {
    let mut side = Side::default();
    for (id, namespaced) in KINDS {
        if id == "secrets" && ns.is_none() {
            continue;
        }
        let scope = if namespaced { ns } else { None };
        // Counted from before the copies are read: each is consumed (freed) as it is loaded.
        let before = held();
        let objects: Vec<serde_json::Value> = {
            let store = cluster.lock();
            store
                .range(id, scope, None)
                .map(|(_, o)| (*o.full()).clone())
                .collect()
        };
        for o in objects {
            if let Err(e) = side.insert_json(o) {
                eprintln!("memory bench: a {id} does not load: {e}");
            }
        }
        let bytes = held() - before;
        let (count, json) = kind_json(&side, id);
        out.push(Line {
            owner: format!("{name} {}", id.split('.').next().unwrap_or(id)),
            count,
            bytes,
            json,
        });
    }
    side
}

fn main() {
    let pairs: u32 = std::env::var("VINSPECT_MEMORY_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let sb = rt
        .block_on(Sandbox::start(SandboxOptions::default()))
        .expect("sandbox starts");
    rt.block_on(generate(&sb, pairs)).expect("scale generation");

    let mut lines = Vec::new();
    let start = held();
    let virtual_side = read_side(sb.virtual_().cluster(), None, "virtual", &mut lines);
    let host = read_side(
        sb.host().cluster(),
        Some(sb.host_namespace()),
        "host",
        &mut lines,
    );
    let objects = held() - start;
    let mut snap = Snapshot::new(sb.vcluster(), sb.host_namespace());
    snap.virtual_side = virtual_side;
    snap.host = host;
    // The same objects as the TUI holds them once its caches have cooled them.
    let cooled_snap = {
        let before = held();
        let mut c = snap.clone();
        let swapped = c.virtual_side.cool() + c.host.cool();
        let with_both = held() - before;
        (c, swapped, with_both)
    };
    let config =
        Arc::new(config_from_host_side(&snap.host, sb.vcluster(), sb.host_namespace()).config);
    let snap = Arc::new(snap);

    let before = held();
    let mut rows = IncrementalRows::new();
    rows.update(snap.clone(), config.clone());
    let row_count = rows.rows().len();
    let rows_bytes = held() - before;
    drop(rows);

    let before = held();
    let mut live = LiveRows::default();
    let (update, latest) = live.update(snap.clone(), config.clone(), None, 1);
    let live_bytes = held() - before;
    let dns_count = update.dns.len();

    println!(
        "{pairs} pairs; MB = 2^20 bytes asked of the allocator; JSON = the cached objects as compact JSON"
    );
    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "owner", "objects", "MB", "B/object", "JSON MB", "JSON B/obj"
    );
    for l in &lines {
        l.print();
    }
    Line {
        owner: "all cached objects".into(),
        count: lines.iter().map(|l| l.count).sum(),
        bytes: objects,
        json: lines.iter().map(|l| l.json).sum(),
    }
    .print();
    Line {
        owner: "live rows and indexes".into(),
        count: row_count,
        bytes: rows_bytes,
        json: 0,
    }
    .print();
    Line {
        owner: "TUI data (rows, pairs, DNS)".into(),
        count: row_count + dns_count,
        bytes: live_bytes,
        json: 0,
    }
    .print();
    println!(
        "total held by the TUI's data: {:.1} MB",
        mb(objects + live_bytes)
    );
    drop((update, latest, live));
    let (cooled, swapped, added) = cooled_snap;
    // The parsed objects go when the last snapshot holding them goes.
    let before = held();
    drop(snap);
    let freed = before - held();
    println!(
        "cooled: {swapped} objects swapped; cached objects then hold {:.1} MB (JSON written {:.1} MB, parses freed {:.1} MB)",
        mb(objects + added - freed),
        mb(added),
        mb(freed),
    );
    let snap = Arc::new(cooled);
    if let Some(pod) = snap.host.pods.values().nth(snap.host.pods.len() / 2) {
        parts("a host pod", pod);
    }
    if let Some(pod) = snap
        .virtual_side
        .pods
        .values()
        .nth(snap.virtual_side.pods.len() / 2)
    {
        parts("a virtual pod", pod);
    }
}

/// Bytes a clone of `f(pod)` takes, i.e. what that part of the cached pod holds.
fn cost<T: Clone>(v: &T) -> isize {
    let before = held();
    let c = v.clone();
    let b = held() - before;
    drop(c);
    b
}

fn parts(what: &str, pod: &k8s_openapi::api::core::v1::Pod) {
    let m = &pod.metadata;
    println!(
        "{what}: whole {} B (the Pod struct itself {} B); metadata {} (labels {}, annotations {}, owner refs {}); spec {}; status {}",
        cost(pod),
        std::mem::size_of_val(pod),
        cost(m),
        cost(&m.labels),
        cost(&m.annotations),
        cost(&m.owner_references),
        cost(&pod.spec),
        cost(&pod.status),
    );
    if let Some(spec) = &pod.spec {
        println!(
            "  spec: containers {} (one Container struct {} B), dnsConfig {}, hostAliases {}, tolerations {}, volumes {}",
            cost(&spec.containers),
            std::mem::size_of::<k8s_openapi::api::core::v1::Container>(),
            cost(&spec.dns_config),
            cost(&spec.host_aliases),
            cost(&spec.tolerations),
            cost(&spec.volumes),
        );
    }
    if let Some(st) = &pod.status {
        println!(
            "  status: conditions {}, containerStatuses {}, hostIPs {}, podIPs {}",
            cost(&st.conditions),
            cost(&st.container_statuses),
            cost(&st.host_ips),
            cost(&st.pod_ips),
        );
    }
}
