//! Virtual EndpointSlices of a selector-less service → host EndpointSlices (§4.4).
//!
//! vCluster's slice syncer follows `loft-sh/vcluster: pkg/controllers/resources/endpointslices`:
//! the host slice is named after the virtual SLICE by the usual rule (§1.1), its
//! `kubernetes.io/service-name` label is the plain `<svc>-x-<vNS>-x-<VC>` concatenation (never
//! hashed, so it stops naming the host service past 63 bytes), Pod targetRefs point at the host
//! pod, and addresses, ports and conditions are copied as they are.

use crate::cluster::snapshot::lookup;
use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::ownership::is_controlled;
use crate::engine::translate::metadata;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, ObjectReference};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The label naming a slice's Service (`discoveryv1.LabelServiceName`).
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The virtual Service a virtual slice belongs to, from its `kubernetes.io/service-name` label.
pub fn service_name(meta: &ObjectMeta) -> Option<&str> {
    meta.labels
        .as_ref()?
        .get(SERVICE_NAME_LABEL)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The value of the host slice's `kubernetes.io/service-name` label.
pub fn host_service_label(ctx: &Ctx, vmeta: &ObjectMeta) -> String {
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    naming::endpoint_slice_service_label(service_name(vmeta).unwrap_or(""), vns, ctx.vcluster)
}

/// The whole host slice a virtual slice gets when its twin is created.
pub fn to_host(ctx: &Ctx, vslice: &EndpointSlice) -> EndpointSlice {
    let vm = &vslice.metadata;
    let vns = vm.namespace.as_deref().unwrap_or("");
    let vname = vm.name.as_deref().unwrap_or("");
    let host_name = naming::host_name(vname, vns, ctx.vcluster);
    let mut meta = metadata::host_meta(ctx, ObjKind::EndpointSlice, vm, &host_name);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(SERVICE_NAME_LABEL.to_string(), host_service_label(ctx, vm));
    EndpointSlice {
        metadata: meta,
        address_type: vslice.address_type.clone(),
        endpoints: host_endpoints(ctx, &vslice.endpoints, vns),
        ports: vslice.ports.clone(),
    }
}

/// The endpoints with every Pod targetRef renamed to its host pod in the host namespace.
/// vCluster's slice syncer (unlike its Endpoints syncer) keeps the reference's uid and
/// resourceVersion as the virtual pod had them.
pub fn host_endpoints(ctx: &Ctx, endpoints: &[Endpoint], vns: &str) -> Vec<Endpoint> {
    endpoints
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if let Some(t) = e.target_ref.as_mut()
                && t.kind.as_deref() == Some("Pod")
            {
                let ns = t.namespace.clone().unwrap_or_else(|| vns.to_string());
                let name = t.name.clone().unwrap_or_default();
                *t = ObjectReference {
                    name: Some(naming::host_name(&name, &ns, ctx.vcluster)),
                    namespace: Some(ctx.host_namespace.to_string()),
                    ..t.clone()
                };
            }
            e
        })
        .collect()
}

/// What vCluster's slice syncer does with a virtual slice (its `ReconcileStart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Its Service has no selector: the slice is copied to the host.
    Sync,
    /// Its Service has a selector: the host's own controller makes the host slices, so a
    /// host copy vCluster made earlier is deleted.
    Selector,
    /// Not the slice syncer's business: no `kubernetes.io/service-name` label, no such
    /// Service, a replicateServices target, or `default/kubernetes`.
    Skip,
}

/// The [`Fate`] of a virtual slice, from the virtual Service its label names.
pub fn fate(ctx: &Ctx, vmeta: &ObjectMeta) -> Fate {
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    let vname = vmeta.name.as_deref().unwrap_or("");
    if naming::is_default_kubernetes(vns, vname) {
        return Fate::Skip;
    }
    let Some(svc_name) = service_name(vmeta) else {
        return Fate::Skip;
    };
    let Some(svc) = lookup(&ctx.snapshot.virtual_side.services, vns, svc_name) else {
        return Fate::Skip;
    };
    if is_controlled(&svc.metadata) {
        return Fate::Skip;
    }
    match svc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        Some(_) => Fate::Selector,
        None => Fate::Sync,
    }
}

/// Virtual `default/kubernetes` slice as vCluster's default-endpoint controller writes it
/// (`loft-sh/vcluster: pkg/controllers/k8sdefaultendpoint/provider.go`): made from the virtual
/// `default/kubernetes` Endpoints (which mirror host `<vc>`, see
/// [`crate::engine::backsync::kubernetes_endpoints`]), first subset only, labels replaced by
/// the service-name label; IPv6 only when every address is IPv6.
pub fn kubernetes_slice(vslice: Option<&EndpointSlice>, eps: &Endpoints) -> EndpointSlice {
    let subset = eps.subsets.as_ref().and_then(|s| s.first());
    let ready = subset.and_then(|s| s.addresses.as_deref()).unwrap_or(&[]);
    let not_ready = subset
        .and_then(|s| s.not_ready_addresses.as_deref())
        .unwrap_or(&[]);
    let all_v6 = ready
        .iter()
        .chain(not_ready)
        .all(|a| a.ip.parse::<std::net::Ipv6Addr>().is_ok());
    // Go's `allAddressesIPv6` of no addresses is false.
    let v6 = all_v6 && !(ready.is_empty() && not_ready.is_empty());
    let endpoint = |a: &EndpointAddress, is_ready: bool| Endpoint {
        addresses: vec![a.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(is_ready),
            ..EndpointConditions::default()
        }),
        target_ref: a.target_ref.clone(),
        node_name: a.node_name.clone(),
        ..Endpoint::default()
    };
    let of_family = |a: &&EndpointAddress| a.ip.parse::<std::net::Ipv6Addr>().is_ok() == v6;
    let endpoints = ready
        .iter()
        .filter(of_family)
        .map(|a| endpoint(a, true))
        .chain(
            not_ready
                .iter()
                .filter(of_family)
                .map(|a| endpoint(a, false)),
        )
        .collect();
    let ports = subset.map(|s| {
        s.ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                port: Some(p.port),
                name: Some(p.name.clone().unwrap_or_default()),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".to_string())),
                app_protocol: None,
            })
            .collect()
    });
    let mut metadata = vslice
        .map(|v| v.metadata.clone())
        .unwrap_or_else(|| ObjectMeta {
            name: Some("kubernetes".to_string()),
            namespace: Some("default".to_string()),
            ..ObjectMeta::default()
        });
    metadata.labels = Some(
        [(SERVICE_NAME_LABEL.to_string(), "kubernetes".to_string())]
            .into_iter()
            .collect(),
    );
    EndpointSlice {
        metadata,
        address_type: if v6 { "IPv6" } else { "IPv4" }.to_string(),
        endpoints,
        ports,
    }
}
