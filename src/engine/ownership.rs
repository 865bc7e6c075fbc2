//! Who owns a host object (§8.1): the only gate between the engine and a write on the host.

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The `object-kind` annotation value vCluster writes for a kind.
pub fn object_kind(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Pod => naming::OBJECT_KIND_POD,
        ObjKind::Service => naming::OBJECT_KIND_SERVICE,
        ObjKind::Endpoints => naming::OBJECT_KIND_ENDPOINTS,
        ObjKind::EndpointSlice => naming::OBJECT_KIND_ENDPOINT_SLICE,
        ObjKind::Ingress => naming::OBJECT_KIND_INGRESS,
        ObjKind::Namespace => "/v1, Kind=Namespace",
    }
}

/// Host name of a virtual object of `kind` (the `default/kubernetes` special case included).
pub fn twin_name(ctx: &Ctx, kind: ObjKind, namespace: &str, name: &str) -> String {
    match kind {
        ObjKind::Service | ObjKind::Endpoints | ObjKind::EndpointSlice => {
            naming::service_host_name(name, namespace, ctx.vcluster)
        }
        _ => naming::host_name(name, namespace, ctx.vcluster),
    }
}

fn annotation<'m>(meta: &'m ObjectMeta, key: &str) -> Option<&'m str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn label<'m>(meta: &'m ObjectMeta, key: &str) -> Option<&'m str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

/// Whether the object carries `vcluster.loft.sh/controlled-by` (regular syncers skip it).
pub fn is_controlled(meta: &ObjectMeta) -> bool {
    label(meta, naming::LABEL_CONTROLLED_BY).is_some()
}

/// Whether a core/v1 Service is the object's controlling owner: the mark of the host's
/// endpoint-slice controller on the slices it makes for a Service (vCluster never sets it).
pub fn controlled_by_service(meta: &ObjectMeta) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.kind == "Service" && o.api_version == "v1")
}

/// The `vcluster.loft.sh/object-*` annotations of an object, read in one pass.
#[derive(Debug, Default, PartialEq, Eq)]
struct ObjectAnnotations<'m> {
    name: Option<&'m str>,
    namespace: Option<&'m str>,
    kind: Option<&'m str>,
    host_name: Option<&'m str>,
    host_namespace: Option<&'m str>,
}

/// One range scan instead of a look-up per key: the keys share a long prefix, so every
/// look-up compares it again against each key it passes (this runs once per pair per plan).
fn object_annotations(meta: &ObjectMeta) -> ObjectAnnotations<'_> {
    use std::ops::Bound;
    const PREFIX: &str = "vcluster.loft.sh/object-";
    let mut out = ObjectAnnotations::default();
    let Some(ann) = meta.annotations.as_ref() else {
        return out;
    };
    let from: (Bound<&str>, Bound<&str>) = (Bound::Included(PREFIX), Bound::Unbounded);
    for (k, v) in ann.range::<str, _>(from) {
        let Some(suffix) = k.strip_prefix(PREFIX) else {
            break;
        };
        let slot = match suffix {
            "name" => &mut out.name,
            "namespace" => &mut out.namespace,
            "kind" => &mut out.kind,
            "host-name" => &mut out.host_name,
            "host-namespace" => &mut out.host_namespace,
            _ => continue,
        };
        *slot = Some(v.as_str());
    }
    out
}

/// `IsManaged` for a namespaced host object of `kind`.
pub fn is_managed(ctx: &Ctx, kind: ObjKind, meta: &ObjectMeta) -> bool {
    if meta.namespace.as_deref() != Some(ctx.host_namespace) {
        return false;
    }
    if label(meta, naming::LABEL_MANAGED_BY) != Some(ctx.vcluster) || is_controlled(meta) {
        return false;
    }
    let a = object_annotations(meta);
    let Some(vname) = a.name.filter(|n| !n.is_empty()) else {
        return false;
    };
    let vns = a.namespace.unwrap_or("");
    let name = meta.name.as_deref().unwrap_or("");
    if !is_translation(name, vname, vns, ctx.vcluster) {
        return false;
    }
    if let Some(k) = a.kind
        && k != object_kind(kind)
    {
        return false;
    }
    if let Some(h) = a.host_name
        && h != name
    {
        return false;
    }
    if let Some(h) = a.host_namespace
        && h != ctx.host_namespace
    {
        return false;
    }
    true
}

/// `name == host_name(vname, vns, vc)`, without allocating in the common unhashed case.
fn is_translation(name: &str, vname: &str, vns: &str, vc: &str) -> bool {
    if naming::is_hashed(vname, vns, vc) {
        return naming::host_name(vname, vns, vc) == name;
    }
    let mut rest = name;
    for (i, part) in [vname, vns, vc].into_iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix("-x-") {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The virtual `(namespace, name)` a managed host object says it mirrors.
pub fn virtual_ref(meta: &ObjectMeta) -> Option<(String, String)> {
    let name = annotation(meta, naming::ANNOTATION_OBJECT_NAME).filter(|n| !n.is_empty())?;
    let ns = annotation(meta, naming::ANNOTATION_OBJECT_NAMESPACE).unwrap_or("");
    Some((ns.to_string(), name.to_string()))
}

/// The virtual UID recorded on a host twin.
pub fn recorded_uid(meta: &ObjectMeta) -> Option<&str> {
    annotation(meta, naming::ANNOTATION_OBJECT_UID)
}

/// `ShouldDeleteHostObject`'s "clearly synced": all mapping annotations present and consistent.
pub fn clearly_synced(ctx: &Ctx, kind: ObjKind, meta: &ObjectMeta) -> bool {
    let name = meta.name.as_deref().unwrap_or("");
    annotation(meta, naming::ANNOTATION_OBJECT_KIND) == Some(object_kind(kind))
        && annotation(meta, naming::ANNOTATION_OBJECT_HOST_NAME) == Some(name)
        && annotation(meta, naming::ANNOTATION_OBJECT_HOST_NAMESPACE) == Some(ctx.host_namespace)
        && annotation(meta, naming::ANNOTATION_OBJECT_NAMESPACE).is_some()
        && is_managed(ctx, kind, meta)
}

/// `vcluster.loft.sh/skip-backsync: "true"`: never delete this host object for a missing virtual one.
pub fn skip_backsync(meta: &ObjectMeta) -> bool {
    annotation(meta, naming::ANNOTATION_SKIP_BACKSYNC) == Some("true")
}

#[cfg(test)]
mod tests {
    use super::{ObjectAnnotations, annotation, is_translation, object_annotations};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn one_scan_reads_what_single_look_ups_read() {
        let keys = [
            naming::ANNOTATION_OBJECT_NAME,
            naming::ANNOTATION_OBJECT_NAMESPACE,
            naming::ANNOTATION_OBJECT_KIND,
            naming::ANNOTATION_OBJECT_HOST_NAME,
            naming::ANNOTATION_OBJECT_HOST_NAMESPACE,
        ];
        let mut meta = ObjectMeta::default();
        assert_eq!(object_annotations(&meta), ObjectAnnotations::default());
        let mut ann: std::collections::BTreeMap<String, String> = [
            ("vcluster.loft.sh/object", "no suffix"),
            ("vcluster.loft.sh/object-uid", "u"),
            ("vcluster.loft.sh/object-imported", "true"),
            ("vcluster.loft.sh/objects", "after the prefix"),
            ("a", "before"),
            ("z", "after"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (i, k) in keys.iter().enumerate() {
            ann.insert(k.to_string(), format!("v{i}"));
            meta.annotations = Some(ann.clone());
            let a = object_annotations(&meta);
            let got = [a.name, a.namespace, a.kind, a.host_name, a.host_namespace];
            for (k, g) in keys.iter().zip(got) {
                assert_eq!(g, annotation(&meta, k), "{k}");
            }
        }
    }
    use crate::vcluster::naming;

    #[test]
    fn translation_check_matches_the_naming_rule() {
        for (n, ns, vc) in [
            ("nginx", "default", "vc"),
            ("a", "b", "c"),
            (
                "my-very-long-service-name-for-the-payments-backend",
                "production",
                "my-vcluster",
            ),
        ] {
            let h = naming::host_name(n, ns, vc);
            assert!(is_translation(&h, n, ns, vc));
            assert!(!is_translation(&format!("{h}x"), n, ns, vc));
            assert!(!is_translation(&h, n, ns, "other"));
        }
        assert!(!is_translation("nginx-x-default", "nginx", "default", "vc"));
    }
}

/// How long a host object created host-first by vCluster's service API interception may wait
/// for its virtual object (§4.1).
pub const BLOCK_DELETION_SECONDS: i64 = 120;

/// Whether a host object whose virtual twin is missing must not be deleted yet: vCluster's
/// API interception creates the host Service first, annotated `vcluster.loft.sh/block-deletion`,
/// and the virtual one right after; for the first 2 minutes the missing virtual object is that
/// gap, not a deletion. `now_seconds` is Unix time (the caller's clock keeps this pure).
pub fn deletion_blocked(meta: &ObjectMeta, now_seconds: i64) -> bool {
    if annotation(meta, naming::ANNOTATION_BLOCK_DELETION) != Some("true") {
        return false;
    }
    meta.creation_timestamp
        .as_ref()
        .is_some_and(|t| now_seconds - t.0.as_second() < BLOCK_DELETION_SECONDS)
}

#[cfg(test)]
mod block_deletion_tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn only_a_young_annotated_object_is_protected() {
        let created = 1_800_000_000;
        let meta = |ann: Option<&str>| ObjectMeta {
            creation_timestamp: Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(created).unwrap(),
            )),
            annotations: ann
                .map(|v| [(naming::ANNOTATION_BLOCK_DELETION.to_string(), v.to_string())].into()),
            ..ObjectMeta::default()
        };
        assert!(deletion_blocked(&meta(Some("true")), created + 30));
        assert!(deletion_blocked(&meta(Some("true")), created + 119));
        assert!(!deletion_blocked(&meta(Some("true")), created + 120));
        assert!(!deletion_blocked(&meta(Some("false")), created + 30));
        assert!(!deletion_blocked(&meta(None), created + 30));
    }
}
