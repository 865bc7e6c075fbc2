//! Small builders for snapshots with services, endpoints, pods and nodes, used by the DNS
//! tests, the benchmark and demos. Everything is built in code; nothing touches a cluster.

use crate::cluster::snapshot::{Obj, ObjKey, Side, Snapshot};
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Namespace, Node, NodeAddress,
    NodeStatus, Pod, PodStatus, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: (!ns.is_empty()).then(|| ns.to_string()),
        ..Default::default()
    }
}

/// A service port `(name, port, protocol)`.
pub fn port(name: &str, port: i32, protocol: &str) -> ServicePort {
    ServicePort {
        name: (!name.is_empty()).then(|| name.to_string()),
        port,
        protocol: Some(protocol.to_string()),
        ..Default::default()
    }
}

/// A ClusterIP service.
pub fn cluster_ip_service(ns: &str, name: &str, ip: &str, ports: Vec<ServicePort>) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(ip.into()),
            cluster_ips: Some(vec![ip.into()]),
            ports: Some(ports),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A headless service (`clusterIP: None`).
pub fn headless_service(ns: &str, name: &str, ports: Vec<ServicePort>) -> Service {
    cluster_ip_service(ns, name, "None", ports)
}

/// An ExternalName service.
pub fn external_name_service(ns: &str, name: &str, target: &str) -> Service {
    Service {
        metadata: meta(ns, name),
        spec: Some(ServiceSpec {
            type_: Some("ExternalName".into()),
            external_name: Some(target.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Endpoints with one subset: ready addresses `(ip, hostname)` and ports `(name, port)`.
pub fn endpoints(
    ns: &str,
    name: &str,
    addrs: &[(&str, Option<&str>)],
    ports: &[(&str, i32)],
) -> Endpoints {
    Endpoints {
        metadata: meta(ns, name),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(
                addrs
                    .iter()
                    .map(|(ip, host)| EndpointAddress {
                        ip: (*ip).to_string(),
                        hostname: host.map(str::to_string),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ports: Some(
                ports
                    .iter()
                    .map(|(n, p)| EndpointPort {
                        name: (!n.is_empty()).then(|| (*n).to_string()),
                        port: *p,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }]),
    }
}

pub fn pod(ns: &str, name: &str, ip: &str) -> Pod {
    Pod {
        metadata: meta(ns, name),
        status: Some(PodStatus {
            pod_ip: Some(ip.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A virtual node with an InternalIP and optionally a Hostname address.
pub fn node(name: &str, internal_ip: &str, hostname: Option<&str>) -> Node {
    let mut addresses = vec![NodeAddress {
        type_: "InternalIP".into(),
        address: internal_ip.into(),
    }];
    if let Some(h) = hostname {
        addresses.push(NodeAddress {
            type_: "Hostname".into(),
            address: h.into(),
        });
    }
    Node {
        metadata: meta("", name),
        status: Some(NodeStatus {
            addresses: Some(addresses),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Builds a [`Snapshot`] for vCluster `vcluster` in host namespace `host_namespace`.
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    snap: Snapshot,
}

fn key_of(meta: &ObjectMeta) -> ObjKey {
    ObjKey::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn add_ns(side: &mut Side, ns: &str) {
    if ns.is_empty() {
        return;
    }
    side.namespaces
        .entry(ObjKey::new("", ns))
        .or_insert_with(|| {
            Obj::new(Namespace {
                metadata: meta("", ns),
                ..Default::default()
            })
        });
}

impl SnapshotBuilder {
    pub fn new(vcluster: &str, host_namespace: &str) -> Self {
        let mut snap = Snapshot {
            version: 1,
            vcluster: vcluster.into(),
            host_namespace: host_namespace.into(),
            ..Default::default()
        };
        for ns in ["default", "kube-system"] {
            add_ns(&mut snap.virtual_side, ns);
        }
        add_ns(&mut snap.host, host_namespace);
        Self { snap }
    }

    pub fn version(mut self, v: u64) -> Self {
        self.snap.version = v;
        self
    }

    pub fn virtual_namespace(mut self, ns: &str) -> Self {
        add_ns(&mut self.snap.virtual_side, ns);
        self
    }

    pub fn host_namespace(mut self, ns: &str) -> Self {
        add_ns(&mut self.snap.host, ns);
        self
    }

    /// A virtual service (its namespace is created too).
    pub fn virtual_service(mut self, svc: Service) -> Self {
        let k = key_of(&svc.metadata);
        add_ns(&mut self.snap.virtual_side, &k.namespace);
        self.snap.virtual_side.services.insert(k, Obj::new(svc));
        self
    }

    /// A virtual service and its synced host twin (same spec, translated name, in HNS).
    pub fn synced_service(self, svc: Service) -> Self {
        let k = key_of(&svc.metadata);
        let mut twin = svc.clone();
        twin.metadata.name = Some(naming::service_host_name(
            &k.name,
            &k.namespace,
            &self.snap.vcluster,
        ));
        twin.metadata.namespace = Some(self.snap.host_namespace.clone());
        self.virtual_service(svc).host_service(twin)
    }

    pub fn host_service(mut self, svc: Service) -> Self {
        let k = key_of(&svc.metadata);
        add_ns(&mut self.snap.host, &k.namespace);
        self.snap.host.services.insert(k, Obj::new(svc));
        self
    }

    pub fn virtual_endpoints(mut self, ep: Endpoints) -> Self {
        let k = key_of(&ep.metadata);
        self.snap.virtual_side.endpoints.insert(k, Obj::new(ep));
        self
    }

    pub fn host_endpoints(mut self, ep: Endpoints) -> Self {
        let k = key_of(&ep.metadata);
        self.snap.host.endpoints.insert(k, Obj::new(ep));
        self
    }

    pub fn virtual_pod(mut self, p: Pod) -> Self {
        let k = key_of(&p.metadata);
        add_ns(&mut self.snap.virtual_side, &k.namespace);
        self.snap.virtual_side.pods.insert(k, Obj::new(p));
        self
    }

    pub fn virtual_node(mut self, n: Node) -> Self {
        let k = key_of(&n.metadata);
        self.snap.virtual_side.nodes.insert(k, Obj::new(n));
        self
    }

    pub fn build(self) -> Snapshot {
        self.snap
    }
}
