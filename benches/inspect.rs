//! `rows()` over a converged world of 20,000 virtual and 20,000 host objects (goal < 100 ms),
//! and `check -o json` end to end against a sandbox holding 10,000 service pairs (goal < 3 s).
//!
//! Run: `CARGO_TARGET_DIR=… cargo bench --bench inspect` (criterion prints the median; the
//! rows() bench also prints its median CPU time, which load on a shared machine inflates less).
//! `check_e2e` also prints the process's peak RSS; it includes the in-process sandbox, so it is
//! an upper bound for what `vinspect check` itself needs.

#[path = "support/cpu_time.rs"]
mod cpu_time;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use vinspect::cluster::snapshot::Snapshot;
use vinspect::inspect::fixture::synthetic_world;
use vinspect::inspect::rows;
use vinspect::inspect::rows::pair_rows_on;
use vinspect::vcluster::config::VClusterConfig;

// The same allocator as the `vinspect` binary, so the bench measures what `vinspect check`
// and the TUI run: rows() allocates every row's strings and frees the previous rows.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 5,000 services and 15,000 pods in 100 namespaces, plus kube-dns; the engine creates twins.
fn world() -> (Snapshot, VClusterConfig) {
    match synthetic_world(5_000, 100) {
        Ok(w) => w,
        Err(e) => panic!("the synthetic world does not build: {e}"),
    }
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
    // CPU time is only meaningful on one thread: rows() itself may use one per core.
    cpu_time::report_cpu_time("rows_20k_virtual_20k_host, one thread", 11, || {
        black_box(pair_rows_on(black_box(&snap), black_box(&config), 1));
    });
    process_cpu_of_rows(&snap, &config);
    phase_cpu_times(&snap, &config);
    let mut g = c.benchmark_group("inspect");
    g.sample_size(10);
    g.bench_function("rows_20k_virtual_20k_host", |b| {
        b.iter(|| black_box(rows(black_box(&snap), black_box(&config))))
    });
    g.bench_function("rows_20k_virtual_20k_host_one_thread", |b| {
        b.iter(|| black_box(pair_rows_on(black_box(&snap), black_box(&config), 1)))
    });
    // The engine's share: pairing and one stateless plan per pair.
    g.bench_function("engine_pairs_and_plans_only", |b| {
        b.iter(|| {
            let ctx = vinspect::engine::Ctx::new(&snap, &config);
            let ps = vinspect::engine::pairs(&ctx);
            black_box(
                ps.iter()
                    .map(|p| vinspect::engine::plan(&ctx, p, None).changes.len())
                    .sum::<usize>(),
            )
        })
    });
    // The inspector's share: rows from plans computed beforehand.
    let ctx = vinspect::engine::Ctx::new(&snap, &config);
    let planned: Vec<_> = vinspect::engine::pairs(&ctx)
        .into_iter()
        .map(|p| {
            let pl = vinspect::engine::plan(&ctx, &p, None);
            (p, pl)
        })
        .collect();
    eprintln!(
        "pairs with a non-empty plan: {}",
        planned
            .iter()
            .filter(|(_, pl)| !pl.changes.is_empty())
            .count()
    );
    g.bench_function("row_indexes_only", |b| {
        b.iter(|| black_box(vinspect::inspect::rows::RowInputs::new(&ctx)))
    });
    g.bench_function("rows_given_plans", |b| {
        b.iter(|| {
            let inputs = vinspect::inspect::rows::RowInputs::new(&ctx);
            black_box(
                planned
                    .iter()
                    .map(|(p, pl)| vinspect::inspect::rows::row_with_plan(&inputs, p, pl.clone()))
                    .collect::<Vec<_>>(),
            )
        })
    });
    g.finish();
}

/// CPU time of the whole process (every thread) per rows() call on the default thread count,
/// from the kernel's tick counts over 20 calls: next to the wall time it says whether the
/// threads waited for each other or for the machine's neighbours.
fn process_cpu_of_rows(snap: &Snapshot, config: &VClusterConfig) {
    fn ticks() -> Option<u64> {
        let s = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }
    const RUNS: u64 = 20;
    let (Some(t0), start) = (ticks(), std::time::Instant::now()) else {
        return;
    };
    for _ in 0..RUNS {
        black_box(rows(black_box(snap), black_box(config)));
    }
    let wall = start.elapsed().as_secs_f64() * 1e3 / RUNS as f64;
    if let Some(t1) = ticks() {
        // Linux counts CPU time in ticks of 10 ms (USER_HZ = 100).
        let cpu = (t1 - t0) as f64 * 10.0 / RUNS as f64;
        println!(
            "rows() on the default thread count: {cpu:.0} ms CPU (all threads) and {wall:.0} ms wall per call, mean of {RUNS}"
        );
    }
}

/// Where rows() spends its CPU time, phase by phase on one thread (each phase reads the
/// objects cold, as rows() does on a snapshot larger than the cache).
fn phase_cpu_times(snap: &Snapshot, config: &VClusterConfig) {
    use vinspect::engine::pair::pairs_seen;
    use vinspect::engine::plan::plan_seen;
    use vinspect::inspect::rows::{RowInputs, row_with_seen};
    use vinspect::inspect::sides::SideIndex;
    let ctx = vinspect::engine::Ctx::new(snap, config);
    cpu_time::report_cpu_time("  phase: pairing with objects", 5, || {
        black_box(pairs_seen(&ctx));
    });
    cpu_time::report_cpu_time("  phase: both side indexes", 5, || {
        black_box((
            SideIndex::new(&snap.virtual_side),
            SideIndex::new(&snap.host),
        ));
    });
    let seen = pairs_seen(&ctx);
    cpu_time::report_cpu_time("  phase: plans", 5, || {
        for (p, s) in &seen {
            black_box(plan_seen(&ctx, p, s, None));
        }
    });
    let plans: Vec<_> = seen
        .iter()
        .map(|(p, s)| plan_seen(&ctx, p, s, None))
        .collect();
    let inputs = RowInputs::new(&ctx);
    cpu_time::report_cpu_time("  phase: rows given plans (and dropping them)", 5, || {
        for ((p, s), pl) in seen.iter().zip(&plans) {
            black_box(row_with_seen(&inputs, p, s, pl.clone()));
        }
    });
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
    // The sandbox set-up takes a while; `VINSPECT_BENCH_ROWS_ONLY=1` measures rows() alone.
    if std::env::var_os("VINSPECT_BENCH_ROWS_ONLY").is_some() {
        return;
    }
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

// check_e2e first, so its peak-RSS figure is not inflated by the 40k-object world below.
criterion_group!(benches, check_e2e, bench);
criterion_main!(benches);
