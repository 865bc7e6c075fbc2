//! Safety properties of the engine over random two-sided worlds (issue #9, item 2).
//!
//! A world is built from a list of generated object specs: services (every type, headless,
//! selector or not), their endpoints and endpoint slices, pods, ingresses, replicated services
//! in both directions, and on the host side twins in every state the engine can meet —
//! synced, drifted, deleted, orphaned, squatted, forged to name another vCluster, controlled by
//! replication, of an older virtual UID, in another namespace. Memory is a random part of
//! what the engine saw before a round of random events (twins deleted, objects deleted, labels
//! edited on either side).
//!
//! The generator keeps its own ground truth (which host objects are foreign, which twins were
//! seen and then deleted), so the checks never ask the engine's own ownership code.
//!
//! Properties, each over `SAFETY_CASES` cases (default 10,000):
//! (a) no write to a host object this vCluster does not manage;
//! (b) no virtual deletion unless its twin was seen and then deleted (plus the two deletions
//!     vCluster itself makes: a pod bound to another node, and a replicated service whose
//!     source is gone);
//! (c) plan → apply → plan (memory updated like the controller) is empty;
//! (d) full sync rounds reach a fixpoint within 3 rounds (4 when a ClusterIP has to pass from
//!     one virtual service to another).

mod engine_support;
use engine_support::sim::Sim;
use engine_support::{HNS, VC, base, put};
use k8s_openapi::api::core::v1::{
    Container, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, PodSpec, PodStatus,
    Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use vinspect::cluster::snapshot::{ObjKey, Snapshot};
use vinspect::engine::translate::{endpoint_slice, endpoints, ingress, pod, service};
use vinspect::engine::{Action, Ctx, Memory, ObjKind, Pair, PairKind, Plan, SideName, pairs, plan};
use vinspect::vcluster::config::{ServiceMapping, VClusterConfig};
use vinspect::vcluster::naming;

/// Cases per property; `SAFETY_CASES=100000` for a longer run.
fn cases() -> u32 {
    std::env::var("SAFETY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

static BASE: LazyLock<Snapshot> = LazyLock::new(base);

const NAMES: [&str; 4] = [
    "web",
    "db",
    "api",
    // Long enough that the twin name is hashed.
    "a-very-long-service-name-that-will-not-fit-into-the-host-name-limit",
];
const NAMESPACES: [&str; 2] = ["default", "shop"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Service,
    Pod,
    Ingress,
}

/// What sits at (or near) the twin's place on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Absent,
    Synced,
    /// Synced, then edited on the host (labels, selector, session affinity, images…).
    Drifted,
    /// A host object at the twin's name with no vCluster markings.
    Squatter,
    /// The right annotations, but `managed-by` names another vCluster.
    OtherVCluster,
    /// `managed-by` is ours, but `object-name` names an object that does not translate here.
    ForgedName,
    /// Ours in every way but `object-host-namespace` names another namespace.
    ForgedHostNamespace,
    /// Carries `controlled-by` (replication's objects are not the regular syncers').
    Controlled,
    /// Our twin, but recorded for an older virtual object (uid differs).
    OldUid,
    /// Our twin, marked `skip-backsync`.
    SkipBacksync,
    /// A perfect twin, but in another host namespace.
    OtherNamespace,
}

impl Host {
    fn is_ours(self) -> bool {
        matches!(
            self,
            Host::Synced | Host::Drifted | Host::OldUid | Host::SkipBacksync
        )
    }
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    name: usize,
    ns: usize,
    /// Service: 0 ClusterIP, 1 NodePort, 2 LoadBalancer, 3 ExternalName, 4 headless.
    variant: u8,
    selector: bool,
    labels: u8,
    virtual_present: bool,
    host: Host,
    /// Memory of this pair (taken before the events below), when true.
    remembered: bool,
    /// Events after the memory was taken.
    host_deleted: bool,
    virtual_deleted: bool,
    host_label_edit: bool,
    virtual_label_edit: bool,
    /// Pods: the host twin runs on another node than the virtual pod is bound to.
    node_conflict: bool,
    /// Services: the host twin's ClusterIP is the one virtual service `j` holds (IP swaps,
    /// overlapping service CIDRs).
    steal: Option<usize>,
}

#[derive(Debug, Clone)]
struct Replication {
    from_host: Vec<(usize, bool, u8)>,
    to_host: Vec<(usize, u8)>,
}

#[derive(Debug, Clone)]
struct WorldSpec {
    specs: Vec<Spec>,
    ingresses_enabled: bool,
    repl: Replication,
}

fn host_state() -> impl Strategy<Value = Host> {
    prop_oneof![
        3 => Just(Host::Absent),
        4 => Just(Host::Synced),
        2 => Just(Host::Drifted),
        1 => Just(Host::Squatter),
        1 => Just(Host::OtherVCluster),
        1 => Just(Host::ForgedName),
        1 => Just(Host::ForgedHostNamespace),
        1 => Just(Host::Controlled),
        1 => Just(Host::OldUid),
        1 => Just(Host::SkipBacksync),
        1 => Just(Host::OtherNamespace),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop_oneof![3 => Just(Kind::Service), 2 => Just(Kind::Pod), 1 => Just(Kind::Ingress)],
        0..NAMES.len(),
        0..NAMESPACES.len(),
        0u8..5,
        any::<bool>(),
        0u8..4,
        prop::bool::weighted(0.85),
        host_state(),
        any::<bool>(),
        (
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.1),
            prop::option::weighted(0.15, 0usize..6),
        ),
    )
        .prop_map(
            |(kind, name, ns, variant, selector, labels, vp, host, remembered, ev)| Spec {
                kind,
                name,
                ns,
                variant,
                selector,
                labels,
                virtual_present: vp,
                host,
                remembered,
                host_deleted: ev.0,
                virtual_deleted: ev.1,
                host_label_edit: ev.2,
                virtual_label_edit: ev.3,
                node_conflict: ev.4,
                steal: ev.5,
            },
        )
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    (
        prop::collection::vec(spec(), 1..7),
        any::<bool>(),
        prop::collection::vec((0usize..3, any::<bool>(), 0u8..3), 0..3),
        prop::collection::vec((0usize..3, 0u8..3), 0..3),
    )
        .prop_map(|(specs, ing, fh, th)| WorldSpec {
            specs,
            ingresses_enabled: ing,
            repl: Replication {
                from_host: fh,
                to_host: th,
            },
        })
}

/// What the generator knows that the engine must not get wrong.
#[derive(Debug, Default)]
struct Truth {
    /// Host objects this vCluster does not manage (kind, key, uid): never written.
    foreign: BTreeSet<(ObjKind, ObjKey, String)>,
    /// Virtual objects whose managed twin was remembered and then deleted.
    twin_deleted: BTreeSet<(ObjKind, ObjKey)>,
    /// Virtual pods bound to a node other than their twin's.
    node_conflict: BTreeSet<ObjKey>,
}

struct World {
    before: Snapshot,
    now: Snapshot,
    cfg: VClusterConfig,
    /// Pairs (of `before`) to remember.
    remember: Vec<(ObjKind, ObjKey)>,
    truth: Truth,
}

fn meta(ns: &str, name: &str, uid: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        uid: Some(uid),
        resource_version: Some("1".into()),
        ..ObjectMeta::default()
    }
}

fn labels(variant: u8, i: usize) -> Option<BTreeMap<String, String>> {
    let mut l = BTreeMap::new();
    match variant {
        0 => return None,
        1 => {
            l.insert("app".into(), format!("a{i}"));
        }
        2 => {
            l.insert("app".into(), format!("a{i}"));
            l.insert("tier".into(), "t1".into());
            l.insert("release".into(), "r".into());
        }
        _ => {
            // Reserved keys a user may set: they are hashed on the host.
            l.insert("app".into(), format!("a{i}"));
            l.insert(naming::LABEL_NAMESPACE.into(), "x".into());
        }
    }
    Some(l)
}

fn virtual_service(s: &Spec, i: usize, ns: &str, name: &str) -> Service {
    let mut m = meta(ns, name, format!("v-svc-{i}"));
    m.labels = labels(s.labels, i);
    if s.labels == 2 {
        m.annotations = Some([("note".to_string(), "x".repeat(64))].into());
    }
    let (ty, ip) = match s.variant {
        0 => ("ClusterIP", Some(format!("10.0.0.{}", i + 1))),
        1 => ("NodePort", Some(format!("10.0.0.{}", i + 1))),
        2 => ("LoadBalancer", Some(format!("10.0.0.{}", i + 1))),
        3 => ("ExternalName", None),
        _ => ("ClusterIP", Some("None".to_string())),
    };
    let ports = (ty != "ExternalName").then(|| {
        vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            protocol: Some("TCP".into()),
            node_port: (ty == "NodePort" || ty == "LoadBalancer").then_some(30080 + i as i32),
            ..ServicePort::default()
        }]
    });
    Service {
        metadata: m,
        spec: Some(ServiceSpec {
            type_: Some(ty.into()),
            cluster_ip: ip.clone(),
            cluster_ips: ip.filter(|ip| ip != "None").map(|ip| vec![ip]),
            external_name: (ty == "ExternalName").then(|| "example.com".into()),
            selector: s
                .selector
                .then(|| [("app".to_string(), format!("a{i}"))].into()),
            ports,
            session_affinity: Some("None".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn virtual_pod(s: &Spec, i: usize, ns: &str, name: &str) -> Pod {
    let mut m = meta(ns, name, format!("v-pod-{i}"));
    m.labels = labels(s.labels, i);
    Pod {
        metadata: m,
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("img:1".into()),
                ..Container::default()
            }],
            node_name: s.node_conflict.then(|| "node-a".into()),
            ..PodSpec::default()
        }),
        status: None,
    }
}

fn virtual_ingress(s: &Spec, i: usize, ns: &str, name: &str) -> Ingress {
    let mut m = meta(ns, name, format!("v-ing-{i}"));
    m.labels = labels(s.labels, i);
    Ingress {
        metadata: m,
        spec: Some(IngressSpec {
            ingress_class_name: Some("nginx".into()),
            rules: Some(vec![IngressRule {
                host: Some(format!("h{i}.example.com")),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: NAMES[0].into(),
                                port: Some(ServiceBackendPort {
                                    number: Some(80),
                                    name: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        status: None,
    }
}

fn virtual_endpoints(i: usize, ns: &str, name: &str) -> Endpoints {
    Endpoints {
        metadata: meta(ns, name, format!("v-ep-{i}")),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: format!("192.168.0.{}", i + 1),
                ..EndpointAddress::default()
            }]),
            not_ready_addresses: None,
            ports: Some(vec![EndpointPort {
                name: Some("http".into()),
                port: 8080,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        }]),
    }
}

/// The slice the virtual cluster's mirroring controller makes of a selector-less service's
/// Endpoints: named after the service plus a suffix, so its twin's name is not the service's.
fn slice_name(name: &str) -> String {
    format!("{name}-abcde")
}

fn virtual_slice(i: usize, ns: &str, name: &str) -> EndpointSlice {
    let mut metadata = meta(ns, &slice_name(name), format!("v-eps-{i}"));
    metadata.labels = Some(
        [(
            endpoint_slice::SERVICE_NAME_LABEL.to_string(),
            name.to_string(),
        )]
        .into(),
    );
    EndpointSlice {
        metadata,
        address_type: "IPv4".into(),
        endpoints: vec![SliceEndpoint {
            addresses: vec![format!("192.168.0.{}", i + 1)],
            ..SliceEndpoint::default()
        }],
        ports: None,
    }
}

/// Turn a proper twin's metadata into the host state's version of it.
fn shape_host(m: &mut ObjectMeta, state: Host, i: usize, vc_name: &str) {
    let ann = m.annotations.get_or_insert_with(BTreeMap::new);
    let lab = m.labels.get_or_insert_with(BTreeMap::new);
    match state {
        Host::Squatter => {
            m.labels = Some([("app".to_string(), "squatter".to_string())].into());
            m.annotations = None;
            m.owner_references = None;
        }
        Host::OtherVCluster => {
            lab.insert(naming::LABEL_MANAGED_BY.into(), "other-vc".into());
        }
        Host::ForgedName => {
            ann.insert(
                naming::ANNOTATION_OBJECT_NAME.into(),
                format!("{vc_name}-forged"),
            );
        }
        Host::ForgedHostNamespace => {
            ann.insert(
                naming::ANNOTATION_OBJECT_HOST_NAMESPACE.into(),
                "someone-else".into(),
            );
        }
        Host::Controlled => {
            lab.insert(
                naming::LABEL_CONTROLLED_BY.into(),
                naming::CONTROLLED_BY_VCLUSTER.into(),
            );
        }
        Host::OldUid => {
            ann.insert(naming::ANNOTATION_OBJECT_UID.into(), format!("older-{i}"));
        }
        Host::SkipBacksync => {
            ann.insert(naming::ANNOTATION_SKIP_BACKSYNC.into(), "true".into());
        }
        Host::OtherNamespace => {
            m.namespace = Some("elsewhere".into());
        }
        Host::Drifted => {
            lab.insert("drift".into(), format!("d{i}"));
            ann.insert("host-only".into(), "x".into());
        }
        Host::Absent | Host::Synced => {}
    }
    m.uid = Some(format!("h-{i}"));
    m.resource_version = Some("1".into());
}

/// Something that happens to the world after the memory was taken.
type Event = Box<dyn Fn(&mut Snapshot)>;

fn build(ws: &WorldSpec) -> World {
    let mut s = BASE.clone();
    let mut cfg = VClusterConfig::default();
    cfg.sync.to_host.ingresses.enabled = ws.ingresses_enabled;
    let mut truth = Truth::default();
    let mut remember = Vec::new();
    // Events are applied to `now` after `before` is complete.
    let mut events: Vec<Event> = Vec::new();
    let mut taken = BTreeSet::new();
    let mut stolen = BTreeSet::new();
    for (i, sp) in ws.specs.iter().enumerate() {
        let (ns, name) = (NAMESPACES[sp.ns], NAMES[sp.name]);
        if !taken.insert((sp.kind, ns, name)) {
            continue;
        }
        let vkey = ObjKey::new(ns, name);
        let ctx_snap = s.clone();
        let ctx = Ctx::new(&ctx_snap, &cfg);
        let okind = match sp.kind {
            Kind::Service => ObjKind::Service,
            Kind::Pod => ObjKind::Pod,
            Kind::Ingress => ObjKind::Ingress,
        };
        let twin_name = naming::host_name(name, ns, VC);
        let hns_of = |st: Host| {
            if st == Host::OtherNamespace {
                "elsewhere"
            } else {
                HNS
            }
        };
        let hkey = ObjKey::new(hns_of(sp.host), twin_name.clone());
        if sp.host != Host::Absent && !sp.host.is_ours() {
            truth
                .foreign
                .insert((okind, hkey.clone(), format!("h-{i}")));
        }
        // The endpoints twin of a selector-less service shares the service's host state.
        let with_endpoints = sp.kind == Kind::Service && !sp.selector && sp.variant != 3;
        if with_endpoints && sp.host != Host::Absent && !sp.host.is_ours() {
            truth
                .foreign
                .insert((ObjKind::Endpoints, hkey.clone(), format!("h-{}", i + 100)));
        }
        // So does its EndpointSlice's twin (named after the slice).
        let vslice_key = ObjKey::new(ns, slice_name(name));
        let slice_hkey = ObjKey::new(
            hns_of(sp.host),
            naming::host_name(&slice_name(name), ns, VC),
        );
        if with_endpoints && sp.host != Host::Absent && !sp.host.is_ours() {
            truth.foreign.insert((
                ObjKind::EndpointSlice,
                slice_hkey.clone(),
                format!("h-{}", i + 200),
            ));
        }
        match sp.kind {
            Kind::Service => {
                let v = virtual_service(sp, i, ns, name);
                if sp.host != Host::Absent {
                    let mut h = service::to_host(&ctx, &v);
                    let spec = h.spec.get_or_insert_with(Default::default);
                    if spec.cluster_ip.as_deref() != Some("None") && sp.variant != 3 {
                        // The host allocated its own IP; synced twins' virtual sides already
                        // carry it (the engine re-creates virtual services otherwise).
                        // Two host services never share an IP.
                        let ip = match sp.steal {
                            Some(j) if j != i && stolen.insert(j) => format!("10.0.0.{}", j + 1),
                            _ => format!("10.1.0.{}", i + 1),
                        };
                        spec.cluster_ip = Some(ip.clone());
                        spec.cluster_ips = Some(vec![ip]);
                    }
                    if sp.host == Host::Drifted {
                        spec.session_affinity = Some("ClientIP".into());
                        if let Some(sel) = spec.selector.as_mut() {
                            sel.insert("app".into(), "drift".into());
                        }
                    }
                    shape_host(&mut h.metadata, sp.host, i, name);
                    put(&mut s.host.services, h);
                }
                let mut v = v;
                let host_ip_stolen = s
                    .host
                    .services
                    .get(&hkey)
                    .and_then(|h| h.spec.as_ref()?.cluster_ip.clone())
                    .is_some_and(|ip| ip.starts_with("10.0.0."));
                if sp.host == Host::Synced
                    && !host_ip_stolen
                    && let Some(spec) = v.spec.as_mut()
                    && sp.variant != 3
                    && sp.variant != 4
                {
                    let ip = format!("10.1.0.{}", i + 1);
                    spec.cluster_ip = Some(ip.clone());
                    spec.cluster_ips = Some(vec![ip]);
                }
                if with_endpoints {
                    let ve = virtual_endpoints(i, ns, name);
                    if sp.host != Host::Absent {
                        let mut he = endpoints::to_host(&ctx, &ve);
                        shape_host(&mut he.metadata, sp.host, i + 100, name);
                        put(&mut s.host.endpoints, he);
                    }
                    if sp.virtual_present {
                        put(&mut s.virtual_side.endpoints, ve);
                    }
                    let vs = virtual_slice(i, ns, name);
                    if sp.host != Host::Absent {
                        let mut hs = endpoint_slice::to_host(&ctx, &vs);
                        shape_host(&mut hs.metadata, sp.host, i + 200, &slice_name(name));
                        put(&mut s.host.endpoint_slices, hs);
                    }
                    if sp.virtual_present {
                        put(&mut s.virtual_side.endpoint_slices, vs);
                    }
                }
                if sp.virtual_present {
                    put(&mut s.virtual_side.services, v);
                }
            }
            Kind::Pod => {
                let v = virtual_pod(sp, i, ns, name);
                if sp.host != Host::Absent
                    && let Ok(mut h) = pod::to_host(&ctx, &v)
                {
                    let spec = h.spec.get_or_insert_with(Default::default);
                    spec.node_name =
                        Some(if sp.node_conflict { "node-b" } else { "node-a" }.into());
                    if sp.host == Host::Drifted {
                        spec.containers[0].image = Some("img:drift".into());
                    }
                    h.status = Some(PodStatus {
                        phase: Some("Running".into()),
                        pod_ip: Some(format!("172.16.0.{}", i + 1)),
                        ..PodStatus::default()
                    });
                    shape_host(&mut h.metadata, sp.host, i, name);
                    put(&mut s.host.pods, h);
                    if sp.node_conflict && sp.host.is_ours() && sp.host != Host::OldUid {
                        truth.node_conflict.insert(vkey.clone());
                    }
                }
                if sp.virtual_present {
                    put(&mut s.virtual_side.pods, v);
                }
            }
            Kind::Ingress => {
                let v = virtual_ingress(sp, i, ns, name);
                if sp.host != Host::Absent {
                    let mut h = ingress::to_host(&ctx, &v);
                    if sp.host == Host::Drifted {
                        h.spec
                            .get_or_insert_with(Default::default)
                            .ingress_class_name = Some("traefik".into());
                    }
                    shape_host(&mut h.metadata, sp.host, i, name);
                    put(&mut s.host.ingresses, h);
                }
                if sp.virtual_present {
                    put(&mut s.virtual_side.ingresses, v);
                }
            }
        }
        if sp.remembered {
            remember.push((okind, vkey.clone()));
            if with_endpoints {
                remember.push((ObjKind::Endpoints, vkey.clone()));
                remember.push((ObjKind::EndpointSlice, vslice_key.clone()));
            }
        }
        let present_host = sp.host != Host::Absent;
        if sp.host_deleted && present_host {
            let (k, hk) = (okind, hkey.clone());
            events.push(Box::new(move |s: &mut Snapshot| remove(s, k, &hk)));
            if with_endpoints {
                let hk = hkey.clone();
                events.push(Box::new(move |s: &mut Snapshot| {
                    remove(s, ObjKind::Endpoints, &hk)
                }));
                let hk = slice_hkey.clone();
                events.push(Box::new(move |s: &mut Snapshot| {
                    remove(s, ObjKind::EndpointSlice, &hk)
                }));
            }
            // Only the removal of a twin we manage, in our namespace, justifies a deletion.
            // The twin of an older incarnation is not this object's twin (services aside:
            // their UID changes when the engine re-creates them for the ClusterIP).
            let twin = sp.host.is_ours() && (sp.host != Host::OldUid || okind == ObjKind::Service);
            if sp.remembered && twin && sp.virtual_present {
                truth.twin_deleted.insert((okind, vkey.clone()));
                if with_endpoints && sp.host != Host::OldUid {
                    truth
                        .twin_deleted
                        .insert((ObjKind::Endpoints, vkey.clone()));
                    truth
                        .twin_deleted
                        .insert((ObjKind::EndpointSlice, vslice_key.clone()));
                }
            }
        }
        if sp.virtual_deleted && sp.virtual_present {
            let (k, vk) = (okind, vkey.clone());
            events.push(Box::new(move |s: &mut Snapshot| remove_virtual(s, k, &vk)));
        }
        if sp.host_label_edit && present_host {
            let (k, hk) = (okind, hkey.clone());
            events.push(Box::new(move |s: &mut Snapshot| {
                edit_labels(s, SideName::Host, k, &hk)
            }));
        }
        if sp.virtual_label_edit && sp.virtual_present {
            let (k, vk) = (okind, vkey.clone());
            events.push(Box::new(move |s: &mut Snapshot| {
                edit_labels(s, SideName::Virtual, k, &vk)
            }));
        }
    }
    replication(&mut s, &mut cfg, &ws.repl, &mut truth);
    let before = s.clone();
    for e in &events {
        e(&mut s);
    }
    World {
        before,
        now: s,
        cfg,
        remember,
        truth,
    }
}

/// fromHost sources in the host namespace (present or gone), their virtual targets (absent,
/// ours, or a user's squatter); toHost targets on the host (absent, ours, another vCluster's).
fn replication(s: &mut Snapshot, cfg: &mut VClusterConfig, r: &Replication, truth: &mut Truth) {
    let rs = &mut cfg.networking.replicate_services;
    for (n, (idx, source_present, target)) in r.from_host.iter().enumerate() {
        let from = format!("shared-{idx}");
        let to = ObjKey::new("default", format!("rep-{idx}"));
        if rs.from_host.iter().any(|m| m.to == to.to_string()) {
            continue;
        }
        rs.from_host.push(ServiceMapping {
            from: from.clone(),
            to: to.to_string(),
        });
        if *source_present
            && !s
                .host
                .services
                .contains_key(&ObjKey::new(HNS, from.clone()))
        {
            let ip = format!("10.2.0.{}", n + 1);
            put(
                &mut s.host.services,
                Service {
                    metadata: meta(HNS, &from, format!("src-{idx}")),
                    spec: Some(ServiceSpec {
                        cluster_ip: Some(ip.clone()),
                        cluster_ips: Some(vec![ip]),
                        ports: Some(vec![ServicePort {
                            port: 5432,
                            protocol: Some("TCP".into()),
                            ..ServicePort::default()
                        }]),
                        ..ServiceSpec::default()
                    }),
                    status: None,
                },
            );
        }
        match target {
            1 => {
                let mut m = meta(&to.namespace, &to.name, format!("rep-v-{idx}"));
                m.labels = Some(
                    [(
                        naming::LABEL_CONTROLLED_BY.to_string(),
                        naming::CONTROLLED_BY_VCLUSTER.to_string(),
                    )]
                    .into(),
                );
                put(
                    &mut s.virtual_side.services,
                    Service {
                        metadata: m,
                        spec: Some(ServiceSpec {
                            cluster_ip: Some("None".into()),
                            ..ServiceSpec::default()
                        }),
                        status: None,
                    },
                );
            }
            2 => {
                // A user's own service at the target name: never replaced.
                let mut m = meta(&to.namespace, &to.name, format!("user-{idx}"));
                m.labels = Some([("app".to_string(), "mine".to_string())].into());
                put(
                    &mut s.virtual_side.services,
                    Service {
                        metadata: m,
                        spec: Some(ServiceSpec {
                            cluster_ip: Some(format!("10.0.9.{idx}")),
                            ports: Some(vec![ServicePort {
                                port: 1,
                                ..ServicePort::default()
                            }]),
                            ..ServiceSpec::default()
                        }),
                        status: None,
                    },
                );
            }
            _ => {}
        }
    }
    for (idx, target) in &r.to_host {
        let from = ObjKey::new("default", NAMES[*idx]);
        let to = format!("exposed-{idx}");
        if rs.to_host.iter().any(|m| m.to == to) {
            continue;
        }
        rs.to_host.push(ServiceMapping {
            from: from.to_string(),
            to: to.clone(),
        });
        let hkey = ObjKey::new(HNS, to.clone());
        match target {
            1 => {
                let mut m = meta(HNS, &to, format!("exp-{idx}"));
                m.labels = Some(
                    [(
                        naming::LABEL_CONTROLLED_BY.to_string(),
                        naming::CONTROLLED_BY_VCLUSTER.to_string(),
                    )]
                    .into(),
                );
                put(
                    &mut s.host.services,
                    Service {
                        metadata: m,
                        spec: Some(ServiceSpec {
                            cluster_ip: Some(format!("10.3.0.{idx}")),
                            ..ServiceSpec::default()
                        }),
                        status: None,
                    },
                );
            }
            2 => {
                // Another vCluster's replicated service at the same name.
                let mut m = meta(HNS, &to, format!("exp-other-{idx}"));
                m.labels = Some(
                    [
                        (
                            naming::LABEL_CONTROLLED_BY.to_string(),
                            naming::CONTROLLED_BY_VCLUSTER.to_string(),
                        ),
                        (naming::LABEL_MANAGED_BY.to_string(), "other-vc".to_string()),
                    ]
                    .into(),
                );
                put(
                    &mut s.host.services,
                    Service {
                        metadata: m,
                        spec: Some(ServiceSpec {
                            cluster_ip: Some(format!("10.3.1.{idx}")),
                            ..ServiceSpec::default()
                        }),
                        status: None,
                    },
                );
                truth
                    .foreign
                    .insert((ObjKind::Service, hkey, format!("exp-other-{idx}")));
            }
            _ => {}
        }
    }
}

fn remove(s: &mut Snapshot, kind: ObjKind, key: &ObjKey) {
    match kind {
        ObjKind::Service => {
            s.host.services.remove(key);
        }
        ObjKind::Pod => {
            s.host.pods.remove(key);
        }
        ObjKind::Ingress => {
            s.host.ingresses.remove(key);
        }
        ObjKind::Endpoints => {
            s.host.endpoints.remove(key);
        }
        ObjKind::EndpointSlice => {
            s.host.endpoint_slices.remove(key);
        }
        ObjKind::Namespace => {}
    }
}

fn remove_virtual(s: &mut Snapshot, kind: ObjKind, key: &ObjKey) {
    match kind {
        ObjKind::Service => {
            s.virtual_side.services.remove(key);
            s.virtual_side.endpoints.remove(key);
            // Garbage-collected with its Service (owner reference).
            let slice = ObjKey::new(key.namespace.clone(), slice_name(&key.name));
            s.virtual_side.endpoint_slices.remove(&slice);
        }
        ObjKind::Pod => {
            s.virtual_side.pods.remove(key);
        }
        ObjKind::Ingress => {
            s.virtual_side.ingresses.remove(key);
        }
        _ => {}
    }
}

fn edit_labels(s: &mut Snapshot, side: SideName, kind: ObjKind, key: &ObjKey) {
    let side = match side {
        SideName::Virtual => &mut s.virtual_side,
        SideName::Host => &mut s.host,
    };
    fn edit<K: kube::Resource + Clone + vinspect::cluster::obj::Cold>(
        m: &mut vinspect::cluster::snapshot::ObjMap<K>,
        key: &ObjKey,
    ) {
        if let Some(o) = m.get(key) {
            let mut o = o.as_ref().clone();
            let l = o.meta_mut().labels.get_or_insert_with(BTreeMap::new);
            l.insert("edited".into(), "yes".into());
            l.remove("app");
            o.meta_mut().resource_version = Some("2".into());
            put(m, o);
        }
    }
    match kind {
        ObjKind::Service => edit(&mut side.services, key),
        ObjKind::Pod => edit(&mut side.pods, key),
        ObjKind::Ingress => edit(&mut side.ingresses, key),
        ObjKind::Endpoints => edit(&mut side.endpoints, key),
        ObjKind::EndpointSlice => edit(&mut side.endpoint_slices, key),
        ObjKind::Namespace => {}
    }
}

/// Memory of the remembered pairs as they were in `before`.
fn memory(w: &World) -> Memory {
    let mut mem = Memory::default();
    let ctx = Ctx::new(&w.before, &w.cfg);
    let wanted: BTreeSet<_> = w.remember.iter().collect();
    for p in pairs(&ctx) {
        let Some(vk) = p.virtual_key.as_ref() else {
            continue;
        };
        let kind = p.obj_kind();
        if p.kind != PairKind::ReplicatedFromHost
            && p.kind != PairKind::ReplicatedToHost
            && wanted.contains(&(kind, vk.clone()))
        {
            mem.observe(&ctx, &p);
        }
    }
    mem
}

fn host_meta<'s>(s: &'s Snapshot, kind: ObjKind, key: &ObjKey) -> Option<&'s ObjectMeta> {
    match kind {
        ObjKind::Service => s.host.services.get(key).map(|o| &o.metadata),
        ObjKind::Pod => s.host.pods.get(key).map(|o| &o.metadata),
        ObjKind::Endpoints => s.host.endpoints.get(key).map(|o| &o.metadata),
        ObjKind::EndpointSlice => s.host.endpoint_slices.get(key).map(|o| &o.metadata),
        ObjKind::Ingress => s.host.ingresses.get(key).map(|o| &o.metadata),
        ObjKind::Namespace => None,
    }
}

/// (a) for one plan.
fn check_host_writes(w: &World, s: &Snapshot, pair: &Pair, p: &Plan) -> Result<(), String> {
    for c in p.changes.iter().filter(|c| c.target.side == SideName::Host) {
        let t = &c.target;
        let key = ObjKey::new(t.namespace.clone(), t.name.clone());
        if t.namespace != HNS {
            return Err(format!("{pair:?}: host write outside {HNS}: {t}"));
        }
        let existing = host_meta(s, t.kind, &key);
        let uid = existing.and_then(|m| m.uid.clone()).unwrap_or_default();
        if w.truth.foreign.contains(&(t.kind, key.clone(), uid)) {
            return Err(format!(
                "{pair:?}: {} of foreign host object {t}",
                c.action.verb()
            ));
        }
        match &c.action {
            Action::Create { object } => {
                if existing.is_some() {
                    return Err(format!("{pair:?}: create over existing host {t}"));
                }
                // What we create must be recognisably ours, or the next round sees a squatter.
                let m: ObjectMeta = serde_json::from_value(object["metadata"].clone())
                    .map_err(|e| e.to_string())?;
                let ctx = Ctx::new(s, &w.cfg);
                let ours = vinspect::engine::ownership::is_managed(&ctx, t.kind, &m)
                    || (pair.kind == PairKind::ReplicatedToHost
                        && m.labels
                            .as_ref()
                            .and_then(|l| l.get(naming::LABEL_CONTROLLED_BY))
                            .is_some());
                if !ours {
                    return Err(format!("{pair:?}: created host {t} is not marked as ours"));
                }
            }
            _ => {
                let Some(m) = existing else {
                    return Err(format!("{pair:?}: {} of missing host {t}", c.action.verb()));
                };
                let managed_by = m
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(naming::LABEL_MANAGED_BY));
                if managed_by.is_some_and(|v| v != VC) {
                    return Err(format!("{pair:?}: write to another vCluster's host {t}"));
                }
            }
        }
    }
    Ok(())
}

/// (b) for one plan.
fn check_virtual_deletes(w: &World, s: &Snapshot, pair: &Pair, p: &Plan) -> Result<(), String> {
    for c in p
        .changes
        .iter()
        .filter(|c| c.target.side == SideName::Virtual)
    {
        let t = &c.target;
        let key = ObjKey::new(t.namespace.clone(), t.name.clone());
        match &c.action {
            Action::Delete { .. } => {
                let justified = w.truth.twin_deleted.contains(&(t.kind, key.clone()))
                    || (t.kind == ObjKind::Pod && w.truth.node_conflict.contains(&key))
                    || (pair.kind == PairKind::ReplicatedFromHost
                        && replicated_ours(s, t.kind, &key));
                if !justified {
                    return Err(format!(
                        "{pair:?}: unjustified delete of virtual {t}: {}",
                        c.reason
                    ));
                }
            }
            Action::Recreate { .. } if t.kind != ObjKind::Service => {
                return Err(format!("{pair:?}: re-create of virtual {t} loses it"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn replicated_ours(s: &Snapshot, kind: ObjKind, key: &ObjKey) -> bool {
    let labels = match kind {
        ObjKind::Service => s
            .virtual_side
            .services
            .get(key)
            .and_then(|o| o.metadata.labels.clone()),
        ObjKind::Endpoints => s
            .virtual_side
            .endpoints
            .get(key)
            .and_then(|o| o.metadata.labels.clone()),
        _ => None,
    };
    labels
        .and_then(|l| l.get(naming::LABEL_CONTROLLED_BY).cloned())
        .is_some_and(|v| v == naming::CONTROLLED_BY_VCLUSTER)
}

fn all_plans(s: &Snapshot, cfg: &VClusterConfig, mem: &Memory) -> Vec<(Pair, Plan)> {
    let ctx = Ctx::new(s, cfg);
    pairs(&ctx)
        .into_iter()
        .map(|p| {
            let pl = plan(&ctx, &p, mem.get(&p));
            (p, pl)
        })
        .collect()
}

/// One sync round: plan every pair, apply, remember what is there now.
fn round(s: &mut Snapshot, cfg: &VClusterConfig, mem: &mut Memory, sim: &mut Sim) -> bool {
    round_checked(s, cfg, mem, sim, |_, _, _| Ok(())).unwrap_or(false)
}

/// A round whose plans pass through `check` (against the snapshot they were made from) first.
fn round_checked(
    s: &mut Snapshot,
    cfg: &VClusterConfig,
    mem: &mut Memory,
    sim: &mut Sim,
    mut check: impl FnMut(&Snapshot, &Pair, &Plan) -> Result<(), String>,
) -> Result<bool, String> {
    let plans = all_plans(s, cfg, mem);
    for (pair, p) in &plans {
        check(s, pair, p)?;
    }
    let mut any = false;
    for (_, p) in &plans {
        if !p.changes.is_empty() {
            any = true;
            sim.apply(s, p);
        }
    }
    let ctx = Ctx::new(s, cfg);
    for p in pairs(&ctx) {
        mem.observe(&ctx, &p);
    }
    Ok(any)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) Never a write to a host object this vCluster does not manage — in the first plan,
    /// with or without memory, and in every round of a sync run.
    #[test]
    fn a_never_writes_unmanaged_host_objects(ws in world_spec()) {
        let w = build(&ws);
        let mut mem = memory(&w);
        let mut s = w.now.clone();
        let mut sim = Sim::default();
        for _ in 0..3 {
            match round_checked(&mut s, &w.cfg, &mut mem, &mut sim, |s, pair, p| check_host_writes(&w, s, pair, p)) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
        for (k, key, _) in &w.truth.foreign {
            let Some(before) = host_meta(&w.now, *k, key) else { continue };
            let after = host_meta(&s, *k, key);
            prop_assert_eq!(Some(before), after, "foreign {} {} changed", k, key);
        }
    }

    /// (b) A virtual object is deleted only when its twin was seen and then deleted.
    #[test]
    fn b_deletes_virtual_objects_only_after_their_twin_went(ws in world_spec()) {
        let w = build(&ws);
        let mem = memory(&w);
        for (pair, p) in all_plans(&w.now, &w.cfg, &mem) {
            if let Err(e) = check_virtual_deletes(&w, &w.now, &pair, &p) { prop_assert!(false, "{}", e); }
        }
        // Stateless (after a restart) the engine never deletes a virtual object for a missing twin.
        let none = Memory::default();
        for (pair, p) in all_plans(&w.now, &w.cfg, &none) {
            for c in &p.changes {
                if c.target.side == SideName::Virtual && matches!(c.action, Action::Delete { .. }) {
                    let key = ObjKey::new(c.target.namespace.clone(), c.target.name.clone());
                    let ok = (c.target.kind == ObjKind::Pod && w.truth.node_conflict.contains(&key))
                        || (pair.kind == PairKind::ReplicatedFromHost && replicated_ours(&w.now, c.target.kind, &key));
                    prop_assert!(ok, "{:?}: stateless delete of virtual {}: {}", pair, c.target, c.reason);
                }
            }
        }
    }

    /// (c) Applying a pair's plan and planning it again gives an empty plan.
    #[test]
    fn c_apply_then_plan_again_is_empty(ws in world_spec()) {
        let w = build(&ws);
        let mem = memory(&w);
        for (pair, p) in all_plans(&w.now, &w.cfg, &mem) {
            if p.changes.is_empty() {
                continue;
            }
            let mut s = w.now.clone();
            let mut sim = Sim::default();
            sim.apply(&mut s, &p);
            prop_assert!(sim.errors.is_empty(), "{:?}: {:?}\n{:#?}", pair, sim.errors, p);
            let mut mem2 = mem.clone();
            let ctx = Ctx::new(&s, &w.cfg);
            mem2.observe(&ctx, &pair);
            let again = plan(&ctx, &pair, mem2.get(&pair));
            prop_assert!(
                again.changes.iter().all(|c| follow_up_expected(&p, c)),
                "{:?}\nfirst: {:#?}\nagain: {:#?}", pair, p, again
            );
            if !again.changes.is_empty() {
                sim.apply(&mut s, &again);
                prop_assert!(sim.errors.is_empty(), "{:?}: {:?}\n{:#?}", pair, sim.errors, again);
                let ctx = Ctx::new(&s, &w.cfg);
                mem2.observe(&ctx, &pair);
                let third = plan(&ctx, &pair, mem2.get(&pair));
                prop_assert!(
                    third.changes.iter().all(|c| follow_up_expected(&again, c)),
                    "{:?}\nfirst: {:#?}\nagain: {:#?}\nthird: {:#?}", pair, p, again, third
                );
            }
        }
    }

    /// (d) Sync converges from any state within 3 rounds; then every plan is empty, with and
    /// without memory.
    #[test]
    fn d_sync_converges_within_3_rounds(ws in world_spec()) {
        let w = build(&ws);
        let mut mem = memory(&w);
        let mut s = w.now.clone();
        let mut sim = Sim::default();
        // A ClusterIP passing from one virtual service to another is one step more: the
        // holder's twin appears, the holder moves to its twin's IP, ours takes the freed IP,
        // and its twin records the re-created service's UID.
        let limit = if ws.specs.iter().any(|s| s.steal.is_some()) { 4 } else { 3 };
        let mut rounds = 0;
        while round(&mut s, &w.cfg, &mut mem, &mut sim) {
            rounds += 1;
            prop_assert!(rounds <= limit, "no fixpoint after {} rounds: {:#?}", limit,
                all_plans(&s, &w.cfg, &mem).into_iter().filter(|(_, p)| !p.changes.is_empty()).collect::<Vec<_>>());
        }
        prop_assert!(sim.errors.is_empty(), "apply errors: {:?}", sim.errors);
        for (pair, p) in all_plans(&s, &w.cfg, &Memory::default()) {
            prop_assert!(p.changes.is_empty(), "stateless plan after convergence {:?}: {:#?}", pair, p);
        }
    }
}

/// The second steps vCluster also takes, the only changes allowed right after a plan was
/// applied: a deletion on one side is followed by the twin's deletion on the other, and a new
/// host Service (whose ClusterIP the host just allocated) by the virtual service's re-creation
/// with that IP; after a virtual re-creation, the twin's update (its `object-uid` at least).
/// One such step at most: the plan after it is empty.
fn follow_up_expected(first: &Plan, next: &vinspect::engine::Change) -> bool {
    first
        .changes
        .iter()
        .any(|c| match (&c.action, &next.action) {
            (Action::Delete { .. }, Action::Delete { .. }) => c.target.side != next.target.side,
            (Action::Create { .. }, Action::Recreate { .. }) => {
                c.target.side == SideName::Host
                    && c.target.kind == ObjKind::Service
                    && next.target.side == SideName::Virtual
                    && next.target.kind == ObjKind::Service
            }
            // A re-creation is a step of its own: the twin records the new UID, and the rest of
            // the service's sync (ports, metadata) follows in the next plan.
            (Action::Recreate { .. }, Action::Patch { .. }) => {
                c.target.side == SideName::Virtual
                    && c.target.kind == ObjKind::Service
                    && next.target.side == SideName::Host
                    && next.target.kind == ObjKind::Service
            }
            _ => false,
        })
}
