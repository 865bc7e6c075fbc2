//! Give back the spare capacity of a cached object's lists.
//!
//! serde grows a list as it reads it (no length is known up front), so a one-element list ends
//! with room for four. For lists of big structs that is most of the object: a pod's single
//! `ContainerStatus` or `Container` is about a kilobyte inline, and three empty slots next to
//! it cost more than everything else the pod holds. A heap profile of the TUI at 10,000 pairs
//! put ~80 MB of 290 MB in such slack. Cached objects live for the whole session, so they are
//! shrunk once before they are stored.

use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, Endpoints, Pod, PodSpec, PodStatus, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn fit<T>(v: &mut Vec<T>) {
    v.shrink_to_fit();
}

fn fit_opt<T>(v: &mut Option<Vec<T>>) {
    if let Some(v) = v {
        v.shrink_to_fit();
    }
}

pub fn meta(m: &mut ObjectMeta) {
    fit_opt(&mut m.owner_references);
    fit_opt(&mut m.finalizers);
}

fn container(c: &mut Container) {
    fit_opt(&mut c.args);
    fit_opt(&mut c.command);
    fit_opt(&mut c.env);
    fit_opt(&mut c.env_from);
    fit_opt(&mut c.ports);
    fit_opt(&mut c.resize_policy);
    fit_opt(&mut c.volume_devices);
    fit_opt(&mut c.volume_mounts);
}

fn container_status(c: &mut ContainerStatus) {
    fit_opt(&mut c.allocated_resources_status);
    fit_opt(&mut c.volume_mounts);
}

fn pod_spec(s: &mut PodSpec) {
    fit(&mut s.containers);
    s.containers.iter_mut().for_each(container);
    fit_opt(&mut s.init_containers);
    s.init_containers.iter_mut().flatten().for_each(container);
    fit_opt(&mut s.ephemeral_containers);
    fit_opt(&mut s.host_aliases);
    for a in s.host_aliases.iter_mut().flatten() {
        fit_opt(&mut a.hostnames);
    }
    fit_opt(&mut s.image_pull_secrets);
    fit_opt(&mut s.readiness_gates);
    fit_opt(&mut s.resource_claims);
    fit_opt(&mut s.scheduling_gates);
    fit_opt(&mut s.tolerations);
    fit_opt(&mut s.topology_spread_constraints);
    fit_opt(&mut s.volumes);
    if let Some(d) = s.dns_config.as_mut() {
        fit_opt(&mut d.nameservers);
        fit_opt(&mut d.options);
        fit_opt(&mut d.searches);
    }
}

fn pod_status(s: &mut PodStatus) {
    fit_opt(&mut s.conditions);
    for list in [
        &mut s.container_statuses,
        &mut s.init_container_statuses,
        &mut s.ephemeral_container_statuses,
    ] {
        fit_opt(list);
        list.iter_mut().flatten().for_each(container_status);
    }
    fit_opt(&mut s.host_ips);
    fit_opt(&mut s.pod_ips);
    fit_opt(&mut s.resource_claim_statuses);
}

pub fn pod(p: &mut Pod) {
    meta(&mut p.metadata);
    if let Some(s) = p.spec.as_mut() {
        pod_spec(s);
    }
    if let Some(s) = p.status.as_mut() {
        pod_status(s);
    }
}

pub fn service(svc: &mut Service) {
    meta(&mut svc.metadata);
    if let Some(s) = svc.spec.as_mut() {
        fit_opt(&mut s.cluster_ips);
        fit_opt(&mut s.external_ips);
        fit_opt(&mut s.ip_families);
        fit_opt(&mut s.load_balancer_source_ranges);
        fit_opt(&mut s.ports);
    }
    if let Some(st) = svc.status.as_mut() {
        fit_opt(&mut st.conditions);
        if let Some(lb) = st.load_balancer.as_mut() {
            fit_opt(&mut lb.ingress);
        }
    }
}

pub fn endpoints(e: &mut Endpoints) {
    meta(&mut e.metadata);
    fit_opt(&mut e.subsets);
    for s in e.subsets.iter_mut().flatten() {
        fit_opt(&mut s.addresses);
        fit_opt(&mut s.not_ready_addresses);
        fit_opt(&mut s.ports);
    }
}

pub fn endpoint_slice(e: &mut EndpointSlice) {
    meta(&mut e.metadata);
    fit(&mut e.endpoints);
    for ep in &mut e.endpoints {
        fit(&mut ep.addresses);
    }
    fit_opt(&mut e.ports);
}

pub fn ingress(i: &mut Ingress) {
    meta(&mut i.metadata);
    if let Some(s) = i.spec.as_mut() {
        fit_opt(&mut s.rules);
        for r in s.rules.iter_mut().flatten() {
            if let Some(h) = r.http.as_mut() {
                fit(&mut h.paths);
            }
        }
        fit_opt(&mut s.tls);
        for t in s.tls.iter_mut().flatten() {
            fit_opt(&mut t.hosts);
        }
    }
    if let Some(lb) = i.status.as_mut().and_then(|s| s.load_balancer.as_mut()) {
        fit_opt(&mut lb.ingress);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_keep_their_items_and_lose_their_slack() {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "a", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Service", "name": "s", "uid": "u"}]},
            "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 80}]}],
                     "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["k"]}]},
            "status": {"containerStatuses": [{"name": "app", "image": "i", "imageID": "",
                         "ready": true, "restartCount": 0}],
                       "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let before = p.clone();
        pod(&mut p);
        assert_eq!(p, before);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.containers.capacity(), 1);
        let st = p.status.as_ref().unwrap();
        assert_eq!(st.container_statuses.as_ref().unwrap().capacity(), 1);
        assert_eq!(st.conditions.as_ref().unwrap().capacity(), 1);

        let mut e: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "a"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.2"]}]
        }))
        .unwrap();
        let before = e.clone();
        endpoint_slice(&mut e);
        assert_eq!(e, before);
        assert_eq!(e.endpoints.capacity(), 1);
        assert_eq!(e.endpoints[0].addresses.capacity(), 1);
    }
}
