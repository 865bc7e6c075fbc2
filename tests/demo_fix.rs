//! The demo in-process: the controller leaves the incident for the operator, a fix from the
//! TUI's backend sticks, and with `repair` the controller cleans up on its own.

use std::time::{Duration, Instant};
use vinspect::demo::Demo;
use vinspect::inspect::{PairRow, RowKind, rows};
use vinspect::sandbox::scenario;
use vinspect::tui::backend::Backend;
use vinspect::tui::types::{FixRequest, RowKey};

fn find<'a>(rows: &'a [PairRow], kind: RowKind, ns: &str, name: &str) -> &'a PairRow {
    rows.iter()
        .find(|r| r.kind == kind && r.namespace == ns && r.name == name)
        .unwrap_or_else(|| panic!("{ns}/{name}"))
}

async fn wait_rows(demo: &Demo, what: &str, ok: impl Fn(&[PairRow]) -> bool) -> Vec<PairRow> {
    let mut rx = demo.snapshots.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let snap = rx.borrow_and_update().clone();
        let r = rows(&snap, &demo.scenario.config);
        if ok(&r) {
            return r;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_from_the_tui_sticks_and_the_rest_stays_held() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario::load("incident").unwrap();
    let demo = Demo::start(s, dir.path().join("kubeconfig"), false)
        .await
        .unwrap();
    assert!(!demo.holds.is_empty());
    let (backend, _data) = demo
        .backend(dir.path().join("audit.log"), None, false)
        .await
        .unwrap();
    let before = wait_rows(&demo, "the incident", |r| r.len() > 20).await;
    let cart = find(&before, RowKind::Service, "shop", "cart");
    assert_eq!(cart.status.word(), "Drift");
    let key = RowKey::of(cart);
    let diff = backend.load_diff(key.clone()).await.unwrap();
    assert!(diff.desired.is_some() && diff.actual.is_some());
    let out = backend
        .apply_fixes(vec![FixRequest {
            key: key.clone(),
            plan: cart.plan.clone(),
        }])
        .await;
    assert!(out.iter().all(|o| o.result.is_ok()), "{out:?}");
    let after = wait_rows(&demo, "cart in sync", |r| {
        find(r, RowKind::Service, "shop", "cart").status.word() == "Synced"
    })
    .await;
    // The rest of the incident is still there: the controller holds it for the operator.
    assert_eq!(
        find(
            &after,
            RowKind::Pod,
            "billing",
            "monthly-report-28734560-x7k2p"
        )
        .status
        .word(),
        "Orphan"
    );
    assert_eq!(
        find(&after, RowKind::Service, "shop", "search")
            .status
            .word(),
        "Missing"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert!(
        !audit.is_empty() && !audit.contains("\"outcome\":\"error"),
        "{audit}"
    );
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_repair_the_controller_fixes_all_but_the_squatter_and_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario::load("incident").unwrap();
    let demo = Demo::start(s, dir.path().join("kubeconfig"), true)
        .await
        .unwrap();
    // What the controller cannot fix: a host object it must not touch, and a twin the host
    // quota refuses (the scenario's hostQuota, enforced on the demo's writes).
    let end = wait_rows(&demo, "only the squatter and the refused twin left", |r| {
        let mut problems: Vec<String> = r
            .iter()
            .filter(|x| x.status.is_problem())
            .map(|x| format!("{} {}", x.status.word(), x.name))
            .collect();
        problems.sort();
        problems == ["Error admin", "Squatter invoices"]
    })
    .await;
    for name in [
        "search",
        "kube-dns",
        "invoice-worker-0",
        "checkout-84f9b6d7c-v7m3d",
    ] {
        assert!(
            end.iter()
                .any(|r| r.name == name && r.status.word() == "Synced"),
            "{name}"
        );
    }
    demo.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fix_the_host_quota_forbids_fails_with_the_quota_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario::load("incident").unwrap();
    let demo = Demo::start(s, dir.path().join("kubeconfig"), false)
        .await
        .unwrap();
    let (backend, _data) = demo
        .backend(dir.path().join("audit.log"), None, false)
        .await
        .unwrap();
    let before = wait_rows(&demo, "the incident", |r| r.len() > 20).await;
    let admin = find(&before, RowKind::Service, "shop", "admin");
    assert_eq!(admin.status.word(), "Error");
    let out = backend
        .apply_fixes(vec![FixRequest {
            key: RowKey::of(admin),
            plan: admin.plan.clone(),
        }])
        .await;
    assert_eq!(out.len(), 1, "{out:?}");
    let err = out[0].result.clone().unwrap_err();
    assert!(err.contains("exceeded quota: vc-my-vcluster"), "{err}");
    demo.shutdown().await;
}
