//! What a real vCluster install leaves behind, laid down even for `--empty`: on the host the
//! namespace, the vCluster's own Service (owner of every synced object), its pod, the config
//! Secret and the `kube-dns` twin; on the virtual side `default/kubernetes` and
//! `kube-system/kube-dns` with their Endpoints.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sandbox::cluster::{Cluster, WriteOpts, kind};
use crate::sandbox::store::meta_str;
use crate::vcluster::naming;

/// The vcluster.yaml the sandbox install carries: ingress sync on, one replicateServices rule
/// each way and a few resolveDNS rules (which need the embedded CoreDNS).
pub fn vcluster_yaml() -> &'static str {
    include_str!("scenarios/vcluster.yaml")
}

/// The key of the config Secret that holds vcluster.yaml.
pub const CONFIG_KEY: &str = "config.yaml";

/// Install metadata both layouts need.
#[derive(Debug, Clone)]
pub struct Install {
    pub vcluster: String,
    pub host_namespace: String,
}

fn create(c: &Cluster, id: &str, ns: Option<&str>, obj: Value) -> Option<Value> {
    let name = meta_str(&obj, "name").to_string();
    match c.create(kind(id), ns, obj, &WriteOpts::default()) {
        Ok(w) => Some(w.object),
        Err(e) if e.code == 409 => c
            .get(kind(id), ns.unwrap_or(""), &name)
            .ok()
            .map(|v| (*v).clone()),
        Err(e) => {
            tracing::warn!(kind = id, error = %e, "sandbox layout object was rejected");
            None
        }
    }
}

fn kubernetes_service(c: &Cluster, cluster_ip: &str, endpoint_ip: &str, target_port: i64) {
    create(
        c,
        "services",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": cluster_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": target_port}]}
        }),
    );
    c.put_raw(kind("endpoints"), json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": endpoint_ip}], "ports": [{"name": "https", "port": target_port, "protocol": "TCP"}]}]
    }));
    // The API server's endpoint reconciler (host) and vCluster's default-endpoint controller
    // (virtual) keep a slice of the same name next to the Endpoints.
    c.put_raw(kind("endpointslices.discovery.k8s.io"), json!({
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [endpoint_ip], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": target_port, "protocol": "TCP"}]
    }));
}

/// The host's own `default/kubernetes` (every cluster has one).
pub fn host_base(host: &Cluster) {
    kubernetes_service(
        host,
        "10.96.0.1",
        &crate::sandbox::controllers::kubelet::node_ip(0),
        6443,
    );
}

const DNS_PORTS: &str = r#"[{"name":"dns","port":53,"protocol":"UDP","targetPort":1053},{"name":"dns-tcp","port":53,"protocol":"TCP","targetPort":1053},{"name":"metrics","port":9153,"protocol":"TCP","targetPort":9153}]"#;

fn dns_ports() -> Value {
    serde_json::from_str(DNS_PORTS).unwrap_or(json!([]))
}

/// Lays down the host half of the install. Returns the vCluster pod IP once it has one.
pub async fn host(host: &Cluster, i: &Install) -> Option<String> {
    let (vc, hns) = (i.vcluster.as_str(), i.host_namespace.as_str());
    create(host, "namespaces", None, json!({"metadata": {"name": hns}}));
    let selector = json!({"app": "vcluster", "release": vc});
    let svc = create(
        host,
        "services",
        Some(hns),
        json!({
            "metadata": {"name": vc, "labels": {"app": "vcluster", "release": vc, "heritage": "Helm"}},
            "spec": {"selector": selector, "ports": [
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
                {"name": "kubelet", "port": 10250, "protocol": "TCP", "targetPort": 8443}]}
        }),
    )?;
    let owner =
        json!([{"apiVersion": "v1", "kind": "Service", "name": vc, "uid": meta_str(&svc, "uid")}]);
    create(
        host,
        "pods",
        Some(hns),
        json!({
            "metadata": {"name": format!("{vc}-0"), "labels": {"app": "vcluster", "release": vc, "statefulset.kubernetes.io/pod-name": format!("{vc}-0")}},
            "spec": {"serviceAccountName": format!("vc-{vc}"), "containers": [{
                "name": "syncer", "image": "ghcr.io/loft-sh/vcluster-pro:0.26.0",
                "ports": [{"name": "https", "containerPort": 8443}, {"name": "dns", "containerPort": 1053, "protocol": "UDP"}]}]}
        }),
    );
    create(
        host,
        "secrets",
        Some(hns),
        json!({
            "metadata": {"name": naming::config_secret_name(vc), "labels": {"app": "vcluster", "release": vc}},
            "stringData": {CONFIG_KEY: vcluster_yaml()}
        }),
    );
    let twin = naming::kube_dns_host_name(vc);
    let labels = json!({
        "k8s-app": "vcluster-kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS",
        naming::LABEL_MANAGED_BY: vc, naming::LABEL_NAMESPACE: "kube-system",
    });
    create(
        host,
        "services",
        Some(hns),
        json!({
            "metadata": {"name": twin, "labels": labels, "ownerReferences": owner, "annotations": {
                naming::ANNOTATION_OBJECT_NAME: "kube-dns", naming::ANNOTATION_OBJECT_NAMESPACE: "kube-system",
                naming::ANNOTATION_OBJECT_UID: "", naming::ANNOTATION_OBJECT_KIND: naming::OBJECT_KIND_SERVICE,
                naming::ANNOTATION_OBJECT_HOST_NAME: twin, naming::ANNOTATION_OBJECT_HOST_NAMESPACE: hns,
            }},
            "spec": {"ports": dns_ports()}
        }),
    );
    // The kubelet hands out the pod IP as soon as it sees the pod; the endpoints controller
    // then fills the `<vc>` Endpoints. Wait for both, so that "ready" means a settled install
    // (the virtual `default/kubernetes` endpoints mirror those host addresses).
    let mut pod_ip = None;
    for _ in 0..500 {
        if pod_ip.is_none()
            && let Ok(p) = host.get(kind("pods"), hns, &format!("{vc}-0"))
        {
            pod_ip = p
                .pointer("/status/podIP")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
        }
        let endpoints_ready = host
            .get(kind("endpoints"), hns, vc)
            .ok()
            .and_then(|e| e.pointer("/subsets/0/addresses/0/ip").cloned())
            .is_some();
        if pod_ip.is_some() && endpoints_ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pod_ip
}

fn dns_endpoints(ip: &str) -> Value {
    json!([{"addresses": [{"ip": ip}], "ports": [
        {"name": "dns", "port": 1053, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 1053, "protocol": "TCP"},
        {"name": "metrics", "port": 9153, "protocol": "TCP"}]}])
}

/// Lays down the virtual half; ClusterIPs mirror the host twins, as vCluster keeps them equal.
pub fn virtual_(host: &Cluster, virt: &Cluster, i: &Install, vcluster_pod_ip: Option<&str>) {
    let (vc, hns) = (i.vcluster.as_str(), i.host_namespace.as_str());
    let host_ip = |name: &str| {
        host.get(kind("services"), hns, name).ok().and_then(|s| {
            s.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    let pod_ip = vcluster_pod_ip.unwrap_or("");
    if let Some(ip) = host_ip(vc) {
        kubernetes_service(virt, &ip, pod_ip, 8443);
    }
    let twin = naming::kube_dns_host_name(vc);
    if let Some(ip) = host_ip(&twin) {
        let svc = create(
            virt,
            "services",
            Some("kube-system"),
            json!({
                "metadata": {"name": "kube-dns", "labels": {"k8s-app": "vcluster-kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
                "spec": {"clusterIP": ip, "ports": dns_ports()}
            }),
        );
        if !pod_ip.is_empty() {
            let labels = json!({"k8s-app": "vcluster-kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"});
            let virtual_endpoints = virt.put_raw(
                kind("endpoints"),
                json!({
                    "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
                    "subsets": dns_endpoints(pod_ip)
                }),
            );
            // vCluster records the virtual object's uid on every twin; without it the engine
            // (rightly) plans a patch and a fresh install would show Drift.
            let endpoints_uid = meta_str(&virtual_endpoints, "uid").to_string();
            // Selector-less virtual endpoints are copied to the host twin.
            let mut host_labels = labels.clone();
            host_labels[naming::LABEL_MANAGED_BY] = json!(vc);
            host_labels[naming::LABEL_NAMESPACE] = json!("kube-system");
            host.put_raw(kind("endpoints"), json!({
                "metadata": {"name": twin, "namespace": hns, "labels": host_labels, "annotations": {
                    naming::ANNOTATION_OBJECT_NAME: "kube-dns", naming::ANNOTATION_OBJECT_NAMESPACE: "kube-system",
                    naming::ANNOTATION_OBJECT_UID: endpoints_uid,
                    naming::ANNOTATION_OBJECT_KIND: naming::OBJECT_KIND_ENDPOINTS,
                    naming::ANNOTATION_OBJECT_HOST_NAME: twin, naming::ANNOTATION_OBJECT_HOST_NAMESPACE: hns,
                }},
                "subsets": dns_endpoints(pod_ip)
            }));
        }
        if let Some(svc) = svc {
            let uid = meta_str(&svc, "uid").to_string();
            host.mutate(kind("services"), hns, &twin, |s| {
                s["metadata"]["annotations"][naming::ANNOTATION_OBJECT_UID] = json!(uid);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcluster::config::VClusterConfig;

    #[test]
    fn vcluster_yaml_parses_with_the_rules_the_install_promises() {
        let cfg: VClusterConfig = serde_yaml::from_str(vcluster_yaml()).unwrap();
        assert!(cfg.sync.to_host.ingresses.enabled);
        assert_eq!(cfg.networking.replicate_services.to_host.len(), 1);
        assert_eq!(cfg.networking.replicate_services.from_host.len(), 1);
        assert!(cfg.networking.resolve_dns.len() >= 2);
        assert!(cfg.control_plane.coredns.embedded);
    }
}
