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
    // ...and the deliberately stale one still does not.
    assert_eq!(live["Pod billing/invoice-worker-0"], "Drift");
}

#[tokio::test]
async fn other_scenarios_in_the_sandbox_match_their_files() {
    for (name, _) in scenario::FILES {
        if *name != "incident" {
            assert!(!live_vs_file(name).await.is_empty(), "{name}");
        }
    }
}
