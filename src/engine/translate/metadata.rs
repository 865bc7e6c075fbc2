//! Host metadata of a twin (§2): name, namespace, labels, annotations, owner reference.

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::ownership::object_kind;
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::borrow::Cow;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// The annotation keys vCluster writes itself and never copies from the virtual object.
const HOST_ANNOTATIONS: [&str; 6] = [
    naming::ANNOTATION_OBJECT_NAME,
    naming::ANNOTATION_OBJECT_NAMESPACE,
    naming::ANNOTATION_OBJECT_UID,
    naming::ANNOTATION_OBJECT_KIND,
    naming::ANNOTATION_OBJECT_HOST_NAME,
    naming::ANNOTATION_OBJECT_HOST_NAMESPACE,
];

/// Annotations a syncer keeps out of its twins (`NewNamespacedTranslator(..., excluded)`).
pub fn excluded_annotations(kind: ObjKind) -> &'static [&'static str] {
    match kind {
        ObjKind::Service | ObjKind::Ingress => &["field.cattle.io/publicEndpoints"],
        ObjKind::Endpoints | ObjKind::EndpointSlice => {
            &["control-plane.alpha.kubernetes.io/leader"]
        }
        _ => &[],
    }
}

/// A label or annotation map under construction that borrows its strings from the objects it
/// is computed from. Plans compare it with the host object's map and only turn it into an
/// owned [`Labels`] (see [`owned`]) when it is going to be written.
pub type RefLabels<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// The owned copy of a borrowed map.
pub fn owned(m: RefLabels) -> Labels {
    m.into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An owned map as a borrowed-map extension (moves the strings, no copies).
pub fn cow<'a>(m: Labels) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> {
    m.into_iter().map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
}

/// `have == Some(want)` without building `want` as an owned map (both are sorted by key).
pub fn same(have: Option<&Labels>, want: &RefLabels) -> bool {
    have.is_some_and(|h| {
        h.len() == want.len()
            && h.iter().zip(want).all(|((hk, hv), (wk, wv))| {
                hk.as_str() == wk.as_ref() && hv.as_str() == wv.as_ref()
            })
    })
}

/// `HostLabelsMap`: user labels verbatim except the four reserved keys, plus `managed-by` and
/// the virtual namespace.
pub fn host_labels(ctx: &Ctx, virtual_labels: Option<&Labels>, vns: &str) -> Labels {
    owned(host_labels_ref(ctx.vcluster, virtual_labels, vns))
}

/// [`host_labels`], borrowing.
pub fn host_labels_ref<'a>(
    vcluster: &'a str,
    virtual_labels: Option<&'a Labels>,
    vns: &'a str,
) -> RefLabels<'a> {
    let mut out = RefLabels::new();
    for (k, v) in virtual_labels.into_iter().flatten() {
        out.insert(
            naming::host_label_key(k, vcluster),
            Cow::Borrowed(v.as_str()),
        );
    }
    out.insert(
        Cow::Borrowed(naming::LABEL_MANAGED_BY),
        Cow::Borrowed(vcluster),
    );
    out.insert(Cow::Borrowed(naming::LABEL_NAMESPACE), Cow::Borrowed(vns));
    out
}

/// Host selector of a service (§2.3): nil stays nil.
pub fn host_selector(ctx: &Ctx, selector: Option<&Labels>, vns: &str) -> Option<Labels> {
    selector.map(|s| host_labels(ctx, Some(s), vns))
}

/// `VirtualLabelsMap`: host labels back to virtual keys, vCluster's own dropped.
pub fn virtual_labels(ctx: &Ctx, host: Option<&Labels>) -> Labels {
    host.into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            naming::virtual_label_key(k, ctx.vcluster).map(|vk| (vk.into_owned(), v.clone()))
        })
        .collect()
}

/// `HostAnnotations` + `applyAnnotations`: the virtual annotations, host-only annotations that
/// vCluster never managed, the `managed-annotations` bookkeeping and the `object-*` mapping.
pub fn host_annotations(
    kind: ObjKind,
    vmeta: &ObjectMeta,
    host_name: &str,
    host_namespace: &str,
    existing_host: Option<&Labels>,
) -> Labels {
    owned(host_annotations_ref(
        kind,
        vmeta,
        vmeta.annotations.as_ref(),
        host_name,
        host_namespace,
        existing_host,
    ))
}

/// [`host_annotations`], borrowing; `virtual_annotations` stands in for `vmeta.annotations`
/// (the three-way rule may have changed them).
pub fn host_annotations_ref<'a>(
    kind: ObjKind,
    vmeta: &'a ObjectMeta,
    virtual_annotations: Option<&'a Labels>,
    host_name: &'a str,
    host_namespace: &'a str,
    existing_host: Option<&'a Labels>,
) -> RefLabels<'a> {
    let excluded = excluded_annotations(kind);
    let is_excluded = |k: &str| {
        HOST_ANNOTATIONS.contains(&k)
            || k == naming::ANNOTATION_MANAGED_ANNOTATIONS
            || k == naming::ANNOTATION_MANAGED_LABELS
            || excluded.contains(&k)
    };
    let mut out = RefLabels::new();
    let mut managed: Vec<&str> = Vec::new();
    for (k, v) in virtual_annotations.into_iter().flatten() {
        if is_excluded(k) {
            continue;
        }
        out.insert(Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()));
        managed.push(k);
    }
    if let Some(host) = existing_host {
        let previously: Vec<&str> = host
            .get(naming::ANNOTATION_MANAGED_ANNOTATIONS)
            .map(|s| s.split('\n').collect())
            .unwrap_or_default();
        for (k, v) in host {
            if is_excluded(k) {
                if !HOST_ANNOTATIONS.contains(&k.as_str())
                    && !k.starts_with("vcluster.loft.sh/managed-")
                {
                    out.insert(Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()));
                }
                continue;
            }
            if out.contains_key(k.as_str()) || previously.contains(&k.as_str()) {
                continue;
            }
            out.insert(Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str()));
        }
        if let Some(v) = host.get(naming::ANNOTATION_MANAGED_LABELS) {
            out.insert(
                Cow::Borrowed(naming::ANNOTATION_MANAGED_LABELS),
                Cow::Borrowed(v.as_str()),
            );
        }
    }
    managed.sort_unstable();
    if !managed.is_empty() {
        out.insert(
            Cow::Borrowed(naming::ANNOTATION_MANAGED_ANNOTATIONS),
            Cow::Owned(managed.join("\n")),
        );
    }
    let b = Cow::Borrowed;
    out.insert(
        b(naming::ANNOTATION_OBJECT_NAME),
        b(vmeta.name.as_deref().unwrap_or_default()),
    );
    out.insert(
        b(naming::ANNOTATION_OBJECT_UID),
        b(vmeta.uid.as_deref().unwrap_or_default()),
    );
    out.insert(b(naming::ANNOTATION_OBJECT_HOST_NAME), b(host_name));
    out.insert(
        b(naming::ANNOTATION_OBJECT_HOST_NAMESPACE),
        b(host_namespace),
    );
    out.insert(
        b(naming::ANNOTATION_OBJECT_NAMESPACE),
        b(vmeta.namespace.as_deref().unwrap_or_default()),
    );
    out.insert(b(naming::ANNOTATION_OBJECT_KIND), b(object_kind(kind)));
    out
}

/// The one owner reference every twin gets (§2.4), when the vCluster service is known.
pub fn owner_references(ctx: &Ctx, vmeta: &ObjectMeta) -> Option<Vec<OwnerReference>> {
    if !ctx.config.experimental.sync_settings.set_owner {
        return None;
    }
    let uid = ctx.vcluster_service_uid().filter(|u| !u.is_empty())?;
    let is_controller = vmeta
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true));
    Some(vec![OwnerReference {
        api_version: "v1".to_string(),
        kind: "Service".to_string(),
        name: ctx.vcluster.to_string(),
        uid: uid.to_string(),
        controller: Some(is_controller),
        block_owner_deletion: None,
    }])
}

/// Full host metadata of a new twin of `kind` (`HostMetadata`).
pub fn host_meta(ctx: &Ctx, kind: ObjKind, vmeta: &ObjectMeta, host_name: &str) -> ObjectMeta {
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    ObjectMeta {
        name: Some(host_name.to_string()),
        namespace: Some(ctx.host_namespace.to_string()),
        labels: Some(host_labels(ctx, vmeta.labels.as_ref(), vns)),
        annotations: Some(host_annotations(
            kind,
            vmeta,
            host_name,
            ctx.host_namespace,
            None,
        )),
        owner_references: owner_references(ctx, vmeta),
        ..ObjectMeta::default()
    }
}

/// Labels a twin should carry now: the translated virtual labels; `controlled-by` on the host
/// object is preserved.
pub fn updated_labels(ctx: &Ctx, vmeta: &ObjectMeta, host: Option<&Labels>) -> Labels {
    owned(updated_labels_ref(
        ctx.vcluster,
        vmeta.labels.as_ref(),
        vmeta.namespace.as_deref().unwrap_or(""),
        host,
    ))
}

/// [`updated_labels`], borrowing; `virtual_labels` and `vns` are the virtual object's.
pub fn updated_labels_ref<'a>(
    vcluster: &'a str,
    virtual_labels: Option<&'a Labels>,
    vns: &'a str,
    host: Option<&'a Labels>,
) -> RefLabels<'a> {
    let mut out = host_labels_ref(vcluster, virtual_labels, vns);
    if let Some(v) = host.and_then(|h| h.get(naming::LABEL_CONTROLLED_BY)) {
        out.insert(
            Cow::Borrowed(naming::LABEL_CONTROLLED_BY),
            Cow::Borrowed(v.as_str()),
        );
    }
    out
}
