//! `vinspect demo` end to end: the real binary, its ready line, and the sandbox it serves
//! queried with kube-rs exactly as kubectl would.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn list_scenarios_prints_names_and_descriptions() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("vinspect"))
        .args(["demo", "--list-scenarios"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("incident "), "{text}");
    assert!(text.contains("\nhealthy "), "{text}");
    assert!(text.contains("\ndns-wait "), "{text}");
}

#[test]
fn unknown_scenario_is_one_error_line_and_exit_2() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("vinspect"))
        .args(["demo", "--no-tui", "--scenario", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown scenario \"nope\""), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

async fn client(path: &std::path::Path, context: Option<&str>) -> kube::Client {
    let kc = Kubeconfig::read_from(path).unwrap();
    let opts = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

#[test]
fn no_tui_prints_ready_and_serves_the_scenario_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vinspect"))
        .args(["demo", "--no-tui", "--kubeconfig"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Keep stderr: when the demo dies before its ready line, its error line is the diagnosis.
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!("no ready line ({e}); exit {status:?}; stderr:\n{err}");
        }
    };
    assert_eq!(ready, format!("ready: KUBECONFIG={}", path.display()));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // The kubeconfig's current context is the virtual cluster.
        let virt = client(&path, None).await;
        let pods: Api<Pod> = Api::namespaced(virt.clone(), "shop");
        let names: Vec<String> = pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        assert!(names.iter().any(|n| n.starts_with("cart-")), "{names:?}");

        // The controller gives a new virtual pod its host twin once it can.
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "probe"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let host = client(&path, Some("sandbox-host")).await;
        let host_pods: Api<Pod> = Api::namespaced(host, "vcluster-my-vcluster");
        // The incident lost the kube-dns twin: like every new pod, the probe waits for it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            host_pods
                .get_opt("probe-x-shop-x-my-vcluster")
                .await
                .unwrap()
                .is_none(),
            "the probe must wait for the kube-dns twin"
        );
        // The README's next line: fix kube-dns from the command line.
        let fix = Command::new(assert_cmd::cargo::cargo_bin("vinspect"))
            .args(["fix", "svc/kube-system/kube-dns", "--yes", "--kubeconfig"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            fix.status.success(),
            "{}{}",
            String::from_utf8_lossy(&fix.stdout),
            String::from_utf8_lossy(&fix.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if host_pods
                .get_opt("probe-x-shop-x-my-vcluster")
                .await
                .unwrap()
                .is_some()
            {
                break;
            }
            assert!(Instant::now() < deadline, "no host twin for shop/probe");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The incident is held for the operator: the orphan is still there.
        assert!(
            host_pods
                .get_opt("monthly-report-28734560-x7k2p-x-billing-x-my-vcluster")
                .await
                .unwrap()
                .is_some()
        );
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "demo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
}
