//! Defaults the apiserver fills in, so describe and Table output look like a real cluster.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::registry::KindInfo;

fn set_if_missing(obj: &mut Map<String, Value>, key: &str, v: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), v);
    }
}

fn as_obj<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let m = v.as_object_mut()?;
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), json!({}));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// Applies defaults for a kind in place (creation and update both).
pub fn apply(kind: &KindInfo, obj: &mut Value) {
    match kind.id {
        "pods" => pod(obj),
        "services" => service(obj),
        "namespaces" => namespace(obj),
        "secrets" => secret(obj),
        "endpoints" => endpoints(obj),
        _ => {}
    }
}

fn image_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = if last.contains('@') {
        return "IfNotPresent";
    } else {
        last.split_once(':').map(|(_, t)| t)
    };
    match tag {
        None | Some("latest") => "Always",
        _ => "IfNotPresent",
    }
}

fn container(c: &mut Value) {
    let Some(m) = c.as_object_mut() else { return };
    let image = m
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set_if_missing(m, "imagePullPolicy", json!(image_pull_policy(&image)));
    set_if_missing(m, "terminationMessagePath", json!("/dev/termination-log"));
    set_if_missing(m, "terminationMessagePolicy", json!("File"));
    set_if_missing(m, "resources", json!({}));
    if let Some(ports) = m.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_if_missing(p, "protocol", json!("TCP"));
        }
    }
}

fn pod(obj: &mut Value) {
    let Some(spec) = as_obj(obj, "spec") else {
        return;
    };
    set_if_missing(spec, "restartPolicy", json!("Always"));
    set_if_missing(spec, "dnsPolicy", json!("ClusterFirst"));
    set_if_missing(spec, "schedulerName", json!("default-scheduler"));
    set_if_missing(spec, "terminationGracePeriodSeconds", json!(30));
    set_if_missing(spec, "enableServiceLinks", json!(true));
    set_if_missing(spec, "securityContext", json!({}));
    set_if_missing(spec, "serviceAccountName", json!("default"));
    set_if_missing(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    set_if_missing(spec, "priority", json!(0));
    for key in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(container);
        }
    }
}

/// QoS class as the kubelet computes it, simplified to requests/limits presence.
pub fn qos_class(pod: &Value) -> &'static str {
    let cs: &[Value] = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let mut any = false;
    let mut guaranteed = !cs.is_empty();
    for c in cs {
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        if limits.is_some_and(|l| !l.is_empty()) || requests.is_some_and(|r| !r.is_empty()) {
            any = true;
        }
        let full = limits.is_some_and(|l| l.contains_key("cpu") && l.contains_key("memory"));
        let same = match (limits, requests) {
            (Some(l), Some(r)) => r.iter().all(|(k, v)| l.get(k) == Some(v)),
            _ => true,
        };
        guaranteed &= full && same;
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = as_obj(obj, "spec") else {
        return;
    };
    set_if_missing(spec, "type", json!("ClusterIP"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        set_if_missing(spec, "sessionAffinity", json!("None"));
        set_if_missing(spec, "ipFamilies", json!(["IPv4"]));
        set_if_missing(spec, "ipFamilyPolicy", json!("SingleStack"));
        set_if_missing(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        set_if_missing(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_if_missing(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_if_missing(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                set_if_missing(p, "targetPort", port);
            }
        }
    }
    if let Some(status) = as_obj(obj, "status") {
        set_if_missing(status, "loadBalancer", json!({}));
    }
}

fn namespace(obj: &mut Value) {
    let name = super::store::meta_str(obj, "name").to_string();
    if let Some(meta) = as_obj(obj, "metadata")
        && let Some(labels) = as_obj_map(meta, "labels")
    {
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    if let Some(spec) = as_obj(obj, "spec") {
        set_if_missing(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = as_obj(obj, "status") {
        set_if_missing(status, "phase", json!("Active"));
    }
}

fn as_obj_map<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), json!({}));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

fn secret(obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else { return };
    set_if_missing(m, "type", json!("Opaque"));
    // stringData is write-only: merged into data (base64) and never stored.
    if let Some(Value::Object(sd)) = m.remove("stringData") {
        let data = as_obj_map(m, "data");
        if let Some(data) = data {
            for (k, v) in sd {
                let s = v.as_str().unwrap_or_default().to_string();
                data.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
                );
            }
        }
    }
}

fn endpoints(obj: &mut Value) {
    if let Some(subsets) = obj.get_mut("subsets").and_then(Value::as_array_mut) {
        for s in subsets {
            if let Some(ports) = s.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    set_if_missing(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::registry::by_id;

    #[test]
    fn pod_and_service_defaults() {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "nginx:1.27"}]}});
        apply(by_id("pods").unwrap(), &mut p);
        assert_eq!(p["spec"]["restartPolicy"], "Always");
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(
            p["spec"]["containers"][1]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(p["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(qos_class(&p), "BestEffort");

        let mut s = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
        apply(by_id("services").unwrap(), &mut s);
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let mut s =
            json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}, "data": {"x": "eA=="}});
        apply(by_id("secrets").unwrap(), &mut s);
        assert_eq!(s["data"]["k"], "dg==");
        assert_eq!(s["data"]["x"], "eA==");
        assert!(s.get("stringData").is_none());
        assert_eq!(s["type"], "Opaque");
    }
}
