//! Realistic data for the TUI's tests, benches and screenshots: one vCluster mid-incident, with
//! every status, a hashed twin name, an IP mismatch and sync events. Host names come from the
//! real naming rules, never typed by hand.

use super::backend::FakeBackend;
use super::types::{DataUpdate, DiffSource, DnsRow, RowKey};
use crate::cluster::snapshot::ConnState;
use crate::engine::{Action, Blocked, Change, ObjKind, Plan, SideName, Target};
use crate::inspect::{DnsNames, EventView, PairRow, RowKind, SideView, Status};
use crate::vcluster::naming::host_name;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::sync::Arc;

pub const VCLUSTER: &str = "team-a";
pub const HOST_NAMESPACE: &str = "vcluster-team-a";
pub const HOST_CONTEXT: &str = "prod-eu1";
pub const VIRTUAL_CONTEXT: &str = "vcluster_team-a_vcluster-team-a_prod-eu1";

/// The instant fixtures are relative to (tests pass it as `Action::Tick`).
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn ago(mins: i64) -> Option<String> {
    Some((now() - Duration::minutes(mins)).to_rfc3339())
}

fn side(ns: &str, name: &str, ip: Option<&str>, state: Option<&str>, mins: i64) -> SideView {
    SideView {
        namespace: ns.to_string(),
        name: name.to_string(),
        exists: true,
        uid: Some(format!(
            "{:08x}-0000-4000-8000-000000000000",
            name.len() * 7919 + mins as usize
        )),
        ip: ip.map(str::to_string),
        state: state.map(str::to_string),
        ready: None,
        selected_pods: None,
        created: ago(mins),
    }
}

fn absent() -> SideView {
    SideView::default()
}

fn dns_of(kind: RowKind, ns: &str, name: &str) -> DnsNames {
    let host = host_name(name, ns, VCLUSTER);
    match kind {
        RowKind::Service | RowKind::ReplicatedToHost | RowKind::ReplicatedFromHost => DnsNames {
            virtual_names: vec![format!("{name}.{ns}.svc.cluster.local")],
            host_names: vec![format!("{host}.{HOST_NAMESPACE}.svc.cluster.local")],
        },
        _ => DnsNames::default(),
    }
}

fn target(side: SideName, kind: ObjKind, ns: &str, name: &str) -> Target {
    Target {
        side,
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
    }
}

fn patch(t: Target, patch: serde_json::Value, reason: &str) -> Change {
    Change {
        fields: Vec::new(),
        target: t,
        action: Action::Patch {
            patch,
            subresource: None,
            resource_version: Some("48213".to_string()),
        },
        reason: reason.to_string(),
    }
}

struct RowSpec<'a> {
    kind: RowKind,
    ns: &'a str,
    name: &'a str,
    status: Status,
    reason: &'a str,
    v: SideView,
    h: SideView,
    plan: Plan,
}

fn row(s: RowSpec) -> PairRow {
    let ip_mismatch = match (&s.v.ip, &s.h.ip) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    PairRow {
        kind: s.kind,
        namespace: s.ns.to_string(),
        name: s.name.to_string(),
        status: s.status,
        reason: s.reason.to_string(),
        dns: dns_of(s.kind, s.ns, s.name),
        virtual_side: s.v,
        host: s.h,
        ip_mismatch,
        events: Vec::new(),
        plan: s.plan,
    }
}

fn twin(ns: &str, name: &str) -> String {
    host_name(name, ns, VCLUSTER)
}

/// Every status, over all tabs.
pub fn rows() -> Vec<PairRow> {
    let hns = HOST_NAMESPACE;
    let mut out = Vec::new();

    // Pods.
    out.push(row(RowSpec {
        kind: RowKind::Pod,
        ns: "shop",
        name: "web-7d9f8b6c5-x2k4p",
        status: Status::Synced,
        reason: "host pod matches",
        v: side(
            "shop",
            "web-7d9f8b6c5-x2k4p",
            Some("10.244.3.17"),
            Some("Running"),
            190,
        ),
        h: side(
            hns,
            &twin("shop", "web-7d9f8b6c5-x2k4p"),
            Some("10.244.3.17"),
            Some("Running"),
            190,
        ),
        plan: Plan::default(),
    }));
    let cart_host = twin("shop", "cart-5c6d7f8b9-qw7zt");
    let mut cart = row(RowSpec {
        kind: RowKind::Pod,
        ns: "shop",
        name: "cart-5c6d7f8b9-qw7zt",
        status: Status::Drift {
            fields: vec!["metadata.labels".to_string()],
        },
        reason: "host pod labels differ: vcluster.loft.sh/label-team-a-x-5f1c… missing",
        v: side(
            "shop",
            "cart-5c6d7f8b9-qw7zt",
            Some("10.244.1.5"),
            Some("Pending"),
            42,
        ),
        h: side(hns, &cart_host, Some("10.244.1.5"), Some("Running"), 42),
        plan: Plan {
            changes: vec![patch(
                target(SideName::Host, ObjKind::Pod, hns, &cart_host),
                json!({"metadata": {"labels": {"vcluster.loft.sh/label-team-a-x-5f1c2e9a1b": "cart"}}}),
                "translated label app=cart missing on the host pod",
            )],
            blocked: None,
        },
    });
    cart.events.push(EventView {
        reason: "SyncError".to_string(),
        message: "Error updating pod: context deadline exceeded".to_string(),
        count: 4,
        last_seen: ago(3),
    });
    out.push(cart);
    out.push(row(RowSpec {
        kind: RowKind::Pod,
        ns: "payments",
        name: "api-0",
        status: Status::Waiting {
            reason: "waiting for DNS service IP".to_string(),
        },
        reason: "pod syncer waits for kube-system/kube-dns's host ClusterIP",
        v: side("payments", "api-0", None, Some("Pending"), 12),
        h: absent(),
        plan: Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Waiting {
                message: "kube-system/kube-dns has no host twin yet; pods are created once its ClusterIP is known".to_string(),
            }),
        },
    }));
    let long = "prometheus-kube-state-metrics-exporter-6b8f9c7d5-h2j4k";
    out.push(row(RowSpec {
        kind: RowKind::Pod,
        ns: "monitoring",
        name: long,
        status: Status::Synced,
        reason: "host pod matches (hashed name)",
        v: side(
            "monitoring",
            long,
            Some("10.244.2.201"),
            Some("Running"),
            60 * 24 * 9,
        ),
        h: side(
            hns,
            &twin("monitoring", long),
            Some("10.244.2.201"),
            Some("Running"),
            60 * 24 * 9,
        ),
        plan: Plan::default(),
    }));
    out.push(row(RowSpec {
        kind: RowKind::Pod,
        ns: "batch",
        name: "report-28391022-zx8vq",
        status: Status::Error {
            message: "host pod spec invalid: pod updates may not change fields other than spec.containers[*].image".to_string(),
        },
        reason: "host rejected the update (version skew?)",
        v: side("batch", "report-28391022-zx8vq", None, Some("Failed"), 7),
        h: side(hns, &twin("batch", "report-28391022-zx8vq"), None, Some("Failed"), 7),
        plan: Plan::default(),
    }));

    // Services.
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "shop",
        name: "web",
        status: Status::Synced,
        reason: "host service matches",
        v: side(
            "shop",
            "web",
            Some("10.96.12.40"),
            Some("ClusterIP"),
            60 * 30,
        ),
        h: side(
            hns,
            &twin("shop", "web"),
            Some("10.96.12.40"),
            Some("ClusterIP"),
            60 * 30,
        ),
        plan: Plan::default(),
    }));
    let cart_svc = twin("shop", "cart");
    let mut cart_row = row(RowSpec {
        kind: RowKind::Service,
        ns: "shop",
        name: "cart",
        status: Status::Drift {
            fields: vec!["spec.selector".to_string()],
        },
        reason: "host selector has stale key vcluster.loft.sh/label-team-a-x-0a1b…; selects 0 host pods",
        v: SideView {
            selected_pods: Some(2),
            ready: Some(2),
            ..side(
                "shop",
                "cart",
                Some("10.96.33.7"),
                Some("ClusterIP"),
                60 * 26,
            )
        },
        h: SideView {
            selected_pods: Some(0),
            ready: Some(0),
            ..side(
                hns,
                &cart_svc,
                Some("10.96.33.7"),
                Some("ClusterIP"),
                60 * 26,
            )
        },
        plan: Plan {
            changes: vec![patch(
                target(SideName::Host, ObjKind::Service, hns, &cart_svc),
                json!({"spec": {"selector": {
                    "vcluster.loft.sh/label-team-a-x-0a1b2c3d4e": null,
                    "vcluster.loft.sh/label-team-a-x-5f1c2e9a1b": "cart",
                    "vcluster.loft.sh/namespace": "shop",
                    "vcluster.loft.sh/managed-by": "team-a"
                }}}),
                "selector must match translated pod labels",
            )],
            blocked: None,
        },
    });
    cart_row.events.push(EventView {
        reason: "SyncWarning".to_string(),
        message: "service selector translation changed after upgrade".to_string(),
        count: 1,
        last_seen: ago(55),
    });
    out.push(cart_row);
    let api = twin("payments", "api");
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "payments",
        name: "api",
        status: Status::Missing,
        reason: "no host twin: the virtual service was never synced",
        v: side("payments", "api", Some("10.96.44.12"), Some("ClusterIP"), 15),
        h: absent(),
        plan: Plan {
            changes: vec![Change {
                fields: Vec::new(),
                target: target(SideName::Host, ObjKind::Service, hns, &api),
                action: Action::Create {
                    object: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": api, "namespace": hns,
                        "labels": {"vcluster.loft.sh/managed-by": "team-a"}},
                        "spec": {"ports": [{"port": 443, "targetPort": 8443}]}}),
                },
                reason: "create the twin".to_string(),
            }],
            blocked: None,
        },
    }));
    let legacy = twin("shop", "legacy");
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "shop",
        name: "legacy",
        status: Status::Squatter,
        reason: "an unmanaged host service sits at the twin's name",
        v: side("shop", "legacy", None, Some("ClusterIP"), 60 * 4),
        h: side(
            hns,
            &legacy,
            Some("10.96.200.3"),
            Some("NodePort"),
            60 * 24 * 40,
        ),
        plan: Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Squatter {
                message: format!(
                    "host service {hns}/{legacy} has no vcluster.loft.sh/managed-by label"
                ),
            }),
        },
    }));
    let checkout = twin("shop", "checkout");
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "shop",
        name: "checkout",
        status: Status::Drift {
            fields: vec!["spec.clusterIP".to_string()],
        },
        reason: "virtual ClusterIP differs from the host's: the virtual service must be recreated",
        v: side(
            "shop",
            "checkout",
            Some("10.96.0.50"),
            Some("ClusterIP"),
            80,
        ),
        h: side(hns, &checkout, Some("10.96.7.21"), Some("ClusterIP"), 80),
        plan: Plan {
            changes: vec![Change {
                fields: Vec::new(),
                target: target(SideName::Virtual, ObjKind::Service, "shop", "checkout"),
                action: Action::Recreate {
                    object: json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "checkout", "namespace": "shop"},
                        "spec": {"clusterIP": "10.96.7.21", "ports": [{"port": 80}]}}),
                    uid: Some("9c1f7a52-3e0b-4d6a-9f1e-5b2d8c7a6e40".to_string()),
                },
                reason: "ClusterIP is immutable: recreate with the host's".to_string(),
            }],
            blocked: None,
        },
    }));
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "kube-system",
        name: "kube-dns",
        status: Status::Synced,
        reason: "host service matches",
        v: side(
            "kube-system",
            "kube-dns",
            Some("10.96.0.10"),
            Some("ClusterIP"),
            60 * 24 * 60,
        ),
        h: side(
            hns,
            &twin("kube-system", "kube-dns"),
            Some("10.96.0.10"),
            Some("ClusterIP"),
            60 * 24 * 60,
        ),
        plan: Plan::default(),
    }));
    let old = twin("shop", "promo-2025");
    out.push(row(RowSpec {
        kind: RowKind::Service,
        ns: "shop",
        name: "promo-2025",
        status: Status::Orphan,
        reason: "managed host service whose virtual service is gone",
        v: absent(),
        h: side(
            hns,
            &old,
            Some("10.96.90.4"),
            Some("ClusterIP"),
            60 * 24 * 200,
        ),
        plan: Plan {
            changes: vec![Change {
                fields: Vec::new(),
                target: target(SideName::Host, ObjKind::Service, hns, &old),
                action: Action::Delete {
                    uid: Some("1b2c3d4e-0000-4000-8000-00000000beef".to_string()),
                    grace_period_seconds: None,
                },
                reason: "virtual service deleted".to_string(),
            }],
            blocked: None,
        },
    }));
    out.push(row(RowSpec {
        kind: RowKind::Endpoints,
        ns: "shop",
        name: "cart",
        status: Status::Drift {
            fields: vec!["subsets".to_string()],
        },
        reason: "host endpoints list 0 ready addresses, virtual lists 2",
        v: SideView { ready: Some(2), ..side("shop", "cart", None, Some("2 ready"), 60 * 26) },
        h: SideView { ready: Some(0), ..side(hns, &cart_svc, None, Some("0 ready"), 60 * 26) },
        plan: Plan {
            changes: vec![patch(
                target(SideName::Host, ObjKind::Endpoints, hns, &cart_svc),
                json!({"subsets": [{"addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.1.9"}], "ports": [{"port": 8080}]}]}),
                "copy ready addresses from the virtual endpoints",
            )],
            blocked: None,
        },
    }));

    // Ingresses.
    out.push(row(RowSpec {
        kind: RowKind::Ingress,
        ns: "shop",
        name: "storefront",
        status: Status::Synced,
        reason: "host ingress matches",
        v: side(
            "shop",
            "storefront",
            Some("34.120.1.9"),
            Some("nginx"),
            60 * 24 * 3,
        ),
        h: side(
            hns,
            &twin("shop", "storefront"),
            Some("34.120.1.9"),
            Some("nginx"),
            60 * 24 * 3,
        ),
        plan: Plan::default(),
    }));
    let admin = twin("shop", "admin");
    out.push(row(RowSpec {
        kind: RowKind::Ingress,
        ns: "shop",
        name: "admin",
        status: Status::Drift {
            fields: vec!["spec.rules[0].http.paths[0].backend.service.name".to_string()],
        },
        reason: "backend points at the virtual service name, not its twin",
        v: side("shop", "admin", None, Some("nginx"), 300),
        h: side(hns, &admin, None, Some("nginx"), 300),
        plan: Plan {
            changes: vec![patch(
                target(SideName::Host, ObjKind::Ingress, hns, &admin),
                json!({"spec": {"rules": [{"host": "admin.shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": twin("shop", "web"), "port": {"number": 80}}}}]}}]}}),
                "backend service must be the translated name",
            )],
            blocked: None,
        },
    }));
    out.push(row(RowSpec {
        kind: RowKind::Ingress,
        ns: "internal",
        name: "grafana",
        status: Status::Disabled,
        reason: "sync.toHost.ingresses.enabled is false",
        v: side("internal", "grafana", None, Some("nginx"), 60 * 24 * 20),
        h: absent(),
        plan: Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Disabled {
                message: "ingress sync is off in vcluster.yaml (sync.toHost.ingresses.enabled)"
                    .to_string(),
            }),
        },
    }));

    // Replicated services.
    out.push(row(RowSpec {
        kind: RowKind::ReplicatedFromHost,
        ns: "default",
        name: "shared-postgres",
        status: Status::Synced,
        reason: "replicated from host db/postgres",
        v: side(
            "default",
            "shared-postgres",
            Some("10.96.5.5"),
            Some("ClusterIP"),
            60 * 24 * 14,
        ),
        h: side(
            "db",
            "postgres",
            Some("10.96.140.2"),
            Some("ClusterIP"),
            60 * 24 * 90,
        ),
        plan: Plan::default(),
    }));
    out.push(row(RowSpec {
        kind: RowKind::ReplicatedToHost,
        ns: "shop",
        name: "web",
        status: Status::Missing,
        reason: "replicateServices.toHost entry shop/web → edge/shop-web has no host service",
        v: side("shop", "web", Some("10.96.12.40"), Some("ClusterIP"), 60 * 30),
        h: absent(),
        plan: Plan {
            changes: vec![Change {
                fields: Vec::new(),
                target: target(SideName::Host, ObjKind::Service, "edge", "shop-web"),
                action: Action::Create {
                    object: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop-web", "namespace": "edge"},
                        "spec": {"type": "ExternalName", "externalName": format!("{}.{hns}.svc.cluster.local", twin("shop", "web"))}}),
                },
                reason: "replicate to host".to_string(),
            }],
            blocked: None,
        },
    }));
    out
}

pub fn dns_rows() -> Vec<DnsRow> {
    vec![
        DnsRow {
            name: "web.shop.svc.cluster.local".to_string(),
            answer: "10.96.12.40".to_string(),
            explanation: "service shop/web → twin ClusterIP".to_string(),
            problem: false,
        },
        DnsRow {
            name: "cart.shop.svc.cluster.local".to_string(),
            answer: "10.96.33.7".to_string(),
            explanation: "service shop/cart → twin ClusterIP; 0 ready endpoints on the host"
                .to_string(),
            problem: true,
        },
        DnsRow {
            name: "api.payments.svc.cluster.local".to_string(),
            answer: "NXDOMAIN".to_string(),
            explanation: "service payments/api has no host twin".to_string(),
            problem: true,
        },
        DnsRow {
            name: "kube-dns.kube-system.svc.cluster.local".to_string(),
            answer: "10.96.0.10".to_string(),
            explanation: "cluster DNS; CoreDNS ready on port 1053".to_string(),
            problem: false,
        },
        DnsRow {
            name: "postgres.db.svc.cluster.local".to_string(),
            answer: "NXDOMAIN".to_string(),
            explanation: "host name; fallbackHostCluster is off".to_string(),
            problem: false,
        },
    ]
}

/// A complete update with both sides live.
pub fn data() -> DataUpdate {
    DataUpdate {
        rows: crate::tui::types::rows_of(rows()),
        dns: Arc::new(dns_rows()),
        virtual_conn: ConnState::Live,
        host_conn: ConnState::Live,
        virtual_context: VIRTUAL_CONTEXT.to_string(),
        host_context: HOST_CONTEXT.to_string(),
        vcluster: VCLUSTER.to_string(),
        host_namespace: HOST_NAMESPACE.to_string(),
        note: None,
        version: 7,
        loading: false,
    }
}

/// `n` pairs across 50 namespaces with a realistic mix of statuses (most Synced), all on the
/// Pods tab and the Services tab alternately; for benches.
pub fn scaled_rows(n: usize) -> Vec<PairRow> {
    let base = rows();
    (0..n)
        .map(|i| {
            let mut r = base[i % base.len()].clone();
            let ns = format!("team-{:02}", i % 50);
            let name = format!("{}-{i:06}", r.name.split('-').next().unwrap_or("app"));
            r.host.name = if r.host.exists {
                twin(&ns, &name)
            } else {
                String::new()
            };
            r.dns = dns_of(r.kind, &ns, &name);
            r.virtual_side.name = name.clone();
            r.virtual_side.namespace = ns.clone();
            r.namespace = ns;
            r.name = name;
            r
        })
        .collect()
}

/// A fake backend that knows the fixture rows' diffs, objects and contexts.
pub fn backend() -> FakeBackend {
    let cart = rows()
        .into_iter()
        .find(|r| r.kind == RowKind::Service && r.name == "cart")
        .map(|r| RowKey::of(&r));
    let mut b = FakeBackend {
        contexts: vec![
            VIRTUAL_CONTEXT.to_string(),
            "vcluster_team-b_vcluster-team-b_prod-eu1".to_string(),
            "vcluster_ci_vcluster-ci_staging".to_string(),
        ],
        ..FakeBackend::default()
    };
    if let Some(key) = cart {
        b.diffs.insert(key.clone(), cart_diff());
        b = b
            .with_object(SideName::Virtual, key.clone(), cart_virtual())
            .with_object(SideName::Host, key, cart_diff().actual.unwrap_or_default());
    }
    b
}

/// The virtual Service shop/cart as the API server returns it.
pub fn cart_virtual() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "cart", "namespace": "shop", "uid": "5f0e2b1a-8c3d-4e5f-9a0b-1c2d3e4f5a6b",
            "resourceVersion": "1187", "creationTimestamp": "2026-11-25T06:00:00Z",
            "labels": {"app": "cart"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.33.7", "selector": {"app": "cart"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
        "status": {"loadBalancer": {}}
    })
}

/// Desired vs actual host Service for shop/cart: a stale selector key after an upgrade.
pub fn cart_diff() -> DiffSource {
    let name = twin("shop", "cart");
    let meta = |extra: bool| {
        let mut m = json!({"name": name, "namespace": HOST_NAMESPACE,
            "labels": {"vcluster.loft.sh/managed-by": "team-a", "vcluster.loft.sh/namespace": "shop",
                "vcluster.loft.sh/label-team-a-x-5f1c2e9a1b": "cart"},
            "annotations": {"vcluster.loft.sh/object-name": "cart", "vcluster.loft.sh/object-namespace": "shop",
                "vcluster.loft.sh/object-uid": "5f0e2b1a-8c3d-4e5f-9a0b-1c2d3e4f5a6b"}});
        if extra {
            m["resourceVersion"] = json!("48213");
            m["uid"] = json!("77aa1c2e-5d6f-4a8b-9c0d-1e2f3a4b5c6d");
            m["creationTimestamp"] = json!("2026-11-25T06:00:01Z");
            m["managedFields"] = json!([{"manager": "vcluster", "operation": "Update"}]);
        }
        m
    };
    DiffSource {
        desired: Some(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": meta(false),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.33.7",
                "selector": {"vcluster.loft.sh/label-team-a-x-5f1c2e9a1b": "cart",
                    "vcluster.loft.sh/managed-by": "team-a", "vcluster.loft.sh/namespace": "shop"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
        })),
        actual: Some(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": meta(true),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.33.7", "clusterIPs": ["10.96.33.7"],
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "selector": {"vcluster.loft.sh/label-team-a-x-0a1b2c3d4e": "cart",
                    "vcluster.loft.sh/managed-by": "team-a", "vcluster.loft.sh/namespace": "shop"},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
            "status": {"loadBalancer": {}}
        })),
    }
}
