//! Container env lists shared between cached pods.
//!
//! Every host pod carries the service-link variables of every service in its namespace (as
//! vCluster writes them), so all pods of a namespace hold the same few hundred `EnvVar`s. The
//! caches keep each distinct list once: a cached pod's containers have no `env`, and its lists
//! live in the side's [`EnvPool`], reachable through [`Side::full_pod`] / [`Side::full`]. Anything
//! that shows or writes a pod's containers must go through those two.
//!
//! The pool only holds weak references: a list dies with the last pod (in any snapshot) that
//! uses it, and dead entries are swept as the pool grows, so churn cannot grow it without bound.

use crate::cluster::snapshot::{Obj, ObjKey, Side};
use k8s_openapi::api::core::v1::{Container, EnvVar, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

/// One container's env list as the pool shares it.
pub type EnvList = Arc<Vec<EnvVar>>;

/// Distinct env lists, by a hash of their content.
#[derive(Debug, Clone, Default)]
pub struct EnvPool {
    lists: HashMap<u64, Vec<Weak<Vec<EnvVar>>>>,
    /// The JSON text each list was read from, by a hash of the text: a list page's env is
    /// looked up here before it is parsed, and only a text not seen yet is parsed. (A 50,000-pair
    /// side carries ~1 GB of env text in a few hundred distinct lists.)
    texts: HashMap<u64, Vec<TextEntry>>,
    /// Entries (live or dead) held now, and the count that triggers the next sweep.
    entries: usize,
    sweep_at: usize,
}

/// An env list's JSON text and the pooled list it was parsed into. The text is shared, not
/// owned: every published snapshot clones its sides, pool included, and a pool's texts are
/// megabytes.
type TextEntry = (Arc<str>, Weak<Vec<EnvVar>>);

/// Containers without their env, and each one's pooled env (`None`: no env field).
type SplitContainers = (Vec<Container>, Box<[Option<EnvList>]>);

/// Smallest pool size at which dead entries are swept.
const MIN_SWEEP: usize = 64;

fn hash_list(list: &[EnvVar]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    list.len().hash(&mut h);
    for e in list {
        e.name.hash(&mut h);
        e.value.hash(&mut h);
        // Rare (downward API, config refs): hashed through its debug text, equality decides.
        if let Some(from) = &e.value_from {
            format!("{from:?}").hash(&mut h);
        }
    }
    h.finish()
}

/// A quick hash of text for [`EnvPool::texts`] buckets (equality is decided by comparing the
/// texts): eight bytes at a time, so hashing costs far less than the parse it saves.
fn hash_text(text: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let b = text.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    for &x in chunks.remainder() {
        h = (h ^ u64::from(x)).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 32)
}

impl EnvPool {
    /// The pooled list whose JSON text is `text`: found by the text when the pool has read it
    /// before, else parsed and interned (see [`EnvPool::intern`]).
    pub fn intern_text(&mut self, text: &str) -> Result<EnvList, serde_json::Error> {
        let h = hash_text(text);
        if let Some(found) = self.texts.get(&h).and_then(|b| {
            b.iter()
                .filter(|(t, _)| **t == *text)
                .find_map(|(_, w)| w.upgrade())
        }) {
            return Ok(found);
        }
        let list = self.intern(serde_json::from_str(text)?);
        let bucket = self.texts.entry(h).or_default();
        bucket.retain(|(_, w)| w.strong_count() > 0);
        bucket.push((text.into(), Arc::downgrade(&list)));
        Ok(list)
    }

    /// The pooled list equal to `list` (which is dropped), or `list` itself, now pooled.
    pub fn intern(&mut self, list: Vec<EnvVar>) -> EnvList {
        let bucket = self.lists.entry(hash_list(&list)).or_default();
        if let Some(found) = bucket
            .iter()
            .filter_map(Weak::upgrade)
            .find(|l| **l == list)
        {
            return found;
        }
        // serde grows a list by doubling: a pooled list of 300 vars would keep room for 512
        // (an `EnvVar` is ~200 bytes before its strings) for as long as any pod uses it.
        let mut list = list;
        list.shrink_to_fit();
        let fresh = Arc::new(list);
        bucket.push(Arc::downgrade(&fresh));
        self.entries += 1;
        if self.entries >= self.sweep_at.max(MIN_SWEEP) {
            self.sweep();
        }
        fresh
    }

    /// Drop the entries of lists no pod holds any more.
    pub fn sweep(&mut self) {
        self.lists.retain(|_, b| {
            b.retain(|w| w.strong_count() > 0);
            !b.is_empty()
        });
        self.texts.retain(|_, b| {
            b.retain(|(_, w)| w.strong_count() > 0);
            !b.is_empty()
        });
        self.entries = self.lists.values().map(Vec::len).sum();
        self.sweep_at = self.entries * 2;
    }

    /// Lists some pod still holds.
    pub fn live(&self) -> usize {
        self.lists
            .values()
            .flatten()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Entries held, dead ones not yet swept included.
    pub fn entries(&self) -> usize {
        self.entries
    }
}

/// The env lists a cached pod gave to the pool: per container, then per init container, the
/// `env` field exactly as it was (`None` = the field was absent).
#[derive(Debug, Clone, PartialEq)]
pub struct PodEnv {
    containers: Box<[Option<EnvList>]>,
    init: Box<[Option<EnvList>]>,
}

fn take_from(cs: &mut [Container], pool: &mut EnvPool) -> Box<[Option<EnvList>]> {
    cs.iter_mut()
        .map(|c| c.env.take().map(|l| pool.intern(l)))
        .collect()
}

fn give_back(cs: &mut [Container], lists: &[Option<EnvList>]) {
    for (c, l) in cs.iter_mut().zip(lists) {
        if c.env.is_none() {
            c.env = l.as_ref().map(|l| l.as_ref().clone());
        }
    }
}

impl PodEnv {
    /// Move the env of `pod`'s containers and init containers into `pool`; `None` (and the pod
    /// untouched) when no container has an env field. Ephemeral containers keep theirs: they
    /// are rare and their lists are the pod's own.
    pub fn take(pod: &mut Pod, pool: &mut EnvPool) -> Option<PodEnv> {
        let spec = pod.spec.as_mut()?;
        let any = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| c.env.is_some());
        if !any {
            return None;
        }
        Some(PodEnv {
            containers: take_from(&mut spec.containers, pool),
            init: take_from(
                spec.init_containers.as_deref_mut().unwrap_or_default(),
                pool,
            ),
        })
    }

    /// Put the lists back into the pod they were taken from.
    pub fn restore(&self, pod: &mut Pod) {
        if let Some(spec) = pod.spec.as_mut() {
            give_back(&mut spec.containers, &self.containers);
            give_back(
                spec.init_containers.as_deref_mut().unwrap_or_default(),
                &self.init,
            );
        }
    }
}

/// A pod as a list page or a watch event carries it, its containers' env still JSON text
/// (borrowed from the page as `&RawValue`, or owned as `Box<RawValue>` where the reader wants
/// owned objects): [`PodText::into_pod`] pools each list by its text, so the few hundred env
/// vars of every pod are parsed once per distinct list instead of once per pod.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct PodText<E> {
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<SpecText<E>>,
    #[serde(default)]
    status: Option<PodStatus>,
}

/// A pod read off a watch stream, env as text: what the TUI's pod watchers read.
pub type WirePod = PodText<Box<RawValue>>;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecText<E> {
    containers: Option<Vec<ContainerText<E>>>,
    init_containers: Option<Vec<ContainerText<E>>>,
    #[serde(flatten)]
    rest: PodSpec,
}

#[derive(Debug, Clone, serde::Deserialize)]
struct ContainerText<E> {
    env: Option<E>,
    #[serde(flatten)]
    rest: Container,
}

/// JSON text of an env list, borrowed or owned.
pub trait EnvText {
    fn json(&self) -> &str;
}

impl EnvText for &RawValue {
    fn json(&self) -> &str {
        self.get()
    }
}

impl EnvText for Box<RawValue> {
    fn json(&self) -> &str {
        self.get()
    }
}

fn split_texts<E: EnvText>(
    cs: Vec<ContainerText<E>>,
    pool: &mut EnvPool,
) -> Result<SplitContainers, serde_json::Error> {
    let mut out = Vec::with_capacity(cs.len());
    let mut lists = Vec::with_capacity(cs.len());
    for c in cs {
        lists.push(c.env.map(|t| pool.intern_text(t.json())).transpose()?);
        out.push(c.rest);
    }
    Ok((out, lists.into_boxed_slice()))
}

impl<E: EnvText> PodText<E> {
    /// The pod without its containers' env, and the env as [`PodEnv::take`] would have taken
    /// it from the whole pod (`None` when no container has an env field).
    pub fn into_pod(self, pool: &mut EnvPool) -> Result<(Pod, Option<PodEnv>), serde_json::Error> {
        let Some(spec) = self.spec else {
            let pod = Pod {
                metadata: self.metadata,
                spec: None,
                status: self.status,
            };
            return Ok((pod, None));
        };
        let any = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter())
            .flatten()
            .any(|c| c.env.is_some());
        let (containers, env) = split_texts(spec.containers.unwrap_or_default(), pool)?;
        let (init, init_env) = match spec.init_containers {
            Some(cs) => {
                let (cs, env) = split_texts(cs, pool)?;
                (Some(cs), env)
            }
            None => (None, Box::default()),
        };
        let pod = Pod {
            metadata: self.metadata,
            spec: Some(PodSpec {
                containers,
                init_containers: init,
                ..spec.rest
            }),
            status: self.status,
        };
        let env = any.then_some(PodEnv {
            containers: env,
            init: init_env,
        });
        Ok((pod, env))
    }
}

/// A watch reads pods as [`WirePod`]s: it asks for and names the same resource as [`Pod`].
impl kube::Resource for WirePod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        <Pod as kube::Resource>::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        <Pod as kube::Resource>::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        <Pod as kube::Resource>::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        <Pod as kube::Resource>::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A cached pod's pooled env, tied to that very version of the pod ([`Obj::id`], which its
/// cooled copies keep): a pod put into the map some other way (or a newer version of it)
/// never gets another object's env.
#[derive(Debug, PartialEq)]
pub struct PodEnvLink {
    pod: u64,
    env: PodEnv,
}

impl PodEnvLink {
    pub fn new(pod: &Obj<Pod>, env: PodEnv) -> Self {
        Self { pod: pod.id(), env }
    }

    fn belongs_to(&self, pod: &Obj<Pod>) -> bool {
        self.pod == pod.id()
    }
}

impl Side {
    /// The pod at `key` as it was read, env lists included: what a YAML view, a diff or a
    /// write of its containers needs. The cached pod itself has no container env.
    pub fn full_pod(&self, key: &ObjKey) -> Option<Arc<Pod>> {
        let pod = self.pods.get(key)?;
        Some(Arc::new(self.full(pod).into_owned()))
    }

    /// `pod` (one of this side's cached pods) with its env lists back; borrowed unchanged when
    /// it gave none to the pool. Costs a clone of the pod: call it only where containers are
    /// shown or written.
    pub fn full<'p>(&self, pod: &'p Obj<Pod>) -> Cow<'p, Pod> {
        let key = ObjKey::of(&**pod);
        match self.pod_env.get(&key) {
            Some(link) if link.belongs_to(pod) => {
                let mut full = (**pod).clone();
                link.env.restore(&mut full);
                Cow::Owned(full)
            }
            _ => Cow::Borrowed(&**pod),
        }
    }

    /// Forget the links of pods no longer in the map (after a bulk replacement).
    pub(crate) fn prune_pod_env(&mut self) {
        let pods = &self.pods;
        crate::cluster::snapshot::retain(&mut self.pod_env, |k, l| {
            pods.get(k).is_some_and(|p| l.belongs_to(p))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::kinds::store;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn service_links(n: usize) -> Value {
        (0..n)
            .map(|i| json!({"name": format!("SVC_{i}_SERVICE_HOST"), "value": format!("10.96.0.{i}")}))
            .collect()
    }

    fn pod(name: &str, env: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "hns", "uid": name},
            "spec": {
                "initContainers": [{"name": "init", "image": "busybox", "env": env.clone()}],
                "containers": [
                    {"name": "app", "image": "nginx", "env": env},
                    {"name": "bare", "image": "envoy"},
                    {"name": "empty", "image": "envoy", "env": []}
                ]
            }
        }))
        .unwrap()
    }

    #[test]
    fn pods_with_equal_env_share_one_list_and_come_back_whole() {
        let mut side = Side::default();
        let originals: Vec<Pod> = (0..50)
            .map(|i| pod(&format!("p{i}"), service_links(300)))
            .collect();
        store(&mut side, originals.clone());
        // One list of 300 and the empty one.
        assert_eq!(side.env_pool.live(), 2);
        let a = &side.pods[&ObjKey::new("hns", "p0")];
        let b = &side.pods[&ObjKey::new("hns", "p1")];
        for p in [a, b] {
            let spec = p.spec.as_ref().unwrap();
            assert!(
                spec.containers.iter().all(|c| c.env.is_none()),
                "cached pods hold no env"
            );
        }
        let (la, lb) = (
            &side.pod_env[&ObjKey::new("hns", "p0")].env.containers[0],
            &side.pod_env[&ObjKey::new("hns", "p1")].env.containers[0],
        );
        assert!(Arc::ptr_eq(la.as_ref().unwrap(), lb.as_ref().unwrap()));
        // The pooled list keeps no spare room from parsing.
        let list = la.as_ref().unwrap();
        assert_eq!((list.len(), list.capacity()), (300, 300));
        let mut pool = EnvPool::default();
        let text = service_links(300).to_string();
        let from_text = pool.intern_text(&text).unwrap();
        assert_eq!((from_text.len(), from_text.capacity()), (300, 300));
        for o in &originals {
            let full = side.full_pod(&ObjKey::of(o)).unwrap();
            assert_eq!(&*full, o);
        }
    }

    #[test]
    fn a_pod_put_in_by_hand_is_never_given_another_objects_env() {
        let mut side = Side::default();
        store(&mut side, [pod("p", service_links(3))]);
        let bare: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "hns"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}
        }))
        .unwrap();
        side.pods
            .insert(ObjKey::new("hns", "p"), Obj::new(bare.clone()));
        assert_eq!(&*side.full_pod(&ObjKey::new("hns", "p")).unwrap(), &bare);
        side.prune_pod_env();
        assert!(side.pod_env.is_empty());
    }

    #[test]
    fn the_pool_forgets_lists_no_pod_holds() {
        let mut side = Side::default();
        // Churn: every round replaces every pod with one carrying a new list.
        for round in 0..40 {
            let pods: Vec<Pod> = (0..10)
                .map(|i| {
                    pod(
                        &format!("p{i}"),
                        json!([{"name": "ROUND", "value": format!("{round}-{i}")}]),
                    )
                })
                .collect();
            store(&mut side, pods);
        }
        // 10 lists + the empty one live; dead entries swept as the pool grew.
        assert_eq!(side.env_pool.live(), 11);
        assert!(
            side.env_pool.entries() <= 2 * 11 + MIN_SWEEP,
            "{}",
            side.env_pool.entries()
        );
        side.env_pool.sweep();
        assert_eq!(side.env_pool.entries(), 11);
    }

    fn env_var() -> impl Strategy<Value = Value> {
        (
            "[A-C]{1,2}",
            proptest::option::of("[a-z0-9]{0,3}"),
            proptest::option::of("[a-z.]{1,8}"),
        )
            .prop_map(|(name, value, field)| {
                let mut e = json!({"name": name});
                if let Some(v) = value {
                    e["value"] = json!(v);
                }
                if let Some(f) = field {
                    e["valueFrom"] = json!({"fieldRef": {"fieldPath": f}});
                }
                e
            })
    }

    fn container(i: usize) -> impl Strategy<Value = Value> {
        proptest::option::of(proptest::collection::vec(env_var(), 0..4)).prop_map(move |env| {
            let mut c = json!({"name": format!("c{i}"), "image": "i"});
            if let Some(env) = env {
                c["env"] = Value::Array(env);
            }
            c
        })
    }

    proptest! {
        #[test]
        fn rehydration_gives_back_exactly_the_pod_read(
            pods in proptest::collection::vec(
                (proptest::collection::vec(container(0), 1..3),
                 proptest::option::of(proptest::collection::vec(container(9), 0..2))),
                1..8)
        ) {
            let originals: Vec<Pod> = pods
                .into_iter()
                .enumerate()
                .map(|(i, (cs, inits))| {
                    let mut spec = json!({"containers": cs});
                    if let Some(inits) = inits {
                        spec["initContainers"] = Value::Array(inits);
                    }
                    serde_json::from_value(json!({
                        "metadata": {"name": format!("p{i}"), "namespace": "n"},
                        "spec": spec
                    }))
                    .unwrap()
                })
                .collect();
            let mut side = Side::default();
            store(&mut side, originals.clone());
            for o in &originals {
                let full = side.full_pod(&ObjKey::of(o)).unwrap();
                prop_assert_eq!(&*full, o);
            }
            // The same pods read from a list page (env pooled by its text) come back the same,
            // and hold the same lists the parsed path pools.
            let page = json!({"kind": "PodList", "metadata": {}, "items": originals}).to_string();
            let mut from_text = Side::default();
            crate::cluster::fetch::store_page::<Pod>(&mut from_text, page.as_bytes()).unwrap();
            prop_assert_eq!(from_text.env_pool.live(), side.env_pool.live());
            for o in &originals {
                let full = from_text.full_pod(&ObjKey::of(o)).unwrap();
                prop_assert_eq!(&*full, o);
                prop_assert_eq!(
                    from_text.pod_env.contains_key(&ObjKey::of(o)),
                    side.pod_env.contains_key(&ObjKey::of(o))
                );
            }
        }
    }

    #[test]
    fn a_page_parses_each_distinct_env_text_once() {
        let mut side = Side::default();
        let links = service_links(200);
        let items: Vec<Value> = (0..20)
            .map(|i| serde_json::to_value(pod(&format!("p{i}"), links.clone())).unwrap())
            .collect();
        let page = json!({"items": items}).to_string();
        crate::cluster::fetch::store_page::<Pod>(&mut side, page.as_bytes()).unwrap();
        // The 200-var list and the empty one, each read from its text once.
        assert_eq!(side.env_pool.live(), 2);
        assert_eq!(side.env_pool.texts.values().map(Vec::len).sum::<usize>(), 2);
        let env = |k: &str| side.pod_env[&ObjKey::new("hns", k)].env.containers[0].clone();
        assert!(Arc::ptr_eq(&env("p0").unwrap(), &env("p19").unwrap()));
        assert!(
            side.pods[&ObjKey::new("hns", "p3")]
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .env
                .is_none()
        );
        // The same list written with other spacing is a new text but the same pooled list.
        let spaced = r#"{"items": [{"metadata": {"name": "q", "namespace": "hns"},
            "spec": {"containers": [{"name": "app", "env": [ ]}]}}]}"#;
        crate::cluster::fetch::store_page::<Pod>(&mut side, spaced.as_bytes()).unwrap();
        assert_eq!(side.env_pool.live(), 2);
        let bad = r#"{"items": [{"metadata": {"name": "r", "namespace": "hns"},
            "spec": {"containers": [{"name": "app", "env": [{"name": 3}]}]}}]}"#;
        assert!(crate::cluster::fetch::store_page::<Pod>(&mut side, bad.as_bytes()).is_err());
    }
}
