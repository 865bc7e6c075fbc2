//! `rows()` over a converged world of 20,000 virtual and 20,000 host objects (goal < 100 ms).
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --bench inspect` (criterion prints the median).

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use vinspect::cluster::snapshot::{ConnState, Snapshot};
use vinspect::inspect::fixture::MemServer;
use vinspect::inspect::rows;
use vinspect::vcluster::config::VClusterConfig;

const VC: &str = "my-vcluster";
const HNS: &str = "vcluster-my-vcluster";

/// 5,000 services and 15,000 pods in 100 namespaces, plus kube-dns; the engine creates twins.
fn world() -> (Snapshot, VClusterConfig) {
    let config = VClusterConfig::default();
    let mut snap = Snapshot::new(VC, HNS);
    snap.virtual_side.conn = ConnState::Live;
    snap.host.conn = ConnState::Live;
    let mut server = MemServer::default();
    let host_vc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": HNS, "name": VC},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}});
    server.insert(&mut snap.host, host_vc).unwrap();
    let dns = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": "kube-system", "name": "kube-dns"},
        "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                 "ports": [{"port": 53, "protocol": "UDP"}]}});
    server.insert(&mut snap.virtual_side, dns).unwrap();
    for i in 0..5_000 {
        let ns = format!("team-{}", i % 100);
        let app = format!("app-{i}");
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": ns, "name": app, "labels": {"app": app}},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "protocol": "TCP"}]}});
        server.insert(&mut snap.virtual_side, svc).unwrap();
        for j in 0..3 {
            let pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": ns, "name": format!("{app}-{j}"), "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
            server.insert(&mut snap.virtual_side, pod).unwrap();
        }
    }
    server.converge(&mut snap, &config, 6);
    (snap, config)
}

fn bench(c: &mut Criterion) {
    let (snap, config) = world();
    eprintln!(
        "virtual objects: {}, host objects: {}",
        snap.virtual_side.object_count(),
        snap.host.object_count()
    );
    let n = rows(&snap, &config).len();
    eprintln!("rows: {n}");
    let mut g = c.benchmark_group("inspect");
    g.sample_size(10);
    g.bench_function("rows_20k_virtual_20k_host", |b| {
        b.iter(|| black_box(rows(black_box(&snap), black_box(&config))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
