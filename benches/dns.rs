//! DNS benchmarks: resolver lookups against a snapshot with 10,000 services, and a bounded
//! loopback UDP load against the real server (127.0.0.1 only).
//!
//! Run: `cargo bench --bench dns`. The UDP group reports elements/s = queries/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType as WireType};
use std::hint::black_box;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use vinspect::cluster::snapshot::Snapshot;
use vinspect::dns::fixture::*;
use vinspect::dns::{DnsServeOptions, RecordType, Resolver, serve};
use vinspect::vcluster::config::VClusterConfig;

const SERVICES: usize = 10_000;
const NAMESPACES: usize = 100;

fn ip(i: usize, base: u8) -> String {
    format!(
        "10.{}.{}.{}",
        base as usize + i / 65_536,
        (i / 256) % 256,
        i % 256
    )
}

/// 10,000 services in 100 namespaces; every tenth is headless with three ready endpoints.
fn big_snapshot() -> Snapshot {
    let mut b = SnapshotBuilder::new("bench", "vcluster-bench");
    for i in 0..SERVICES {
        let ns = format!("ns-{}", i % NAMESPACES);
        let name = format!("svc-{i}");
        if i % 10 == 0 {
            let eps: Vec<String> = (0..3).map(|k| ip(i * 3 + k, 200)).collect();
            let addrs: Vec<(&str, Option<&str>)> = eps.iter().map(|e| (e.as_str(), None)).collect();
            b = b
                .virtual_service(headless_service(&ns, &name, vec![port("http", 80, "TCP")]))
                .virtual_endpoints(endpoints(&ns, &name, &addrs, &[("http", 80)]));
        } else {
            b = b.synced_service(cluster_ip_service(
                &ns,
                &name,
                &ip(i, 96),
                vec![port("http", 80, "TCP")],
            ));
        }
    }
    b.build()
}

fn resolver_benches(c: &mut Criterion) {
    let snap = Arc::new(big_snapshot());
    let config = VClusterConfig::default();
    let mut g = c.benchmark_group("dns_resolver_10k_services");
    g.bench_function("build_resolver", |b| {
        b.iter(|| black_box(Resolver::new(snap.clone(), &config)))
    });
    let r = Resolver::new(snap.clone(), &config);
    let cases = [
        (
            "a_cluster_ip",
            "svc-4321.ns-21.svc.cluster.local",
            RecordType::A,
        ),
        (
            "a_headless",
            "svc-4320.ns-20.svc.cluster.local",
            RecordType::A,
        ),
        (
            "srv_named_port",
            "_http._tcp.svc-4321.ns-21.svc.cluster.local",
            RecordType::Srv,
        ),
        ("nxdomain", "nope.ns-21.svc.cluster.local", RecordType::A),
        (
            "nodata_aaaa",
            "svc-4321.ns-21.svc.cluster.local",
            RecordType::Aaaa,
        ),
        ("ptr", "225.16.96.10.in-addr.arpa", RecordType::Ptr),
        ("outside_zone", "example.org", RecordType::A),
    ];
    for (label, name, t) in cases {
        g.bench_with_input(BenchmarkId::new("query", label), &(name, t), |b, (n, t)| {
            b.iter(|| black_box(r.query(n, *t)))
        });
    }
    g.bench_function("query_quiet/a_cluster_ip", |b| {
        b.iter(|| black_box(r.query_quiet("svc-4321.ns-21.svc.cluster.local", RecordType::A)))
    });
    g.bench_function("query_quiet/nxdomain", |b| {
        b.iter(|| black_box(r.query_quiet("nope.ns-21.svc.cluster.local", RecordType::A)))
    });
    g.bench_function("dns_tab_all_rows", |b| {
        b.iter(|| black_box(vinspect::dns::tab::dns_tab_with(&r, &config)))
    });
    g.bench_function("lookup_short_name_search_list", |b| {
        b.iter(|| black_box(r.lookup("svc-4321", RecordType::A, Some("ns-21"))))
    });
    g.finish();
}

fn stat_cpu(stat: &str) -> Option<f64> {
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds (user + system) used so far by the whole process, and by the server's
/// threads (named `dns-server`), from /proc (Linux only).
fn cpu_seconds() -> Option<(f64, f64)> {
    let all = stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut server = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "dns-server" {
            server += std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|s| stat_cpu(&s))
                .unwrap_or(0.0);
        }
    }
    Some((all, server))
}

/// Pre-encoded queries for names spread over the 10k services.
fn queries(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|k| {
            let i = (k * 7919) % SERVICES;
            let name = format!("svc-{i}.ns-{}.svc.cluster.local.", i % NAMESPACES);
            let mut m = Message::query();
            m.metadata.id = (k % 65_536) as u16;
            m.add_query(Query::query(Name::from_str(&name).unwrap(), WireType::A));
            m.to_vec().unwrap()
        })
        .collect()
}

/// Send `total` queries from `sockets` sockets with `window` in flight each; returns answered
/// count. Bounded: gives up on a socket after 200 ms of silence and on the whole run at 20 s.
async fn load(
    server: SocketAddr,
    payloads: Arc<Vec<Vec<u8>>>,
    total: usize,
    sockets: usize,
    window: usize,
) -> usize {
    let per = total / sockets;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tasks = Vec::new();
    for s in 0..sockets {
        let payloads = payloads.clone();
        tasks.push(tokio::spawn(async move {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            sock.connect(server).await.unwrap();
            let mut sent = 0usize;
            let mut got = 0usize;
            let mut buf = [0u8; 1500];
            while sent < per.min(window) {
                let _ = sock
                    .send(&payloads[(s * per + sent) % payloads.len()])
                    .await;
                sent += 1;
            }
            while got < sent && Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf)).await {
                    Ok(Ok(_)) => {
                        got += 1;
                        if sent < per {
                            let _ = sock
                                .send(&payloads[(s * per + sent) % payloads.len()])
                                .await;
                            sent += 1;
                        }
                    }
                    _ => break,
                }
            }
            got
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap_or(0);
    }
    answered
}

fn udp_benches(c: &mut Criterion) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("dns-server")
        .enable_all()
        .build()
        .unwrap();
    let (_tx, rx) = watch::channel(Arc::new(big_snapshot()));
    let server = server_rt.block_on(async {
        let opts = DnsServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        };
        serve(opts, rx, Arc::new(VClusterConfig::default()))
            .await
            .unwrap()
    });
    let addr = server.udp_addr;
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let payloads = Arc::new(queries(4096));
    const BATCH: usize = 20_000;
    let mut g = c.benchmark_group("dns_udp_loopback_10k_services");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("queries_20k_4x64_in_flight", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let answered = client_rt.block_on(load(addr, payloads.clone(), BATCH, 4, 64));
                total += start.elapsed();
                assert!(
                    answered * 100 >= BATCH * 99,
                    "only {answered} of {BATCH} answered"
                );
            }
            total
        })
    });
    g.finish();
    // On a shared machine wall-clock throughput says little; queries per CPU-second (server
    // and load generator together) estimates what one idle core sustains.
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let answered = client_rt.block_on(load(addr, payloads.clone(), 5 * BATCH, 4, 64));
    if let (Some((a, sa)), Some((b, sb))) = (cpu0, cpu_seconds()) {
        let wall = t0.elapsed().as_secs_f64();
        eprintln!(
            "dns udp: {answered} answers in {wall:.2} s wall => {:.0} queries/s wall; {:.0} queries per CPU-second (server + load generator), {:.0} per server CPU-second",
            answered as f64 / wall,
            answered as f64 / (b - a).max(0.01),
            answered as f64 / (sb - sa).max(0.01)
        );
    }
    server_rt.block_on(async { server.shutdown().await.unwrap() });
}

criterion_group!(benches, resolver_benches, udp_benches);
criterion_main!(benches);
