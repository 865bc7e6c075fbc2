//! `vinspect sandbox --scale N [--churn R]`: the generated pairs are synced as the engine would
//! leave them, and churn changes objects at the asked rate.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::Value;
use vinspect::commands::scale::{generate, running_pods};
use vinspect::sandbox::scale::{CHURN_ANNOTATION, NAMESPACE_PREFIX, churn, virtual_objects};
use vinspect::sandbox::{Sandbox, SandboxOptions};

fn opts() -> SandboxOptions {
    SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    }
}

fn check_kind(registry_id: &str) -> &'static str {
    match registry_id {
        "pods" => "pod",
        "services" => "service",
        "endpoints" => "endpoints",
        _ => "ingress",
    }
}

#[test]
fn scaled_sandbox_checks_synced_with_the_expected_counts() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let bin = assert_cmd::cargo::cargo_bin("vinspect");
    let mut child = Command::new(&bin)
        .args(["sandbox", "--scale", "150", "--kubeconfig"])
        .arg(&kc)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open to the end: the sandbox fails on a closed stdout.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("ready: KUBECONFIG="), "{line}");
    let out = Command::new(&bin)
        .args(["check", "-o", "json", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    drop(stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["problems"], 0);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for item in report["items"].as_array().unwrap() {
        let ns = item["namespace"].as_str().unwrap_or("");
        if ns.starts_with(NAMESPACE_PREFIX) {
            assert_eq!(item["status"], "Synced", "{item}");
            *got.entry(item["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for o in virtual_objects(150).1 {
        *want.entry(check_kind(o.kind).to_string()).or_default() += 1;
    }
    assert_eq!(got, want);
    assert_eq!(got.values().sum::<usize>(), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_share_cluster_ips_and_pods_run_on_both_sides() {
    let sb = Sandbox::start(opts()).await.unwrap();
    let report = generate(&sb, 90).await.unwrap();
    assert_eq!(report.virtual_objects, 90);
    let virt = sb.virtual_().cluster();
    let host = sb.host().cluster();
    let pods = virtual_objects(90)
        .1
        .iter()
        .filter(|o| o.kind == "pods")
        .count();
    assert!(pods > 0);
    assert_eq!(running_pods(virt, None), pods);
    assert_eq!(running_pods(host, Some(sb.host_namespace())), pods);
    {
        let vstore = virt.lock();
        let hstore = host.lock();
        let mut services = 0;
        for (k, v) in vstore.range("services", None, None) {
            if !k.1.starts_with(NAMESPACE_PREFIX) {
                continue;
            }
            services += 1;
            let twin = vinspect::vcluster::naming::host_name(&k.2, &k.1, sb.vcluster());
            let h = hstore
                .get("services", sb.host_namespace(), &twin)
                .unwrap_or_else(|| panic!("no twin {twin}"));
            assert_eq!(
                v.head().pointer("/spec/clusterIP"),
                h.pointer("/spec/clusterIP"),
                "{twin}"
            );
        }
        assert!(services > 0);
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_changes_both_sides_at_the_asked_rate() {
    let sb = Sandbox::start(opts()).await.unwrap();
    generate(&sb, 60).await.unwrap();
    let virt = sb.virtual_().cluster().clone();
    let host = sb.host().cluster().clone();
    let mut vrx = virt.lock().subscribe();
    let mut hrx = host.lock().subscribe();
    let rate = 50.0;
    let task = tokio::spawn(churn(
        virt.clone(),
        host.clone(),
        sb.host_namespace().to_string(),
        rate,
        Arc::new(AtomicBool::new(true)),
    ));
    let window = Duration::from_secs(2);
    let start = Instant::now();
    let (mut annotated, mut host_pods) = (0usize, 0usize);
    while start.elapsed() < window {
        tokio::select! {
            Ok(ev) = vrx.recv() => {
                if ev.object.pointer(&format!("/metadata/annotations/{}", CHURN_ANNOTATION.replace('/', "~1"))).is_some() {
                    annotated += 1;
                }
            }
            Ok(ev) = hrx.recv() => {
                if ev.kind == "pods" && ev.namespace == sb.host_namespace() {
                    host_pods += 1;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    task.abort();
    let total = annotated + host_pods;
    let expected = rate * window.as_secs_f64();
    assert!(
        (total as f64) > expected * 0.7 && (total as f64) < expected * 1.3,
        "{total} changes in {window:?}, expected about {expected}"
    );
    // Spread over both sides: half virtual (pods, services), half host pod status.
    assert!(
        annotated > total / 4 && host_pods > total / 4,
        "{annotated} / {host_pods}"
    );
    sb.shutdown().await;
}
