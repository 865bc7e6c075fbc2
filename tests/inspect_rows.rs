//! Pure tests of pairing, status and row content on YAML fixtures (no cluster): base.yaml is a
//! converged world, each case file breaks one thing (see the comment at its top).

mod inspect_support;
use inspect_support::*;
use vinspect::inspect::Status;
use vinspect::vcluster::naming;

#[test]
fn synced_world_has_only_synced_rows_with_dns_names_and_matching_ips() {
    let rows = check_case("synced.yaml");
    assert!(rows.iter().all(|r| r.status == Status::Synced), "{rows:#?}");
    let web = find(&rows, "service", "default", "web");
    assert_eq!(web.dns.virtual_names, vec!["web.default.svc.cluster.local"]);
    assert_eq!(
        web.dns.host_names,
        vec!["web-x-default-x-my-vcluster.vcluster-my-vcluster.svc.cluster.local"]
    );
    assert!(web.virtual_side.ip.is_some());
    assert_eq!(web.virtual_side.ip, web.host.ip);
    assert!(!web.ip_mismatch);
    assert_eq!(web.virtual_side.selected_pods, Some(2));
    assert_eq!(web.host.selected_pods, Some(2));
    assert!(web.plan.is_empty());
    let pod = find(&rows, "pod", "default", "web-1");
    let ip = pod.virtual_side.ip.clone().unwrap();
    assert_eq!(pod.host.ip.as_deref(), Some(ip.as_str()));
    assert_eq!(
        pod.dns.virtual_names,
        vec![format!(
            "{}.default.pod.cluster.local",
            ip.replace('.', "-")
        )]
    );
    assert_eq!(pod.virtual_side.state.as_deref(), Some("Running"));
    let ep = find(&rows, "endpoints", "default", "external-db");
    assert_eq!(ep.virtual_side.ready, Some(1));
    assert_eq!(ep.host.ready, Some(1));
    // Selector services get no endpoints twin row.
    assert!(
        !rows
            .iter()
            .any(|r| r.name == "web" && serde_json::to_value(r.kind).unwrap() == "endpoints")
    );
}

#[test]
fn drift_names_the_fields() {
    let rows = check_case("drift.yaml");
    let web = find(&rows, "service", "default", "web");
    let Status::Drift { fields } = &web.status else {
        panic!("{:?}", web.status)
    };
    assert!(fields.contains(&"spec.ports".to_string()), "{fields:?}");
    assert!(!web.plan.is_empty());
}

#[test]
fn selector_drift_signature_of_vcluster_2887() {
    let rows = check_case("selector-drift.yaml");
    let web = find(&rows, "service", "default", "web");
    assert_eq!(web.virtual_side.selected_pods, Some(2));
    assert_eq!(web.host.selected_pods, Some(0));
    assert_eq!(
        naming::legacy_label_key("app", "my-vcluster"),
        "vcluster.loft.sh/label-my-vcluster-x-a172cedcae"
    );
}

#[test]
fn missing_twin() {
    let rows = check_case("missing.yaml");
    let web = find(&rows, "service", "default", "web");
    assert!(!web.host.exists);
    assert!(web.dns.host_names.is_empty());
    assert_eq!(web.host.name, "web-x-default-x-my-vcluster");
}

#[test]
fn orphaned_twins() {
    let rows = check_case("orphan.yaml");
    let svc = find(&rows, "service", "default", "external-db");
    assert!(!svc.virtual_side.exists);
    assert!(svc.host.exists);
}

#[test]
fn squatter_is_never_planned_for() {
    let rows = check_case("squatter.yaml");
    let api = find(&rows, "service", "default", "api");
    assert!(api.plan.is_empty());
    assert!(api.host.exists);
}

#[test]
fn ingress_sync_disabled_by_default() {
    let rows = check_case("disabled.yaml");
    let ing = find(&rows, "ingress", "default", "web");
    assert_eq!(ing.dns.virtual_names, vec!["web.example.com"]);
    assert!(!ing.status.is_problem());
}

#[test]
fn ingress_synced_when_enabled_with_hosts_on_both_sides() {
    let rows = check_case("ingress-synced.yaml");
    let ing = find(&rows, "ingress", "default", "web");
    assert_eq!(ing.dns.virtual_names, vec!["web.example.com"]);
    assert_eq!(ing.dns.host_names, vec!["web.example.com"]);
    assert_eq!(ing.virtual_side.state.as_deref(), Some("nginx"));
}

#[test]
fn pod_waits_for_the_kube_dns_twin() {
    let rows = check_case("waiting.yaml");
    let late = find(&rows, "pod", "default", "late");
    assert!(late.plan.is_empty());
    assert!(!late.host.exists);
}

#[test]
fn unreadable_side_makes_every_row_an_error() {
    let rows = check_case("error.yaml");
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| matches!(r.status, Status::Error { .. })),
        "{rows:#?}"
    );
}

#[test]
fn hashed_names_pair_and_sync() {
    let rows = check_case("hashed.yaml");
    let name = "my-very-long-service-name-for-the-payments-backend";
    let r = find(&rows, "service", "production", name);
    assert!(naming::is_hashed(name, "production", "my-vcluster"));
    assert_eq!(
        r.host.name,
        naming::host_name(name, "production", "my-vcluster")
    );
    assert!(r.host.name.len() <= 63);
    assert!(r.host.exists);
}

#[test]
fn legacy_twin_pairs_by_annotation() {
    let rows = check_case("legacy-twin.yaml");
    let same: Vec<_> = rows
        .iter()
        .filter(|r| r.host.name == "legacy-x-default-x-my-vcluster")
        .collect();
    assert_eq!(
        same.len(),
        1,
        "one pair, not a missing row plus an orphan row"
    );
    assert!(same[0].host.exists && same[0].virtual_side.exists);
    assert!(!matches!(
        same[0].status,
        Status::Missing | Status::Orphan | Status::Squatter
    ));
}

#[test]
fn uid_mismatch_recreates_the_twin() {
    let rows = check_case("uid-mismatch.yaml");
    let r = find(&rows, "pod", "default", "web-1");
    assert!(r.plan.changes.iter().any(|c| c.action.verb() == "recreate"));
}

#[test]
fn replicated_services_get_rows_of_their_own() {
    let rows = check_case("replicated.yaml");
    let from = find(&rows, "replicated-from-host", "default", "postgres");
    assert_eq!(from.host.namespace, "db");
    assert_eq!(from.host.name, "postgres");
    assert_eq!(
        from.dns.virtual_names,
        vec!["postgres.default.svc.cluster.local"]
    );
    assert_eq!(from.dns.host_names, vec!["postgres.db.svc.cluster.local"]);
    // The headless target resolves to its endpoints: the host ClusterIP.
    assert_eq!(from.virtual_side.ip.as_deref(), Some("10.96.5.5"));
    assert!(!from.ip_mismatch);
    let to = find(&rows, "replicated-to-host", "default", "web");
    assert_eq!(to.host.name, "web-public");
}

#[test]
fn replicated_target_missing() {
    let rows = check_case("replicated-missing.yaml");
    let from = find(&rows, "replicated-from-host", "default", "postgres");
    assert!(!from.virtual_side.exists);
}

#[test]
fn rows_are_deterministic() {
    let (snap, config, _) = load("drift.yaml");
    assert_eq!(
        vinspect::inspect::rows(&snap, &config),
        vinspect::inspect::rows(&snap, &config)
    );
}

#[test]
fn newest_sync_error_is_attached() {
    let rows = check_case("sync-error.yaml");
    let web = find(&rows, "service", "default", "web");
    assert_eq!(web.events.len(), 1);
    assert_eq!(web.events[0].count, 4);
    assert_eq!(
        web.events[0].last_seen.as_deref(),
        Some("2026-03-01T10:00:00Z")
    );
}

#[test]
fn rows_from_pairing_objects_equal_rows_from_fresh_look_ups() {
    use vinspect::engine::{Ctx, pairs, pairs_seen, plan, plan_seen};
    use vinspect::inspect::rows::{RowInputs, row_with_plan, row_with_seen};
    let mut cases: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "base.yaml")
        .collect();
    cases.sort();
    assert!(cases.len() > 10, "{cases:?}");
    for case in cases {
        let (snap, config, _) = load(&case);
        let ctx = Ctx::new(&snap, &config);
        let inputs = RowInputs::new(&ctx);
        let fresh: Vec<_> = pairs(&ctx)
            .into_iter()
            .map(|p| row_with_plan(&inputs, &p, plan(&ctx, &p, None)))
            .collect();
        let reused: Vec<_> = pairs_seen(&ctx)
            .into_iter()
            .map(|(p, seen)| row_with_seen(&inputs, &p, &seen, plan_seen(&ctx, &p, &seen, None)))
            .collect();
        assert!(!fresh.is_empty(), "{case}");
        assert_eq!(fresh, reused, "{case}");
    }
}

/// Enough pairs for `pair_rows_on` to split the work: the rows must not depend on threads.
#[test]
fn rows_do_not_depend_on_the_thread_count() {
    use vinspect::inspect::fixture::synthetic_world;
    use vinspect::inspect::rows::pair_rows_on;
    let (mut snap, config) = synthetic_world(1_100, 20).unwrap();
    // Break a few pairs so that not every row is alike: a missing twin, an orphan.
    let twin = snap.host.pods.keys().nth(7).unwrap().clone();
    snap.host.pods.remove(&twin);
    let gone = snap.virtual_side.services.keys().nth(3).unwrap().clone();
    snap.virtual_side.services.remove(&gone);
    let one = pair_rows_on(&snap, &config, 1);
    assert!(one.len() > 4096, "{}", one.len());
    assert!(one.iter().any(|(_, r)| r.status == Status::Missing));
    assert!(one.iter().any(|(_, r)| r.status == Status::Orphan));
    for threads in [2, 3] {
        assert!(
            pair_rows_on(&snap, &config, threads) == one,
            "{threads} threads"
        );
    }
    let rows_only: Vec<_> = one.into_iter().map(|(_, r)| r).collect();
    assert!(vinspect::inspect::rows(&snap, &config) == rows_only);
}
