//! Virtual Endpoints of a selector-less service → host Endpoints (§4.4).

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::translate::metadata;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset, Endpoints, ObjectReference};

/// Same name as the host service; addresses untouched; Pod targetRefs renamed to the host pod.
pub fn to_host(ctx: &Ctx, vep: &Endpoints) -> Endpoints {
    let vns = vep.metadata.namespace.as_deref().unwrap_or("");
    let vname = vep.metadata.name.as_deref().unwrap_or("");
    let host_name = naming::host_name(vname, vns, ctx.vcluster);
    Endpoints {
        metadata: metadata::host_meta(ctx, ObjKind::Endpoints, &vep.metadata, &host_name),
        subsets: host_subsets(ctx, vep.subsets.as_deref(), vns),
    }
}

pub fn host_subsets(
    ctx: &Ctx,
    subsets: Option<&[EndpointSubset]>,
    vns: &str,
) -> Option<Vec<EndpointSubset>> {
    subsets.map(|subsets| {
        subsets
            .iter()
            .map(|s| EndpointSubset {
                addresses: s
                    .addresses
                    .as_ref()
                    .map(|a| translate_addresses(ctx, a, vns)),
                not_ready_addresses: s
                    .not_ready_addresses
                    .as_ref()
                    .map(|a| translate_addresses(ctx, a, vns)),
                ports: s.ports.clone(),
            })
            .collect()
    })
}

fn translate_addresses(ctx: &Ctx, addrs: &[EndpointAddress], vns: &str) -> Vec<EndpointAddress> {
    addrs
        .iter()
        .map(|a| {
            let mut a = a.clone();
            if let Some(t) = a.target_ref.as_mut()
                && t.kind.as_deref() == Some("Pod")
            {
                let ns = t.namespace.clone().unwrap_or_else(|| vns.to_string());
                let name = t.name.clone().unwrap_or_default();
                *t = ObjectReference {
                    name: Some(naming::host_name(&name, &ns, ctx.vcluster)),
                    namespace: Some(ctx.host_namespace.to_string()),
                    uid: None,
                    resource_version: None,
                    ..t.clone()
                };
            }
            a
        })
        .collect()
}
