//! Fault matrix, watch caches: each side's ConnState follows the server through restarts (state
//! kept and state lost), dropped watches, bursts of 500s, 2 s latency and a side that is down
//! at start; the caches re-list and converge to what the server holds once the fault ends.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::json;
use vinspect::cluster::clients::{clients, load_kubeconfig};
use vinspect::cluster::fetch::HostScope;
use vinspect::cluster::snapshot::{ConnState, ObjKey, Snapshot};
use vinspect::cluster::watch::{WatchOptions, Watching, spawn};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::config::VClusterConfig;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

async fn caches(sb: &Sandbox) -> Watching {
    let kc = load_kubeconfig(Some(sb.kubeconfig_path())).unwrap();
    let cl = clients(&kc, &sb.virtual_context(), sb.host_context())
        .await
        .unwrap();
    let scope = HostScope::new(
        sb.vcluster(),
        sb.host_namespace(),
        &VClusterConfig::default(),
    );
    spawn(&cl, WatchOptions::new(scope))
}

async fn wait_for(
    w: &mut Watching,
    within: Duration,
    what: &str,
    f: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let snap = w.rx.borrow_and_update().clone();
        if f(&snap) {
            return snap;
        }
        if tokio::time::timeout_at(deadline, w.rx.changed())
            .await
            .is_err()
        {
            panic!(
                "timed out waiting for {what}; virtual {:?}, host {:?}",
                snap.virtual_side.conn, snap.host.conn
            );
        }
    }
}

fn failing(c: &ConnState) -> bool {
    matches!(c, ConnState::Error { .. } | ConnState::Retrying { .. })
}

fn svc(name: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}
    }))
    .unwrap()
}

async fn create(client: kube::Client, ns: &str, name: &str) {
    Api::<Service>::namespaced(client, ns)
        .create(&PostParams::default(), &svc(name))
        .await
        .unwrap();
}

/// A host Service written straight into the store (works while the server is stopped).
fn seed_host(sb: &Sandbox, name: &str) {
    sb.host()
        .apply_objects(&[json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": sb.host_namespace()},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}
        })])
        .unwrap();
}

fn has(side: &vinspect::cluster::snapshot::Side, ns: &str, name: &str) -> bool {
    side.services.contains_key(&ObjKey::new(ns, name))
}

const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_with_state_kept_and_lost_turn_the_side_live_again_with_what_the_server_holds() {
    let sb = sandbox().await;
    let hns = sb.host_namespace().to_string();
    let mut w = caches(&sb).await;
    let snap = w.settled(SETTLE).await;
    assert!(snap.virtual_side.conn.is_live() && snap.host.conn.is_live());
    assert!(snap.virtual_side.listed && snap.host.listed);
    create(sb.virtual_client(), "default", "before").await;
    wait_for(&mut w, SETTLE, "the first service", |s| {
        has(&s.virtual_side, "default", "before")
    })
    .await;

    // State kept: the host goes away, changes while it is down, and comes back. Nothing changes
    // after the restart, yet the side must be Live again and show the change.
    sb.host().stop().await;
    let snap = wait_for(&mut w, SETTLE, "the host failing", |s| {
        failing(&s.host.conn)
    })
    .await;
    assert!(
        snap.virtual_side.conn.is_live(),
        "the other side is unaffected"
    );
    assert!(snap.host.listed, "a failing side keeps its last full list");
    seed_host(&sb, "while-down");
    sb.host().restart(true).await.unwrap();
    let snap = wait_for(&mut w, SETTLE, "the host live again", |s| {
        s.host.conn.is_live() && has(&s.host, &hns, "while-down")
    })
    .await;
    assert!(has(&snap.host, &hns, sb.vcluster()), "kept state is kept");
    // Again with no change at all while down: nothing arrives on the resumed watch, and the
    // side must still turn Live.
    sb.host().stop().await;
    wait_for(&mut w, SETTLE, "the host failing again", |s| {
        failing(&s.host.conn)
    })
    .await;
    sb.host().restart(true).await.unwrap();
    wait_for(&mut w, SETTLE, "the host live after a quiet restart", |s| {
        s.host.conn.is_live()
    })
    .await;

    // State lost: the virtual server comes back as a fresh install; the cache drops what is gone.
    sb.virtual_().stop().await;
    wait_for(&mut w, SETTLE, "the virtual side failing", |s| {
        failing(&s.virtual_side.conn)
    })
    .await;
    sb.virtual_().restart(false).await.unwrap();
    let snap = wait_for(&mut w, SETTLE, "the virtual side re-listed", |s| {
        s.virtual_side.conn.is_live() && !has(&s.virtual_side, "default", "before")
    })
    .await;
    assert!(has(&snap.virtual_side, "default", "kubernetes"));
    // And it follows new changes after the re-list.
    create(sb.virtual_client(), "default", "after").await;
    wait_for(&mut w, SETTLE, "a change after the lost state", |s| {
        has(&s.virtual_side, "default", "after")
    })
    .await;
    drop(w);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_and_bursts_of_500s_end_in_a_live_converged_cache() {
    let sb = sandbox().await;
    let hns = sb.host_namespace().to_string();
    let mut w = caches(&sb).await;
    w.settled(SETTLE).await;

    // Every watch dropped: clients re-watch without losing a change made right after.
    sb.virtual_().drop_watches();
    sb.host().drop_watches();
    create(sb.virtual_client(), "default", "after-drop").await;
    seed_host(&sb, "after-drop");
    let snap = wait_for(&mut w, SETTLE, "changes after the drop", |s| {
        has(&s.virtual_side, "default", "after-drop") && has(&s.host, &hns, "after-drop")
    })
    .await;
    assert!(snap.virtual_side.conn.is_live() && snap.host.conn.is_live());

    // A burst of 500s on every list and watch of the host while its watches are dropped.
    sb.host().fail_next(30, "watch", "*", 500);
    sb.host().fail_next(30, "list", "*", 500);
    sb.host().drop_watches();
    let snap = wait_for(&mut w, SETTLE, "the host failing on 500s", |s| {
        failing(&s.host.conn)
    })
    .await;
    let message = match &snap.host.conn {
        ConnState::Error { message } | ConnState::Retrying { message, .. } => message.clone(),
        _ => unreachable!(),
    };
    assert!(
        message.contains("500") || message.contains("nternal"),
        "{message}"
    );
    seed_host(&sb, "during-burst");
    wait_for(
        &mut w,
        Duration::from_secs(20),
        "the host back after the burst",
        |s| s.host.conn.is_live() && has(&s.host, &hns, "during-burst"),
    )
    .await;
    drop(w);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seconds_of_latency_slow_the_caches_but_never_fail_them() {
    let sb = sandbox().await;
    let hns = sb.host_namespace().to_string();
    sb.host().set_latency(Duration::from_secs(2));
    let mut w = caches(&sb).await;
    let snap = w.settled(SETTLE).await;
    assert!(snap.host.conn.is_live(), "{:?}", snap.host.conn);
    seed_host(&sb, "slow");
    sb.host().drop_watches(); // the re-watch also waits 2 s
    let mut saw_failure = false;
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let s = w.rx.borrow_and_update().clone();
        saw_failure |= failing(&s.host.conn);
        if has(&s.host, &hns, "slow") {
            break;
        }
        assert!(
            tokio::time::timeout_at(deadline, w.rx.changed())
                .await
                .is_ok(),
            "the slow host never showed the new service"
        );
    }
    assert!(!saw_failure, "2 s of latency is slow, not down");
    sb.host().set_latency(Duration::ZERO);
    drop(w);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_down_at_start_is_reported_and_listed_when_it_comes_up() {
    let sb = sandbox().await;
    let hns = sb.host_namespace().to_string();
    sb.host().stop().await;
    let mut w = caches(&sb).await;
    let snap = wait_for(&mut w, SETTLE, "the host reported down", |s| {
        failing(&s.host.conn) && s.virtual_side.conn.is_live()
    })
    .await;
    assert!(
        !snap.host.listed,
        "never listed: its empty maps mean nothing"
    );
    assert!(snap.virtual_side.listed);
    sb.host().restart(true).await.unwrap();
    let snap = wait_for(&mut w, SETTLE, "the host up", |s| s.host.conn.is_live()).await;
    assert!(snap.host.listed);
    assert!(has(&snap.host, &hns, sb.vcluster()));
    drop(w);
    sb.shutdown().await;
}
