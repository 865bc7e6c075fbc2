//! The kinds a [`Side`] caches, as one trait: where each kind lives in the side and which of its
//! objects are kept. The one-shot reads ([`super::fetch`]) and the watch caches
//! ([`super::watch`]) both go through it, so the two cannot disagree on what a side holds.

use crate::cluster::envpool::{PodEnv, PodEnvLink};
use crate::cluster::fit;
use crate::cluster::snapshot::{
    self, Obj, ObjKey, ObjMap, SYNC_EVENT_REASONS, Side, strip_metadata,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Api;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;

/// A kind a [`Side`] holds.
pub trait Cached:
    kube::Resource<DynamicType = ()>
    + Clone
    + DeserializeOwned
    + serde::Serialize
    + Default
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The side's collection of this kind.
    fn slot(side: &mut Side) -> &mut ObjMap<Self>;

    /// Whether the cache keeps this object (every kind keeps all but events).
    fn keep(&self) -> bool {
        true
    }

    /// Drops what no view, row or plan reads before the object is cached: managed fields and
    /// the last-applied blob everywhere (see [`strip_metadata`]).
    fn trim(&mut self) {
        strip_metadata(self.meta_mut());
    }

    /// Moves what objects of the side share into its pools (the pods' env lists) and returns
    /// what this object needs to be whole again; see [`Cached::link`].
    fn share(&mut self, _side: &mut Side) -> Option<PodEnv> {
        None
    }

    /// Records what [`Cached::share`] took from the object now cached at `key` (replacing
    /// what an older version of it left).
    fn link(_side: &mut Side, _key: &ObjKey, _obj: &Obj<Self>, _shared: Option<PodEnv>) {}

    /// Forgets what [`Cached::share`] took from the object removed from `key`.
    fn unlink(_side: &mut Side, _key: &ObjKey) {}

    /// Forgets what [`Cached::share`] took from objects no longer cached (after a bulk removal).
    fn prune(_side: &mut Side) {}

    /// Parses one object of a list page and readies it for `side` (`None`: the cache does not
    /// keep it). Pods pool their env lists straight from the page's text.
    fn prepare_item<'de, D: serde::Deserializer<'de>>(
        side: &mut Side,
        d: D,
    ) -> Result<Option<Prepared<Self>>, D::Error> {
        let o = Self::deserialize(d)?;
        Ok(o.keep().then(|| Prepared::new(side, o)))
    }

    /// What a watch of this kind reads off the wire before it is cached (the kind itself, but
    /// pods keep their env as text until the pool has looked it up).
    type Wire: kube::Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static;

    /// Readies what a watch read for `side` (`None`: the cache does not keep it).
    fn from_wire(side: &mut Side, w: Self::Wire) -> Option<Prepared<Self>>;
}

/// [`Cached::from_wire`] of a kind read as itself.
fn plain<K: Cached>(side: &mut Side, o: K) -> Option<Prepared<K>> {
    o.keep().then(|| Prepared::new(side, o))
}

/// An object ready to go into a side: trimmed, its shared parts pooled.
#[derive(Debug)]
pub struct Prepared<K> {
    key: ObjKey,
    obj: Obj<K>,
    shared: Option<PodEnv>,
}

impl<K: Cached> Prepared<K> {
    /// Trim `obj` and move its shared parts into `side`'s pools; nothing is inserted yet (a
    /// watcher buffers a whole list before it replaces its scope).
    pub fn new(side: &mut Side, mut obj: K) -> Self {
        obj.trim();
        let shared = obj.share(side);
        Self {
            key: ObjKey::of(&obj),
            obj: Obj::new(obj),
            shared,
        }
    }

    pub fn key(&self) -> &ObjKey {
        &self.key
    }

    /// Put it into its collection of `side`, replacing the object cached under its key.
    pub fn insert(self, side: &mut Side) {
        K::link(side, &self.key, &self.obj, self.shared);
        K::slot(side).insert(self.key, self.obj);
    }
}

/// Drop the object at `key` from its collection of `side`.
pub fn remove<K: Cached>(side: &mut Side, key: &ObjKey) {
    if K::slot(side).remove(key).is_some() {
        K::unlink(side, key);
    }
}

/// Keep only the objects of `K` for which `keep` holds (a watcher replacing its scope).
pub fn retain<K: Cached>(side: &mut Side, keep: impl FnMut(&ObjKey, &Obj<K>) -> bool) {
    snapshot::retain(K::slot(side), keep);
    K::prune(side);
}

impl Cached for Pod {
    fn slot(side: &mut Side) -> &mut ObjMap<Self> {
        &mut side.pods
    }

    fn trim(&mut self) {
        strip_metadata(&mut self.metadata);
        fit::pod(self);
    }

    /// Container env lists: every host pod of a namespace carries the same service links.
    fn share(&mut self, side: &mut Side) -> Option<PodEnv> {
        PodEnv::take(self, &mut side.env_pool)
    }

    fn link(side: &mut Side, key: &ObjKey, obj: &Obj<Self>, shared: Option<PodEnv>) {
        match shared {
            Some(env) => {
                side.pod_env
                    .insert(key.clone(), Arc::new(PodEnvLink::new(obj, env)));
            }
            None => {
                side.pod_env.remove(key);
            }
        }
    }

    fn unlink(side: &mut Side, key: &ObjKey) {
        side.pod_env.remove(key);
    }

    fn prune(side: &mut Side) {
        side.prune_pod_env();
    }

    fn prepare_item<'de, D: serde::Deserializer<'de>>(
        side: &mut Side,
        d: D,
    ) -> Result<Option<Prepared<Self>>, D::Error> {
        use serde::Deserialize;
        use serde::de::Error;
        let text =
            crate::cluster::envpool::PodText::<&'de serde_json::value::RawValue>::deserialize(d)?;
        let (mut pod, shared) = text
            .into_pod(&mut side.env_pool)
            .map_err(D::Error::custom)?;
        pod.trim();
        Ok(Some(Prepared {
            key: ObjKey::of(&pod),
            obj: Obj::new(pod),
            shared,
        }))
    }

    type Wire = crate::cluster::envpool::WirePod;

    fn from_wire(side: &mut Side, w: Self::Wire) -> Option<Prepared<Self>> {
        match w.into_pod(&mut side.env_pool) {
            Ok((mut pod, shared)) => {
                pod.trim();
                Some(Prepared {
                    key: ObjKey::of(&pod),
                    obj: Obj::new(pod),
                    shared,
                })
            }
            // An env that is not a list of env vars: the pod is left out, as a pod that does
            // not parse at all would be.
            Err(e) => {
                tracing::warn!(error = %e, "a pod's container env is not a list of env vars");
                None
            }
        }
    }
}

macro_rules! cached {
    ($($kind:ty => $field:ident $(, $fit:path)?);* $(;)?) => {
        $(impl Cached for $kind {
            fn slot(side: &mut Side) -> &mut ObjMap<Self> {
                &mut side.$field
            }

            type Wire = Self;

            fn from_wire(side: &mut Side, w: Self) -> Option<Prepared<Self>> {
                plain(side, w)
            }

            $(fn trim(&mut self) {
                strip_metadata(&mut self.metadata);
                $fit(self);
            })?
        })*
    };
}

// The kinds pairs are made of are many: their lists' spare capacity is given back (see `fit`).
cached!(
    Service => services, fit::service;
    Endpoints => endpoints, fit::endpoints;
    EndpointSlice => endpoint_slices, fit::endpoint_slice;
    Ingress => ingresses, fit::ingress;
    IngressClass => ingress_classes;
    Namespace => namespaces;
    Secret => secrets;
);

impl Cached for Node {
    fn slot(side: &mut Side) -> &mut ObjMap<Self> {
        &mut side.nodes
    }

    type Wire = Self;

    fn from_wire(side: &mut Side, w: Self) -> Option<Prepared<Self>> {
        plain(side, w)
    }

    /// Nodes also list every image they hold (often dozens of long names per node); only
    /// their names and addresses are read here.
    fn trim(&mut self) {
        strip_metadata(&mut self.metadata);
        if let Some(st) = self.status.as_mut() {
            st.images = None;
        }
    }
}

impl Cached for Event {
    fn slot(side: &mut Side) -> &mut ObjMap<Self> {
        &mut side.events
    }

    type Wire = Self;

    fn from_wire(side: &mut Side, w: Self) -> Option<Prepared<Self>> {
        plain(side, w)
    }

    /// Only the syncer's events: the rest of a cluster's events would swamp the cache.
    fn keep(&self) -> bool {
        self.reason
            .as_deref()
            .is_some_and(|r| SYNC_EVENT_REASONS.contains(&r))
    }
}

/// Put the objects the cache keeps into their collection of `side`.
pub fn store<K: Cached>(side: &mut Side, items: impl IntoIterator<Item = K>) {
    for o in items.into_iter().filter(K::keep) {
        Prepared::new(side, o).insert(side);
    }
}

/// A namespaced kind's API in `ns`, or across all namespaces for `None`.
pub fn api_in<K>(client: &kube::Client, ns: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn store_keeps_only_sync_events_and_every_other_object() {
        let event = |reason: &str, name: &str| -> Event {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "a"},
                "involvedObject": {},
                "reason": reason,
            }))
            .unwrap()
        };
        let sync = SYNC_EVENT_REASONS[0];
        let mut side = Side::default();
        store(&mut side, [event(sync, "kept"), event("Pulled", "dropped")]);
        assert_eq!(
            side.events.keys().cloned().collect::<Vec<_>>(),
            vec![ObjKey::new("a", "kept")]
        );
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "a"}})).unwrap();
        store(&mut side, [pod]);
        assert!(side.pods.contains_key(&ObjKey::new("a", "p")));
    }

    #[test]
    fn cached_objects_lose_managed_fields_last_applied_and_node_images() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {
            "name": "p", "namespace": "a",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"}
        }}))
        .unwrap();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "managedFields": [{"manager": "kubelet"}]},
            "status": {"images": [{"names": ["docker.io/library/nginx@sha256:00"], "sizeBytes": 1}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        }))
        .unwrap();
        let mut side = Side::default();
        store(&mut side, [pod]);
        store(&mut side, [node]);
        let p = &side.pods[&ObjKey::new("a", "p")];
        assert!(p.metadata.managed_fields.is_none());
        let ann = p.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann.keys().collect::<Vec<_>>(), vec!["keep"]);
        let n = &side.nodes[&ObjKey::new("", "n")];
        assert!(n.metadata.managed_fields.is_none());
        let st = n.status.as_ref().unwrap();
        assert!(st.images.is_none());
        assert_eq!(st.addresses.as_ref().unwrap().len(), 1);
    }
}
