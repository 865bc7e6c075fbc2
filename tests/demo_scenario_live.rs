//! A scenario loaded into the live sandbox pair reads back (through kube-rs, like a real
//! cluster) with the same statuses as the scenario file computes on its own.

use std::collections::BTreeMap;
use vinspect::cluster::clients::{Clients, Target};
use vinspect::cluster::fetch::{HostScope, fetch_snapshot};
use vinspect::inspect::rows::rows;
use vinspect::sandbox::Sandbox;
use vinspect::sandbox::scenario;

fn by_pair(rows: &[vinspect::inspect::PairRow]) -> BTreeMap<String, String> {
    rows.iter()
        .map(|r| {
            (
                format!("{:?} {}/{}", r.kind, r.namespace, r.name),
                r.status.word().to_string(),
            )
        })
        .collect()
}

async fn live_vs_file(name: &str) -> BTreeMap<String, String> {
    let s = scenario::load(name).unwrap();
    let sb = Sandbox::start(scenario::sandbox_options(&s)).await.unwrap();
    scenario::load_into(&sb, &s).unwrap();
    let clients = Clients {
        virtual_: Target {
            context: sb.virtual_context(),
            server: String::new(),
            client: sb.virtual_client(),
        },
        host: Target {
            context: sb.host_context().to_string(),
            server: String::new(),
            client: sb.host_client(),
        },
    };
    let scope = HostScope::new(&s.vcluster, &s.host_namespace, &s.config);
    let live = fetch_snapshot(&clients, &scope).await;
    // The DNS tab reads the same on both (the host scope covers every namespace it needs).
    let dns = |snap: &vinspect::cluster::snapshot::Snapshot| {
        vinspect::demo::data::data_update(snap, &s.config, None)
            .dns
            .iter()
            .map(|r| (r.name.clone(), r.answer.clone(), r.problem))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        dns(&live),
        dns(&s.snapshot().unwrap()),
        "DNS lines of {name}"
    );
    let live_rows = by_pair(&rows(&live, &s.config));
    let file_rows = by_pair(&rows(&s.snapshot().unwrap(), &s.config));
    sb.shutdown().await;
    assert_eq!(live_rows, file_rows, "scenario {name}");
    live_rows
}

#[tokio::test]
async fn incident_in_the_sandbox_matches_the_file() {
    let live = live_vs_file("incident").await;
    // Stand-in UIDs were replaced by server UIDs: twins of live pods still match their pods...
    assert_eq!(live["Pod shop/cart-5d8f6c7b9-k2p7x"], "Synced");
    // ...and the deliberately stale one still does not (its new twin waits for kube-dns).
    assert_eq!(live["Pod billing/invoice-worker-0"], "Waiting");
}

/// The default scenario through the real `vinspect demo` path (sandbox, controller with its
/// holds, the TUI's live backend): every status is on the first screen (Pods) or one tab
/// away (Services), and stays there while the controller runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_demo_shows_every_status_on_the_first_two_tabs() {
    use vinspect::tui::app::Tab;
    let dir = tempfile::tempdir().unwrap();
    let s = scenario::load(scenario::DEFAULT).unwrap();
    let demo = vinspect::demo::Demo::start(s, dir.path().join("kubeconfig"), false)
        .await
        .unwrap();
    let (_backend, data) = demo
        .backend(dir.path().join("audit.log"), None, false)
        .await
        .unwrap();
    // Give the controller time to do whatever it would do on its own.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let d = data.borrow().clone();
    assert!(!d.loading && d.virtual_conn.is_live() && d.host_conn.is_live());
    let mut seen: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in d.rows.iter() {
        if Tab::Pods.holds(r.kind) || Tab::Services.holds(r.kind) {
            seen.entry(r.status.word())
                .or_default()
                .push(format!("{:?} {}/{}", r.kind, r.namespace, r.name));
        }
    }
    demo.shutdown().await;
    let words: Vec<&str> = seen.keys().copied().collect();
    assert_eq!(
        words,
        [
            "Disabled", "Drift", "Error", "Missing", "Orphan", "Squatter", "Synced", "Waiting"
        ],
        "{seen:#?}"
    );
    // Each from the cause the scenario stages.
    let has = |word: &str, id: &str| seen[word].iter().any(|x| x == id);
    assert!(
        has("Waiting", "Pod shop/checkout-84f9b6d7c-v7m3d"),
        "{seen:#?}"
    );
    assert!(has("Missing", "Service kube-system/kube-dns"), "{seen:#?}");
    assert!(has("Error", "Service shop/admin"), "{seen:#?}");
    assert!(has("Disabled", "Endpoints billing/ledger-db"), "{seen:#?}");
    assert!(has("Drift", "Service shop/cart"), "{seen:#?}");
    assert!(
        has("Orphan", "Pod billing/monthly-report-28734560-x7k2p"),
        "{seen:#?}"
    );
    assert!(has("Squatter", "Service billing/invoices"), "{seen:#?}");
}

#[tokio::test]
async fn other_scenarios_in_the_sandbox_match_their_files() {
    for (name, _) in scenario::FILES {
        if *name != "incident" {
            assert!(!live_vs_file(name).await.is_empty(), "{name}");
        }
    }
}
