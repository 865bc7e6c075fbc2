//! The compiled-in scenarios show what they promise: statuses computed by the real inspector
//! from each scenario's objects, without any API server.

use std::collections::BTreeMap;
use vinspect::inspect::model::PairRow;
use vinspect::inspect::rows::rows;
use vinspect::sandbox::scenario;

fn rows_of(name: &str) -> Vec<PairRow> {
    let s = scenario::load(name).unwrap();
    let snap = s.snapshot().unwrap();
    rows(&snap, &s.config)
}

fn status_of(rows: &[PairRow], kind: &str, ns_name: &str) -> String {
    let hits: Vec<&PairRow> = rows
        .iter()
        .filter(|r| {
            format!("{:?}", r.kind) == kind && format!("{}/{}", r.namespace, r.name) == ns_name
        })
        .collect();
    assert_eq!(hits.len(), 1, "{kind} {ns_name}: {} rows", hits.len());
    hits[0].status.word().to_string()
}

fn count_by_status(rows: &[PairRow]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.status.word()).or_default() += 1;
    }
    m
}

#[test]
fn incident_shows_each_pain_with_the_expected_status() {
    let rows = rows_of("incident");
    let expect = [
        // vcluster#2887: host selector drifted, host endpoints empty, virtual pods ready.
        ("Service", "shop/cart", "Drift"),
        // Ingress backend whose host twin is gone.
        ("Service", "shop/search", "Missing"),
        ("Ingress", "shop/storefront", "Synced"),
        ("Service", "billing/invoices", "Squatter"),
        ("Pod", "billing/monthly-report-28734560-x7k2p", "Orphan"),
        // The host quota refuses the NodePort twin; the syncer recorded it (SyncError).
        ("Service", "shop/admin", "Error"),
        // The uid mismatch cannot be repaired before kube-dns is back: its new twin waits too.
        ("Pod", "billing/invoice-worker-0", "Waiting"),
        // sync.toHost.endpoints is off: the stale host copy is left alone.
        ("Endpoints", "billing/ledger-db", "Disabled"),
        // The kube-dns twin is gone, so the new checkout replica waits for the DNS IP.
        ("Service", "kube-system/kube-dns", "Missing"),
        ("Pod", "shop/checkout-84f9b6d7c-v7m3d", "Waiting"),
        ("Pod", "shop/checkout-84f9b6d7c-t5w2z", "Synced"),
        ("ReplicatedFromHost", "shop/postgres", "Synced"),
        ("ReplicatedToHost", "shop/checkout", "Synced"),
        (
            "Service",
            "shop/product-recommendations-engine-personalised",
            "Synced",
        ),
        ("Service", "default/kubernetes", "Synced"),
        ("Endpoints", "default/kubernetes", "Synced"),
        ("Service", "shop/frontend", "Synced"),
    ];
    for (kind, name, status) in expect {
        assert_eq!(status_of(&rows, kind, name), status, "{kind} {name}");
    }
    // Everything not named above is in sync: the incident is exactly the listed breakages.
    let problems: Vec<String> = rows
        .iter()
        .filter(|r| r.status.is_problem())
        .map(|r| format!("{:?} {}/{}", r.kind, r.namespace, r.name))
        .collect();
    assert_eq!(problems.len(), 8, "{problems:?}");
}

#[test]
fn incident_reasons_name_the_signatures() {
    let rows = rows_of("incident");
    let cart = rows
        .iter()
        .find(|r| r.name == "cart" && r.namespace == "shop")
        .unwrap();
    assert!(cart.reason.contains("vcluster#2887"), "{}", cart.reason);
    assert_eq!(
        cart.host.ready.unwrap_or(0),
        0,
        "host endpoints of the drifted service"
    );
    assert_eq!(
        cart.virtual_side.ready,
        Some(2),
        "virtual endpoints of the drifted service"
    );
    let worker = rows.iter().find(|r| r.name == "invoice-worker-0").unwrap();
    assert!(
        worker.reason.contains("waiting for DNS service IP"),
        "{}",
        worker.reason
    );
    // The stale twin of the older incarnation is still there, held for the operator.
    assert!(worker.host.exists);
    assert_eq!(
        worker.events.first().map(|e| e.reason.as_str()),
        Some("SyncError")
    );
    let admin = rows.iter().find(|r| r.name == "admin").unwrap();
    let vinspect::inspect::Status::Error { message } = &admin.status else {
        panic!("{:?}", admin.status);
    };
    assert!(message.contains("exceeded quota"), "{message}");
    let waiting = rows
        .iter()
        .find(|r| r.name == "checkout-84f9b6d7c-v7m3d")
        .unwrap();
    assert!(
        waiting.reason.contains("waiting for DNS service IP"),
        "{}",
        waiting.reason
    );
    let ledger = rows
        .iter()
        .find(|r| r.name == "ledger-db" && r.status.word() == "Disabled")
        .unwrap();
    assert!(
        ledger
            .reason
            .contains("sync.toHost.endpoints.enabled: false"),
        "{}",
        ledger.reason
    );
    assert_eq!(
        worker.events.first().map(|e| e.reason.as_str()),
        Some("SyncError")
    );
    let long = rows
        .iter()
        .find(|r| r.name == "product-recommendations-engine-personalised")
        .unwrap();
    assert_eq!(
        long.host.name,
        "product-recommendations-engine-personalised-x-shop-x-ed783a660f"
    );
    assert!(vinspect::vcluster::naming::is_hashed(
        &long.name,
        &long.namespace,
        "my-vcluster"
    ));
}

#[test]
fn incident_host_twins_are_what_the_engine_would_write() {
    // Every twin the incident does not deliberately break is byte-for-byte what the engine
    // computes: its plan is empty. (Statuses above already say so; this names the failures.)
    let rows = rows_of("incident");
    let broken = [
        "shop/cart",
        "shop/search",
        "billing/invoices",
        "billing/monthly-report-28734560-x7k2p",
        "billing/invoice-worker-0",
        "billing/ledger-db",
        "kube-system/kube-dns",
        "shop/checkout-84f9b6d7c-v7m3d",
        "shop/admin",
    ];
    for r in &rows {
        let id = format!("{}/{}", r.namespace, r.name);
        if broken.contains(&id.as_str()) {
            continue;
        }
        assert!(r.plan.changes.is_empty(), "{id}: {:?}", r.plan.changes);
    }
}

#[test]
fn healthy_is_all_synced() {
    let rows = rows_of("healthy");
    assert!(rows.len() >= 7, "{}", rows.len());
    assert_eq!(
        count_by_status(&rows),
        BTreeMap::from([("Synced", rows.len())])
    );
}

#[test]
fn dns_wait_shows_waiting_and_disabled() {
    let rows = rows_of("dns-wait");
    assert_eq!(
        status_of(&rows, "Service", "kube-system/kube-dns"),
        "Missing"
    );
    assert_eq!(status_of(&rows, "Ingress", "shop/web"), "Disabled");
    let waiting: Vec<&PairRow> = rows
        .iter()
        .filter(|r| r.status.word() == "Waiting")
        .collect();
    assert_eq!(waiting.len(), 2);
    for r in waiting {
        assert!(r.reason.contains("DNS service IP"), "{}", r.reason);
    }
}

#[test]
fn the_incident_alone_shows_every_status() {
    let words: Vec<&str> = count_by_status(&rows_of("incident")).into_keys().collect();
    assert_eq!(
        words,
        [
            "Disabled", "Drift", "Error", "Missing", "Orphan", "Squatter", "Synced", "Waiting"
        ]
    );
}
