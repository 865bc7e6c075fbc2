//! Host → virtual: what flows back from the twin (§4.2, §3.2, §5 status, §4.3 special case).

use crate::engine::ctx::cluster_ip;
use crate::engine::translate::service::kubernetes_ports;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointSubset, Endpoints, Pod, PodStatus, Service, ServicePort, ServiceStatus,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The virtual service re-created with the host's ClusterIP (`recreateService`): server-set
/// metadata cleared, clusterIPs left for the server, nodePorts and LB fields from the host.
pub fn recreated_service(vsvc: &Service, host: &Service, ip: Option<&str>) -> Service {
    let mut svc = vsvc.clone();
    svc.metadata = clean_meta(&vsvc.metadata);
    let hspec = host.spec.clone().unwrap_or_default();
    let spec = svc.spec.get_or_insert_with(Default::default);
    spec.cluster_ip = ip.map(str::to_string);
    spec.cluster_ips = None;
    spec.external_ips = hspec.external_ips.clone();
    spec.load_balancer_ip = hspec.load_balancer_ip.clone();
    spec.load_balancer_source_ranges = hspec.load_balancer_source_ranges.clone();
    if let Some(ports) = spec.ports.as_mut() {
        fill_node_ports(ports, hspec.ports.as_deref().unwrap_or_default());
    }
    svc.status = None;
    svc
}

/// Metadata for re-creating an object: identity and server-set fields cleared.
pub fn clean_meta(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone(),
        annotations: meta.annotations.clone(),
        owner_references: meta.owner_references.clone(),
        finalizers: meta.finalizers.clone(),
        ..ObjectMeta::default()
    }
}

/// NodePorts (and healthCheckNodePort) are allocated by the host: copy them into virtual
/// ports that match by port number and protocol and have none of their own.
pub fn fill_node_ports(vports: &mut [ServicePort], hports: &[ServicePort]) {
    for p in vports.iter_mut() {
        if p.node_port.is_some() {
            continue;
        }
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        if let Some(h) = hports
            .iter()
            .find(|h| h.port == p.port && h.protocol.as_deref().unwrap_or("TCP") == proto)
        {
            p.node_port = h.node_port;
        }
    }
}

/// Virtual service status := host status; LB fields only for LoadBalancer hosts.
pub fn service_status(host: &Service) -> Option<ServiceStatus> {
    let is_lb = host.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let mut status = host.status.clone();
    if !is_lb && let Some(s) = status.as_mut() {
        s.load_balancer = None;
    }
    status.filter(|s| *s != ServiceStatus::default())
}

/// Virtual pod status := host status, except `qosClass` (the virtual API server's own) and
/// container statuses of containers the virtual spec does not have (injected sidecars, the
/// hosts-rewrite init container).
pub fn pod_status(vpod: &Pod, host: &Pod) -> Option<PodStatus> {
    let mut status = host.status.clone()?;
    status.qos_class = vpod.status.as_ref().and_then(|s| s.qos_class.clone());
    let (names, inits, eph) = container_names(vpod);
    if let Some(cs) = status.container_statuses.as_mut() {
        cs.retain(|c| names.contains(&c.name.as_str()));
    }
    if let Some(cs) = status.init_container_statuses.as_mut() {
        cs.retain(|c| inits.contains(&c.name.as_str()));
    }
    if let Some(cs) = status.ephemeral_container_statuses.as_mut() {
        cs.retain(|c| eph.contains(&c.name.as_str()));
    }
    Some(status)
}

/// Names of the virtual pod's containers, init containers and ephemeral containers.
type ContainerNames<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);

fn container_names(vpod: &Pod) -> ContainerNames<'_> {
    let Some(spec) = vpod.spec.as_ref() else {
        return Default::default();
    };
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let inits: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    let eph: Vec<&str> = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    (names, inits, eph)
}

/// Whether `pod_status(vpod, host)` would be `None` or equal to the virtual pod's current
/// status, decided without cloning the host status in the common in-line case.
pub fn pod_status_in_line(vpod: &Pod, host: &Pod) -> bool {
    let Some(hs) = host.status.as_ref() else {
        return true;
    };
    let Some(vs) = vpod.status.as_ref() else {
        return false;
    };
    let (names, inits, eph) = container_names(vpod);
    let all_kept = |list: &Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>,
                    keep: &[&str]| {
        list.iter()
            .flatten()
            .all(|c| keep.contains(&c.name.as_str()))
    };
    if all_kept(&hs.container_statuses, &names)
        && all_kept(&hs.init_container_statuses, &inits)
        && all_kept(&hs.ephemeral_container_statuses, &eph)
    {
        // Nothing is filtered out, so the synced status is the host's with the virtual qosClass.
        return status_eq_but_qos(hs, vs);
    }
    pod_status(vpod, host).as_ref() == Some(vs)
}

/// Two pod statuses equal in every field but `qosClass`.
fn status_eq_but_qos(a: &PodStatus, b: &PodStatus) -> bool {
    if a.qos_class == b.qos_class {
        return a == b;
    }
    let mut a = a.clone();
    a.qos_class = b.qos_class.clone();
    a == *b
}

/// Virtual ingress status := host status.
pub fn ingress_status(host: &Ingress) -> Option<k8s_openapi::api::networking::v1::IngressStatus> {
    host.status.clone()
}

/// Virtual `default/kubernetes` as it must be: the host `<vc>` service's IPs and ports minus
/// `kubelet`, no nodePorts.
pub fn kubernetes_service(vsvc: &Service, host: &Service) -> Service {
    let mut svc = vsvc.clone();
    let hspec = host.spec.clone().unwrap_or_default();
    let spec = svc.spec.get_or_insert_with(Default::default);
    spec.cluster_ip = hspec.cluster_ip.clone();
    spec.cluster_ips = hspec.cluster_ips.clone();
    spec.ip_families = hspec.ip_families.clone();
    spec.ip_family_policy = hspec.ip_family_policy.clone();
    spec.ports = Some(kubernetes_ports(hspec.ports.as_deref().unwrap_or_default()));
    svc
}

/// Whether the virtual `default/kubernetes` needs re-creating (immutable ClusterIP differs).
pub fn kubernetes_needs_recreate(vsvc: &Service, host: &Service) -> bool {
    cluster_ip(vsvc) != cluster_ip(host)
}

/// Virtual `default/kubernetes` endpoints mirroring host `<vc>` endpoints: addresses without
/// hostname/nodeName/targetRef, only the `https` port, `skip-mirror` label.
pub fn kubernetes_endpoints(vep: Option<&Endpoints>, host: &Endpoints) -> Endpoints {
    let strip = |a: &EndpointAddress| EndpointAddress {
        ip: a.ip.clone(),
        hostname: None,
        node_name: None,
        target_ref: None,
    };
    let subsets = host.subsets.as_ref().map(|subsets| {
        subsets
            .iter()
            .map(|s| EndpointSubset {
                addresses: s.addresses.as_ref().map(|a| a.iter().map(strip).collect()),
                not_ready_addresses: s
                    .not_ready_addresses
                    .as_ref()
                    .map(|a| a.iter().map(strip).collect()),
                ports: s.ports.as_ref().map(|p| {
                    p.iter()
                        .filter(|p| p.name.as_deref() == Some("https"))
                        .cloned()
                        .collect()
                }),
            })
            .collect()
    });
    let mut meta = vep
        .map(|v| v.metadata.clone())
        .unwrap_or_else(|| ObjectMeta {
            name: Some("kubernetes".to_string()),
            namespace: Some("default".to_string()),
            ..ObjectMeta::default()
        });
    meta.labels.get_or_insert_with(BTreeMap::new).insert(
        "endpointslice.kubernetes.io/skip-mirror".to_string(),
        "true".to_string(),
    );
    Endpoints {
        metadata: meta,
        subsets,
    }
}
