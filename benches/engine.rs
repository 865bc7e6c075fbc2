//! plan() over 10,000 synced pairs (5,000 services + 5,000 pods); goal < 50 ms.
//! Also plan() over 5,000 pods whose virtual labels and annotations changed (what the scale
//! run's churn does), each container carrying 20 env vars: the live TUI plans such pods on
//! every update.
//! Run: CARGO_TARGET_DIR=... cargo bench --bench engine

#[path = "support/cpu_time.rs"]
mod cpu_time;
use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, Pod, PodSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::hint::black_box;
use vinspect::cluster::snapshot::{Obj, ObjKey, Snapshot};
use vinspect::engine::translate::{pod, service};
use vinspect::engine::{Ctx, pairs, plan};
use vinspect::vcluster::config::VClusterConfig;

const VC: &str = "my-vcluster";
const HNS: &str = "vcluster-my-vcluster";

fn svc(name: &str, ns: &str, ip: &str, uid: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            uid: Some(uid.into()),
            resource_version: Some("1".into()),
            labels: Some([("app".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(ip.into()),
            selector: Some([("app".to_string(), name.to_string())].into()),
            ports: Some(vec![ServicePort {
                port: 80,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn world(n: usize, env_vars: usize) -> Snapshot {
    let mut s = Snapshot {
        vcluster: VC.into(),
        host_namespace: HNS.into(),
        ..Default::default()
    };
    let vcsvc = svc(VC, HNS, "10.96.0.10", "vc-uid");
    s.host.services.insert(ObjKey::of(&vcsvc), Obj::new(vcsvc));
    let cfg = VClusterConfig::default();
    let dns = svc("kube-dns", "kube-system", "10.96.0.53", "dns");
    s.virtual_side
        .services
        .insert(ObjKey::of(&dns), Obj::new(dns.clone()));
    let mut twin = service::to_host(&Ctx::new(&s, &cfg), &dns);
    twin.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.53".into());
    s.host.services.insert(ObjKey::of(&twin), Obj::new(twin));
    for i in 0..n {
        let ns = format!("ns{}", i % 50);
        let ip = format!("10.97.{}.{}", i / 250, i % 250 + 1);
        let v = svc(&format!("svc-{i}"), &ns, &ip, &format!("s{i}"));
        s.virtual_side.services.insert(ObjKey::of(&v), Obj::new(v));
    }
    // Pods after services so their service-link env sees the final set.
    let mut pods = Vec::new();
    for i in 0..n {
        let ns = format!("ns{}", i % 50);
        let p = Pod {
            metadata: ObjectMeta {
                name: Some(format!("pod-{i}")),
                namespace: Some(ns),
                uid: Some(format!("p{i}")),
                resource_version: Some("1".into()),
                labels: Some([("app".to_string(), format!("svc-{i}"))].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx".into()),
                    env: (env_vars > 0).then(|| {
                        (0..env_vars)
                            .map(|e| EnvVar {
                                name: format!("SETTING_{e}"),
                                value: Some(format!("value-{e}-of-pod-{i}")),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                }],
                enable_service_links: Some(false),
                ..Default::default()
            }),
            status: None,
        };
        pods.push(p);
    }
    for p in pods {
        s.virtual_side.pods.insert(ObjKey::of(&p), Obj::new(p));
    }
    let ctx_snap = s.clone();
    let ctx = Ctx::new(&ctx_snap, &cfg);
    for v in ctx_snap.virtual_side.services.values() {
        if v.metadata.namespace.as_deref() == Some("kube-system") {
            continue;
        }
        let mut h = service::to_host(&ctx, v);
        h.spec.as_mut().unwrap().cluster_ip = v.spec.as_ref().unwrap().cluster_ip.clone();
        s.host.services.insert(ObjKey::of(&h), Obj::new(h));
    }
    for v in ctx_snap.virtual_side.pods.values() {
        let h = pod::to_host(&ctx, v).expect("dns twin exists");
        // Through the caches' own path: twins are held with their env lists pooled.
        vinspect::cluster::kinds::store(&mut s.host, [h]);
    }
    s
}

fn bench(c: &mut Criterion) {
    let s = world(5_000, 0);
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let all = pairs(&ctx);
    assert!(all.len() >= 10_000);
    // The world is synced: every plan is empty (a non-empty one would measure something else).
    assert!(all.iter().all(|p| plan(&ctx, p, None).changes.is_empty()));
    cpu_time::report_cpu_time("plan_10k_pairs", 15, || {
        for p in &all {
            black_box(plan(&ctx, p, None));
        }
    });
    cpu_time::report_cpu_time("pairs_10k", 15, || {
        black_box(pairs(&ctx));
    });
    let mut g = c.benchmark_group("engine");
    g.sample_size(20);
    g.bench_function("plan_10k_pairs", |b| {
        b.iter(|| {
            for p in &all {
                black_box(plan(&ctx, p, None));
            }
        })
    });
    g.bench_function("pairs_10k", |b| b.iter(|| black_box(pairs(&ctx))));
    drifted_pods(&mut g, &cfg);
    g.finish();
}

/// Every virtual pod relabelled and annotated after its twin was made: each plan patches the
/// host pod's labels and annotations.
fn drifted_pods(
    g: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    cfg: &VClusterConfig,
) {
    let mut s = world(5_000, 20);
    let relabelled: Vec<Pod> = s
        .virtual_side
        .pods
        .values()
        .map(|p| {
            let mut p = p.as_ref().clone();
            let m = &mut p.metadata;
            m.labels
                .get_or_insert_default()
                .insert("churn".into(), "b".into());
            m.annotations
                .get_or_insert_default()
                .insert("churn-at".into(), "1".into());
            p
        })
        .collect();
    for p in relabelled {
        s.virtual_side.pods.insert(ObjKey::of(&p), Obj::new(p));
    }
    let ctx = Ctx::new(&s, cfg);
    let pods: Vec<_> = pairs(&ctx)
        .into_iter()
        .filter(|p| p.kind == vinspect::engine::PairKind::Pod)
        .collect();
    assert_eq!(pods.len(), 5_000);
    // Each plan has the host pod's patch: the bench measures building it.
    assert!(pods.iter().all(|p| !plan(&ctx, p, None).changes.is_empty()));
    cpu_time::report_cpu_time("plan_5k_drifted_pods", 15, || {
        for p in &pods {
            black_box(plan(&ctx, p, None));
        }
    });
    g.bench_function("plan_5k_drifted_pods", |b| {
        b.iter(|| {
            for p in &pods {
                black_box(plan(&ctx, p, None));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
