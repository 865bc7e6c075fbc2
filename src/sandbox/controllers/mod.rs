//! The simulated control plane: what makes the sandbox behave like a cluster rather than a
//! key-value store. Controllers consume every store event through an unbounded queue and write
//! back through the cluster's controller write path.

pub mod endpoints;
pub mod gc;
pub mod index;
pub mod ipam;
pub mod kubelet;
pub mod namespace;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::cluster::Cluster;
use super::store::EventType;

/// Starts the controllers of one server. `kubelet` is `Some((nodes, delay))` on the host only.
pub fn spawn(cluster: Arc<Cluster>, kubelet: Option<(u32, Duration)>) -> JoinHandle<()> {
    let mut rx = cluster.lock().add_controller();
    let kubelet = kubelet.map(|(n, d)| kubelet::Kubelet::new(cluster.clone(), n, d));
    if let Some(k) = &kubelet {
        k.register_nodes();
    }
    tokio::spawn(async move {
        // Fed from the same events as everything below, from before the first object exists.
        let mut pod_index = index::PairIndex::default();
        let mut service_index = index::PairIndex::default();
        let mut owner_index = index::OwnerIndex::default();
        while let Some(first) = rx.recv().await {
            // Drain what is queued so that a burst of pod changes syncs each service once.
            let mut batch = vec![first];
            while let Ok(ev) = rx.try_recv() {
                batch.push(ev);
                if batch.len() >= 4096 {
                    break;
                }
            }
            let mut services = BTreeSet::new();
            let mut namespaces = BTreeSet::new();
            let mut owners: std::collections::BTreeMap<String, std::collections::HashSet<String>> =
                Default::default();
            for ev in &batch {
                owner_index.observe(ev);
                match ev.kind {
                    "services" => {
                        if ev.etype == EventType::Deleted {
                            service_index.remove(&ev.namespace, &ev.name);
                        } else {
                            let pairs = endpoints::service_index_pairs(&ev.object);
                            service_index.set(&ev.namespace, &ev.name, pairs);
                        }
                        services.insert((ev.namespace.clone(), ev.name.clone()));
                    }
                    "pods" => {
                        if ev.etype == EventType::Deleted {
                            pod_index.remove(&ev.namespace, &ev.name);
                        } else {
                            let pairs = endpoints::pod_index_pairs(&ev.object);
                            pod_index.set(&ev.namespace, &ev.name, pairs);
                        }
                        endpoints::services_for_pod(&cluster, &service_index, ev, &mut services);
                        if let Some(k) = &kubelet {
                            k.on_pod(ev);
                        }
                    }
                    "namespaces"
                        if ev.etype != EventType::Deleted
                            && ev.object.pointer("/metadata/deletionTimestamp").is_some() =>
                    {
                        namespaces.insert(ev.name.clone());
                    }
                    _ => {}
                }
                if ev.etype == EventType::Deleted {
                    if !ev.namespace.is_empty() {
                        namespaces.insert(ev.namespace.clone());
                    }
                    let uid = crate::sandbox::store::meta_str(&ev.object, "uid");
                    if !uid.is_empty() {
                        owners
                            .entry(ev.namespace.clone())
                            .or_default()
                            .insert(uid.to_string());
                    }
                }
            }
            for (ns, name) in services {
                endpoints::sync_service(&cluster, &pod_index, &ns, &name);
            }
            gc::collect(&cluster, &owner_index, &owners);
            for ns in namespaces {
                namespace::finalize(&cluster, &ns);
            }
        }
    })
}
