//! `vinspect sync` against the sandbox at scale.
//!
//! - `sync/converge_1000`: 1,000 virtual Services + 1,000 Pods exist; from controller start
//!   until every host twin exists and every virtual ClusterIP equals its twin's (goal < 10 s).
//! - `sync/change_to_host`: an idle controller; one virtual label change until the host twin
//!   carries it (goal p99 < 250 ms). Criterion reports the median; the p50/p99 over all
//!   samples are printed at the end.
//!
//! Run: `cargo bench --bench sync` (add `-- converge` or `-- change` to pick one).
//! `VINSPECT_BENCH_N` overrides the object count (default 1000), `VINSPECT_BENCH_NAMESPACES`
//! the namespaces they are spread over (default 20).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::watch;
use vinspect::engine::controller::{ControllerOptions, SyncOptions, Tuning, run_sync_tuned};
use vinspect::engine::lease::LeaseOptions;
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::naming;

// The same allocator as the `vinspect` binary, so the bench measures what `vinspect sync`
// and `vinspect sandbox` do.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn count() -> usize {
    std::env::var("VINSPECT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(10),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

fn options(sb: &Sandbox) -> SyncOptions {
    SyncOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        context: Some(sb.virtual_context()),
        host_context: Some(sb.host_context().to_string()),
        vcluster: Some(sb.vcluster().to_string()),
        host_namespace: Some(sb.host_namespace().to_string()),
        ..SyncOptions::default()
    }
}

fn tuning(stop: watch::Receiver<bool>) -> Tuning {
    Tuning {
        controller: ControllerOptions {
            workers: 16,
            ..ControllerOptions::default()
        },
        // The production election (15 s lease): a 3 s test lease lapses whenever the box is
        // busy, and every regained lease replans every pair.
        lease: Some(LeaseOptions {
            identity: "bench".to_string(),
            ..LeaseOptions::default()
        }),
        stop: Some(stop),
        no_signals: true,
    }
}

/// How many virtual namespaces the objects are spread over (`VINSPECT_BENCH_NAMESPACES`,
/// default 20, so 50 services per namespace at n = 1000). Every pod carries service-link env
/// vars for all services of its namespace (as vCluster and the kubelet do), so with one
/// namespace the bytes written grow with n²; a namespace of 1,000 services is not the case the
/// goal is about, and `VINSPECT_BENCH_NAMESPACES=1` still measures it.
fn namespaces() -> usize {
    std::env::var("VINSPECT_BENCH_NAMESPACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(20)
}

/// Namespace of object `i`.
fn ns_of(i: usize, spread: usize) -> String {
    if spread == 1 {
        "default".to_string()
    } else {
        format!("bench-{}", i % spread)
    }
}

async fn seed(sb: &Sandbox, n: usize) {
    let spread = namespaces();
    if spread > 1 {
        let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(sb.virtual_client());
        for k in 0..spread {
            let ns = serde_json::from_value(json!({"metadata": {"name": ns_of(k, spread)}}))
                .expect("namespace json");
            nss.create(&PostParams::default(), &ns)
                .await
                .expect("create namespace");
        }
    }
    let client = sb.virtual_client();
    let mut tasks = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let (client, chunk) = (client.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for i in chunk {
                let ns = ns_of(i, spread);
                let svcs: Api<Service> = Api::namespaced(client.clone(), &ns);
                let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
                let s: Service = serde_json::from_value(json!({
                    "metadata": {"name": format!("svc-{i}"), "labels": {"app": format!("a{i}")}},
                    "spec": {"selector": {"app": format!("a{i}")}, "ports": [{"port": 80}]}
                }))
                .expect("service json");
                let p: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("a{i}")}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}
                }))
                .expect("pod json");
                svcs.create(&PostParams::default(), &s)
                    .await
                    .expect("create service");
                pods.create(&PostParams::default(), &p)
                    .await
                    .expect("create pod");
            }
        }));
    }
    for t in tasks {
        t.await.expect("seeding task");
    }
}

/// Every twin exists and every virtual ClusterIP is its twin's.
async fn converged(sb: &Sandbox, n: usize) -> bool {
    let vs: Api<Service> = Api::all(sb.virtual_client());
    let hs: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    let hp: Api<Pod> = Api::namespaced(sb.host_client(), sb.host_namespace());
    let lp =
        ListParams::default().labels(&format!("{}={}", naming::LABEL_MANAGED_BY, sb.vcluster()));
    // Pods only need to exist: metadata keeps the check from re-reading every pod's
    // service-link env (thousands of vars each) twenty times a second.
    // Pods first, and the services only once every pod twin exists: the check shares the
    // CPU with what it measures, so it skips lists whose answer cannot be "converged" yet.
    let Ok(p) = hp.list_metadata(&lp).await else {
        return false;
    };
    if p.items.len() < n {
        if verbose() {
            println!("  {} host pods", p.items.len());
        }
        return false;
    }
    let (Ok(v), Ok(h)) = (vs.list(&ListParams::default()).await, hs.list(&lp).await) else {
        return false;
    };
    let host_ips: HashMap<String, Option<String>> = h
        .items
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                s.spec.as_ref().and_then(|s| s.cluster_ip.clone()),
            )
        })
        .collect();
    let mut matched = 0;
    for s in &v.items {
        let name = s.metadata.name.clone().unwrap_or_default();
        if !name.starts_with("svc-") {
            continue;
        }
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let twin = naming::host_name(&name, &ns, sb.vcluster());
        match host_ips.get(&twin) {
            Some(ip)
                if ip.is_some() && *ip == s.spec.as_ref().and_then(|s| s.cluster_ip.clone()) =>
            {
                matched += 1
            }
            _ => return false,
        }
    }
    matched >= n
}

/// Requests each server saw (seeding included), for finding where the time goes.
fn print_counts(sb: &Sandbox, took: Duration) {
    println!("converged in {took:?}; load {}", loadavg());
    for (side, server) in [("virtual", sb.virtual_()), ("host", sb.host())] {
        for (what, n) in server.request_counts() {
            println!("  {side:7} {what:32} {n}");
        }
    }
}

/// `VINSPECT_BENCH_COUNTS=1`: print phases and per-request counts.
fn verbose() -> bool {
    std::env::var_os("VINSPECT_BENCH_COUNTS").is_some()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn converge(c: &mut Criterion) {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let n = count();
    let mut group = c.benchmark_group("sync");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function(format!("converge_{n}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let sb = sandbox().await;
                    let seeding = Instant::now();
                    seed(&sb, n).await;
                    if verbose() {
                        println!("seeded {n} services + pods in {:?}", seeding.elapsed());
                    }
                    let (stop, rx) = watch::channel(false);
                    let start = Instant::now();
                    let task = tokio::spawn(run_sync_tuned(options(&sb), tuning(rx)));
                    loop {
                        if converged(&sb, n).await {
                            break;
                        }
                        assert!(
                            start.elapsed() < Duration::from_secs(120),
                            "did not converge"
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    total += start.elapsed();
                    if verbose() {
                        print_counts(&sb, start.elapsed());
                    }
                    stop.send_replace(true);
                    let _ = task.await;
                    sb.shutdown().await;
                }
                total
            })
        })
    });
    group.finish();
}

fn change(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (sb, stop, task) = rt.block_on(async {
        let sb = sandbox().await;
        seed(&sb, 100).await;
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(run_sync_tuned(options(&sb), tuning(rx)));
        while !converged(&sb, 100).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (sb, stop, task)
    });
    let ns7 = ns_of(7, namespaces());
    let vs: Api<Service> = Api::namespaced(sb.virtual_client(), &ns7);
    let hs: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    let twin = naming::host_name("svc-7", &ns7, sb.vcluster());
    let mut samples: Vec<Duration> = Vec::new();
    let mut k = 0u64;
    let mut group = c.benchmark_group("sync");
    group.sample_size(100);
    group.bench_function("change_to_host", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    k += 1;
                    let value = format!("v{k}");
                    let start = Instant::now();
                    vs.patch(
                        "svc-7",
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"labels": {"rev": value}}})),
                    )
                    .await
                    .expect("patch virtual");
                    loop {
                        let h = hs.get(&twin).await.expect("get twin");
                        let got = h
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get("rev"))
                            .cloned();
                        if got.as_deref() == Some(value.as_str()) {
                            break;
                        }
                        assert!(
                            start.elapsed() < Duration::from_secs(10),
                            "change never reached the host"
                        );
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    let d = start.elapsed();
                    samples.push(d);
                    total += d;
                }
                total
            })
        })
    });
    group.finish();
    samples.sort();
    if !samples.is_empty() {
        let pct = |p: f64| {
            samples[((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        println!(
            "change_to_host over {} samples: p50 {:?}, p99 {:?}, max {:?}",
            samples.len(),
            pct(0.50),
            pct(0.99),
            samples[samples.len() - 1]
        );
    }
    rt.block_on(async {
        stop.send_replace(true);
        let _ = task.await;
        sb.shutdown().await;
    });
}

criterion_group!(benches, converge, change);
criterion_main!(benches);
