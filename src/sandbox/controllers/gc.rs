//! Garbage collection: objects whose ownerReferences point at a deleted object are deleted too
//! (background propagation), as kube-controller-manager does. vCluster relies on it: every host
//! object it syncs is owned by the vCluster's Service.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::Value;

use super::index::OwnerIndex;
use crate::sandbox::cluster::{Cluster, DeleteOpts};
use crate::sandbox::registry;
use crate::sandbox::store::Key;

/// Deletes the dependents of the given deleted owners, keyed by owner namespace ("" for
/// cluster-scoped owners, whose dependents may live anywhere). `index` names the candidates;
/// each is checked against its current state in the store.
pub fn collect(cluster: &Cluster, index: &OwnerIndex, owners: &BTreeMap<String, HashSet<String>>) {
    if owners.is_empty() {
        return;
    }
    let victims: BTreeSet<Key> = {
        let store = cluster.lock();
        let mut out = BTreeSet::new();
        for (owner_ns, uids) in owners {
            for uid in uids {
                for key in index.dependents(uid) {
                    // Namespaced owners only own objects in their own namespace.
                    if !owner_ns.is_empty() && key.1 != *owner_ns {
                        continue;
                    }
                    let Some(obj) = store.head(key.0, &key.1, &key.2) else {
                        continue;
                    };
                    let still_owned = obj
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|refs| {
                            refs.iter()
                                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                        });
                    if still_owned && obj.pointer("/metadata/deletionTimestamp").is_none() {
                        out.insert(key.clone());
                    }
                }
            }
        }
        out
    };
    for (id, ns, name) in victims {
        if let Some(k) = registry::by_id(id) {
            let _ = cluster.delete(k, &ns, &name, &DeleteOpts::default());
        }
    }
}
