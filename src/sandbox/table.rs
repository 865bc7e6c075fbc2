//! `meta.k8s.io/v1` Table output with the columns of the apiserver's built-in printers.

use std::sync::Arc;

use serde_json::{Value, json};

use super::registry::KindInfo;

/// `includeObject` of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Include {
    None,
    #[default]
    Metadata,
    Object,
}

impl Include {
    pub fn parse(s: &str) -> Self {
        match s {
            "None" => Self::None,
            "Object" => Self::Object,
            _ => Self::Metadata,
        }
    }
}

struct Col(&'static str, &'static str, u8);

fn columns(kind: &KindInfo) -> Vec<Col> {
    let name = Col("Name", "string", 0);
    let age = Col("Age", "string", 0);
    match kind.id {
        "pods" => vec![
            name,
            Col("Ready", "string", 0),
            Col("Status", "string", 0),
            Col("Restarts", "string", 0),
            age,
            Col("IP", "string", 1),
            Col("Node", "string", 1),
            Col("Nominated Node", "string", 1),
            Col("Readiness Gates", "string", 1),
        ],
        "services" => vec![
            name,
            Col("Type", "string", 0),
            Col("Cluster-IP", "string", 0),
            Col("External-IP", "string", 0),
            Col("Port(s)", "string", 0),
            age,
            Col("Selector", "string", 1),
        ],
        "endpoints" => vec![name, Col("Endpoints", "string", 0), age],
        "namespaces" => vec![name, Col("Status", "string", 0), age],
        "secrets" => vec![
            name,
            Col("Type", "string", 0),
            Col("Data", "string", 0),
            age,
        ],
        "configmaps" => vec![name, Col("Data", "string", 0), age],
        "ingresses.networking.k8s.io" => vec![
            name,
            Col("Class", "string", 0),
            Col("Hosts", "string", 0),
            Col("Address", "string", 0),
            Col("Ports", "string", 0),
            age,
        ],
        "ingressclasses.networking.k8s.io" => vec![
            name,
            Col("Controller", "string", 0),
            Col("Parameters", "string", 0),
            age,
        ],
        "endpointslices.discovery.k8s.io" => vec![
            name,
            Col("AddressType", "string", 0),
            Col("Ports", "string", 0),
            Col("Endpoints", "string", 0),
            age,
        ],
        "leases.coordination.k8s.io" => vec![name, Col("Holder", "string", 0), age],
        "nodes" => vec![
            name,
            Col("Status", "string", 0),
            Col("Roles", "string", 0),
            age,
            Col("Version", "string", 0),
            Col("Internal-IP", "string", 1),
            Col("External-IP", "string", 1),
            Col("OS-Image", "string", 1),
            Col("Kernel-Version", "string", 1),
            Col("Container-Runtime", "string", 1),
        ],
        "events" => vec![
            Col("Last Seen", "string", 0),
            Col("Type", "string", 0),
            Col("Reason", "string", 0),
            Col("Object", "string", 0),
            Col("Message", "string", 0),
        ],
        _ => vec![name, age],
    }
}

/// kubectl's human duration: 45s, 3m12s, 25m, 5h10m, 3d.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        format!("{}y{}d", d / 365, d % 365)
    } else {
        format!("{}y", d / 365)
    }
}

fn age(obj: &Value, field: &str) -> String {
    let ts = obj.pointer(field).and_then(Value::as_str).unwrap_or("");
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".into(),
    }
}

fn s<'a>(obj: &'a Value, p: &str) -> &'a str {
    obj.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn or_none(v: String) -> String {
    if v.is_empty() { "<none>".into() } else { v }
}

fn arr<'a>(obj: &'a Value, p: &str) -> &'a [Value] {
    obj.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn map_len(obj: &Value, p: &str) -> usize {
    obj.pointer(p)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

fn pod_cells(p: &Value) -> Vec<Value> {
    let total = arr(p, "/spec/containers").len();
    let statuses = arr(p, "/status/containerStatuses");
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready") == Some(&json!(true)))
        .count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
        .sum();
    let waiting = statuses
        .iter()
        .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    let status = if p.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating".to_string()
    } else if !s(p, "/status/reason").is_empty() {
        s(p, "/status/reason").to_string()
    } else if let Some(w) = waiting {
        w.to_string()
    } else {
        s(p, "/status/phase").to_string()
    };
    let gates = arr(p, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        format!("0/{}", gates.len())
    };
    vec![
        json!(s(p, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        json!(age(p, "/metadata/creationTimestamp")),
        json!(or_none(s(p, "/status/podIP").into())),
        json!(or_none(s(p, "/spec/nodeName").into())),
        json!(or_none(s(p, "/status/nominatedNodeName").into())),
        json!(gates),
    ]
}

fn service_cells(o: &Value) -> Vec<Value> {
    let ty = s(o, "/spec/type");
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) => format!("{port}:{np}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    let mut external: Vec<String> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external = match ty {
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        "LoadBalancer" => {
            for i in arr(o, "/status/loadBalancer/ingress") {
                if let Some(v) = i
                    .get("ip")
                    .or_else(|| i.get("hostname"))
                    .and_then(Value::as_str)
                {
                    external.push(v.to_string());
                }
            }
            if external.is_empty() {
                "<pending>".into()
            } else {
                external.join(",")
            }
        }
        _ => or_none(external.join(",")),
    };
    let mut sel: Vec<String> = o
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    sel.sort();
    vec![
        json!(s(o, "/metadata/name")),
        json!(ty),
        json!(or_none(s(o, "/spec/clusterIP").into())),
        json!(external),
        json!(or_none(ports.join(","))),
        json!(age(o, "/metadata/creationTimestamp")),
        json!(or_none(sel.join(","))),
    ]
}

fn endpoints_cell(o: &Value) -> String {
    let mut all = Vec::new();
    for sub in arr(o, "/subsets") {
        let ports = arr(sub, "/ports");
        for a in arr(sub, "/addresses") {
            let ip = a.get("ip").and_then(Value::as_str).unwrap_or("");
            if ports.is_empty() {
                all.push(ip.to_string());
            }
            for p in ports {
                all.push(format!(
                    "{ip}:{}",
                    p.get("port").and_then(Value::as_i64).unwrap_or(0)
                ));
            }
        }
    }
    if all.is_empty() {
        return "<none>".into();
    }
    let more = all.len().saturating_sub(3);
    all.truncate(3);
    if more > 0 {
        format!("{} + {more} more...", all.join(","))
    } else {
        all.join(",")
    }
}

fn ingress_cells(o: &Value) -> Vec<Value> {
    let hosts: Vec<&str> = arr(o, "/spec/rules")
        .iter()
        .filter_map(|r| r.get("host").and_then(Value::as_str))
        .collect();
    let addr: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|i| {
            i.get("ip")
                .or_else(|| i.get("hostname"))
                .and_then(Value::as_str)
        })
        .collect();
    let ports = if arr(o, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(or_none(s(o, "/spec/ingressClassName").into())),
        json!(if hosts.is_empty() {
            "*".to_string()
        } else {
            hosts.join(",")
        }),
        json!(addr.join(",")),
        json!(ports),
        json!(age(o, "/metadata/creationTimestamp")),
    ]
}

fn node_cells(o: &Value) -> Vec<Value> {
    let ready = arr(o, "/status/conditions")
        .iter()
        .find(|c| c.get("type") == Some(&json!("Ready")))
        .and_then(|c| c.get("status").and_then(Value::as_str))
        == Some("True");
    let addr = |t: &str| {
        arr(o, "/status/addresses")
            .iter()
            .find(|a| a.get("type") == Some(&json!(t)))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_string()
    };
    let roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    vec![
        json!(s(o, "/metadata/name")),
        json!(if ready { "Ready" } else { "NotReady" }),
        json!(or_none(roles.join(","))),
        json!(age(o, "/metadata/creationTimestamp")),
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(s(o, "/status/nodeInfo/osImage")),
        json!(s(o, "/status/nodeInfo/kernelVersion")),
        json!(s(o, "/status/nodeInfo/containerRuntimeVersion")),
    ]
}

fn cells(kind: &KindInfo, o: &Value) -> Vec<Value> {
    let name = json!(s(o, "/metadata/name"));
    let created = json!(age(o, "/metadata/creationTimestamp"));
    match kind.id {
        "pods" => pod_cells(o),
        "services" => service_cells(o),
        "endpoints" => vec![name, json!(endpoints_cell(o)), created],
        "namespaces" => vec![name, json!(s(o, "/status/phase")), created],
        "secrets" => vec![
            name,
            json!(s(o, "/type")),
            json!(map_len(o, "/data")),
            created,
        ],
        "configmaps" => vec![
            name,
            json!(map_len(o, "/data") + map_len(o, "/binaryData")),
            created,
        ],
        "ingresses.networking.k8s.io" => ingress_cells(o),
        "ingressclasses.networking.k8s.io" => vec![
            name,
            json!(s(o, "/spec/controller")),
            json!(or_none(s(o, "/spec/parameters/name").into())),
            created,
        ],
        "endpointslices.discovery.k8s.io" => {
            let ports: Vec<String> = arr(o, "/ports")
                .iter()
                .filter_map(|p| p.get("port").and_then(Value::as_i64).map(|p| p.to_string()))
                .collect();
            let eps: Vec<String> = arr(o, "/endpoints")
                .iter()
                .flat_map(|e| {
                    arr(e, "/addresses")
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            vec![
                name,
                json!(s(o, "/addressType")),
                json!(if ports.is_empty() {
                    "<unset>".to_string()
                } else {
                    ports.join(",")
                }),
                json!(if eps.is_empty() {
                    "<unset>".to_string()
                } else {
                    eps.join(",")
                }),
                created,
            ]
        }
        "leases.coordination.k8s.io" => vec![
            name,
            json!(or_none(s(o, "/spec/holderIdentity").into())),
            created,
        ],
        "nodes" => node_cells(o),
        "events" => {
            let last = if o.pointer("/lastTimestamp").is_some_and(|v| !v.is_null()) {
                age(o, "/lastTimestamp")
            } else {
                age(o, "/metadata/creationTimestamp")
            };
            vec![
                json!(last),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(format!(
                    "{}/{}",
                    s(o, "/involvedObject/kind").to_lowercase(),
                    s(o, "/involvedObject/name")
                )),
                json!(s(o, "/message")),
            ]
        }
        _ => vec![name, created],
    }
}

/// The row's embedded object: PartialObjectMetadata unless the full object was asked for.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

pub fn row(kind: &KindInfo, obj: &Value, include: Include) -> Value {
    let mut r = json!({"cells": cells(kind, obj)});
    match include {
        Include::None => {}
        Include::Metadata => r["object"] = partial_metadata(obj),
        Include::Object => r["object"] = obj.clone(),
    }
    r
}

pub fn table(
    kind: &KindInfo,
    items: &[Arc<Value>],
    rv: u64,
    cont: Option<&str>,
    include: Include,
) -> Value {
    let cols: Vec<Value> = columns(kind)
        .into_iter()
        .map(|Col(name, ty, prio)| {
            let mut c = json!({"name": name, "type": ty, "format": "", "description": name, "priority": prio});
            if name == "Name" {
                c["format"] = json!("name");
            }
            c
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": cols,
        "rows": items.iter().map(|o| row(kind, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::registry::by_id;

    #[test]
    fn durations() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(25 * 60), "25m");
        assert_eq!(human_duration(5 * 3600 + 600), "5h10m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn service_and_pod_cells() {
        let svc = json!({"metadata": {"name": "s", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "a"},
                "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
        let t = table(
            by_id("services").unwrap(),
            &[Arc::new(svc)],
            5,
            None,
            Include::Metadata,
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "80:30080/TCP");
        assert_eq!(cells[6], "app=a");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}]}});
        let r = row(by_id("pods").unwrap(), &pod, Include::None);
        assert_eq!(r["cells"][1], "1/1");
        assert_eq!(r["cells"][2], "Running");
        assert_eq!(r["cells"][3], "2");
    }
}
