//! A simulated scheduler + kubelet for the host: N Ready nodes; new pods get a node and an IP
//! from 10.244.0.0/16 at once, and become Running and Ready after a delay.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::sandbox::cluster::{Cluster, kind, now_rfc3339};
use crate::sandbox::store::{Event, EventType, meta_str};

pub const POD_CIDR: &str = "10.244.0.0/16";
pub const KUBELET_VERSION: &str = "v1.32.4";

pub fn node_name(i: u32) -> String {
    format!("sandbox-node-{}", i + 1)
}

pub fn node_ip(i: u32) -> String {
    format!("172.18.0.{}", i + 2)
}

/// Name and image of each container. Only these two: a pod twin's containers carry hundreds
/// of service-link env vars, and copying them per status write was most of the kubelet's cost.
fn containers(pod: &Value) -> Vec<(Value, Value)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| (c["name"].clone(), c["image"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

pub struct Kubelet {
    cluster: Arc<Cluster>,
    nodes: u32,
    delay: Duration,
    next: AtomicUsize,
    used: Mutex<HashSet<u32>>,
}

impl Kubelet {
    pub fn new(cluster: Arc<Cluster>, nodes: u32, delay: Duration) -> Self {
        Self {
            cluster,
            nodes: nodes.max(1),
            delay,
            next: AtomicUsize::new(0),
            used: Mutex::new(HashSet::new()),
        }
    }

    /// Writes the Node objects.
    pub fn register_nodes(&self) {
        register_nodes(&self.cluster, self.nodes);
    }

    fn allocate_ip(&self, node: u32) -> String {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let base = u32::from(Ipv4Addr::new(10, 244, 0, 0));
        // Each node owns a /24 (10.244.<node+1>.0/24); .0 and .1 are not handed out.
        for host in 2..255u32 {
            let ip = base + ((node + 1) << 8) + host;
            if used.insert(ip) {
                return Ipv4Addr::from(ip).to_string();
            }
        }
        for ip in base + 256..base + 65535 {
            if used.insert(ip) {
                return Ipv4Addr::from(ip).to_string();
            }
        }
        String::new()
    }

    fn release_ip(&self, ip: &str) {
        if let Ok(a) = ip.parse::<Ipv4Addr>() {
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&u32::from(a));
        }
    }

    pub fn on_pod(&self, ev: &Event) {
        if ev.etype == EventType::Deleted {
            if let Some(ip) = ev.object.pointer("/status/podIP").and_then(Value::as_str) {
                self.release_ip(ip);
            }
            return;
        }
        let pod = &ev.object;
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            // The containers stop at once; the kubelet then removes the pod (grace 0), which
            // finalizers may still hold.
            let _ = self.cluster.delete(
                kind("pods"),
                &ev.namespace,
                &ev.name,
                &crate::sandbox::cluster::DeleteOpts {
                    uid: Some(meta_str(pod, "uid").to_string()),
                    grace_period: Some(0),
                    ..Default::default()
                },
            );
            return;
        }
        let scheduled = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let has_ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if scheduled && has_ip {
            return;
        }
        let node_idx = match pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => match (0..self.nodes).find(|i| node_name(*i) == n) {
                Some(i) => i,
                // A node this kubelet does not run: leave the pod Pending, like a real cluster.
                None => return,
            },
            None => (self.next.fetch_add(1, Ordering::Relaxed) % self.nodes as usize) as u32,
        };
        let host_network = pod.pointer("/spec/hostNetwork") == Some(&json!(true));
        let ip = if host_network {
            node_ip(node_idx)
        } else {
            self.allocate_ip(node_idx)
        };
        let (ns, name, uid) = (
            ev.namespace.clone(),
            ev.name.clone(),
            meta_str(pod, "uid").to_string(),
        );
        let now = now_rfc3339();
        let node = node_name(node_idx);
        let written = self.cluster.mutate(kind("pods"), &ns, &name, |p| {
            p["spec"]["nodeName"] = json!(node);
            let st = &mut p["status"];
            st["phase"] = json!("Pending");
            st["hostIP"] = json!(node_ip(node_idx));
            st["hostIPs"] = json!([{"ip": node_ip(node_idx)}]);
            st["podIP"] = json!(ip);
            st["podIPs"] = json!([{"ip": ip}]);
            st["startTime"] = json!(now);
            st["conditions"] =
                json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]);
            let statuses: Vec<Value> = containers(p).into_iter().map(|(name, image)| json!({
                "name": name, "image": image, "imageID": "", "ready": false, "started": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}
            })).collect();
            p["status"]["containerStatuses"] = Value::Array(statuses);
        });
        let Some(written) = written else {
            if !host_network {
                self.release_ip(&ip);
            }
            return;
        };
        record_event(
            &self.cluster,
            &written,
            "default-scheduler",
            None,
            "Scheduled",
            &format!("Successfully assigned {ns}/{name} to {node}"),
        );
        let cluster = self.cluster.clone();
        let delay = self.delay;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let now = now_rfc3339();
            let running = cluster.mutate(kind("pods"), &ns, &name, |p| {
                if meta_str(p, "uid") != uid || p.pointer("/metadata/deletionTimestamp").is_some() {
                    return;
                }
                let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
                p["status"]["phase"] = json!("Running");
                p["status"]["conditions"] = json!([cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")]);
                let statuses: Vec<Value> = containers(p).into_iter().map(|(name, image)| {
                    let image = image.as_str().unwrap_or("");
                    json!({
                        "name": name, "image": image, "imageID": format!("{}{image}@sha256:{}", if image.contains('/') { "" } else { "docker.io/library/" }, "0".repeat(64)),
                        "containerID": format!("containerd://{}", &crate::sandbox::cluster::new_uid().replace('-', "")),
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": now}}
                    })
                }).collect();
                p["status"]["containerStatuses"] = Value::Array(statuses);
            });
            if let Some(pod) = running
                && pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
            {
                let node = pod
                    .pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                for (cname, image) in containers(&pod) {
                    let cname = cname.as_str().unwrap_or("");
                    let image = image.as_str().unwrap_or("");
                    let field = format!("spec.containers{{{cname}}}");
                    record_event(
                        &cluster,
                        &pod,
                        "kubelet",
                        Some((&node, &field)),
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                    );
                    record_event(
                        &cluster,
                        &pod,
                        "kubelet",
                        Some((&node, &field)),
                        "Created",
                        &format!("Created container {cname}"),
                    );
                    record_event(
                        &cluster,
                        &pod,
                        "kubelet",
                        Some((&node, &field)),
                        "Started",
                        &format!("Started container {cname}"),
                    );
                }
            }
        });
    }
}

/// A core/v1 Event about a pod, as the scheduler and kubelet record them (describe shows them).
fn record_event(
    cluster: &Cluster,
    pod: &Value,
    component: &str,
    at: Option<(&str, &str)>,
    reason: &str,
    message: &str,
) {
    let ns = meta_str(pod, "namespace");
    let name = meta_str(pod, "name");
    let suffix: String = crate::sandbox::cluster::new_uid()
        .replace('-', "")
        .chars()
        .take(16)
        .collect();
    let now = now_rfc3339();
    let mut involved = json!({"kind": "Pod", "namespace": ns, "name": name, "uid": meta_str(pod, "uid"), "apiVersion": "v1"});
    let mut source = json!({"component": component});
    if let Some((host, field)) = at {
        involved["fieldPath"] = json!(field);
        source["host"] = json!(host);
    }
    cluster.put_raw(
        kind("events"),
        json!({
            "metadata": {"name": format!("{name}.{suffix}"), "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": "Normal",
            "reportingComponent": component,
            "reportingInstance": at.map(|a| a.0).unwrap_or(""),
        }),
    );
}

/// Writes the Node objects of a host with `nodes` nodes.
pub fn register_nodes(cluster: &Cluster, nodes: u32) {
    for i in 0..nodes.max(1) {
        let name = node_name(i);
        let now = now_rfc3339();
        let cond = |t: &str, s: &str, reason: &str| json!({"type": t, "status": s, "reason": reason, "lastHeartbeatTime": now, "lastTransitionTime": now, "message": reason});
        cluster.put_raw(kind("nodes"), json!({
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}},
            "spec": {"podCIDR": format!("10.244.{}.0/24", i + 1), "podCIDRs": [format!("10.244.{}.0/24", i + 1)]},
            "status": {
                "addresses": [{"type": "InternalIP", "address": node_ip(i)}, {"type": "Hostname", "address": name}],
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID"),
                    cond("Ready", "True", "KubeletReady"),
                ],
                "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "nodeInfo": {
                    "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                    "osImage": "Sandbox Linux", "kernelVersion": "6.1.0", "operatingSystem": "linux",
                    "architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.24",
                    "machineID": "", "systemUUID": "", "bootID": ""
                }
            }
        }));
    }
}
