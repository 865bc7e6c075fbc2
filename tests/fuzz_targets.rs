//! Short runs of every fuzz target (issue #9, item 6): a fixed seed and a few thousand mutated
//! inputs each. The long runs are `cargo run --release --example fuzz -- <target> --seconds 300`.

mod fuzz_support;

fn short(target: &str, iterations: u64) {
    let r = fuzz_support::run(target, fuzz_support::Budget::Iterations(iterations), 7)
        .expect("known target");
    assert_eq!(r.iterations, iterations, "{target} stopped early");
    assert!(
        r.crashes.is_empty(),
        "{target}: {} crash(es), first: {} on {:?}",
        r.crashes.len(),
        r.crashes[0].message,
        String::from_utf8_lossy(&r.crashes[0].input)
    );
    // The mutations reach more than the seeds' own outcomes.
    assert!(r.outcomes.len() > 1, "{target}: only {:?}", r.outcomes);
}

#[test]
fn fuzz_vcluster_yaml() {
    short("config", 3000);
}

#[test]
fn fuzz_context_and_kubeconfig() {
    short("context", 3000);
}

#[test]
fn fuzz_ref() {
    short("ref", 5000);
}

#[test]
fn fuzz_dns_packets() {
    short("dns", 5000);
}

#[test]
fn fuzz_sandbox_requests() {
    short("sandbox", 1500);
}
