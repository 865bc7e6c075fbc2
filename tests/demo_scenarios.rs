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
        ("Pod", "billing/invoice-worker-0", "Drift"),
        ("Endpoints", "billing/ledger-db", "Drift"),
        ("ReplicatedFromHost", "shop/postgres", "Synced"),
        ("ReplicatedToHost", "shop/checkout", "Synced"),
        (
            "Service",
            "shop/product-recommendations-engine-personalised",
            "Synced",
        ),
        ("Service", "kube-system/kube-dns", "Synced"),
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
    assert_eq!(problems.len(), 6, "{problems:?}");
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
    assert!(worker.reason.contains("uid"), "{}", worker.reason);
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
fn together_the_scenarios_show_every_status_but_error() {
    let mut seen = BTreeMap::new();
    for (name, _) in scenario::FILES {
        for r in rows_of(name) {
            seen.entry(r.status.word()).or_insert(*name);
        }
    }
    for word in [
        "Synced", "Drift", "Missing", "Orphan", "Squatter", "Disabled", "Waiting",
    ] {
        assert!(
            seen.contains_key(word),
            "no scenario shows {word}: {seen:?}"
        );
    }
    // The incident alone shows all but Waiting/Disabled (those are global conditions).
    let incident: Vec<&str> = seen
        .iter()
        .filter(|(_, s)| **s == "incident")
        .map(|(w, _)| *w)
        .collect();
    assert_eq!(
        incident,
        ["Drift", "Missing", "Orphan", "Squatter", "Synced"]
    );
}
