//! What the engine saw last time, per pair: the "old" objects of vCluster's three-way rule (§8.3).
//!
//! Without memory the engine behaves like vCluster after a restart: spec follows the virtual
//! object, status follows the host. With memory it can tell which side changed, let a host-side
//! edit of a bidirectional field flow back, and delete a virtual object whose twin it saw vanish.

use crate::cluster::snapshot::{Obj, ObjKey, ObjMap};
use crate::engine::ctx::Ctx;
use crate::engine::pair::Pair;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use std::collections::HashMap;

/// One object of any synced kind, shared with the snapshot it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Pod(Obj<Pod>),
    Service(Obj<Service>),
    Endpoints(Obj<Endpoints>),
    EndpointSlice(Obj<EndpointSlice>),
    Ingress(Obj<Ingress>),
}

impl Seen {
    pub fn as_pod(&self) -> Option<&Pod> {
        match self {
            Seen::Pod(p) => Some(p),
            _ => None,
        }
    }
    pub fn as_service(&self) -> Option<&Service> {
        match self {
            Seen::Service(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_endpoints(&self) -> Option<&Endpoints> {
        match self {
            Seen::Endpoints(e) => Some(e),
            _ => None,
        }
    }
    pub fn as_endpoint_slice(&self) -> Option<&EndpointSlice> {
        match self {
            Seen::EndpointSlice(e) => Some(e),
            _ => None,
        }
    }
    pub fn as_ingress(&self) -> Option<&Ingress> {
        match self {
            Seen::Ingress(i) => Some(i),
            _ => None,
        }
    }
}

/// The last-seen virtual and host object of one pair (`None` = not seen / did not exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastSeen {
    pub virtual_obj: Option<Seen>,
    pub host_obj: Option<Seen>,
}

impl LastSeen {
    /// Record both sides of `pair` as they are in the context's snapshot.
    pub fn observe(ctx: &Ctx, pair: &Pair) -> Self {
        let v = &ctx.snapshot.virtual_side;
        let h = &ctx.snapshot.host;
        let pick = |vk: &Option<ObjKey>, hk: &Option<ObjKey>| -> (Option<Seen>, Option<Seen>) {
            use crate::engine::change::ObjKind;
            fn get<K>(m: &ObjMap<K>, k: &Option<ObjKey>, f: fn(Obj<K>) -> Seen) -> Option<Seen> {
                k.as_ref().and_then(|k| m.get(k)).cloned().map(f)
            }
            match pair.obj_kind() {
                ObjKind::Pod => (get(&v.pods, vk, Seen::Pod), get(&h.pods, hk, Seen::Pod)),
                ObjKind::Service | ObjKind::Namespace => (
                    get(&v.services, vk, Seen::Service),
                    get(&h.services, hk, Seen::Service),
                ),
                ObjKind::Endpoints => (
                    get(&v.endpoints, vk, Seen::Endpoints),
                    get(&h.endpoints, hk, Seen::Endpoints),
                ),
                ObjKind::EndpointSlice => (
                    get(&v.endpoint_slices, vk, Seen::EndpointSlice),
                    get(&h.endpoint_slices, hk, Seen::EndpointSlice),
                ),
                ObjKind::Ingress => (
                    get(&v.ingresses, vk, Seen::Ingress),
                    get(&h.ingresses, hk, Seen::Ingress),
                ),
            }
        };
        let (virtual_obj, host_obj) = pick(&pair.virtual_key, &pair.host_key);
        Self {
            virtual_obj,
            host_obj,
        }
    }

    pub fn virtual_service(&self) -> Option<&Service> {
        self.virtual_obj.as_ref()?.as_service()
    }
    pub fn host_service(&self) -> Option<&Service> {
        self.host_obj.as_ref()?.as_service()
    }
}

/// Memory for all pairs: what the controller keeps between reconciles.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    seen: HashMap<Pair, LastSeen>,
    /// The sides' re-list counts the memory was built under.
    epoch: (u64, u64),
}

fn epoch_of(snap: &crate::cluster::snapshot::Snapshot) -> (u64, u64) {
    (snap.virtual_side.relists, snap.host.relists)
}

impl Memory {
    pub fn get(&self, pair: &Pair) -> Option<&LastSeen> {
        self.seen.get(pair)
    }

    /// Call before planning from `snap`. When a side was re-listed after a failure, what
    /// happened while it was out of sight is unknown (it may have lost its state in a restart):
    /// like vCluster after a syncer restart, a twin missing now is re-created, not taken as
    /// deleted, so the memory starts over. Returns false for a snapshot older than the memory.
    pub fn follow(&mut self, snap: &crate::cluster::snapshot::Snapshot) -> bool {
        let e = epoch_of(snap);
        if e == self.epoch {
            return true;
        }
        if e.0 >= self.epoch.0 && e.1 >= self.epoch.1 {
            self.seen.clear();
            self.epoch = e;
            return true;
        }
        false
    }

    /// Remember the pair as the snapshot shows it now (call after a reconcile settles).
    pub fn observe(&mut self, ctx: &Ctx, pair: &Pair) {
        if !self.follow(ctx.snapshot) {
            return;
        }
        let seen = LastSeen::observe(ctx, pair);
        if seen.virtual_obj.is_none() && seen.host_obj.is_none() {
            self.seen.remove(pair);
        } else {
            self.seen.insert(pair.clone(), seen);
        }
    }

    pub fn forget(&mut self, pair: &Pair) {
        self.seen.remove(pair);
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::snapshot::Snapshot;
    use crate::engine::PairKind;
    use crate::vcluster::config::VClusterConfig;

    #[test]
    fn a_side_listed_again_starts_the_memory_over() {
        let mut snap = Snapshot::default();
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"}
        }))
        .unwrap();
        let key = ObjKey::new("default", "web");
        snap.virtual_side
            .services
            .insert(key.clone(), Obj::new(svc));
        let pair = Pair::new(PairKind::Service, Some(key), None);
        let config = VClusterConfig::default();
        let mut m = Memory::default();
        m.observe(&Ctx::new(&snap, &config), &pair);
        assert!(m.get(&pair).is_some());
        let before = snap.clone();
        snap.host.relists = 1;
        assert!(m.follow(&snap));
        assert!(m.get(&pair).is_none(), "forgotten after the host's re-list");
        // An older snapshot observed late does not bring the old memory back.
        m.observe(&Ctx::new(&before, &config), &pair);
        assert!(m.is_empty());
    }
}
