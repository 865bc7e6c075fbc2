//! Indexes the simulated controllers keep from the events they consume, so one event costs
//! work in proportion to what it touches rather than to the size of its namespace.
//!
//! They may lag the store or hold names of objects that are gone (a store `clear` sends no
//! events); callers look every candidate up in the store and check it again, so an index only
//! has to never miss a match, which holds because every write reaches the controllers.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::sandbox::store::{Event, EventType, Key};

/// Object names per namespace, by `(label key, value)` pairs.
#[derive(Debug, Default)]
pub struct PairIndex {
    by_pair: HashMap<(String, String, String), BTreeSet<String>>,
    of: HashMap<(String, String), Vec<(String, String)>>,
}

impl PairIndex {
    /// Replaces the pairs indexed for one object.
    pub fn set(&mut self, ns: &str, name: &str, pairs: Vec<(String, String)>) {
        self.remove(ns, name);
        for (k, v) in &pairs {
            self.by_pair
                .entry((ns.to_string(), k.clone(), v.clone()))
                .or_default()
                .insert(name.to_string());
        }
        self.of.insert((ns.to_string(), name.to_string()), pairs);
    }

    pub fn remove(&mut self, ns: &str, name: &str) {
        let Some(pairs) = self.of.remove(&(ns.to_string(), name.to_string())) else {
            return;
        };
        for (k, v) in pairs {
            let key = (ns.to_string(), k, v);
            if let Some(names) = self.by_pair.get_mut(&key) {
                names.remove(name);
                if names.is_empty() {
                    self.by_pair.remove(&key);
                }
            }
        }
    }

    /// Names indexed under one pair in one namespace.
    pub fn names(&self, ns: &str, k: &str, v: &str) -> impl Iterator<Item = &String> {
        self.by_pair
            .get(&(ns.to_string(), k.to_string(), v.to_string()))
            .into_iter()
            .flatten()
    }
}

/// String-valued pairs of a label map or selector.
pub fn string_pairs(m: &Map<String, Value>) -> impl Iterator<Item = (&String, &str)> {
    m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k, v)))
}

pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    obj.pointer("/metadata/labels").and_then(Value::as_object)
}

/// Dependents by owner uid, for the garbage collector.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    by_uid: HashMap<String, BTreeSet<Key>>,
    of: HashMap<Key, Vec<String>>,
}

impl OwnerIndex {
    /// Follows one event: a write re-reads the object's ownerReferences, a delete forgets it.
    pub fn observe(&mut self, ev: &Event) {
        let key: Key = (ev.kind, ev.namespace.clone(), ev.name.clone());
        if let Some(uids) = self.of.remove(&key) {
            for uid in uids {
                if let Some(set) = self.by_uid.get_mut(&uid) {
                    set.remove(&key);
                    if set.is_empty() {
                        self.by_uid.remove(&uid);
                    }
                }
            }
        }
        if ev.etype == EventType::Deleted {
            return;
        }
        let uids: Vec<String> = ev
            .object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("uid").and_then(Value::as_str))
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        if uids.is_empty() {
            return;
        }
        for uid in &uids {
            self.by_uid
                .entry(uid.clone())
                .or_default()
                .insert(key.clone());
        }
        self.of.insert(key, uids);
    }

    /// Objects that name `uid` as an owner.
    pub fn dependents(&self, uid: &str) -> impl Iterator<Item = &Key> {
        self.by_uid.get(uid).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn ev(etype: EventType, name: &str, object: Value) -> Event {
        Event {
            rv: 1,
            etype,
            kind: "pods",
            namespace: "a".into(),
            name: name.into(),
            object: Arc::new(object),
            old: None,
            old_full: None,
        }
    }

    #[test]
    fn pair_index_follows_relabels_and_removals() {
        let mut ix = PairIndex::default();
        ix.set("a", "p", vec![("app".into(), "x".into())]);
        ix.set("b", "q", vec![("app".into(), "x".into())]);
        assert_eq!(ix.names("a", "app", "x").collect::<Vec<_>>(), vec!["p"]);
        ix.set("a", "p", vec![("app".into(), "y".into())]);
        assert_eq!(ix.names("a", "app", "x").count(), 0);
        assert_eq!(ix.names("a", "app", "y").collect::<Vec<_>>(), vec!["p"]);
        ix.remove("a", "p");
        assert_eq!(ix.names("a", "app", "y").count(), 0);
        assert_eq!(ix.names("b", "app", "x").count(), 1);
    }

    #[test]
    fn owner_index_forgets_dropped_references_and_deleted_objects() {
        let mut ix = OwnerIndex::default();
        let owned = json!({"metadata": {"ownerReferences": [{"uid": "u1"}, {"uid": "u2"}]}});
        ix.observe(&ev(EventType::Added, "p", owned.clone()));
        assert_eq!(ix.dependents("u1").count(), 1);
        assert_eq!(ix.dependents("u2").count(), 1);
        let one = json!({"metadata": {"ownerReferences": [{"uid": "u2"}]}});
        ix.observe(&ev(EventType::Modified, "p", one.clone()));
        assert_eq!(ix.dependents("u1").count(), 0);
        assert_eq!(ix.dependents("u2").count(), 1);
        ix.observe(&ev(EventType::Deleted, "p", one));
        assert_eq!(ix.dependents("u2").count(), 0);
    }
}
