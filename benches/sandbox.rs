//! Sandbox benchmarks (issue 3 goals): LIST of 10,000 pods in one namespace (< 150 ms),
//! 10,000 MODIFIED events delivered to 4 watchers (< 2 s), RSS with 10,000 pods (< 200 MB,
//! printed once). Run: `cargo bench --bench sandbox`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::json;
use vinspect::sandbox::cluster::{WriteOpts, kind};
use vinspect::sandbox::{Sandbox, SandboxOptions};

const PODS: usize = 10_000;

fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn seed_pods(sb: &Sandbox) {
    let c = sb.virtual_().cluster();
    c.create(
        kind("namespaces"),
        None,
        json!({"metadata": {"name": "bench"}}),
        &WriteOpts::default(),
    )
    .unwrap();
    for i in 0..PODS {
        let pod = json!({
            "metadata": {"name": format!("pod-{i:05}"), "labels": {"app": format!("app-{}", i % 100), "tier": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "MODE", "value": "bench"}]}]}
        });
        c.create(kind("pods"), Some("bench"), pod, &WriteOpts::default())
            .unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let before = rss_mb();
    let sb = rt.block_on(async {
        Sandbox::start(SandboxOptions {
            empty_layout: false,
            ..SandboxOptions::default()
        })
        .await
        .unwrap()
    });
    seed_pods(&sb);
    if let (Some(b), Some(a)) = (before, rss_mb()) {
        eprintln!(
            "RSS with {PODS} pods: {a:.1} MB total ({:.1} MB above an idle process)",
            a - b
        );
    }
    let client = sb.virtual_client();

    let mut g = c.benchmark_group("sandbox");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("list_10k_pods", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = http::Request::get("/api/v1/namespaces/bench/pods?limit=0")
                    .body(Vec::new())
                    .unwrap();
                let text = client.request_text(req).await.unwrap();
                assert!(text.len() > PODS * 100);
            })
        })
    });

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cluster = sb.virtual_().cluster().clone();
    rt.block_on(async {
        cluster
            .create(
                kind("configmaps"),
                Some("default"),
                json!({"metadata": {"name": "hot"}, "data": {"n": "0"}}),
                &WriteOpts::default(),
            )
            .unwrap();
    });
    g.bench_function("10k_modified_to_4_watchers", |b| {
        b.iter_custom(|iters| {
            let cms = cms.clone();
            let cluster = cluster.clone();
            rt.block_on(async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rv = cluster.lock().rv().to_string();
                    let mut watchers = Vec::new();
                    for _ in 0..4 {
                        watchers.push(
                            cms.watch(&WatchParams::default(), &rv)
                                .await
                                .unwrap()
                                .boxed(),
                        );
                    }
                    let start = Instant::now();
                    let readers: Vec<_> = watchers
                        .into_iter()
                        .map(|mut w| {
                            tokio::spawn(async move {
                                let mut n = 0;
                                while n < 10_000 {
                                    match w.next().await {
                                        Some(Ok(WatchEvent::Modified(_))) => n += 1,
                                        Some(_) => {}
                                        None => panic!("watch ended after {n} events"),
                                    }
                                }
                            })
                        })
                        .collect();
                    let writer = cluster.clone();
                    tokio::task::spawn_blocking(move || {
                        for _ in 0..10_000 {
                            // Every write changes the object (a no-op write would emit nothing).
                            let changed =
                                writer.mutate(kind("configmaps"), "default", "hot", |o| {
                                    let n: u64 = o["data"]["n"]
                                        .as_str()
                                        .and_then(|n| n.parse().ok())
                                        .unwrap_or(0);
                                    o["data"]["n"] = json!((n + 1).to_string());
                                });
                            assert!(changed.is_some());
                        }
                    })
                    .await
                    .unwrap();
                    for r in readers {
                        r.await.unwrap();
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    g.finish();
    rt.block_on(sb.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
