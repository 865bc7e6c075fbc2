//! Swapping a side's parsed objects for cooled copies (see [`crate::cluster::obj`]).
//!
//! Three steps, so that the caches' lock is held only to look and to swap: [`Side::warm`]
//! picks the objects of the big collections parsed for at least a given time, [`Warm::cool`]
//! writes their JSON (the slow part, done without the lock), and [`Side::take_cooled`] puts
//! the copies in place of the objects that are still there (one a watch replaced meanwhile
//! stays as the watch left it).
//! Namespaces, nodes, ingress classes and the config Secret are few and stay parsed.

use crate::cluster::obj::Cold;
use crate::cluster::pack;
use crate::cluster::snapshot::{Obj, ObjKey, ObjMap, Side};
use std::time::Duration;

/// Objects of each collection the dictionary is trained on (when there are that many).
const SAMPLES_PER_KIND: usize = 1_000;

/// One collection's parsed objects, then their cooled copies.
struct Batch<K> {
    picked: Vec<(ObjKey, Obj<K>)>,
    cooled: Vec<(ObjKey, Obj<K>, Obj<K>)>,
}

impl<K: Cold> Batch<K> {
    fn pick(map: &ObjMap<K>, min_age: Duration) -> Self {
        Self {
            picked: map
                .iter()
                .filter(|(_, o)| o.parsed_for().is_some_and(|age| age >= min_age))
                .map(|(k, o)| (k.clone(), o.clone()))
                .collect(),
            cooled: Vec::new(),
        }
    }

    /// JSON of up to `n` picked objects, spread over the collection.
    fn samples(&self, n: usize, out: &mut Vec<Vec<u8>>) {
        let step = (self.picked.len() / n.max(1)).max(1);
        out.extend(
            self.picked
                .iter()
                .step_by(step)
                .take(n)
                .filter_map(|(_, o)| o.json()),
        );
    }

    fn cool(&mut self) {
        self.cooled = std::mem::take(&mut self.picked)
            .into_iter()
            .filter_map(|(k, o)| {
                let c = o.cooled()?;
                Some((k, o, c))
            })
            .collect();
    }

    /// Swaps in the copies whose object is still the one picked; how many were swapped.
    fn swap(self, map: &mut ObjMap<K>) -> usize {
        let mut n = 0;
        for (k, was, cooled) in self.cooled {
            if map.get(&k).is_some_and(|now| Obj::ptr_eq(now, &was)) {
                map.insert(k, cooled);
                n += 1;
            }
        }
        n
    }
}

macro_rules! warm_kinds {
    ($($field:ident: $kind:ty),* $(,)?) => {
        /// The parsed objects of a side's big collections (see the module docs).
        pub struct Warm {
            $($field: Batch<$kind>,)*
        }

        impl Side {
            /// Picks the objects of the collections that are cooled that have been parsed for
            /// at least `min_age`.
            pub fn warm(&self, min_age: Duration) -> Warm {
                Warm { $($field: Batch::pick(&self.$field, min_age),)* }
            }

            /// Puts [`Warm::cool`]'s copies in place; how many objects were swapped.
            pub fn take_cooled(&mut self, w: Warm) -> usize {
                0 $(+ w.$field.swap(&mut self.$field))*
            }
        }

        impl Warm {
            /// How many objects were picked.
            pub fn len(&self) -> usize {
                0 $(+ self.$field.picked.len())*
            }

            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Writes the JSON of every picked object (slow: call it without the caches' lock).
            /// The first call in the process trains the packing's dictionary on them.
            pub fn cool(&mut self) {
                if !pack::trained() {
                    let mut samples = Vec::new();
                    $(self.$field.samples(SAMPLES_PER_KIND, &mut samples);)*
                    pack::train(&samples);
                }
                $(self.$field.cool();)*
            }
        }
    };
}

warm_kinds!(
    pods: k8s_openapi::api::core::v1::Pod,
    services: k8s_openapi::api::core::v1::Service,
    endpoints: k8s_openapi::api::core::v1::Endpoints,
    endpoint_slices: k8s_openapi::api::discovery::v1::EndpointSlice,
    ingresses: k8s_openapi::api::networking::v1::Ingress,
    events: k8s_openapi::api::core::v1::Event,
);

impl Side {
    /// Cools every parsed object of the big collections at once; how many were swapped.
    pub fn cool(&mut self) -> usize {
        let mut w = self.warm(Duration::ZERO);
        w.cool();
        self.take_cooled(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side() -> Side {
        let mut s = Side::default();
        for i in 0..3 {
            s.insert_json(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("s{i}"), "namespace": "a"},
                "spec": {"clusterIP": format!("10.0.0.{i}")}}))
                .unwrap();
        }
        s.insert_json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
            .unwrap();
        s
    }

    #[test]
    fn cooling_swaps_parsed_objects_for_equal_cooled_copies() {
        let mut s = side();
        let before = s.clone();
        assert_eq!(s.cool(), 3);
        assert!(s.services.values().all(|o| !o.is_warm()));
        // Few and small: namespaces stay parsed.
        assert!(s.namespaces.values().all(Obj::is_warm));
        // The same objects: equal entry by entry, and nothing to diff.
        assert_eq!(s.services, before.services);
        assert!(before.services.diff(&s.services).next().is_none());
        let k = ObjKey::new("a", "s1");
        assert_eq!(
            s.services[&k].spec.as_ref().unwrap().cluster_ip.as_deref(),
            Some("10.0.0.1")
        );
        // Cooled copies have nothing left to cool until they are read.
        assert_eq!(s.cool(), 1, "only the one read above");
        assert_eq!(s.cool(), 0);
    }

    #[test]
    fn an_object_replaced_while_cooling_is_left_as_the_watch_put_it() {
        let mut s = side();
        assert!(
            s.warm(Duration::from_secs(3600)).is_empty(),
            "all parsed just now"
        );
        let mut w = s.warm(Duration::ZERO);
        assert_eq!(w.len(), 3);
        w.cool();
        // A watch event replaces s0 between picking and swapping.
        s.insert_json(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s0", "namespace": "a"}, "spec": {"clusterIP": "10.9.9.9"}}))
            .unwrap();
        assert_eq!(s.take_cooled(w), 2);
        let s0 = &s.services[&ObjKey::new("a", "s0")];
        assert!(s0.is_warm());
        assert_eq!(
            s0.spec.as_ref().unwrap().cluster_ip.as_deref(),
            Some("10.9.9.9")
        );
    }
}
