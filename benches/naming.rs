//! Host-name translation throughput: the inspector translates every object of a snapshot.
//!
//! Run: `cargo bench --bench naming`. Goal: ≥ 2 million names/s on one core (median) on a mix
//! where 20 % of the names are long enough to be hashed.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vinspect::vcluster::naming::{host_label_key, host_name, is_hashed};

const VC: &str = "my-vcluster";
const N: usize = 10_000;

/// Realistic names: pods with ReplicaSet suffixes and services, in a few namespaces; every
/// fifth name is a long generated one that crosses 63 bytes once joined.
fn mix() -> Vec<(String, String)> {
    let namespaces = [
        "default",
        "kube-system",
        "payments",
        "team-a-staging",
        "monitoring",
    ];
    (0..N)
        .map(|i| {
            let ns = namespaces[i % namespaces.len()].to_string();
            let name = if i % 5 == 0 {
                format!("checkout-service-backend-worker-deployment-{i:06}-7d9f8c6b5d")
            } else if i % 2 == 0 {
                format!("web-{i}-7d9f-abcde")
            } else {
                format!("svc-{i}")
            };
            (name, ns)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = mix();
    let hashed = inputs.iter().filter(|(n, ns)| is_hashed(n, ns, VC)).count();
    assert_eq!(hashed * 5, N, "the mix must hash exactly 20 % of the names");

    let mut group = c.benchmark_group("host_name");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("mix_20pct_hashed", |b| {
        b.iter(|| {
            for (name, ns) in &inputs {
                black_box(host_name(black_box(name), black_box(ns), VC));
            }
        })
    });
    group.finish();

    let keys = [
        "app",
        "release",
        "pod-template-hash",
        "vcluster.loft.sh/managed-by",
    ];
    let mut group = c.benchmark_group("host_label_key");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("two_of_four_reserved", |b| {
        b.iter(|| {
            for key in keys {
                black_box(host_label_key(black_box(key), VC));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
