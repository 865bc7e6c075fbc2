//! Virtual Service → host Service (§4), controller path.

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::translate::metadata;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};

/// The host twin of a virtual service as vCluster's controller path creates it: clusterIP blank
/// unless headless, clusterIPs/ipFamilies/ipFamilyPolicy cleared, nodePorts zeroed, selector
/// translated, no status.
pub fn to_host(ctx: &Ctx, vsvc: &Service) -> Service {
    let vns = vsvc.metadata.namespace.as_deref().unwrap_or("");
    let vname = vsvc.metadata.name.as_deref().unwrap_or("");
    let host_name = naming::host_name(vname, vns, ctx.vcluster);
    let metadata = metadata::host_meta(ctx, ObjKind::Service, &vsvc.metadata, &host_name);
    let spec = vsvc.spec.as_ref().map(|s| {
        let mut spec = s.clone();
        if spec.cluster_ip.as_deref() != Some("None") {
            spec.cluster_ip = None;
        }
        spec.cluster_ips = None;
        spec.ip_families = None;
        spec.ip_family_policy = None;
        spec.ports = spec.ports.map(zero_node_ports);
        spec.selector = metadata::host_selector(ctx, s.selector.as_ref(), vns);
        spec
    });
    Service {
        metadata,
        spec,
        status: None,
    }
}

/// Ports with every `nodePort` cleared (the host allocates its own).
pub fn zero_node_ports(ports: Vec<ServicePort>) -> Vec<ServicePort> {
    ports
        .into_iter()
        .map(|p| ServicePort {
            node_port: None,
            ..p
        })
        .collect()
}

/// `TranslateServicePorts` of the `default/kubernetes` special case: no `kubelet` port, no nodePorts.
pub fn kubernetes_ports(ports: &[ServicePort]) -> Vec<ServicePort> {
    ports
        .iter()
        .filter(|p| p.name.as_deref() != Some("kubelet"))
        .map(|p| ServicePort {
            name: p.name.clone(),
            protocol: p.protocol.clone(),
            app_protocol: p.app_protocol.clone(),
            port: p.port,
            target_port: p.target_port.clone(),
            node_port: None,
        })
        .collect()
}

/// The spec fields that follow the three-way rule in both directions (§4.3).
pub const BIDIRECTIONAL: [&str; 11] = [
    "type",
    "externalIPs",
    "externalName",
    "loadBalancerIP",
    "ports",
    "publishNotReadyAddresses",
    "externalTrafficPolicy",
    "sessionAffinity",
    "sessionAffinityConfig",
    "loadBalancerSourceRanges",
    "healthCheckNodePort",
];

/// Copy one bidirectional spec field from `from` to `to`.
pub fn copy_field(field: &str, from: &ServiceSpec, to: &mut ServiceSpec) {
    match field {
        "type" => to.type_ = from.type_.clone(),
        "externalIPs" => to.external_ips = from.external_ips.clone(),
        "externalName" => to.external_name = from.external_name.clone(),
        "loadBalancerIP" => to.load_balancer_ip = from.load_balancer_ip.clone(),
        "ports" => to.ports = from.ports.clone(),
        "publishNotReadyAddresses" => {
            to.publish_not_ready_addresses = from.publish_not_ready_addresses
        }
        "externalTrafficPolicy" => {
            to.external_traffic_policy = from.external_traffic_policy.clone()
        }
        "sessionAffinity" => to.session_affinity = from.session_affinity.clone(),
        "sessionAffinityConfig" => {
            to.session_affinity_config = from.session_affinity_config.clone()
        }
        "loadBalancerSourceRanges" => {
            to.load_balancer_source_ranges = from.load_balancer_source_ranges.clone()
        }
        "healthCheckNodePort" => to.health_check_node_port = from.health_check_node_port,
        _ => {}
    }
}

/// Whether one bidirectional field is equal on two specs (ports compared without nodePorts
/// the left side leaves unset: those are the host's to allocate).
pub fn field_eq(field: &str, a: &ServiceSpec, b: &ServiceSpec) -> bool {
    match field {
        "type" => a.type_ == b.type_,
        "externalIPs" => a.external_ips == b.external_ips,
        "externalName" => a.external_name == b.external_name,
        "loadBalancerIP" => a.load_balancer_ip == b.load_balancer_ip,
        "ports" => a.ports == b.ports,
        "publishNotReadyAddresses" => {
            a.publish_not_ready_addresses == b.publish_not_ready_addresses
        }
        "externalTrafficPolicy" => a.external_traffic_policy == b.external_traffic_policy,
        "sessionAffinity" => a.session_affinity == b.session_affinity,
        "sessionAffinityConfig" => a.session_affinity_config == b.session_affinity_config,
        "loadBalancerSourceRanges" => {
            a.load_balancer_source_ranges == b.load_balancer_source_ranges
        }
        "healthCheckNodePort" => a.health_check_node_port == b.health_check_node_port,
        _ => true,
    }
}
