//! CPU time of the bench thread, shared by the benches that report it next to criterion's wall
//! time: on a shared machine wall time mostly measures the neighbours.

/// CPU time of this thread (ns), from the scheduler's accounting.
pub fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `f` `runs` times and prints the median CPU time per run (nothing where the scheduler's
/// accounting is unavailable).
pub fn report_cpu_time(name: &str, runs: usize, mut f: impl FnMut()) {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let Some(start) = thread_cpu_ns() else { return };
        f();
        let Some(end) = thread_cpu_ns() else { return };
        samples.push(end.saturating_sub(start));
    }
    samples.sort_unstable();
    let median = samples[samples.len() / 2] as f64 / 1e6;
    println!("{name}: median CPU time {median:.1} ms per iteration ({runs} runs)");
}
