//! The watch caches stream their initial lists where the server does (the sandbox reports
//! 1.32), and fall back to paged lists when a server refuses `sendInitialEvents`.

use std::time::Duration;
use vinspect::cluster::clients::{clients, load_kubeconfig};
use vinspect::cluster::fetch::HostScope;
use vinspect::cluster::snapshot::{ConnState, ObjKey};
use vinspect::cluster::watch::{WatchOptions, Watching, spawn};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::config::VClusterConfig;

async fn watch(sb: &Sandbox) -> Watching {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_lists_stream_without_a_single_list_request() {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    // Every LIST fails: only streaming lists can make the caches go live.
    sb.virtual_().fail_next(10_000, "list", "*", 500);
    sb.host().fail_next(10_000, "list", "*", 500);
    let mut w = watch(&sb).await;
    let snap = w.settled(Duration::from_secs(10)).await;
    assert_eq!(snap.virtual_side.conn, ConnState::Live);
    assert_eq!(snap.host.conn, ConnState::Live);
    assert!(
        snap.virtual_side
            .services
            .contains_key(&ObjKey::new("default", "kubernetes"))
    );
    drop(w);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_streaming_list_falls_back_to_paged_lists() {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    // Every watch of services is refused, as a 1.33 server with the WatchList gate off
    // answers sendInitialEvents: only a paged LIST can bring the services in.
    sb.virtual_().fail_next(10_000, "watch", "services", 422);
    let mut w = watch(&sb).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let snap = w.rx.borrow_and_update().clone();
        if snap
            .virtual_side
            .services
            .contains_key(&ObjKey::new("default", "kubernetes"))
        {
            break;
        }
        tokio::time::timeout_at(deadline, w.rx.changed())
            .await
            .expect("the services were never listed after the refused streaming list")
            .unwrap();
    }
    drop(w);
    sb.shutdown().await;
}
