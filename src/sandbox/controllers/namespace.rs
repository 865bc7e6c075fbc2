//! Namespace deletion: delete the contents, then drop the `kubernetes` finalizer, which
//! removes the namespace once nothing is left.

use serde_json::json;

use crate::sandbox::cluster::{Cluster, DeleteOpts, kind};
use crate::sandbox::registry;
use crate::sandbox::store::meta_str;

/// Advances the deletion of a terminating namespace; a no-op for any other.
pub fn finalize(cluster: &Cluster, ns: &str) {
    let nskind = kind("namespaces");
    let Ok(n) = cluster.get(nskind, "", ns) else {
        return;
    };
    if n.pointer("/metadata/deletionTimestamp").is_none() {
        return;
    }
    let mut left = 0usize;
    for k in registry::kinds().iter().filter(|k| k.namespaced) {
        let names: Vec<(String, bool)> = {
            let store = cluster.lock();
            store
                .range(k.id, Some(ns), None)
                .map(|(_, slot)| {
                    let v = slot.head();
                    (
                        meta_str(v, "name").to_string(),
                        v.pointer("/metadata/deletionTimestamp").is_some(),
                    )
                })
                .collect()
        };
        left += names.len();
        for (name, deleting) in names {
            if !deleting {
                let _ = cluster.delete(k, ns, &name, &DeleteOpts::default());
            }
        }
    }
    if left > 0 {
        // Objects held by finalizers come back through their DELETED events.
        let remaining: usize = registry::kinds()
            .iter()
            .filter(|k| k.namespaced)
            .map(|k| cluster.lock().count(k.id, Some(ns)))
            .sum();
        if remaining > 0 {
            return;
        }
    }
    let updated = cluster.mutate(nskind, "", ns, |n| {
        n["spec"]["finalizers"] = json!([]);
    });
    let n = updated.unwrap_or(n);
    let meta_finalizers_empty = n
        .pointer("/metadata/finalizers")
        .and_then(|f| f.as_array())
        .is_none_or(|f| f.is_empty());
    if meta_finalizers_empty {
        cluster.remove_raw(nskind, "", ns);
    }
}
