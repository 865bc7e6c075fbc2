//! High availability with real processes: two `vinspect sync` binaries on one sandbox pair elect
//! a leader through the Lease (production timings: 15 s lease, renewed every 5 s); the leader
//! is SIGKILLed (it cannot release the lease) and the other takes over within 20 s and syncs a
//! change made after the kill. The measured times are printed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxOptions};

/// A `vinspect sync` process; killed (SIGKILL) when dropped so a failing test leaves none.
struct Sync(Child);

impl Drop for Sync {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_sync(sb: &Sandbox, host: &str, dir: &std::path::Path) -> Sync {
    let log = std::fs::File::create(dir.join(format!("{host}.log"))).unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("vinspect"))
        .args(["sync", "--kubeconfig"])
        .arg(sb.kubeconfig_path())
        .args(["--context", &sb.virtual_context()])
        .args(["--host-context", sb.host_context()])
        .args(["--vcluster", sb.vcluster()])
        .args(["--host-namespace", sb.host_namespace()])
        .arg("--audit-log")
        .arg(dir.join(format!("{host}-audit.log")))
        .env("HOSTNAME", host)
        .env("XDG_STATE_HOME", dir)
        .env("RUST_LOG", "vinspect=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Sync(child)
}

async fn holder(sb: &Sandbox) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(sb.host_client(), sb.host_namespace());
    leases
        .get_opt(&format!("vinspect-sync-{}", sb.vcluster()))
        .await
        .ok()??
        .spec?
        .holder_identity
}

async fn until<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_service(sb: &Sandbox, name: &str) {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
}

async fn twin(sb: &Sandbox, name: &str) -> Option<()> {
    Api::<Service>::namespaced(sb.host_client(), sb.host_namespace())
        .get_opt(&format!("{name}-x-default-x-{}", sb.vcluster()))
        .await
        .ok()?
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_hands_over_to_the_standby_within_20_s() {
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut a = spawn_sync(&sb, "sync-a", dir.path());
    until(Duration::from_secs(30), "sync-a leading", || async {
        holder(&sb)
            .await
            .filter(|h| h.starts_with("sync-a_"))
            .map(|_| ())
    })
    .await;
    let b = spawn_sync(&sb, "sync-b", dir.path());
    create_service(&sb, "before").await;
    until(Duration::from_secs(20), "synced by the leader", || {
        twin(&sb, "before")
    })
    .await;
    // The standby is up (it has read both sides) and follows, not leads.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h = holder(&sb).await.unwrap_or_default();
    assert!(
        h.starts_with("sync-a_"),
        "the standby took a live lease: {h}"
    );
    // SIGKILL: no release, the lease must run out.
    a.0.kill().unwrap();
    let killed = Instant::now();
    let _ = a.0.wait();
    create_service(&sb, "after").await;
    until(Duration::from_secs(30), "sync-b leading", || async {
        holder(&sb)
            .await
            .filter(|h| h.starts_with("sync-b_"))
            .map(|_| ())
    })
    .await;
    let takeover = killed.elapsed();
    until(
        Duration::from_secs(20),
        "the change after the kill synced",
        || twin(&sb, "after"),
    )
    .await;
    let converged = killed.elapsed();
    eprintln!(
        "failover: lease taken over {:.1} s after SIGKILL, change synced {:.1} s after SIGKILL (load {})",
        takeover.as_secs_f64(),
        converged.as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    // The property the lease timings promise (15 s lease, 5 s renew): at most 20 s.
    assert!(
        takeover <= Duration::from_secs(20),
        "took over after {takeover:?}"
    );
    drop(b);
    sb.shutdown().await;
}
