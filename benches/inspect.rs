//! `rows()` over a converged world of 20,000 virtual and 20,000 host objects (goal < 100 ms),
//! and `check -o json` end to end against a sandbox holding 10,000 service pairs (goal < 3 s).
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --bench inspect` (criterion prints the median).
//! `check_e2e` also prints the process's peak RSS; it includes the in-process sandbox, so it is
//! an upper bound for what `vinspect check` itself needs.

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

/// 10,000 virtual services in 50 namespaces, and their host twins as the engine would create
/// them, loaded into a sandbox through its write path.
async fn sandbox_10k() -> (
    vinspect::sandbox::Sandbox,
    vinspect::cluster::session::ConnectOptions,
) {
    use vinspect::cluster::session::connect;
    use vinspect::engine::{Action, Ctx, pairs, plan};
    use vinspect::sandbox::{Sandbox, SandboxOptions};
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let mut objs = Vec::new();
    for n in 0..50 {
        objs.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{n}")}}));
    }
    for i in 0..10_000 {
        objs.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": format!("team-{}", i % 50), "name": format!("svc-{i}")},
            "spec": {"selector": {"app": format!("svc-{i}")}, "ports": [{"port": 80, "protocol": "TCP"}]}}));
    }
    sb.virtual_().apply_objects(&objs).unwrap();
    let dir = sb.kubeconfig_path().parent().unwrap().to_path_buf();
    let cfg = dir.join("bench-vcluster.yaml");
    std::fs::write(&cfg, "{}\n").unwrap();
    let c = vinspect::cluster::session::ConnectOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: Some(cfg),
    };
    let session = connect(&c).await.unwrap();
    let snap = session.snapshot().await;
    let config = session.config.config.clone();
    let ctx = Ctx::new(&snap, &config);
    let twins: Vec<serde_json::Value> = pairs(&ctx)
        .iter()
        .flat_map(|p| plan(&ctx, p, None).changes)
        .filter_map(|c| match c.action {
            Action::Create { object } => Some(object),
            _ => None,
        })
        .collect();
    sb.host().apply_objects(&twins).unwrap();
    (sb, c)
}

fn peak_rss_mb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

fn check_e2e(c: &mut Criterion) {
    use vinspect::inspect::check_cmd::{CheckOptions, OutputFormat, run_check_to};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sb, conn) = rt.block_on(sandbox_10k());
    eprintln!("peak RSS before check: {:?} MB", peak_rss_mb());
    let run = || {
        rt.block_on(async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let code = run_check_to(
                CheckOptions {
                    connect: conn.clone(),
                    output: OutputFormat::Json,
                    ..Default::default()
                },
                &mut out,
                &mut err,
            )
            .await
            .unwrap();
            assert!(code == 0 || code == 1, "{}", String::from_utf8_lossy(&err));
            out.len()
        })
    };
    let bytes = run();
    eprintln!(
        "check -o json: {bytes} bytes; peak RSS after one check: {:?} MB",
        peak_rss_mb()
    );
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    g.bench_function("check_json_10k_pairs_sandbox", |b| {
        b.iter(|| black_box(run()))
    });
    g.finish();
    rt.block_on(sb.shutdown());
}

criterion_group!(benches, bench, check_e2e);
criterion_main!(benches);
