//! Fault matrix, the TUI's live backend: it starts with a side down, keeps publishing each
//! side's state through restarts (state kept and lost), dropped watches and 500 bursts, and a
//! fix under a fault reports every change's outcome.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::sync::watch;
use vinspect::cluster::snapshot::ConnState;
use vinspect::inspect::{RowKind, Status};
use vinspect::live::{LiveBackend, LiveOptions};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::tui::backend::Backend;
use vinspect::tui::types::{DataUpdate, FixRequest, RowKey};
use vinspect::vcluster::context::ContextSelection;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn options(sb: &Sandbox, audit: &std::path::Path) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        selection: ContextSelection {
            context: Some(sb.virtual_context()),
            ..ContextSelection::default()
        },
        config_file: None,
        read_only: false,
        audit_log: Some(audit.to_path_buf()),
    }
}

async fn service(sb: &Sandbox, name: &str) {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
}

async fn wait_data(
    rx: &mut watch::Receiver<DataUpdate>,
    what: &str,
    pred: impl Fn(&DataUpdate) -> bool,
) -> DataUpdate {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        {
            let d = rx.borrow_and_update().clone();
            if pred(&d) {
                return d;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if !matches!(tokio::time::timeout(left, rx.changed()).await, Ok(Ok(()))) {
            let d = rx.borrow();
            panic!(
                "timed out waiting for {what}: virtual {:?}, host {:?}",
                d.virtual_conn, d.host_conn
            );
        }
    }
}

fn failing(c: &ConnState) -> bool {
    matches!(c, ConnState::Error { .. } | ConnState::Retrying { .. })
}

fn key(name: &str) -> RowKey {
    RowKey {
        kind: RowKind::Service,
        namespace: "default".into(),
        name: name.into(),
    }
}

fn status(d: &DataUpdate, name: &str) -> Option<Status> {
    d.rows
        .iter()
        .find(|r| key(name).matches(r))
        .map(|r| r.status.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_follows_each_side_through_a_late_start_restarts_and_500s() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    service(&sb, "web").await;
    sb.host().stop().await;
    // Down at start is not a setup error: the view comes up and says which side is down.
    let (backend, mut rx) = LiveBackend::connect(options(&sb, &dir.path().join("audit.log")))
        .await
        .unwrap();
    wait_data(&mut rx, "the host shown down", |d| {
        failing(&d.host_conn) && d.virtual_conn.is_live()
    })
    .await;
    sb.host().restart(true).await.unwrap();
    wait_data(&mut rx, "the host up and the pair shown", |d| {
        d.host_conn.is_live() && status(d, "web") == Some(Status::Missing)
    })
    .await;

    // Every watch dropped and a 500 burst on the re-lists: down, then back.
    sb.virtual_().fail_next(20, "list", "*", 500);
    sb.virtual_().fail_next(20, "watch", "*", 500);
    sb.virtual_().drop_watches();
    wait_data(&mut rx, "the virtual side failing", |d| {
        failing(&d.virtual_conn)
    })
    .await;
    wait_data(&mut rx, "the virtual side back", |d| {
        d.virtual_conn.is_live() && status(d, "web").is_some()
    })
    .await;

    // The virtual server loses its state: the row goes with it.
    sb.virtual_().restart(false).await.unwrap();
    wait_data(&mut rx, "the row gone with the lost state", |d| {
        d.virtual_conn.is_live() && status(d, "web").is_none()
    })
    .await;
    drop(backend);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_under_403_and_500_reports_each_change_and_the_view_keeps_running() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    service(&sb, "api").await;
    let (backend, mut rx) = LiveBackend::connect(options(&sb, &dir.path().join("audit.log")))
        .await
        .unwrap();
    let d = wait_data(&mut rx, "the missing twin", |d| {
        status(d, "api") == Some(Status::Missing)
    })
    .await;
    let row = d.rows.iter().find(|r| key("api").matches(r)).unwrap();
    let request = FixRequest {
        key: key("api"),
        plan: row.plan.clone(),
    };
    sb.host().fail_next(1, "create", "services", 403);
    let outcomes = backend.apply_fixes(vec![request.clone()]).await;
    assert_eq!(outcomes.len(), request.plan.changes.len(), "{outcomes:#?}");
    let first = outcomes[0].result.as_ref().unwrap_err();
    assert!(first.contains("forbidden"), "{first}");

    sb.host().fail_next(1, "create", "services", 500);
    let outcomes = backend.apply_fixes(vec![request.clone()]).await;
    assert!(outcomes[0].result.is_err(), "{outcomes:#?}");

    // The fault is over: the same request goes through and the row turns green.
    let outcomes = backend.apply_fixes(vec![request]).await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:#?}");
    wait_data(&mut rx, "the fixed pair", |d| {
        status(d, "api") == Some(Status::Synced) && d.host_conn.is_live()
    })
    .await;
    drop(backend);
    sb.shutdown().await;
}
