//! Merge patches between two versions of one object, serialising only the top-level fields
//! that differ.
//!
//! A plan patches a drifted pod most often for a label or an annotation; serialising both
//! whole pods (containers, env, volumes) to JSON to find that out was most of what a live
//! update cost under churn. The result is the same patch [`merge_patch`] gives on the whole
//! objects: at the top level that function compares key by key, so fields that are equal add
//! nothing to it.

use crate::engine::diff::merge_patch;
use k8s_openapi::api::core::v1::{Endpoints, Pod, PodStatus, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::{Map, Value};

/// An object the engine patches, seen as its top-level JSON fields.
pub trait TopFields: Serialize + PartialEq {
    /// Adds to `out` the merge patch of every field that differs from `other`'s.
    fn patch_fields(&self, other: &Self, out: &mut Map<String, Value>);
}

// The structs are taken apart whole (no `..`), so a field added by a k8s-openapi upgrade stops
// the build here instead of being left out of patches. `apiVersion` and `kind` are constants of
// the type: equal on both sides, never in a patch. Fields listed under `nested` always
// serialise as JSON objects, so their patch is built field by field in turn; so are those
// under `optional` when both sides have them.
macro_rules! top_fields {
    ($ty:ident {
        nested { $($n:ident => $nj:literal),* $(,)? }
        optional { $($o:ident => $oj:literal),* $(,)? }
        plain { $($f:ident => $fj:literal),* $(,)? }
    }) => {
        impl TopFields for $ty {
            fn patch_fields(&self, other: &Self, out: &mut Map<String, Value>) {
                let $ty { $($n,)* $($o,)* $($f),* } = self;
                $(
                    if *$n != other.$n {
                        nested_patch(out, $nj, $n, &other.$n);
                    }
                )*
                $(
                    if *$o != other.$o {
                        match ($o, &other.$o) {
                            (Some(a), Some(b)) => nested_patch(out, $oj, a, b),
                            (a, b) => field_patch(out, $oj, to_value(a), to_value(b)),
                        }
                    }
                )*
                $(
                    if *$f != other.$f {
                        field_patch(out, $fj, to_value($f), to_value(&other.$f));
                    }
                )*
            }
        }
    };
}

top_fields!(Pod {
    nested { metadata => "metadata" }
    optional { status => "status" }
    plain { spec => "spec" }
});
top_fields!(Service {
    nested { metadata => "metadata" }
    optional {}
    plain { spec => "spec", status => "status" }
});
top_fields!(Ingress {
    nested { metadata => "metadata" }
    optional {}
    plain { spec => "spec", status => "status" }
});
top_fields!(Endpoints {
    nested { metadata => "metadata" }
    optional {}
    plain { subsets => "subsets" }
});
top_fields!(EndpointSlice {
    nested { metadata => "metadata" }
    optional {}
    plain { address_type => "addressType", endpoints => "endpoints", ports => "ports" }
});
top_fields!(ObjectMeta {
    nested {}
    optional {}
    plain {
        annotations => "annotations",
        creation_timestamp => "creationTimestamp",
        deletion_grace_period_seconds => "deletionGracePeriodSeconds",
        deletion_timestamp => "deletionTimestamp",
        finalizers => "finalizers",
        generate_name => "generateName",
        generation => "generation",
        labels => "labels",
        managed_fields => "managedFields",
        name => "name",
        namespace => "namespace",
        owner_references => "ownerReferences",
        resource_version => "resourceVersion",
        self_link => "selfLink",
        uid => "uid",
    }
});
// A host pod's status changes every few seconds (probe times) while its containers' do not.
top_fields!(PodStatus {
    nested {}
    optional {}
    plain {
        conditions => "conditions",
        container_statuses => "containerStatuses",
        ephemeral_container_statuses => "ephemeralContainerStatuses",
        host_ip => "hostIP",
        host_ips => "hostIPs",
        init_container_statuses => "initContainerStatuses",
        message => "message",
        nominated_node_name => "nominatedNodeName",
        observed_generation => "observedGeneration",
        phase => "phase",
        pod_ip => "podIP",
        pod_ips => "podIPs",
        qos_class => "qosClass",
        reason => "reason",
        resize => "resize",
        resource_claim_statuses => "resourceClaimStatuses",
        start_time => "startTime",
    }
});

/// The patch of two values of a field that always serialises as a JSON object.
fn nested_patch<T: TopFields>(out: &mut Map<String, Value>, name: &str, a: &T, b: &T) {
    let mut inner = Map::new();
    a.patch_fields(b, &mut inner);
    if !inner.is_empty() {
        out.insert(name.to_string(), Value::Object(inner));
    }
}

/// The patch of one field whose two values differ, as [`merge_patch`] gives it for a key of
/// two objects.
fn field_patch(out: &mut Map<String, Value>, name: &str, a: Value, b: Value) {
    let p = match (a.is_null(), b.is_null()) {
        (true, true) => None,
        // Removed: `null` deletes it.
        (false, true) => Some(Value::Null),
        // Added (its nulls stripped), or changed.
        _ => merge_patch(&a, &b),
    };
    if let Some(p) = p {
        out.insert(name.to_string(), p);
    }
}

/// An absent optional field serialises to `null`, which here means "not in the object".
fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The merge patch turning `from` into `to` (`None` when they are equal), as
/// `merge_patch(&to_json(from), &to_json(to))` gives it.
pub fn object_merge_patch<T: TopFields>(from: &T, to: &T) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    from.patch_fields(to, &mut out);
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn whole<T: Serialize>(from: &T, to: &T) -> Option<Value> {
        merge_patch(&to_value(from), &to_value(to))
    }

    fn same_as_whole<T: TopFields + std::fmt::Debug>(from: &T, to: &T) {
        assert_eq!(
            object_merge_patch(from, to).map(Value::Object),
            whole(from, to),
            "{from:?} -> {to:?}"
        );
    }

    fn pod(v: Value) -> Pod {
        match serde_json::from_value(v) {
            Ok(p) => p,
            Err(e) => panic!("fixture pod: {e}"),
        }
    }

    #[test]
    fn pod_patches_match_the_whole_object_patch() {
        let base = json!({
            "metadata": {"name": "p", "namespace": "n", "labels": {"a": "1"},
                         "annotations": {"x": "y"}},
            "spec": {"containers": [{"name": "c", "image": "i:1",
                                     "env": [{"name": "E", "value": "v"}]}],
                     "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}
        });
        let a = pod(base.clone());
        let mut edits: Vec<Value> = Vec::new();
        let mut e = base.clone();
        e["metadata"]["labels"]["a"] = json!("2");
        edits.push(e);
        let mut e = base.clone();
        e["metadata"]["labels"] = json!({});
        edits.push(e);
        let mut e = base.clone();
        e["metadata"]
            .as_object_mut()
            .map(|m| m.remove("annotations"));
        edits.push(e);
        let mut e = base.clone();
        e["spec"]["containers"][0]["image"] = json!("i:2");
        e["status"]["phase"] = json!("Failed");
        edits.push(e);
        let mut e = base.clone();
        e.as_object_mut().map(|m| m.remove("status"));
        edits.push(e);
        let mut e = base.clone();
        e["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u"}]);
        e["metadata"]["finalizers"] = json!(["f"]);
        e["metadata"]["resourceVersion"] = json!("7");
        e["metadata"].as_object_mut().map(|m| m.remove("name"));
        edits.push(e);
        let mut e = base.clone();
        e["metadata"] = json!({});
        edits.push(e);
        let mut e = base.clone();
        e["status"]["conditions"] = json!([{"type": "Ready", "status": "True",
                                           "lastProbeTime": "2026-11-27T04:00:00Z"}]);
        e["status"]["podIPs"] = json!([{"ip": "10.0.0.1"}]);
        e["status"]["hostIP"] = json!("192.168.0.1");
        e["status"].as_object_mut().map(|m| m.remove("podIP"));
        edits.push(e);
        let mut e = base.clone();
        e["status"] = json!({});
        edits.push(e);
        let mut e = base.clone();
        e.as_object_mut().map(|m| m.remove("spec"));
        edits.push(e);
        edits.push(base.clone());
        for edit in edits {
            let b = pod(edit);
            same_as_whole(&a, &b);
            same_as_whole(&b, &a);
        }
        // Nothing at all in one of them: every field is added or removed.
        same_as_whole(&Pod::default(), &a);
        same_as_whole(&a, &Pod::default());
        assert_eq!(object_merge_patch(&a, &a.clone()), None);
    }

    #[test]
    fn slice_patches_name_fields_as_the_api_does() {
        let a: EndpointSlice = match serde_json::from_value(json!({
            "metadata": {"name": "s"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]
        })) {
            Ok(s) => s,
            Err(e) => panic!("fixture slice: {e}"),
        };
        let mut b = a.clone();
        b.address_type = "IPv6".into();
        b.ports = None;
        let p = object_merge_patch(&a, &b).map(Value::Object);
        assert_eq!(p, Some(json!({"addressType": "IPv6", "ports": null})));
        same_as_whole(&a, &b);
        let mut c = a.clone();
        c.endpoints.clear();
        same_as_whole(&a, &c);
    }

    #[test]
    fn service_ingress_and_endpoints_patches_match_the_whole_object_patch() {
        let s: Service = match serde_json::from_value(json!({
            "metadata": {"name": "s", "labels": {"a": "1"}},
            "spec": {"clusterIP": "10.1.0.1", "ports": [{"port": 80}], "selector": {"x": "y"}}
        })) {
            Ok(s) => s,
            Err(e) => panic!("fixture service: {e}"),
        };
        let mut s2 = s.clone();
        if let Some(sp) = s2.spec.as_mut() {
            sp.selector = None;
        }
        same_as_whole(&s, &s2);
        same_as_whole(&s2, &s);
        let i = Ingress::default();
        let mut i2 = i.clone();
        i2.metadata.name = Some("i".into());
        same_as_whole(&i, &i2);
        let ep = Endpoints::default();
        let mut ep2 = ep.clone();
        ep2.subsets = Some(vec![Default::default()]);
        same_as_whole(&ep, &ep2);
        same_as_whole(&ep2, &ep);
    }
}
