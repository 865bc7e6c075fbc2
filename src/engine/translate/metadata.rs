//! Host metadata of a twin (§2): name, namespace, labels, annotations, owner reference.

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::ownership::object_kind;
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
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
        ObjKind::Endpoints => &["control-plane.alpha.kubernetes.io/leader"],
        _ => &[],
    }
}

/// `HostLabelsMap`: user labels verbatim except the four reserved keys, plus `managed-by` and
/// the virtual namespace.
pub fn host_labels(ctx: &Ctx, virtual_labels: Option<&Labels>, vns: &str) -> Labels {
    let mut out = Labels::new();
    for (k, v) in virtual_labels.into_iter().flatten() {
        out.insert(
            naming::host_label_key(k, ctx.vcluster).into_owned(),
            v.clone(),
        );
    }
    out.insert(
        naming::LABEL_MANAGED_BY.to_string(),
        ctx.vcluster.to_string(),
    );
    out.insert(naming::LABEL_NAMESPACE.to_string(), vns.to_string());
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
    let excluded = excluded_annotations(kind);
    let is_excluded = |k: &str| {
        HOST_ANNOTATIONS.contains(&k)
            || k == naming::ANNOTATION_MANAGED_ANNOTATIONS
            || k == naming::ANNOTATION_MANAGED_LABELS
            || excluded.contains(&k)
    };
    let mut out = Labels::new();
    let mut managed: Vec<&str> = Vec::new();
    for (k, v) in vmeta.annotations.iter().flatten() {
        if is_excluded(k) {
            continue;
        }
        out.insert(k.clone(), v.clone());
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
                    out.insert(k.clone(), v.clone());
                }
                continue;
            }
            if out.contains_key(k) || previously.contains(&k.as_str()) {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        if let Some(v) = host.get(naming::ANNOTATION_MANAGED_LABELS) {
            out.insert(naming::ANNOTATION_MANAGED_LABELS.to_string(), v.clone());
        }
    }
    managed.sort_unstable();
    if !managed.is_empty() {
        out.insert(
            naming::ANNOTATION_MANAGED_ANNOTATIONS.to_string(),
            managed.join("\n"),
        );
    }
    let vname = vmeta.name.clone().unwrap_or_default();
    out.insert(naming::ANNOTATION_OBJECT_NAME.to_string(), vname);
    out.insert(
        naming::ANNOTATION_OBJECT_UID.to_string(),
        vmeta.uid.clone().unwrap_or_default(),
    );
    out.insert(
        naming::ANNOTATION_OBJECT_HOST_NAME.to_string(),
        host_name.to_string(),
    );
    out.insert(
        naming::ANNOTATION_OBJECT_HOST_NAMESPACE.to_string(),
        host_namespace.to_string(),
    );
    out.insert(
        naming::ANNOTATION_OBJECT_NAMESPACE.to_string(),
        vmeta.namespace.clone().unwrap_or_default(),
    );
    out.insert(
        naming::ANNOTATION_OBJECT_KIND.to_string(),
        object_kind(kind).to_string(),
    );
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
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    let mut out = host_labels(ctx, vmeta.labels.as_ref(), vns);
    if let Some(v) = host.and_then(|h| h.get(naming::LABEL_CONTROLLED_BY)) {
        out.insert(naming::LABEL_CONTROLLED_BY.to_string(), v.clone());
    }
    out
}
