//! Scale objects and churn for `vinspect sandbox --scale N [--churn R]`.
//!
//! This half never sees the engine: it writes the virtual side's objects (what users would
//! apply) straight into the store through the apiserver's own create path, and it changes
//! objects at a steady rate. Host twins are the syncer's business; `commands::scale` makes them
//! with the engine's own planner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::cluster::{Cluster, WriteOpts, kind};
use super::error::ApiError;
use super::store::meta_str;

/// Apps per virtual namespace.
pub const APPS_PER_NAMESPACE: u32 = 100;
/// Prefix of the generated virtual namespaces (`scale-0`, `scale-1`, …).
pub const NAMESPACE_PREFIX: &str = "scale-";
/// Annotation churn writes on virtual objects: the wall-clock time of the write in ms since the
/// Unix epoch, so a reader can tell how old the change it shows is.
pub const CHURN_ANNOTATION: &str = "vinspect.dev/churned-at";
/// Label churn flips on virtual pods and services.
pub const CHURN_LABEL: &str = "vinspect.dev/churn";

/// What one app of the mix consists of (by app index modulo 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppShape {
    /// Service with a selector and one pod (6 in 10).
    Plain,
    /// Headless service (`clusterIP: None`) with one pod (1 in 10).
    Headless,
    /// Service without selector, with Endpoints written by hand (1 in 10).
    Manual,
    /// Service with one pod and an Ingress routing to it (2 in 10).
    Ingress,
}

impl AppShape {
    pub fn of(app: u32) -> Self {
        match app % 10 {
            7 => AppShape::Headless,
            8 => AppShape::Manual,
            4 | 9 => AppShape::Ingress,
            _ => AppShape::Plain,
        }
    }
}

/// One virtual object to create: registry kind id, namespace, body.
#[derive(Debug, Clone)]
pub struct ScaleObject {
    pub kind: &'static str,
    pub namespace: String,
    pub body: Value,
}

/// The virtual objects of `pairs` pairs (services, pods, manual endpoints, ingresses; each has
/// exactly one host twin once synced), app by app, in namespaces of [`APPS_PER_NAMESPACE`]
/// apps. Namespaces are not counted (they are not paired).
pub fn virtual_objects(pairs: u32) -> (Vec<String>, Vec<ScaleObject>) {
    let mut namespaces = Vec::new();
    let mut out = Vec::with_capacity(pairs as usize);
    let mut app = 0u32;
    while (out.len() as u32) < pairs {
        let ns = format!("{NAMESPACE_PREFIX}{}", app / APPS_PER_NAMESPACE);
        if app.is_multiple_of(APPS_PER_NAMESPACE) {
            namespaces.push(ns.clone());
        }
        for o in app_objects(app, &ns) {
            if out.len() as u32 >= pairs {
                break;
            }
            out.push(o);
        }
        app += 1;
    }
    (namespaces, out)
}

fn app_objects(app: u32, ns: &str) -> Vec<ScaleObject> {
    let shape = AppShape::of(app);
    let name = format!("app-{app}");
    let obj = |kind: &'static str, body: Value| ScaleObject {
        kind,
        namespace: ns.to_string(),
        body,
    };
    let labels =
        json!({"app": name, "tier": if app.is_multiple_of(3) { "frontend" } else { "backend" }});
    let mut spec =
        json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]});
    match shape {
        AppShape::Manual => {}
        AppShape::Headless => {
            spec["selector"] = json!({"app": name});
            spec["clusterIP"] = json!("None");
        }
        _ => spec["selector"] = json!({"app": name}),
    }
    let mut v = vec![obj(
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec}),
    )];
    if shape == AppShape::Manual {
        // An external database behind a stable in-cluster name: addresses outside the pod CIDR.
        let ip = format!("192.168.{}.{}", (app / 250) % 250, app % 250 + 1);
        v.push(obj(
            "endpoints",
            json!({"apiVersion": "v1", "kind": "Endpoints",
                   "metadata": {"name": name, "namespace": ns, "labels": labels},
                   "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}),
        ));
        return v;
    }
    v.push(obj(
        "pods",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("{name}-0"), "namespace": ns, "labels": labels},
               "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}),
    ));
    if shape == AppShape::Ingress {
        v.push(obj(
            "ingresses.networking.k8s.io",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "metadata": {"name": name, "namespace": ns, "labels": labels},
                   "spec": {"rules": [{"host": format!("{name}.{ns}.example.com"),
                            "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                     "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}}),
        ));
    }
    v
}

/// Creates namespaces and objects through the apiserver's create path (validation, defaults,
/// ClusterIP allocation) without HTTP. Objects that exist already are left alone.
pub fn create_all(
    cluster: &Cluster,
    namespaces: &[String],
    objects: &[ScaleObject],
) -> Result<(), ApiError> {
    let o = WriteOpts::default();
    for ns in namespaces {
        ok_if_exists(cluster.create(
            kind("namespaces"),
            None,
            json!({"metadata": {"name": ns}}),
            &o,
        ))?;
    }
    for obj in objects {
        ok_if_exists(cluster.create(kind(obj.kind), Some(&obj.namespace), obj.body.clone(), &o))?;
    }
    Ok(())
}

fn ok_if_exists<T>(r: Result<T, ApiError>) -> Result<(), ApiError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Wall-clock milliseconds since the Unix epoch (what churn writes and logs).
pub fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// One kind of change churn makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChurnOp {
    /// Virtual pod: annotation with the time, label flipped.
    VirtualPod,
    /// Virtual service: annotation with the time.
    VirtualService,
    /// Host pod: a status condition's probe time (what a kubelet writes all day).
    HostPodStatus,
}

const CHURN_CYCLE: [ChurnOp; 4] = [
    ChurnOp::VirtualPod,
    ChurnOp::HostPodStatus,
    ChurnOp::VirtualService,
    ChurnOp::HostPodStatus,
];

/// Keys of the objects churn may touch on one side, collected once.
fn keys(cluster: &Cluster, kind_id: &'static str, ns: Option<&str>) -> Vec<(String, String)> {
    let store = cluster.lock();
    store
        .range(kind_id, ns, None)
        .filter(|(k, _)| ns.is_some() || k.1.starts_with(NAMESPACE_PREFIX))
        .map(|(k, _)| (k.1.clone(), k.2.clone()))
        .collect()
}

/// Changes `rate` objects per second, spread over both sides, until the task is dropped or
/// aborted. Virtual pods and services get a [`CHURN_ANNOTATION`] (and pods a flipped
/// [`CHURN_LABEL`]); host pods in `host_namespace` get a new `lastProbeTime` on their Ready
/// condition. Every write is logged at debug level (target `vinspect::churn`) with its side
/// and resourceVersion, so lag can be measured against a reader's log.
///
/// While `on` is false churn pauses (and does not catch up afterwards).
pub async fn churn(
    virt: Arc<Cluster>,
    host: Arc<Cluster>,
    host_namespace: String,
    rate: f64,
    on: Arc<AtomicBool>,
) {
    if rate.is_nan() || rate <= 0.0 {
        return;
    }
    let vpods = keys(&virt, "pods", None);
    let vsvcs = keys(&virt, "services", None);
    let hpods = keys(&host, "pods", Some(&host_namespace));
    let mut start = Instant::now();
    let mut done: u64 = 0;
    let mut cursor = [0usize; 3];
    // Short ticks keep the rate smooth; each tick catches up on what is owed.
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if !on.load(Ordering::Relaxed) {
            start = Instant::now();
            done = 0;
            continue;
        }
        let owed = (start.elapsed().as_secs_f64() * rate) as u64;
        while done < owed {
            let op = CHURN_CYCLE[(done % CHURN_CYCLE.len() as u64) as usize];
            let (pool, idx, cluster, kind_id, side) = match op {
                ChurnOp::VirtualPod => (&vpods, 0, &virt, "pods", "virtual"),
                ChurnOp::VirtualService => (&vsvcs, 1, &virt, "services", "virtual"),
                ChurnOp::HostPodStatus => (&hpods, 2, &host, "pods", "host"),
            };
            done += 1;
            if pool.is_empty() {
                continue;
            }
            let (ns, name) = &pool[cursor[idx] % pool.len()];
            cursor[idx] += 1;
            let at = unix_ms();
            let written = cluster.mutate(kind(kind_id), ns, name, |o| change(o, op, at));
            if let Some(w) = written {
                tracing::debug!(
                    target: "vinspect::churn",
                    side,
                    kind = kind_id,
                    object = %format!("{ns}/{name}"),
                    rv = meta_str(&w, "resourceVersion"),
                    at_ms = at as u64,
                    "churn write"
                );
            }
        }
    }
}

fn change(o: &mut Value, op: ChurnOp, at: u128) {
    let stamp = json!(at.to_string());
    match op {
        ChurnOp::VirtualPod | ChurnOp::VirtualService => {
            let meta = &mut o["metadata"];
            if !meta["annotations"].is_object() {
                meta["annotations"] = json!({});
            }
            meta["annotations"][CHURN_ANNOTATION] = stamp;
            if op == ChurnOp::VirtualPod {
                if !meta["labels"].is_object() {
                    meta["labels"] = json!({});
                }
                let flip = if meta["labels"][CHURN_LABEL] == json!("a") {
                    "b"
                } else {
                    "a"
                };
                meta["labels"][CHURN_LABEL] = json!(flip);
            }
        }
        ChurnOp::HostPodStatus => {
            let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at as i64)
                .unwrap_or_else(chrono::Utc::now)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            if let Some(conds) = o
                .pointer_mut("/status/conditions")
                .and_then(Value::as_array_mut)
            {
                for c in conds.iter_mut() {
                    if c["type"] == json!("Ready") {
                        // Seconds resolution would make most writes no-ops; the ms go in a
                        // sibling field the way a kubelet's probe counters change.
                        c["lastProbeTime"] = json!(now);
                    }
                }
            }
            let restarts = o
                .pointer("/status/containerStatuses/0/restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if let Some(cs) = o.pointer_mut("/status/containerStatuses/0") {
                cs["restartCount"] = json!(restarts + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_has_every_shape_and_exact_pair_count() {
        let (ns, objs) = virtual_objects(1000);
        assert_eq!(objs.len(), 1000);
        let count = |k: &str| objs.iter().filter(|o| o.kind == k).count();
        assert!(count("services") > 0 && count("pods") > 0);
        assert!(count("endpoints") > 0 && count("ingresses.networking.k8s.io") > 0);
        let headless = objs
            .iter()
            .filter(|o| o.body.pointer("/spec/clusterIP") == Some(&json!("None")))
            .count();
        assert!(headless > 0);
        // 1000 pairs at 2.2 per app: ~455 apps, 100 per namespace.
        assert_eq!(ns.len(), 5);
        assert!(objs.iter().all(|o| ns.contains(&o.namespace)));
    }

    #[test]
    fn zero_pairs_is_nothing() {
        let (ns, objs) = virtual_objects(0);
        assert!(ns.is_empty() && objs.is_empty());
    }

    #[test]
    fn churn_changes_stamp_and_flip() {
        let mut pod = json!({"metadata": {"name": "p"}, "status": {"conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [{"restartCount": 0}]}});
        change(&mut pod, ChurnOp::VirtualPod, 1234);
        assert_eq!(pod["metadata"]["annotations"][CHURN_ANNOTATION], "1234");
        assert_eq!(pod["metadata"]["labels"][CHURN_LABEL], "a");
        change(&mut pod, ChurnOp::VirtualPod, 1235);
        assert_eq!(pod["metadata"]["labels"][CHURN_LABEL], "b");
        change(&mut pod, ChurnOp::HostPodStatus, 1236);
        assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 1);
        assert!(pod["status"]["conditions"][0]["lastProbeTime"].is_string());
    }
}
