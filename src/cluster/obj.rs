//! One cached object, held parsed while it is in use and as compact JSON once it has cooled.
//!
//! A parsed Kubernetes object is three to four times the size of its JSON: k8s-openapi's
//! structs hold every optional field inline (a `Pod` is 2 KB and each of its `Container`s
//! another 2 KB before any string), and every label or annotation map is a B-tree node with
//! room for eleven entries. At 50,000 pairs the parsed objects were 724 MB of the TUI's heap
//! and the same objects as JSON 206 MB (`cargo bench --bench memory`).
//!
//! So an object arrives parsed (what the first screen needs at once) and the watch caches
//! later swap it for a *cooled* copy that holds only its JSON, compressed
//! ([`crate::cluster::pack`]; [`Obj::cooled`]). Reading a
//! cooled object parses it again and keeps the parse in that copy, so the objects a busy
//! namespace's updates read are parsed once, not on every update; the caches cool a copy
//! again once it has been parsed for a while ([`Obj::parsed_for`]), which costs no writing
//! then (the JSON is kept). Each object is thus parsed at most once per cooling age, however
//! often it is read.
//!
//! Comparing a cooled copy with its original, or two cooled objects, never parses: copies of
//! one version share their bytes, and equal objects write equal bytes (serialization is
//! deterministic: maps are ordered, absent fields are left out). Only an object not cooled
//! yet against another version is compared by its parse, as before.

use crate::cluster::pack;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// What an [`Obj`] holds: anything that can be written as JSON and read back.
pub trait Cold: Serialize + DeserializeOwned + Default {}
impl<K: Serialize + DeserializeOwned + Default> Cold for K {}

/// A cached object (see the module docs). Cloning shares it.
pub struct Obj<K>(Arc<Slot<K>>);

struct Slot<K> {
    /// The parsed object: set from the start, or on the first read of a cooled copy.
    warm: OnceLock<Box<K>>,
    /// When `warm` was set, in seconds of [`clock`].
    warmed_at: AtomicU32,
    /// The object as compact JSON, packed ([`crate::cluster::pack`]), once it was cooled.
    cold: OnceLock<Arc<[u8]>>,
    /// Which version of an object this is, kept by its cooled copies: what is
    /// remembered about an object version outside it (a pod's pooled env) is found by it.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whole seconds since the first call: a coarse clock each parse stamps for 4 bytes.
fn clock() -> u32 {
    static START: OnceLock<Instant> = OnceLock::new();
    let secs = START.get_or_init(Instant::now).elapsed().as_secs();
    u32::try_from(secs).unwrap_or(u32::MAX)
}

impl<K> Obj<K> {
    /// A parsed object, as read.
    pub fn new(obj: K) -> Self {
        Self(Arc::new(Slot {
            warm: OnceLock::from(Box::new(obj)),
            warmed_at: AtomicU32::new(clock()),
            cold: OnceLock::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }))
    }

    /// The same copy (not only an equal object).
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The version identity shared by this object's copies (see [`Slot::id`]).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Whether this copy holds a parse.
    pub fn is_warm(&self) -> bool {
        self.0.warm.get().is_some()
    }

    /// How long this copy has held its parse (`None`: it holds none), to whole seconds.
    pub fn parsed_for(&self) -> Option<Duration> {
        self.0.warm.get()?;
        let since = self.0.warmed_at.load(Ordering::Relaxed);
        Some(Duration::from_secs(u64::from(
            clock().saturating_sub(since),
        )))
    }
}

impl<K: Serialize + DeserializeOwned + Default> Obj<K> {
    /// A copy holding only JSON, or `None` when this copy holds no parse (nothing to free).
    /// The JSON is written once per version and kept in this copy too, so equality between
    /// the two needs no parse.
    pub fn cooled(&self) -> Option<Self> {
        let warm = self.0.warm.get()?;
        let json = match self.0.cold.get() {
            Some(j) => j.clone(),
            None => {
                let bytes: Arc<[u8]> = match serde_json::to_vec(&**warm) {
                    Ok(v) => pack::pack(&v).into(),
                    Err(e) => {
                        // Kept parsed: a cache that costs more beats one that loses objects.
                        tracing::warn!(error = %e, "cannot hold a cached object as JSON; kept parsed");
                        return None;
                    }
                };
                self.0.cold.get_or_init(|| bytes).clone()
            }
        };
        Some(Self(Arc::new(Slot {
            warm: OnceLock::new(),
            warmed_at: AtomicU32::new(0),
            cold: OnceLock::from(json),
            id: self.0.id,
        })))
    }

    /// The object as JSON, from its parse (`None` in a copy without one): samples for
    /// [`pack::train`].
    pub fn json(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(&**self.0.warm.get()?).ok()
    }

    /// Reads the object without keeping a parse in this copy.
    pub fn peek<R>(&self, f: impl FnOnce(&K) -> R) -> R {
        match self.0.warm.get() {
            Some(k) => f(k),
            None => f(&self.0.parse()),
        }
    }
}

impl<K: DeserializeOwned + Default> Slot<K> {
    fn parse(&self) -> K {
        let Some(json) = self.cold.get().and_then(|b| pack::unpack(b)) else {
            // Not reachable: a slot is made parsed or with JSON this process packed.
            tracing::error!("a cooled cached object cannot be unpacked; shown empty");
            return K::default();
        };
        serde_json::from_slice(&json).unwrap_or_else(|e| {
            // JSON this process wrote from a parsed object; failing to read it back is a bug.
            tracing::error!(error = %e, "cannot parse a cooled cached object; shown empty");
            K::default()
        })
    }
}

impl<K: DeserializeOwned + Default> Deref for Obj<K> {
    type Target = K;

    fn deref(&self) -> &K {
        self.0.warm.get_or_init(|| {
            self.0.warmed_at.store(clock(), Ordering::Relaxed);
            Box::new(self.0.parse())
        })
    }
}

impl<K: DeserializeOwned + Default> AsRef<K> for Obj<K> {
    fn as_ref(&self) -> &K {
        self
    }
}

impl<K> Clone for Obj<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: PartialEq + Serialize + DeserializeOwned + Default> PartialEq for Obj<K> {
    fn eq(&self, other: &Self) -> bool {
        if Obj::ptr_eq(self, other) {
            return true;
        }
        match (self.0.cold.get(), other.0.cold.get()) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            (Some(a), Some(b)) if pack::same_packing(a, b) => a[..] == b[..],
            _ => self.peek(|a| other.peek(|b| a == b)),
        }
    }
}

/// A cooled copy shows as its JSON's size: debug output never parses.
impl<K: std::fmt::Debug> std::fmt::Debug for Obj<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0.warm.get(), self.0.cold.get()) {
            (Some(k), _) => k.fmt(f),
            (None, Some(j)) => write!(f, "<cooled: {} bytes>", j.len()),
            (None, None) => f.write_str("<empty>"),
        }
    }
}

impl<K: Serialize + DeserializeOwned + Default> Serialize for Obj<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.peek(|k| k.serialize(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn pod(name: &str, image: &str) -> Pod {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "a", "labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": image}]}}))
        .unwrap()
    }

    #[test]
    fn a_cooled_copy_reads_as_the_object_and_keeps_its_identity() {
        let warm = Obj::new(pod("p", "nginx"));
        let cold = warm.cooled().unwrap();
        assert!(!cold.is_warm());
        assert_eq!(cold.id(), warm.id());
        // Equal without parsing: both copies hold the same JSON now.
        assert!(cold == warm);
        assert!(!cold.is_warm());
        assert_eq!(cold.peek(|p| p.metadata.name.clone()), Some("p".into()));
        assert!(!cold.is_warm(), "peek keeps no parse");
        // A read parses into the copy and gives the object back whole.
        assert_eq!(&*cold, &*warm);
        assert!(cold.is_warm());
        // Cooling it again reuses the JSON (same allocation).
        let again = cold.cooled().unwrap();
        assert!(again == cold);
        assert!(cold.cooled().is_some());
        assert!(
            again.cooled().is_none(),
            "nothing to free in a copy without a parse"
        );
    }

    #[test]
    fn a_parse_is_dated_from_when_it_was_made() {
        let warm = Obj::new(pod("p", "nginx"));
        assert!(
            warm.parsed_for()
                .is_some_and(|d| d < Duration::from_secs(2))
        );
        let cold = warm.cooled().unwrap();
        assert_eq!(cold.parsed_for(), None);
        let _ = cold.metadata.name.as_deref();
        assert!(
            cold.parsed_for()
                .is_some_and(|d| d < Duration::from_secs(2))
        );
    }

    #[test]
    fn different_versions_differ_cooled_or_not() {
        let a = Obj::new(pod("p", "nginx:1"));
        let b = Obj::new(pod("p", "nginx:2"));
        let same = Obj::new(pod("p", "nginx:1"));
        assert!(a != b);
        assert!(a == same, "equal content is equal");
        assert_ne!(a.id(), same.id(), "but another version");
        let (ca, cb, csame) = (
            a.cooled().unwrap(),
            b.cooled().unwrap(),
            same.cooled().unwrap(),
        );
        assert!(ca != cb);
        assert!(ca == csame);
        assert!(ca != b && a != cb);
        assert!(!ca.is_warm() && !cb.is_warm() && !csame.is_warm());
    }
}
