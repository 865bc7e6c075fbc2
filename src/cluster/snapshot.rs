//! What vinspect knows about both clusters at one instant: plain data, cheap to clone.
//!
//! The watch caches in this module build it; the inspector, the DNS resolver, the engine's
//! controller and the TUI only read it. One side failing never empties the other: each side
//! carries its own connection state next to the last objects it saw.

use crate::cluster::envpool::{EnvPool, PodEnvLink};
pub use crate::cluster::obj::Obj;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use std::sync::Arc;

/// Event reasons vCluster's syncers record on virtual objects (the only events cached).
pub const SYNC_EVENT_REASONS: [&str; 2] = ["SyncError", "SyncWarning"];

/// `(namespace, name)`; namespace is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Key of any Kubernetes object from its metadata (missing fields become empty strings).
    pub fn of<K: kube::Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        Self {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for ObjKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// One kind's objects of a side, by key. A persistent map: a clone shares every node with
/// the original and a change copies only the path to it, so the watch caches publish a
/// snapshot per burst of changes without copying every collection (a 50,000-pair snapshot
/// holds ~200,000 keys), and the snapshots the TUI, the channel and the cache each hold share
/// what did not change. Each object is an [`Obj`]: parsed while in use, compact JSON once cooled.
pub type ObjMap<K> = KeyMap<Obj<K>>;

/// A map keyed by [`ObjKey`] with cheap clones (see [`ObjMap`]).
pub type KeyMap<V> = imbl::OrdMap<ObjKey, V>;

/// A `(namespace, name)` seen through borrowed strings, so a map keyed by [`ObjKey`] can be
/// searched without allocating a key (see [`lookup`]). Ordered exactly like `ObjKey`.
pub trait KeyRef {
    fn key_namespace(&self) -> &str;
    fn key_name(&self) -> &str;
}

impl KeyRef for ObjKey {
    fn key_namespace(&self) -> &str {
        &self.namespace
    }
    fn key_name(&self) -> &str {
        &self.name
    }
}

impl KeyRef for (&str, &str) {
    fn key_namespace(&self) -> &str {
        self.0
    }
    fn key_name(&self) -> &str {
        self.1
    }
}

impl<'a> std::borrow::Borrow<dyn KeyRef + 'a> for ObjKey {
    fn borrow(&self) -> &(dyn KeyRef + 'a) {
        self
    }
}

impl PartialEq for dyn KeyRef + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_namespace() == other.key_namespace() && self.key_name() == other.key_name()
    }
}

impl Eq for dyn KeyRef + '_ {}

impl PartialOrd for dyn KeyRef + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn KeyRef + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key_namespace(), self.key_name()).cmp(&(other.key_namespace(), other.key_name()))
    }
}

/// `map.get(namespace/name)` without building an [`ObjKey`].
pub fn lookup<'m, V: Clone>(map: &'m KeyMap<V>, namespace: &str, name: &str) -> Option<&'m V> {
    map.get(&(namespace, name) as &dyn KeyRef)
}

/// Entries of `map` in `namespace`, in name order, without building an [`ObjKey`].
pub fn in_namespace<'m, V: Clone>(
    map: &'m KeyMap<V>,
    namespace: &'m str,
) -> impl Iterator<Item = (&'m ObjKey, &'m V)> + 'm {
    use std::ops::Bound;
    let start: (&str, &str) = (namespace, "");
    map.range::<_, dyn KeyRef>((Bound::Included(&start as &dyn KeyRef), Bound::Unbounded))
        .take_while(move |(k, _)| k.namespace == namespace)
}

/// Keep only the entries for which `keep` holds. The persistent map has no `retain`: the
/// keys to drop are gathered first (removing in place would copy shared nodes once per key
/// anyway).
pub fn retain<V: Clone>(map: &mut KeyMap<V>, mut keep: impl FnMut(&ObjKey, &V) -> bool) {
    let gone: Vec<ObjKey> = map
        .iter()
        .filter(|(k, v)| !keep(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in &gone {
        map.remove(k);
    }
}

/// Connection state of one side, shown in the TUI header and in `check` errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnState {
    #[default]
    Connecting,
    Live,
    /// The last attempt failed; the message says what and (where known) what to do.
    Error {
        message: String,
    },
    /// Failed before, trying again (`attempt` counts from 1).
    Retrying {
        message: String,
        attempt: u32,
    },
}

impl Side {
    /// Whether this side's collections can be trusted as complete (listed once; they keep
    /// their last full state while the side fails).
    pub fn is_listed(&self) -> bool {
        self.listed || self.conn.is_live()
    }
}

impl ConnState {
    pub fn is_live(&self) -> bool {
        matches!(self, ConnState::Live)
    }
}

/// Everything cached from one cluster.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// The kubeconfig context this side was read through.
    pub context: String,
    /// The API server URL (for error lines).
    pub server: String,
    pub conn: ConnState,
    /// Every kind pairs are made of has been read in full at least once: until then an empty
    /// collection may only mean "not read yet" (never act on it as "deleted").
    pub listed: bool,
    /// How often the side was listed again after its first full list (after a failure or a
    /// desync): deletions in between were not seen one by one.
    pub relists: u64,
    pub namespaces: ObjMap<Namespace>,
    pub nodes: ObjMap<Node>,
    pub pods: ObjMap<Pod>,
    pub services: ObjMap<Service>,
    pub endpoints: ObjMap<Endpoints>,
    pub endpoint_slices: ObjMap<EndpointSlice>,
    pub ingresses: ObjMap<Ingress>,
    pub ingress_classes: ObjMap<IngressClass>,
    /// Only the config Secret `vc-config-<vc>` on the host; nothing on the virtual side.
    pub secrets: ObjMap<Secret>,
    /// Events with reason SyncError/SyncWarning (virtual) or about managed objects (host).
    pub events: ObjMap<Event>,
    /// The container env lists of cached pods, by pod (see [`crate::cluster::envpool`]): the
    /// pods in `pods` have none, [`Side::full_pod`] puts them back.
    pub pod_env: KeyMap<Arc<PodEnvLink>>,
    /// Each distinct env list once.
    pub env_pool: EnvPool,
}

/// Both sides at one version. Cloning is cheap: share it as `Arc<Snapshot>`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases by one every time either side changes.
    pub version: u64,
    pub vcluster: String,
    pub host_namespace: String,
    pub virtual_side: Side,
    pub host: Side,
}

/// Why an object could not be put into a [`Side`].
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("object has no kind; every object needs `apiVersion` and `kind`")]
    NoKind,
    #[error(
        "kind {0:?} is not cached by vinspect (pods, services, endpoints, endpointslices, ingresses, ingressclasses, events, namespaces, nodes, secrets)"
    )]
    UnknownKind(String),
    #[error("{kind} object does not parse: {source}")]
    Parse {
        kind: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Drop what is never read and only costs memory: managed fields and the last-applied blob.
pub fn strip_metadata(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.managed_fields = None;
    if let Some(ann) = meta.annotations.as_mut() {
        ann.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

fn put<K>(map: &mut ObjMap<K>, v: serde_json::Value, kind: &str) -> Result<(), SnapshotError>
where
    K: kube::Resource + serde::de::DeserializeOwned,
{
    let mut obj: K = serde_json::from_value(v).map_err(|source| SnapshotError::Parse {
        kind: kind.to_string(),
        source,
    })?;
    strip_metadata(obj.meta_mut());
    map.insert(ObjKey::of(&obj), Obj::new(obj));
    Ok(())
}

impl Side {
    /// Add one object given as JSON (`apiVersion`/`kind` decide the collection). Used by fixtures,
    /// benches and the one-shot loader's tests; the watch caches insert typed objects directly.
    pub fn insert_json(&mut self, v: serde_json::Value) -> Result<(), SnapshotError> {
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .ok_or(SnapshotError::NoKind)?
            .to_string();
        match kind.as_str() {
            // Pooled like the watch caches do it, so fixtures see pods as the views do.
            "Pod" => {
                let pod: Pod =
                    serde_json::from_value(v).map_err(|source| SnapshotError::Parse {
                        kind: kind.clone(),
                        source,
                    })?;
                crate::cluster::kinds::store(self, [pod]);
                Ok(())
            }
            "Service" => put(&mut self.services, v, &kind),
            "Endpoints" => put(&mut self.endpoints, v, &kind),
            "EndpointSlice" => put(&mut self.endpoint_slices, v, &kind),
            "Ingress" => put(&mut self.ingresses, v, &kind),
            "IngressClass" => put(&mut self.ingress_classes, v, &kind),
            "Event" => put(&mut self.events, v, &kind),
            "Namespace" => put(&mut self.namespaces, v, &kind),
            "Node" => put(&mut self.nodes, v, &kind),
            "Secret" => put(&mut self.secrets, v, &kind),
            _ => Err(SnapshotError::UnknownKind(kind)),
        }
    }

    /// Number of cached objects of every kind (for status lines and benches).
    pub fn object_count(&self) -> usize {
        self.namespaces.len()
            + self.nodes.len()
            + self.pods.len()
            + self.services.len()
            + self.endpoints.len()
            + self.endpoint_slices.len()
            + self.ingresses.len()
            + self.ingress_classes.len()
            + self.secrets.len()
            + self.events.len()
    }

    /// One line for errors: `context "x" (https://…)`.
    pub fn describe(&self) -> String {
        if self.server.is_empty() {
            format!("context {:?}", self.context)
        } else {
            format!("context {:?} ({})", self.context, self.server)
        }
    }
}

impl Snapshot {
    /// An empty snapshot for one vCluster.
    pub fn new(vcluster: impl Into<String>, host_namespace: impl Into<String>) -> Self {
        Self {
            vcluster: vcluster.into(),
            host_namespace: host_namespace.into(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_lookups_agree_with_owned_keys() {
        let mut m: KeyMap<u32> = KeyMap::new();
        for (i, (ns, n)) in [("a", "x"), ("a", "y"), ("ab", ""), ("b", "x"), ("", "a")]
            .into_iter()
            .enumerate()
        {
            m.insert(ObjKey::new(ns, n), i as u32);
        }
        for (k, v) in &m {
            assert_eq!(lookup(&m, &k.namespace, &k.name), Some(v));
        }
        assert_eq!(lookup(&m, "a", "z"), None);
        let names: Vec<&str> = in_namespace(&m, "a")
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(names, vec!["x", "y"]);
        assert_eq!(in_namespace(&m, "c").count(), 0);
        assert_eq!(in_namespace(&m, "").count(), 1);
    }

    #[test]
    fn a_clone_shares_every_map_and_a_change_copies_only_its_own() {
        let mut snap = Snapshot::new("vc", "hns");
        for i in 0..2_000 {
            snap.virtual_side
                .insert_json(serde_json::json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("s{i}"), "namespace": format!("ns{}", i % 7)}}))
                .unwrap();
        }
        let published = snap.clone();
        // The publish copied no map: both snapshots point at the same trees.
        assert!(
            published
                .virtual_side
                .services
                .ptr_eq(&snap.virtual_side.services)
        );
        assert!(published.host.pods.ptr_eq(&snap.host.pods));

        // The cache moves on; the published snapshot does not see it.
        let changed = ObjKey::new("ns3", "s3");
        snap.virtual_side.services.remove(&changed);
        retain(&mut snap.virtual_side.services, |k, _| k.namespace != "ns0");
        assert_eq!(published.virtual_side.services.len(), 2_000);
        assert!(lookup(&published.virtual_side.services, "ns3", "s3").is_some());
        assert!(lookup(&snap.virtual_side.services, "ns3", "s3").is_none());
        assert_eq!(in_namespace(&snap.virtual_side.services, "ns0").count(), 0);
        assert_eq!(snap.virtual_side.services.len(), 2_000 - 1 - 286);
        // Objects that did not change are the very same allocations in both.
        let k = ObjKey::new("ns1", "s1");
        assert!(Obj::ptr_eq(
            &published.virtual_side.services[&k],
            &snap.virtual_side.services[&k]
        ));
    }
}
