//! Garbage collection: objects whose ownerReferences point at a deleted object are deleted too
//! (background propagation), as kube-controller-manager does. vCluster relies on it: every host
//! object it syncs is owned by the vCluster's Service.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::sandbox::cluster::{Cluster, DeleteOpts};
use crate::sandbox::registry;
use crate::sandbox::store::meta_str;

/// Deletes the dependents of the given deleted owners, keyed by owner namespace ("" for
/// cluster-scoped owners, whose dependents may live anywhere).
pub fn collect(cluster: &Cluster, owners: &BTreeMap<String, HashSet<String>>) {
    if owners.is_empty() {
        return;
    }
    for k in registry::kinds() {
        let victims: Vec<(String, String)> = {
            let store = cluster.lock();
            store
                .range(k.id, None, None)
                .filter(|(key, obj)| {
                    let refs = obj
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array);
                    refs.is_some_and(|refs| {
                        refs.iter().any(|r| {
                            let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
                            // Namespaced owners only own objects in their own namespace.
                            owners.get(&key.1).is_some_and(|u| u.contains(uid))
                                || owners.get("").is_some_and(|u| u.contains(uid))
                        })
                    }) && obj.pointer("/metadata/deletionTimestamp").is_none()
                })
                .map(|(_, obj)| {
                    (
                        meta_str(obj, "namespace").to_string(),
                        meta_str(obj, "name").to_string(),
                    )
                })
                .collect()
        };
        for (ns, name) in victims {
            let _ = cluster.delete(k, &ns, &name, &DeleteOpts::default());
        }
    }
}
