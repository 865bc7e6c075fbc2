//! The TUI's incremental rows equal a full `pair_rows` recompute, row for row and in order,
//! after random changes on either side (pods, services, endpoints, slices, ingresses, events,
//! namespaces, config, connection states), applied one batch at a time.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use k8s_openapi::api::core::v1::{Event, Namespace, ObjectReference, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use proptest::prelude::*;
use serde_json::json;
use vinspect::cluster::obj::Cold;
use vinspect::cluster::snapshot::{ConnState, Obj, ObjKey, ObjMap, Snapshot};
use vinspect::engine::PairKind;
use vinspect::engine::pair::Pair;
use vinspect::inspect::PairRow;
use vinspect::inspect::fixture::synthetic_world;
use vinspect::inspect::rows::pair_rows;
use vinspect::live::incremental::{IncrementalRows, UpdateKind};
use vinspect::vcluster::config::{ServiceMapping, VClusterConfig};
use vinspect::vcluster::naming;

fn world() -> &'static (Snapshot, VClusterConfig) {
    static W: OnceLock<(Snapshot, VClusterConfig)> = OnceLock::new();
    W.get_or_init(|| {
        let (mut snap, config) = synthetic_world(9, 3).unwrap();
        // One selector-less service with hand-written endpoints (synced endpoints pairs).
        snap.virtual_side
            .insert_json(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"namespace": "team-1", "name": "db", "uid": "u-db"},
                "spec": {"ports": [{"port": 5432}], "clusterIP": "10.96.9.9"}}))
            .unwrap();
        snap.virtual_side
            .insert_json(json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"namespace": "team-1", "name": "db"},
                "subsets": [{"addresses": [{"ip": "10.1.0.9"}], "ports": [{"port": 5432}]}]}))
            .unwrap();
        // Replicated services both ways (as the sandbox's vcluster.yaml has them).
        let mut config = config;
        let rs = &mut config.networking.replicate_services;
        rs.to_host.push(ServiceMapping {
            from: "team-0/app-0".into(),
            to: "web-from-vcluster".into(),
        });
        rs.from_host.push(ServiceMapping {
            from: "shared/postgres".into(),
            to: "team-2/postgres".into(),
        });
        snap.host
            .insert_json(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"namespace": "shared", "name": "postgres", "uid": "u-pg"},
                "spec": {"selector": {"app": "pg"}, "ports": [{"port": 5432}], "clusterIP": "10.96.50.5"}}))
            .unwrap();
        snap.host
            .insert_json(json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"namespace": "shared", "name": "postgres"},
                "subsets": [{"addresses": [{"ip": "10.4.0.5"}], "ports": [{"port": 5432}]}]}))
            .unwrap();
        (snap, config)
    })
}

/// One change. Indices pick an existing object modulo the count; `n` varies values.
#[derive(Debug, Clone)]
enum Op {
    VPodLabel(usize, u8),
    VPodReady(usize),
    VPodDelete(usize),
    VPodAdd(u8, u8),
    HPodLabel(usize, u8),
    HPodStatus(usize),
    HPodDelete(usize),
    HPodSquatter(usize),
    VSvcSelector(usize, u8),
    /// An annotation only (what churn writes): the pods' service-link env stays the same.
    VSvcNote(usize),
    /// Another port: the pods of the namespace get another service-link env.
    VSvcPort(usize, u8),
    VSvcIpOfHost(usize, usize),
    VSvcDelete(usize),
    VSvcAdd(u8, u8),
    HSvcSelector(usize, u8),
    HSvcIpOf(usize, usize),
    HSvcUnmanage(usize),
    HSvcDelete(usize),
    VEndpoints(u8),
    HEndpointsDelete(usize),
    SliceAdd(bool, u8),
    /// A host slice the host's controller made for a twin (`<twin>-ctl`), changing its
    /// endpoints; `true`: it also carries the vCluster's managed-by label.
    /// A host slice named after a twin but not a twin's name, controlled by the twin Service
    /// as the host's controller makes them (`.1` = 0 no vCluster label, 1 the twin's labels
    /// copied, as Kubernetes does), or (2) also claiming a virtual object by the `object-*`
    /// annotations, or (3) with the labels but no controlling owner.
    HSliceOfTwin(u8, u8),
    IngressAdd(bool, u8),
    Event(usize, bool),
    Namespace(u8),
    Config(u8),
    KubeDns(bool),
    Conn,
    BlockDeletion(u8),
    /// The host twin of virtual service `.0` gets the ClusterIP of virtual service `.1`.
    TwinTakesIp(usize, usize),
    /// Objects of the replicated services: the host source, a virtual target, the host target.
    Replica(u8),
    /// The watch caches swap every parsed object for a cooled copy (same content).
    Cool,
}

fn op() -> impl Strategy<Value = Op> {
    // Pods are many; services few, so that ops meet on the same ones (IP holders).
    let i = 0usize..64;
    let j = 0usize..8;
    let n = 0u8..8;
    prop_oneof![
        (i.clone(), n.clone()).prop_map(|(a, b)| Op::VPodLabel(a, b)),
        i.clone().prop_map(Op::VPodReady),
        i.clone().prop_map(Op::VPodDelete),
        (n.clone(), n.clone()).prop_map(|(a, b)| Op::VPodAdd(a, b)),
        (i.clone(), n.clone()).prop_map(|(a, b)| Op::HPodLabel(a, b)),
        i.clone().prop_map(Op::HPodStatus),
        i.clone().prop_map(Op::HPodDelete),
        i.clone().prop_map(Op::HPodSquatter),
        (j.clone(), n.clone()).prop_map(|(a, b)| Op::VSvcSelector(a, b)),
        j.clone().prop_map(Op::VSvcNote),
        (j.clone(), n.clone()).prop_map(|(a, b)| Op::VSvcPort(a, b)),
        (j.clone(), j.clone()).prop_map(|(a, b)| Op::VSvcIpOfHost(a, b)),
        j.clone().prop_map(Op::VSvcDelete),
        (n.clone(), n.clone()).prop_map(|(a, b)| Op::VSvcAdd(a, b)),
        (j.clone(), n.clone()).prop_map(|(a, b)| Op::HSvcSelector(a, b)),
        (j.clone(), j.clone()).prop_map(|(a, b)| Op::HSvcIpOf(a, b)),
        j.clone().prop_map(Op::HSvcUnmanage),
        j.clone().prop_map(Op::HSvcDelete),
        n.clone().prop_map(Op::VEndpoints),
        i.clone().prop_map(Op::HEndpointsDelete),
        (any::<bool>(), n.clone()).prop_map(|(a, b)| Op::SliceAdd(a, b)),
        (n.clone(), 0u8..4).prop_map(|(a, b)| Op::HSliceOfTwin(a, b)),
        (any::<bool>(), n.clone()).prop_map(|(a, b)| Op::IngressAdd(a, b)),
        (i.clone(), any::<bool>()).prop_map(|(a, b)| Op::Event(a, b)),
        (j.clone(), j.clone()).prop_map(|(a, b)| Op::TwinTakesIp(a, b)),
        n.clone().prop_map(Op::Namespace),
        n.clone().prop_map(Op::Config),
        any::<bool>().prop_map(Op::KubeDns),
        Just(Op::Conn),
        Just(Op::Cool),
        n.clone().prop_map(Op::Replica),
        n.prop_map(Op::BlockDeletion),
    ]
}

fn nth<V>(map: &ObjMap<V>, i: usize) -> Option<(ObjKey, Obj<V>)> {
    if map.is_empty() {
        return None;
    }
    map.iter()
        .nth(i % map.len())
        .map(|(k, v)| (k.clone(), v.clone()))
}

/// Replace the object at `i` by an edited copy (a new object, as a watch event would).
fn edit<V: Clone + Cold>(map: &mut ObjMap<V>, i: usize, f: impl FnOnce(&mut V)) {
    if let Some((k, v)) = nth(map, i) {
        let mut o = (*v).clone();
        f(&mut o);
        map.insert(k, Obj::new(o));
    }
}

fn remove<V>(map: &mut ObjMap<V>, i: usize) {
    if let Some((k, _)) = nth(map, i) {
        map.remove(&k);
    }
}

fn ns_of(n: u8) -> String {
    format!("team-{}", n % 4)
}

fn set_label(meta: &mut ObjectMeta, k: &str, v: &str) {
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(k.into(), v.into());
}

fn apply(snap: &mut Snapshot, config: &mut Arc<VClusterConfig>, op: &Op, seq: usize) {
    let vc = snap.vcluster.clone();
    let hns = snap.host_namespace.clone();
    let (v, h) = (&mut snap.virtual_side, &mut snap.host);
    match *op {
        Op::VPodLabel(i, n) => edit(&mut v.pods, i, |p: &mut Pod| {
            set_label(&mut p.metadata, "app", &format!("app-{n}"))
        }),
        Op::VPodReady(i) => edit(&mut v.pods, i, |p: &mut Pod| {
            let st = p.status.get_or_insert_with(Default::default);
            st.pod_ip = Some(format!("10.2.0.{}", seq % 250));
            st.conditions = Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "Ready".into(),
                status: if seq.is_multiple_of(2) {
                    "True"
                } else {
                    "False"
                }
                .into(),
                ..Default::default()
            }]);
        }),
        Op::VPodDelete(i) => remove(&mut v.pods, i),
        Op::VPodAdd(ns, app) => {
            v.insert_json(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": ns_of(ns), "name": format!("new-{seq}"),
                    "uid": format!("u-p-{seq}"), "labels": {"app": format!("app-{app}")}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
                .unwrap();
        }
        Op::HPodLabel(i, n) => edit(&mut h.pods, i, |p: &mut Pod| match n % 3 {
            0 => set_label(&mut p.metadata, "app", &format!("app-{n}")),
            1 => {
                p.metadata
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .remove(naming::LABEL_NAMESPACE);
            }
            _ => set_label(&mut p.metadata, "stale", "x"),
        }),
        Op::HPodStatus(i) => edit(&mut h.pods, i, |p: &mut Pod| {
            let st = p.status.get_or_insert_with(Default::default);
            st.pod_ip = Some(format!("10.3.0.{}", seq % 250));
            st.phase = Some(
                if seq.is_multiple_of(2) {
                    "Running"
                } else {
                    "Pending"
                }
                .into(),
            );
        }),
        Op::HPodDelete(i) => remove(&mut h.pods, i),
        Op::HPodSquatter(i) => {
            if let Some((k, _)) = nth(&v.pods, i) {
                let name = naming::host_name(&k.name, &k.namespace, &vc);
                h.pods.remove(&ObjKey::new(&hns, &name));
                h.insert_json(json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"namespace": hns, "name": name, "labels": {"app": "squat"}},
                    "spec": {"containers": [{"name": "c", "image": "x"}]}}))
                    .unwrap();
            }
        }
        Op::VSvcSelector(i, n) => edit(&mut v.services, i, |s: &mut Service| {
            if let Some(spec) = s.spec.as_mut() {
                spec.selector = Some([("app".to_string(), format!("app-{n}"))].into());
            }
        }),
        Op::VSvcNote(i) => edit(&mut v.services, i, |s: &mut Service| {
            s.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert("note".into(), seq.to_string());
        }),
        Op::VSvcPort(i, n) => edit(&mut v.services, i, |s: &mut Service| {
            if let Some(spec) = s.spec.as_mut() {
                spec.ports = Some(vec![k8s_openapi::api::core::v1::ServicePort {
                    name: Some(format!("p{n}")),
                    port: 8000 + i32::from(n),
                    ..Default::default()
                }]);
            }
        }),
        Op::VSvcIpOfHost(i, j) => {
            let ip = nth(&h.services, j).and_then(|(_, s)| s.spec.clone()?.cluster_ip);
            edit(&mut v.services, i, |s: &mut Service| {
                if let Some(spec) = s.spec.as_mut() {
                    spec.cluster_ip = ip;
                }
            });
        }
        Op::VSvcDelete(i) => remove(&mut v.services, i),
        Op::VSvcAdd(ns, n) => {
            let sel = if n % 2 == 0 {
                json!({"app": format!("app-{n}")})
            } else {
                serde_json::Value::Null
            };
            v.insert_json(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"namespace": ns_of(ns), "name": format!("svc-{seq}"), "uid": format!("u-s-{seq}")},
                "spec": {"selector": sel, "ports": [{"port": 80}], "clusterIP": format!("10.97.0.{}", n)}}))
                .unwrap();
        }
        Op::HSvcSelector(i, n) => edit(&mut h.services, i, |s: &mut Service| {
            if let Some(spec) = s.spec.as_mut() {
                if n % 3 == 0 {
                    // Stale, without the namespace label: reaches pods of other namespaces.
                    spec.selector = Some([("app".to_string(), format!("app-{n}"))].into());
                    return;
                }
                let sel = spec.selector.get_or_insert_with(BTreeMap::new);
                sel.insert("app".into(), format!("app-{n}"));
                if n % 2 == 0 {
                    sel.insert("stale".into(), "x".into());
                }
            }
        }),
        Op::HSvcIpOf(i, j) => {
            let ip = nth(&v.services, j).and_then(|(_, s)| s.spec.clone()?.cluster_ip);
            edit(&mut h.services, i, |s: &mut Service| {
                if let Some(spec) = s.spec.as_mut() {
                    spec.cluster_ip = ip;
                }
            });
        }
        Op::TwinTakesIp(i, j) => {
            let ip = nth(&v.services, j).and_then(|(_, s)| s.spec.clone()?.cluster_ip);
            if let Some((k, _)) = nth(&v.services, i) {
                let twin = ObjKey::new(&hns, naming::service_host_name(&k.name, &k.namespace, &vc));
                if let Some(t) = h.services.get(&twin) {
                    let mut t = (**t).clone();
                    if let Some(spec) = t.spec.as_mut() {
                        spec.cluster_ip = ip;
                    }
                    h.services.insert(twin, Obj::new(t));
                }
            }
        }
        Op::HSvcUnmanage(i) => edit(&mut h.services, i, |s: &mut Service| {
            if let Some(l) = s.metadata.labels.as_mut() {
                l.remove(naming::LABEL_MANAGED_BY);
            }
        }),
        Op::HSvcDelete(i) => remove(&mut h.services, i),
        Op::VEndpoints(n) => {
            v.insert_json(json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"namespace": "team-1", "name": "db"},
                "subsets": [{"addresses": [{"ip": format!("10.1.0.{n}")}], "ports": [{"port": 5432}]}]}))
                .unwrap();
        }
        Op::HEndpointsDelete(i) => remove(&mut h.endpoints, i),
        Op::SliceAdd(host, n) => {
            let (side, ns, name) = if host {
                (
                    h,
                    hns.clone(),
                    naming::host_name(&format!("app-{n}-abc"), &ns_of(n), &vc),
                )
            } else {
                (v, ns_of(n), format!("app-{n}-abc"))
            };
            side.insert_json(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"namespace": ns, "name": name,
                    "labels": {"kubernetes.io/service-name": format!("app-{n}")}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [format!("10.1.1.{seq}")]}]}),
            )
            .unwrap();
        }
        Op::HSliceOfTwin(n, mode) => {
            let twin = naming::service_host_name(&format!("app-{n}"), &ns_of(n), &vc);
            let mut labels = json!({"kubernetes.io/service-name": twin});
            let mut annotations = json!({});
            if mode >= 1 {
                labels[naming::LABEL_MANAGED_BY] = json!(vc);
            }
            let owners = if mode == 3 {
                json!([])
            } else {
                json!([{"apiVersion": "v1", "kind": "Service", "name": twin, "uid": "u",
                        "controller": true}])
            };
            if mode == 2 {
                annotations[naming::ANNOTATION_OBJECT_NAME] = json!(format!("app-{n}"));
                annotations[naming::ANNOTATION_OBJECT_NAMESPACE] = json!(ns_of(n));
            }
            h.insert_json(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"namespace": hns, "name": format!("{twin}-ctl"), "labels": labels,
                             "annotations": annotations, "ownerReferences": owners},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [format!("10.1.2.{}", seq % 250)]}]}),
            )
            .unwrap();
        }
        Op::IngressAdd(host, n) => {
            let (side, ns, name) = if host {
                (
                    h,
                    hns.clone(),
                    naming::host_name(&format!("ing-{n}"), &ns_of(n), &vc),
                )
            } else {
                (v, ns_of(n), format!("ing-{n}"))
            };
            side.insert_json(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"namespace": ns, "name": name},
                "spec": {"rules": [{"host": format!("h{seq}.example.com")}]}}),
            )
            .unwrap();
        }
        Op::Event(i, on_pod) => {
            let target = if on_pod {
                nth(&v.pods, i).map(|(k, _)| (k, "Pod"))
            } else {
                nth(&v.services, i).map(|(k, _)| (k, "Service"))
            };
            if let Some((k, kind)) = target {
                let ev = Event {
                    metadata: ObjectMeta {
                        namespace: Some(k.namespace.clone()),
                        name: Some(format!("ev-{seq}")),
                        ..Default::default()
                    },
                    involved_object: ObjectReference {
                        kind: Some(kind.into()),
                        namespace: Some(k.namespace.clone()),
                        name: Some(k.name.clone()),
                        ..Default::default()
                    },
                    reason: Some("SyncError".into()),
                    message: Some(format!("refused {seq}")),
                    count: Some(1),
                    ..Default::default()
                };
                v.events
                    .insert(ObjKey::new(k.namespace, format!("ev-{seq}")), Obj::new(ev));
            }
        }
        Op::Namespace(n) => {
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(ns_of(n)),
                    labels: Some([("team".to_string(), format!("{seq}"))].into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            v.namespaces.insert(ObjKey::new("", ns_of(n)), Obj::new(ns));
        }
        Op::Config(n) => {
            let mut c = (**config).clone();
            if n % 4 == 3 {
                c.networking.replicate_services.to_host.clear();
            } else {
                c.networking.advanced.cluster_domain = if n % 2 == 0 {
                    "cluster.local".into()
                } else {
                    "corp.local".into()
                };
            }
            *config = Arc::new(c);
        }
        Op::Replica(n) => {
            let controlled = json!({naming::LABEL_CONTROLLED_BY: naming::CONTROLLED_BY_VCLUSTER});
            match n % 4 {
                0 => {
                    let key = ObjKey::new("shared", "postgres");
                    if let Some(s) = h.services.get(&key) {
                        let mut s = (**s).clone();
                        if let Some(spec) = s.spec.as_mut() {
                            spec.cluster_ip = Some(format!("10.96.50.{}", seq % 200));
                        }
                        h.services.insert(key, Obj::new(s));
                    }
                }
                1 => {
                    h.services.remove(&ObjKey::new("shared", "postgres"));
                }
                2 => {
                    v.insert_json(json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"namespace": if seq.is_multiple_of(2) { "team-2" } else { "team-1" },
                            "name": "postgres", "labels": controlled},
                        "spec": {"ports": [{"port": 5432}], "clusterIP": "None"}}))
                        .unwrap();
                }
                _ => {
                    h.insert_json(json!({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"namespace": hns, "name": "web-from-vcluster",
                            "labels": controlled, "annotations": {"seq": seq.to_string()}},
                        "spec": {"selector": {"app": "app-0"}, "ports": [{"port": 80}]}}))
                        .unwrap();
                }
            }
        }
        Op::KubeDns(delete) => {
            let key = ObjKey::new(&hns, naming::kube_dns_host_name(&vc));
            if delete {
                h.services.remove(&key);
            } else {
                edit(&mut h.services, 0, |_s: &mut Service| {});
            }
        }
        Op::Cool => {
            v.cool();
            h.cool();
        }
        Op::Conn => {
            h.conn = if matches!(h.conn, ConnState::Live) {
                ConnState::Error {
                    message: "down".into(),
                }
            } else {
                ConnState::Live
            };
        }
        Op::BlockDeletion(n) => {
            // A young host service made through the vCluster API: Waiting, by the clock.
            let name = format!("late-{n}");
            let ns = ns_of(n);
            let host_name = naming::host_name(&name, &ns, &vc);
            let mut svc = Service {
                metadata: ObjectMeta {
                    namespace: Some(hns.clone()),
                    name: Some(host_name.clone()),
                    // Whole seconds, as an API server writes it (and as JSON keeps it).
                    creation_timestamp: Some(Time(now_seconds())),
                    labels: Some([(naming::LABEL_MANAGED_BY.to_string(), vc.clone())].into()),
                    annotations: Some(
                        [
                            (naming::ANNOTATION_OBJECT_NAME.to_string(), name),
                            (naming::ANNOTATION_OBJECT_NAMESPACE.to_string(), ns),
                            (
                                naming::ANNOTATION_BLOCK_DELETION.to_string(),
                                "true".to_string(),
                            ),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                },
                ..Default::default()
            };
            svc.spec = Some(Default::default());
            h.services
                .insert(ObjKey::new(hns, host_name), Obj::new(svc));
        }
    }
}

fn now_seconds() -> k8s_openapi::jiff::Timestamp {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

fn assert_same(snap: &Snapshot, config: &VClusterConfig, inc: &IncrementalRows, step: usize) {
    let full = pair_rows(snap, config);
    let got = inc.rows();
    for (i, ((pa, ra), b)) in got.iter().zip(full.iter()).enumerate() {
        assert_eq!(
            (pa, &**ra),
            (&b.0, &b.1),
            "step {step}: row {i} differs ({:?}); last update {:?}",
            b.0,
            inc.last()
        );
    }
    assert_eq!(
        got.len(),
        full.len(),
        "step {step}: row count; last update {:?}",
        inc.last()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn incremental_rows_equal_a_full_recompute(
        steps in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..7)
    ) {
        let (snap0, config0) = world();
        let mut snap = snap0.clone();
        let mut config = Arc::new(config0.clone());
        let mut inc = IncrementalRows::new();
        inc.update(Arc::new(snap.clone()), config.clone());
        assert!(matches!(inc.last(), UpdateKind::Full(_)));
        assert_same(&snap, &config, &inc, 0);
        let mut seq = 0;
        for (step, batch) in steps.iter().enumerate() {
            for op in batch {
                seq += 1;
                apply(&mut snap, &mut config, op, seq);
            }
            snap.version += 1;
            let pairs_before: Vec<Pair> = inc.rows().iter().map(|(p, _)| p.clone()).collect();
            inc.update(Arc::new(snap.clone()), config.clone());
            assert_same(&snap, &config, &inc, step + 1);
            if inc.same_pairs() {
                let pairs: Vec<Pair> = inc.rows().iter().map(|(p, _)| p.clone()).collect();
                assert_eq!(pairs, pairs_before, "step {}: same_pairs but the pairs moved", step + 1);
            }
            if std::env::var_os("INCR_STATS").is_some() {
                eprintln!("STAT {:?}", inc.last());
            }
        }
    }
}

/// Cooling changes no content: the update after it recomputes nothing and keeps every row;
/// and a partial update parses only what the changed namespace's rows read.
#[test]
fn cooling_recomputes_nothing_and_updates_parse_only_their_namespaces() {
    let (snap0, config0) = world();
    let config = Arc::new(config0.clone());
    let mut inc = IncrementalRows::new();
    inc.update(Arc::new(snap0.clone()), config.clone());
    let before: Vec<Arc<PairRow>> = inc.rows().iter().map(|(_, r)| r.clone()).collect();

    let mut cooled = snap0.clone();
    assert!(cooled.virtual_side.cool() + cooled.host.cool() > 0);
    cooled.version += 1;
    inc.update(Arc::new(cooled.clone()), config.clone());
    assert_eq!(
        inc.last(),
        UpdateKind::Partial {
            namespaces: 0,
            rows: 0,
            kept: 0
        }
    );
    assert!(
        inc.rows()
            .iter()
            .zip(&before)
            .all(|((_, a), b)| Arc::ptr_eq(a, b))
    );

    // One virtual pod changes: its namespace is recomputed from the cooled snapshot.
    let (k, _) = nth(&cooled.virtual_side.pods, 3).unwrap();
    let mut changed = cooled.clone();
    edit(&mut changed.virtual_side.pods, 3, |p: &mut Pod| {
        p.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("x".into(), "y".into());
    });
    changed.version += 1;
    inc.update(Arc::new(changed.clone()), config.clone());
    assert!(matches!(
        inc.last(),
        UpdateKind::Partial { namespaces: 1, .. }
    ));
    // Checked before `assert_same`, whose full recompute reads every object.
    let v = &changed.virtual_side;
    let parsed: Vec<&ObjKey> = v
        .pods
        .iter()
        .filter(|(_, o)| o.is_warm())
        .map(|(k, _)| k)
        .chain(
            v.services
                .iter()
                .filter(|(_, o)| o.is_warm())
                .map(|(k, _)| k),
        )
        .collect();
    assert!(
        parsed.len() > 1,
        "the namespace's rows read its objects: {parsed:?}"
    );
    // Besides the namespace, only what every row computation reads: the DNS service (its
    // ClusterIP is the pods' nameserver).
    let kube_dns = ObjKey::new("kube-system", "kube-dns");
    assert!(
        parsed
            .iter()
            .all(|p| p.namespace == k.namespace || **p == kube_dns),
        "objects of other namespaces were parsed: {parsed:?}"
    );
    assert_same(&changed, &config, &inc, 1);
}

/// A change in one namespace recomputes that namespace only; no change recomputes nothing.
#[test]
fn one_pod_change_recomputes_one_namespace() {
    let (snap0, config0) = world();
    let config = Arc::new(config0.clone());
    let mut inc = IncrementalRows::new();
    inc.update(Arc::new(snap0.clone()), config.clone());
    inc.update(Arc::new(snap0.clone()), config.clone());
    assert_eq!(
        inc.last(),
        UpdateKind::Partial {
            namespaces: 0,
            rows: 0,
            kept: 0
        }
    );
    let mut snap = snap0.clone();
    let mut cfg = config.clone();
    apply(&mut snap, &mut cfg, &Op::HPodStatus(0), 1);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert!(
        matches!(inc.last(), UpdateKind::Partial { namespaces: 1, .. }),
        "{:?}",
        inc.last()
    );
    assert_same(&snap, &config, &inc, 1);
}

/// A changed host pod re-plans its own row; the other pod rows of its namespace are kept (the
/// very same rows), and a port change of a service there (the pods' service-link env)
/// re-plans all of them.
#[test]
fn pod_rows_are_kept_unless_their_inputs_changed() {
    let (snap0, config0) = world();
    let config = Arc::new(config0.clone());
    let mut cfg = config.clone();
    let mut snap = snap0.clone();
    let mut inc = IncrementalRows::new();
    inc.update(Arc::new(snap.clone()), config.clone());
    let before: BTreeMap<Pair, Arc<PairRow>> = inc.rows().iter().cloned().collect();
    let (host_pod, _) = nth(&snap.host.pods, 0).unwrap();
    let (pair, _) = inc
        .rows()
        .iter()
        .find(|(p, _)| p.host_key.as_ref() == Some(&host_pod))
        .cloned()
        .unwrap();
    let ns = pair.virtual_key.clone().unwrap().namespace;
    let pods_in_ns = |inc: &IncrementalRows| -> Vec<(Pair, Arc<PairRow>)> {
        inc.rows()
            .iter()
            .filter(|(p, _)| {
                p.kind == PairKind::Pod && p.virtual_key.as_ref().is_some_and(|k| k.namespace == ns)
            })
            .cloned()
            .collect()
    };
    assert!(
        pods_in_ns(&inc).len() > 2,
        "the world has several pods in {ns}"
    );

    apply(&mut snap, &mut cfg, &Op::HPodStatus(0), 1);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 1);
    let UpdateKind::Partial { rows, kept, .. } = inc.last() else {
        panic!("expected a partial update, got {:?}", inc.last());
    };
    let pods = pods_in_ns(&inc);
    assert_eq!(kept, pods.len() - 1, "{rows} rows");
    for (p, r) in &pods {
        let same = Arc::ptr_eq(r, &before[p]);
        assert_eq!(same, *p != pair, "{p:?}: kept {same}");
    }

    let svc = snap
        .virtual_side
        .services
        .keys()
        .position(|k| k.namespace == ns)
        .unwrap();
    let before: BTreeMap<Pair, Arc<PairRow>> = inc.rows().iter().cloned().collect();
    apply(&mut snap, &mut cfg, &Op::VSvcPort(svc, 3), 2);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 2);
    assert!(
        matches!(inc.last(), UpdateKind::Partial { kept: 0, .. }),
        "{:?}",
        inc.last()
    );
    for (p, r) in pods_in_ns(&inc) {
        assert!(!Arc::ptr_eq(&r, &before[&p]), "{p:?} was kept");
    }
}

/// The namespace of a young block-deletion object is recomputed once its window has passed.
#[test]
fn a_block_deletion_window_sets_a_deadline() {
    let (snap0, config0) = world();
    let mut snap = snap0.clone();
    let mut config = Arc::new(config0.clone());
    let mut inc = IncrementalRows::new();
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_eq!(inc.next_deadline(), None);
    apply(&mut snap, &mut config, &Op::BlockDeletion(1), 1);
    inc.update(Arc::new(snap.clone()), config.clone());
    let deadline = inc.next_deadline().expect("a deadline");
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    assert!(
        deadline > now && deadline <= now + 121,
        "{deadline} vs {now}"
    );
    inc.update_at(Arc::new(snap.clone()), config.clone(), deadline);
    assert!(
        matches!(inc.last(), UpdateKind::Partial { namespaces: 1, .. }),
        "{:?}",
        inc.last()
    );
    assert_eq!(inc.next_deadline(), None);
}

/// Index of the virtual service `ns/name` in the world's service map.
fn service_index(snap: &Snapshot, ns: &str, name: &str) -> usize {
    snap.virtual_side
        .services
        .keys()
        .position(|k| k.namespace == ns && k.name == name)
        .unwrap()
}

/// A host twin carrying the ClusterIP another namespace's virtual service holds: that
/// service's changes reach the first namespace's row (the plan names the holder).
#[test]
fn an_ip_holder_in_another_namespace_is_tracked() {
    let (snap0, config0) = world();
    let config = Arc::new(config0.clone());
    let mut cfg = config.clone();
    let mut snap = snap0.clone();
    let a = service_index(&snap, "team-0", "app-0");
    let b = service_index(&snap, "team-1", "app-1");
    let mut inc = IncrementalRows::new();
    apply(&mut snap, &mut cfg, &Op::TwinTakesIp(b, a), 1);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 1);
    let before: Vec<_> = inc.rows().to_vec();
    apply(&mut snap, &mut cfg, &Op::VSvcDelete(a), 2);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 2);
    let row_b = |rows: &[(Pair, Arc<PairRow>)]| {
        rows.iter()
            .find(|(_, r)| {
                r.namespace == "team-1" && r.name == "app-1" && r.kind == PairKind::Service
            })
            .map(|(_, r)| r.reason.clone())
            .unwrap()
    };
    assert_ne!(
        row_b(&before),
        row_b(inc.rows()),
        "the holder's delete shows in team-1"
    );
}

/// A host Service whose stale selector lost its namespace label counts host pods of other
/// namespaces: a pod there changing labels changes its row.
#[test]
fn a_stale_host_selector_reaches_other_namespaces() {
    let (snap0, config0) = world();
    let config = Arc::new(config0.clone());
    let mut cfg = config.clone();
    let mut snap = snap0.clone();
    let vc = snap.vcluster.clone();
    let hns = snap.host_namespace.clone();
    let twin = ObjKey::new(&hns, naming::service_host_name("app-1", "team-1", &vc));
    let t = snap.host.services.keys().position(|k| *k == twin).unwrap();
    // Stale selector app=app-3 (no namespace label): selects team-0's app-3 host pods.
    apply(&mut snap, &mut cfg, &Op::HSvcSelector(t, 3), 1);
    let mut inc = IncrementalRows::new();
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 1);
    let pod = ObjKey::new(&hns, naming::host_name("app-3-0", "team-0", &vc));
    let p = snap.host.pods.keys().position(|k| *k == pod).unwrap();
    let host_of_b = |rows: &[(Pair, Arc<PairRow>)]| {
        rows.iter()
            .find(|(_, r)| {
                r.namespace == "team-1" && r.name == "app-1" && r.kind == PairKind::Service
            })
            .map(|(_, r)| r.host.selected_pods)
            .unwrap()
    };
    let before = host_of_b(inc.rows());
    apply(&mut snap, &mut cfg, &Op::HPodLabel(p, 6), 2);
    inc.update(Arc::new(snap.clone()), config.clone());
    assert_same(&snap, &config, &inc, 2);
    assert_ne!(
        before,
        host_of_b(inc.rows()),
        "team-0's pod left team-1's host selector"
    );
}
