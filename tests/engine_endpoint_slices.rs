//! EndpointSlices of selector-less services (§4.4, `loft-sh/vcluster:
//! pkg/controllers/resources/endpointslices`): whole translated objects, then the plan in
//! every state a pair can be in.

mod engine_support;
use engine_support::*;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use vinspect::cluster::snapshot::{ObjKey, Snapshot};
use vinspect::engine::{
    Action, Blocked, Ctx, Memory, ObjKind, Pair, PairKind, SideName, desired_host, pairs, plan,
};
use vinspect::inspect::model::Status;
use vinspect::vcluster::config::VClusterConfig;

const SLICE_KIND: &str = "discovery.k8s.io/v1, Kind=EndpointSlice";

fn add_virtual_slice(s: &mut Snapshot, y: &str) -> ObjKey {
    let o: EndpointSlice = yaml(y);
    let k = ObjKey::of(&o);
    put(&mut s.virtual_side.endpoint_slices, o);
    k
}

fn add_host_slice(s: &mut Snapshot, v: serde_json::Value) -> ObjKey {
    let o: EndpointSlice = serde_json::from_value(v).unwrap();
    let k = ObjKey::of(&o);
    put(&mut s.host.endpoint_slices, o);
    k
}

/// A selector-less Service `default/manual` and the slice the virtual cluster's mirroring
/// controller made for its hand-written Endpoints.
fn manual() -> Snapshot {
    let mut s = base();
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: manual, namespace: default, uid: m-uid}
spec: {clusterIP: 10.96.3.3, ports: [{name: http, port: 80}]}
"#,
    );
    add_virtual_slice(
        &mut s,
        r#"
metadata:
  name: manual-abcde
  namespace: default
  uid: eps-uid
  resourceVersion: "7"
  labels:
    kubernetes.io/service-name: manual
    endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io
  annotations: {control-plane.alpha.kubernetes.io/leader: x, team: payments}
addressType: IPv4
endpoints:
- addresses: [10.244.1.7]
  conditions: {ready: true}
  nodeName: node-1
  targetRef: {kind: Pod, name: worker-1, namespace: default, uid: p-uid, resourceVersion: "9"}
- addresses: [192.168.7.1]
  conditions: {ready: false}
ports: [{name: http, port: 80, protocol: TCP}]
"#,
    );
    s
}

fn slice_pair(ctx: &Ctx, ns: &str, name: &str) -> Option<Pair> {
    pairs(ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::EndpointSlice && p.virtual_key == Some(ObjKey::new(ns, name)))
}

fn created(ctx: &Ctx, pair: &Pair) -> serde_json::Value {
    match &only_change(&plan(ctx, pair, None)).action {
        Action::Create { object } => object.clone(),
        other => panic!("expected create, got {other:?}"),
    }
}

fn manual_host() -> serde_json::Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "manual-abcde-x-default-x-my-vcluster",
            "namespace": HNS,
            "labels": {
                "kubernetes.io/service-name": "manual-x-default-x-my-vcluster",
                "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
                "vcluster.loft.sh/managed-by": VC,
                "vcluster.loft.sh/namespace": "default"
            },
            "annotations": {
                "team": "payments",
                "vcluster.loft.sh/managed-annotations": "team",
                "vcluster.loft.sh/object-name": "manual-abcde",
                "vcluster.loft.sh/object-namespace": "default",
                "vcluster.loft.sh/object-uid": "eps-uid",
                "vcluster.loft.sh/object-kind": SLICE_KIND,
                "vcluster.loft.sh/object-host-name": "manual-abcde-x-default-x-my-vcluster",
                "vcluster.loft.sh/object-host-namespace": HNS
            },
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": VC, "uid": VC_SVC_UID, "controller": false}]
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.244.1.7"],
                "conditions": {"ready": true},
                "nodeName": "node-1",
                // Renamed to the host pod; vCluster's slice syncer keeps uid and resourceVersion.
                "targetRef": {"kind": "Pod", "name": "worker-1-x-default-x-my-vcluster", "namespace": HNS, "uid": "p-uid", "resourceVersion": "9"}
            },
            {"addresses": ["192.168.7.1"], "conditions": {"ready": false}}
        ],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
    })
}

/// The host twin as the API server would store it (uid and resourceVersion filled in).
fn stored(mut v: serde_json::Value, uid: &str, rv: &str) -> serde_json::Value {
    v["metadata"]["uid"] = json!(uid);
    v["metadata"]["resourceVersion"] = json!(rv);
    v
}

#[test]
fn slice_worked_example() {
    let s = manual();
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").expect("slice pair");
    assert_eq!(
        pair.host_key,
        Some(ObjKey::new(HNS, "manual-abcde-x-default-x-my-vcluster"))
    );
    let obj = created(&ctx, &pair);
    assert_same(&obj, &manual_host());
    assert_eq!(desired_host(&ctx, &pair), Some(obj));
}

#[test]
fn long_names_hash_the_slice_but_not_its_service_label() {
    // §10's 77-byte service; the mirroring controller's slice adds `-7xk2p`.
    let svc = "my-very-long-service-name-for-the-payments-backend";
    let mut s = base();
    add_virtual_service(
        &mut s,
        &format!(
            "metadata: {{name: {svc}, namespace: production, uid: s-uid}}\nspec: {{clusterIP: 10.96.4.4, ports: [{{port: 443}}]}}\n"
        ),
    );
    add_virtual_slice(
        &mut s,
        &format!(
            r#"
metadata: {{name: {svc}-7xk2p, namespace: production, uid: long-uid, labels: {{kubernetes.io/service-name: {svc}}}}}
addressType: IPv4
endpoints: [{{addresses: [10.0.9.9]}}]
ports: [{{port: 443, protocol: TCP}}]
"#
        ),
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "production", &format!("{svc}-7xk2p")).expect("slice pair");
    let host_name = "my-very-long-service-name-for-the-payments-backend-7-2c375c308d";
    assert_eq!(pair.host_key, Some(ObjKey::new(HNS, host_name)));
    let obj = created(&ctx, &pair);
    assert_same(
        &obj,
        &json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": host_name,
                "namespace": HNS,
                "labels": {
                    // Plain concatenation: 77 bytes, not the host service's hashed name
                    // `my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4`.
                    "kubernetes.io/service-name": "my-very-long-service-name-for-the-payments-backend-x-production-x-my-vcluster",
                    "vcluster.loft.sh/managed-by": VC,
                    "vcluster.loft.sh/namespace": "production"
                },
                "annotations": {
                    "vcluster.loft.sh/object-name": format!("{svc}-7xk2p"),
                    "vcluster.loft.sh/object-namespace": "production",
                    "vcluster.loft.sh/object-uid": "long-uid",
                    "vcluster.loft.sh/object-kind": SLICE_KIND,
                    "vcluster.loft.sh/object-host-name": host_name,
                    "vcluster.loft.sh/object-host-namespace": HNS
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": VC, "uid": VC_SVC_UID, "controller": false}]
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.9.9"]}],
            "ports": [{"port": 443, "protocol": "TCP"}]
        }),
    );
}

#[test]
fn only_slices_of_existing_selectorless_services_pair() {
    let mut s = manual();
    // The host controller's business: the service selects pods.
    add_virtual_slice(
        &mut s,
        "metadata: {name: kube-dns-x1y2z, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}\naddressType: IPv4\nendpoints: []\n",
    );
    // No service-name label, a service that does not exist, and `default/kubernetes`.
    add_virtual_slice(
        &mut s,
        "metadata: {name: loose, namespace: default}\naddressType: IPv4\nendpoints: []\n",
    );
    add_virtual_slice(
        &mut s,
        "metadata: {name: ghost-abcde, namespace: default, labels: {kubernetes.io/service-name: ghost}}\naddressType: IPv4\nendpoints: []\n",
    );
    add_virtual_slice(
        &mut s,
        "metadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}\naddressType: IPv4\nendpoints: []\n",
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let slices: Vec<_> = pairs(&ctx)
        .into_iter()
        .filter(|p| p.kind == PairKind::EndpointSlice)
        .filter_map(|p| p.virtual_key)
        .collect();
    assert_eq!(slices, vec![ObjKey::new("default", "manual-abcde")]);
}

#[test]
fn synced_twin_has_an_empty_plan_and_a_synced_row() {
    let mut s = manual();
    add_host_slice(&mut s, stored(manual_host(), "h-uid", "20"));
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let p = plan(&ctx, &pair, None);
    assert!(p.changes.is_empty() && p.blocked.is_none(), "{p:#?}");
    let rows = vinspect::inspect::rows(&s, &cfg);
    let row = rows
        .iter()
        .find(|r| r.kind == PairKind::EndpointSlice)
        .expect("slice row");
    assert_eq!(row.status, Status::Synced);
    assert_eq!(row.name, "manual-abcde");
    assert_eq!(row.host.name, "manual-abcde-x-default-x-my-vcluster");
    assert_eq!(
        row.virtual_side.state.as_deref(),
        Some("1 ready, 1 not ready")
    );
    assert_eq!(row.host.ip.as_deref(), Some("10.244.1.7"));
    let j = serde_json::to_value(row).unwrap();
    assert_eq!(j["kind"], "endpointslice");
}

#[test]
fn drift_patches_endpoints_and_the_service_label_only() {
    let mut s = manual();
    let mut host = stored(manual_host(), "h-uid", "20");
    host["endpoints"][0]["addresses"] = json!(["10.244.9.9"]);
    // Someone "fixed" the label to the hashed service name; and the ports differ, which
    // vCluster never writes after creation.
    host["metadata"]["labels"]["kubernetes.io/service-name"] = json!("wrong");
    host["ports"] = json!([{"name": "http", "port": 8080, "protocol": "TCP"}]);
    add_host_slice(&mut s, host);
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let p = plan(&ctx, &pair, None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    assert_eq!(c.target.kind, ObjKind::EndpointSlice);
    assert_eq!(c.fields, vec!["endpoints", "metadata.labels"]);
    match &c.action {
        Action::Patch {
            patch,
            resource_version,
            subresource,
        } => {
            assert_eq!(resource_version.as_deref(), Some("20"));
            assert!(subresource.is_none());
            assert_eq!(
                patch["metadata"]["labels"],
                json!({"kubernetes.io/service-name": "manual-x-default-x-my-vcluster"})
            );
            assert_eq!(patch["endpoints"], manual_host()["endpoints"]);
            assert!(patch.get("ports").is_none(), "{patch}");
        }
        other => panic!("expected patch, got {other:?}"),
    }
}

#[test]
fn squatter_slice_is_never_written() {
    let mut s = manual();
    add_host_slice(
        &mut s,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "manual-abcde-x-default-x-my-vcluster", "namespace": HNS, "uid": "sq", "resourceVersion": "3",
                         "labels": {"kubernetes.io/service-name": "someone-else"}},
            "addressType": "IPv4", "endpoints": []
        }),
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let p = plan(&ctx, &pair, None);
    assert!(p.changes.is_empty());
    assert_eq!(
        p.blocked,
        Some(Blocked::Squatter {
            message: format!(
                "squatter: host endpointslice {HNS}/manual-abcde-x-default-x-my-vcluster exists and is not managed by vcluster {VC}"
            )
        })
    );
    assert_eq!(desired_host(&ctx, &pair), None);
}

#[test]
fn disabled_by_config() {
    let s = manual();
    let cfg =
        VClusterConfig::from_yaml("sync:\n  toHost:\n    endpointSlices:\n      enabled: false\n")
            .unwrap();
    assert!(!cfg.endpoint_slices_enabled() && cfg.endpoints_enabled());
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let p = plan(&ctx, &pair, None);
    assert!(p.changes.is_empty());
    assert_eq!(
        p.blocked,
        Some(Blocked::Disabled {
            message: "endpointslice sync is disabled (sync.toHost.endpointSlices.enabled: false)"
                .into()
        })
    );
    let rows = vinspect::inspect::rows(&s, &cfg);
    let row = rows
        .iter()
        .find(|r| r.kind == PairKind::EndpointSlice)
        .unwrap();
    assert_eq!(row.status, Status::Disabled);
    assert!(VClusterConfig::default().endpoint_slices_enabled());
}

#[test]
fn orphan_host_slice_is_deleted_with_its_uid() {
    let mut s = base();
    add_host_slice(&mut s, stored(manual_host(), "h-uid", "20"));
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pairs(&ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::EndpointSlice)
        .expect("orphan pair");
    assert_eq!(
        pair.virtual_key,
        Some(ObjKey::new("default", "manual-abcde"))
    );
    let p = plan(&ctx, &pair, None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    assert_eq!(c.target.name, "manual-abcde-x-default-x-my-vcluster");
    assert_eq!(
        c.action,
        Action::Delete {
            uid: Some("h-uid".into()),
            grace_period_seconds: None
        }
    );
}

#[test]
fn selector_added_deletes_the_managed_host_slice_once() {
    let mut s = manual();
    add_host_slice(&mut s, stored(manual_host(), "h-uid", "20"));
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: manual, namespace: default, uid: m-uid}
spec: {clusterIP: 10.96.3.3, selector: {app: worker}, ports: [{name: http, port: 80}]}
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").expect("clean-up pair");
    let p = plan(&ctx, &pair, None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    assert!(matches!(c.action, Action::Delete { .. }));
    assert!(c.reason.contains("selector"), "{}", c.reason);
    // Once it is gone there is no pair left to act on.
    s.host.endpoint_slices.clear();
    let ctx = Ctx::new(&s, &cfg);
    assert!(slice_pair(&ctx, "default", "manual-abcde").is_none());
}

#[test]
fn host_deleted_after_being_seen_deletes_the_virtual_slice() {
    let mut s = manual();
    add_host_slice(&mut s, stored(manual_host(), "h-uid", "20"));
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let mut mem = Memory::default();
    mem.observe(&ctx, &pair);
    s.host.endpoint_slices.clear();
    let ctx = Ctx::new(&s, &cfg);
    // vCluster's `SyncToHost` with a cached host object: the virtual slice goes too.
    let p = plan(&ctx, &pair, mem.get(&pair));
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    assert_eq!(c.target.name, "manual-abcde");
    assert!(matches!(c.action, Action::Delete { .. }));
    // Without memory (a restart) the twin is created again instead.
    let p = plan(&ctx, &pair, None);
    assert!(matches!(only_change(&p).action, Action::Create { .. }));
}

#[test]
fn converges_and_the_service_label_never_flows_back() {
    let mut s = manual();
    let cfg = VClusterConfig::default();
    let mut mem = Memory::default();
    converge(&mut s, &cfg, &mut mem, 5);
    let host = &s.host.endpoint_slices[&ObjKey::new(HNS, "manual-abcde-x-default-x-my-vcluster")];
    assert_eq!(
        host.metadata.labels.as_ref().unwrap()["kubernetes.io/service-name"],
        "manual-x-default-x-my-vcluster"
    );
    // A host-side label edit flows back (three-way rule), the service-name label does not.
    let mut edited = host.as_ref().clone();
    let labels = edited.metadata.labels.as_mut().unwrap();
    labels.insert("kubernetes.io/service-name".into(), "tampered".into());
    labels.insert("tier".into(), "backend".into());
    edited.metadata.resource_version = Some("999".into());
    put(&mut s.host.endpoint_slices, edited);
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "manual-abcde").unwrap();
    let p = plan(&ctx, &pair, mem.get(&pair));
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    match &c.action {
        Action::Patch { patch, .. } => assert_eq!(
            patch["metadata"]["labels"],
            json!({"kubernetes.io/service-name": "manual-x-default-x-my-vcluster"})
        ),
        other => panic!("expected patch, got {other:?}"),
    }
    let v = &s.virtual_side.endpoint_slices[&ObjKey::new("default", "manual-abcde")];
    assert_eq!(
        v.metadata.labels.as_ref().unwrap()["kubernetes.io/service-name"],
        "manual"
    );
}

#[test]
fn default_kubernetes_slice_mirrors_the_host_vcluster_endpoints() {
    let mut s = base();
    put(
        &mut s.host.endpoints,
        yaml::<k8s_openapi::api::core::v1::Endpoints>(&format!(
            r#"
metadata: {{name: {VC}, namespace: {HNS}, uid: vc-ep}}
subsets:
- addresses: [{{ip: 10.244.0.9, nodeName: node-1, targetRef: {{kind: Pod, name: {VC}-0, namespace: {HNS}}}}}]
  notReadyAddresses: [{{ip: 10.244.0.10}}]
  ports: [{{name: https, port: 8443, protocol: TCP}}, {{name: kubelet, port: 10250, protocol: TCP}}]
"#
        )),
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = slice_pair(&ctx, "default", "kubernetes").expect("kubernetes slice pair");
    assert_eq!(pair.host_key, Some(ObjKey::new(HNS, VC)));
    let p = plan(&ctx, &pair, None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    assert_eq!(c.target.kind, ObjKind::EndpointSlice);
    let want = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.0.9"], "conditions": {"ready": true}},
            {"addresses": ["10.244.0.10"], "conditions": {"ready": false}}
        ],
        "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}]
    });
    match &c.action {
        Action::Create { object } => assert_same(object, &want),
        other => panic!("expected create, got {other:?}"),
    }
    // Once written, it is in line; stale labels and endpoints are patched back.
    let mut current = want.clone();
    current["metadata"]["resourceVersion"] = json!("4");
    put(
        &mut s.virtual_side.endpoint_slices,
        serde_json::from_value(current.clone()).unwrap(),
    );
    let ctx = Ctx::new(&s, &cfg);
    assert!(plan(&ctx, &pair, None).changes.is_empty());
    current["metadata"]["labels"]["extra"] = json!("x");
    current["endpoints"] = json!([]);
    put(
        &mut s.virtual_side.endpoint_slices,
        serde_json::from_value(current).unwrap(),
    );
    let ctx = Ctx::new(&s, &cfg);
    let p = plan(&ctx, &pair, None);
    match &only_change(&p).action {
        Action::Patch { patch, .. } => {
            assert_eq!(patch["metadata"]["labels"], json!({"extra": null}));
            assert_eq!(patch["endpoints"], want["endpoints"]);
        }
        other => panic!("expected patch, got {other:?}"),
    }
}
