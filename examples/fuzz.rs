//! Long fuzzing runs of the targets the suite runs briefly (`tests/fuzz_targets.rs`):
//!
//! ```text
//! nice -n 19 cargo run --release --example fuzz -- <config|context|ref|dns|sandbox|all> \
//!     [--seconds 300] [--seed N]
//! ```
//!
//! Prints iterations, distinct outcomes and every crash (input escaped); exits 1 on a crash.

#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut target = None;
    let mut seconds = 300u64;
    let mut seed = 1u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--seed" => seed = it.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            t if target.is_none() => target = Some(t.to_string()),
            other => {
                eprintln!(
                    "fuzz: unexpected argument {other:?}: usage: fuzz <target|all> [--seconds N] [--seed N]"
                );
                std::process::exit(2);
            }
        }
    }
    let Some(target) = target else {
        eprintln!(
            "fuzz: no target given: usage: fuzz <{}|all> [--seconds N] [--seed N]",
            fuzz_support::TARGETS.join("|")
        );
        std::process::exit(2);
    };
    let targets: Vec<&str> = if target == "all" {
        fuzz_support::TARGETS.to_vec()
    } else {
        vec![target.as_str()]
    };
    let mut crashed = false;
    for t in targets {
        let Some(r) = fuzz_support::run(
            t,
            fuzz_support::Budget::Time(Duration::from_secs(seconds)),
            seed,
        ) else {
            eprintln!(
                "fuzz: unknown target {t:?}: use one of {} or all",
                fuzz_support::TARGETS.join(", ")
            );
            std::process::exit(2);
        };
        println!(
            "{}: {} iterations in {:.0?} ({:.0}/s), {} distinct outcomes, {} crashes",
            r.target,
            r.iterations,
            r.elapsed,
            r.iterations as f64 / r.elapsed.as_secs_f64().max(1e-9),
            r.outcomes.len(),
            r.crashes.len()
        );
        for c in &r.crashes {
            crashed = true;
            println!(
                "  crash: {}\n    input: {:?}",
                c.message,
                String::from_utf8_lossy(&c.input)
            );
        }
    }
    if crashed {
        std::process::exit(1);
    }
}
