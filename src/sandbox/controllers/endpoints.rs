//! Endpoints and EndpointSlice controller: a Service with a selector gets the IPs of the pods it
//! selects, ready ones as `addresses`, the others as `notReadyAddresses`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::index::{PairIndex, labels, string_pairs};
use crate::sandbox::cluster::{Cluster, kind};
use crate::sandbox::selectors::map_matches;
use crate::sandbox::store::{Event, meta_str};

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// Adds the services in the pod's namespace that select the pod before or after the event.
/// Candidates come from `services` (indexed by their first selector pair); each is checked
/// against its current selector in the store.
pub fn services_for_pod(
    cluster: &Cluster,
    services: &PairIndex,
    ev: &Event,
    out: &mut BTreeSet<(String, String)>,
) {
    let mut candidates = BTreeSet::new();
    for obj in std::iter::once(&ev.object).chain(ev.old.iter()) {
        for (k, v) in labels(obj).into_iter().flat_map(string_pairs) {
            candidates.extend(services.names(&ev.namespace, k, v).cloned());
        }
    }
    if candidates.is_empty() {
        return;
    }
    let store = cluster.lock();
    for name in candidates {
        let Some(svc) = store.get("services", &ev.namespace, &name) else {
            continue;
        };
        let Some(sel) = selector(&svc) else { continue };
        if map_matches(sel, &ev.object) || ev.old.as_deref().is_some_and(|o| map_matches(sel, o)) {
            out.insert((ev.namespace.clone(), name));
        }
    }
}

/// What the service index holds for a service: one pair of its selector (every pod it
/// selects carries all of them), or nothing when it selects no pods.
pub fn service_index_pairs(svc: &Value) -> Vec<(String, String)> {
    selector(svc)
        .and_then(|sel| string_pairs(sel).next())
        .map(|(k, v)| vec![(k.clone(), v.to_string())])
        .unwrap_or_default()
}

/// What the pod index holds for a pod: all its labels.
pub fn pod_index_pairs(pod: &Value) -> Vec<(String, String)> {
    labels(pod)
        .into_iter()
        .flat_map(string_pairs)
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

fn selector(svc: &Value) -> Option<&Map<String, Value>> {
    svc.pointer("/spec/selector")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The container port a service port's targetPort names, for one pod.
fn resolve_port(pod: &Value, target: &Value) -> Option<i64> {
    match target {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => {
            if let Ok(n) = name.parse::<i64>() {
                return Some(n);
            }
            pod.pointer("/spec/containers")?
                .as_array()?
                .iter()
                .flat_map(|c| {
                    c.get("ports")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
                .and_then(|p| p.get("containerPort").and_then(Value::as_i64))
        }
        _ => None,
    }
}

fn slice_name(svc: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let h = Sha256::digest(svc.as_bytes());
    let suffix: String = h
        .iter()
        .take(5)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{svc}-{suffix}")
}

/// Recomputes the Endpoints and EndpointSlice of one service; `pods` finds the candidates.
pub fn sync_service(cluster: &Cluster, pods: &PairIndex, ns: &str, name: &str) {
    let svc = cluster.lock().get("services", ns, name);
    let Some(svc) = svc else {
        cluster.remove_raw(kind("endpoints"), ns, name);
        cluster.remove_raw(
            kind("endpointslices.discovery.k8s.io"),
            ns,
            &slice_name(name),
        );
        return;
    };
    let Some(sel) = selector(&svc).cloned() else {
        return;
    };
    let publish_not_ready = svc.pointer("/spec/publishNotReadyAddresses") == Some(&json!(true));
    let svc_ports: Vec<Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pods: Vec<std::sync::Arc<Value>> = {
        // Any one selector pair narrows the namespace's pods to the candidates.
        let store = cluster.lock();
        match string_pairs(&sel).next() {
            Some((k, v)) => pods
                .names(ns, k, v)
                .filter_map(|n| store.head("pods", ns, n))
                .filter(|p| map_matches(&sel, p))
                .collect(),
            // A selector with non-string values matches no labels.
            None => Vec::new(),
        }
    };
    // ports signature -> (ports, ready addresses, not-ready addresses)
    type Group = (Vec<Value>, Vec<Value>, Vec<Value>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut slice_eps = Vec::new();
    let mut slice_ports: Option<Vec<Value>> = None;
    for pod in &pods {
        let ip = pod
            .pointer("/status/podIP")
            .and_then(Value::as_str)
            .unwrap_or("");
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if ip.is_empty()
            || pod.pointer("/metadata/deletionTimestamp").is_some()
            || phase == "Succeeded"
            || phase == "Failed"
        {
            continue;
        }
        let ports: Vec<Value> = svc_ports
            .iter()
            .filter_map(|sp| {
                let target = sp.get("targetPort").or_else(|| sp.get("port"))?;
                let port = resolve_port(pod, target)?;
                let mut p = json!({"port": port, "protocol": sp.get("protocol").cloned().unwrap_or(json!("TCP"))});
                if let Some(n) = sp.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                    p["name"] = json!(n);
                }
                Some(p)
            })
            .collect();
        let ready = is_ready(pod) || publish_not_ready;
        let mut addr = json!({
            "ip": ip,
            "targetRef": {"kind": "Pod", "namespace": ns, "name": meta_str(pod, "name"), "uid": meta_str(pod, "uid")},
        });
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !node.is_empty() {
            addr["nodeName"] = json!(node);
        }
        if let (Some(h), Some(sd)) = (
            pod.pointer("/spec/hostname").and_then(Value::as_str),
            pod.pointer("/spec/subdomain").and_then(Value::as_str),
        ) && sd == name
        {
            addr["hostname"] = json!(h);
        }
        let mut ep = json!({
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": ready, "terminating": false},
            "targetRef": addr["targetRef"].clone(),
        });
        if !node.is_empty() {
            ep["nodeName"] = json!(node);
        }
        slice_eps.push(ep);
        if slice_ports.is_none() {
            slice_ports = Some(ports.clone());
        }
        let sig = serde_json::to_string(&ports).unwrap_or_default();
        let g = groups
            .entry(sig)
            .or_insert_with(|| (ports, Vec::new(), Vec::new()));
        if ready {
            g.1.push(addr)
        } else {
            g.2.push(addr)
        }
    }
    let subsets: Vec<Value> = groups
        .into_values()
        .map(|(ports, ready, not_ready)| {
            let mut s = json!({"ports": ports});
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                s["notReadyAddresses"] = json!(not_ready);
            }
            s
        })
        .collect();
    let mut labels = svc
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    if svc.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None") {
        labels["service.kubernetes.io/headless"] = json!("");
    }
    let existing = cluster.lock().get("endpoints", ns, name);
    let mut eps = match &existing {
        Some(e) => (**e).clone(),
        None => json!({"metadata": {"name": name, "namespace": ns}}),
    };
    eps["metadata"]["labels"] = labels.clone();
    match eps.as_object_mut() {
        Some(m) if subsets.is_empty() => {
            m.remove("subsets");
        }
        Some(m) => {
            m.insert("subsets".into(), json!(subsets));
        }
        None => {}
    }
    cluster.put_raw(kind("endpoints"), eps);

    let slice_kind = kind("endpointslices.discovery.k8s.io");
    let sname = slice_name(name);
    let existing = cluster.lock().get(slice_kind.id, ns, &sname);
    let mut slice = match &existing {
        Some(e) => (**e).clone(),
        None => json!({"metadata": {"name": sname, "namespace": ns}}),
    };
    let mut slabels = labels;
    slabels[SERVICE_NAME_LABEL] = json!(name);
    slabels[MANAGED_BY_LABEL] = json!(MANAGED_BY);
    slice["metadata"]["labels"] = slabels;
    slice["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "v1", "kind": "Service", "name": name, "uid": meta_str(&svc, "uid"),
        "controller": true, "blockOwnerDeletion": true,
    }]);
    slice["metadata"]["generation"] = slice
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    slice["addressType"] = json!("IPv4");
    slice["endpoints"] = json!(slice_eps);
    let ports = slice_ports.unwrap_or_else(|| {
        svc_ports
            .iter()
            .filter_map(|sp| {
                let mut p = json!({"port": sp.get("targetPort").and_then(Value::as_i64)?, "protocol": sp.get("protocol").cloned().unwrap_or(json!("TCP"))});
                if let Some(n) = sp.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                    p["name"] = json!(n);
                }
                Some(p)
            })
            .collect()
    });
    slice["ports"] = json!(ports);
    cluster.put_raw(slice_kind, slice);
}
