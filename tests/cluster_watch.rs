//! Watch caches against a sandbox pair: both sides go live, changes arrive as new snapshot
//! versions, and a side that goes away keeps its objects and reports its error.

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use vinspect::cluster::clients::{clients, load_kubeconfig};
use vinspect::cluster::fetch::HostScope;
use vinspect::cluster::snapshot::{ConnState, ObjKey, Snapshot};
use vinspect::cluster::watch::{WatchOptions, Watching, spawn};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::config::VClusterConfig;

async fn wait_for(w: &mut Watching, what: &str, f: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
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
                "timed out waiting for {what}; last snapshot version {}",
                snap.version
            );
        }
    }
}

/// A sandbox pair and watch caches on it, with the options `opts` makes of its scope.
async fn watched(opts: impl FnOnce(HostScope) -> WatchOptions) -> (Sandbox, Watching) {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let kc = load_kubeconfig(Some(sb.kubeconfig_path())).unwrap();
    let cl = clients(&kc, &sb.virtual_context(), sb.host_context())
        .await
        .unwrap();
    let scope = HostScope::new(
        sb.vcluster(),
        sb.host_namespace(),
        &VClusterConfig::default(),
    );
    let w = spawn(&cl, opts(scope));
    (sb, w)
}

/// A virtual Service `default/<name>` with one port, created through the API.
async fn create_service(sb: &Sandbox, name: &str) {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_go_live_follow_changes_and_keep_a_side_that_fails() {
    let (sb, mut w) = watched(WatchOptions::new).await;

    let snap = w.settled(Duration::from_secs(10)).await;
    assert_eq!(snap.virtual_side.conn, ConnState::Live);
    assert_eq!(snap.host.conn, ConnState::Live);
    assert_eq!(snap.virtual_side.context, sb.virtual_context());
    let hns = sb.host_namespace().to_string();
    let vc = sb.vcluster().to_string();
    let snap = wait_for(&mut w, "the install objects", |s| {
        s.virtual_side
            .services
            .contains_key(&ObjKey::new("default", "kubernetes"))
            && s.host.services.contains_key(&ObjKey::new(&hns, &vc))
            && s.host
                .secrets
                .contains_key(&ObjKey::new(&hns, format!("vc-config-{vc}")))
    })
    .await;
    let v0 = snap.version;
    assert!(v0 >= 1);
    // Only the host namespace is cached on the host.
    assert!(snap.host.services.keys().all(|k| k.namespace == hns));

    create_service(&sb, "fresh").await;
    let snap = wait_for(&mut w, "the new service", |s| {
        s.virtual_side
            .services
            .contains_key(&ObjKey::new("default", "fresh"))
    })
    .await;
    assert!(snap.version > v0, "every change bumps the version");
    let fresh = &snap.virtual_side.services[&ObjKey::new("default", "fresh")];
    assert!(fresh.metadata.managed_fields.is_none());

    sb.host().stop().await;
    let snap = wait_for(&mut w, "the host side to fail", |s| {
        matches!(
            s.host.conn,
            ConnState::Error { .. } | ConnState::Retrying { .. }
        )
    })
    .await;
    assert_eq!(snap.virtual_side.conn, ConnState::Live);
    assert!(
        !snap.host.services.is_empty(),
        "a failed side keeps what it saw"
    );
    assert!(
        snap.virtual_side
            .services
            .contains_key(&ObjKey::new("default", "fresh"))
    );
    drop(w);
    sb.shutdown().await;
}

/// A cooling cache (the TUI's) swaps what it read for cooled copies and publishes them; an
/// object changed afterwards arrives parsed and is cooled once parsed for `cool_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooling_cache_publishes_cooled_copies_that_read_the_same() {
    let (sb, mut w) = watched(|scope| WatchOptions {
        cool_every: Some(Duration::from_millis(100)),
        cool_after: Duration::from_secs(1),
        ..WatchOptions::new(scope)
    })
    .await;
    let kubernetes = ObjKey::new("default", "kubernetes");
    let cooled = |s: &Snapshot| {
        !s.virtual_side.services.is_empty()
            && s.virtual_side
                .services
                .values()
                .chain(s.host.services.values())
                .all(|o| !o.is_warm())
    };
    let snap = wait_for(&mut w, "every service cooled", cooled).await;
    let ip = |s: &Snapshot| {
        s.virtual_side.services[&kubernetes]
            .spec
            .as_ref()
            .and_then(|sp| sp.cluster_ip.clone())
    };
    assert!(ip(&snap).is_some());

    create_service(&sb, "late").await;
    let late = ObjKey::new("default", "late");
    let snap = wait_for(&mut w, "the new service, cooled", |s| {
        s.virtual_side
            .services
            .get(&late)
            .is_some_and(|o| !o.is_warm())
    })
    .await;
    let o = &snap.virtual_side.services[&late];
    assert_eq!(o.metadata.name.as_deref(), Some("late"));
    assert_eq!(
        o.spec.as_ref().and_then(|s| s.ports.as_ref()).map(Vec::len),
        Some(1)
    );
}
