//! `networking.replicateServices` (§6): host services mirrored into the vCluster (fromHost) and
//! virtual services exposed in the host namespace (toHost). Unlike vCluster, config changes take
//! effect on the next plan (vcluster#3247: vCluster needs a restart).

use crate::cluster::snapshot::ObjKey;
use crate::engine::backsync::clean_meta;
use crate::engine::change::{Action, Blocked, ObjKind, PairKind, Plan, SideName};
use crate::engine::ctx::{Ctx, cluster_ip};
use crate::engine::memory::LastSeen;
use crate::engine::pair::Pair;
use crate::engine::plan::{
    change, create, delete, patches, squatter_message, target, target_key, to_json,
};
use crate::engine::translate::{metadata, service::zero_node_ports};
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Namespace, Service, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// A parsed `{from, to}` entry: `from` and `to` as (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub from: ObjKey,
    pub to: ObjKey,
}

/// The parse error vCluster reports for a malformed entry.
pub const MAPPING_ERROR: &str = "invalid service mapping, please use namespace1/service1=service2";

/// Parse the config's mappings. Kept in one place so the typed config accessors can replace it.
/// Returns (fromHost, toHost); malformed entries are skipped (config validation reports them).
pub fn mappings(ctx: &Ctx) -> (Vec<Mapping>, Vec<Mapping>) {
    let rs = &ctx.config.networking.replicate_services;
    let from_host = rs
        .from_host
        .iter()
        .filter_map(|m| parse_from_host(&m.from, &m.to, ctx.host_namespace).ok())
        .collect();
    let to_host = rs
        .to_host
        .iter()
        .filter_map(|m| parse_to_host(&m.from, &m.to, ctx.host_namespace).ok())
        .collect();
    (from_host, to_host)
}

fn split_ref(s: &str) -> Option<(Option<&str>, &str)> {
    let s = s.trim();
    match s.split('/').collect::<Vec<_>>().as_slice() {
        [name] if !name.is_empty() => Some((None, name)),
        [ns, name] if !ns.is_empty() && !name.is_empty() => Some((Some(ns), name)),
        _ => None,
    }
}

/// fromHost: `from` = `hostNS/name` or `name` (host namespace); `to` must be `vNS/name`.
pub fn parse_from_host(from: &str, to: &str, hns: &str) -> Result<Mapping, &'static str> {
    let (fns, fname) = split_ref(from).ok_or(MAPPING_ERROR)?;
    let (Some(tns), tname) = split_ref(to).ok_or(MAPPING_ERROR)? else {
        return Err(MAPPING_ERROR);
    };
    Ok(Mapping {
        from: ObjKey::new(fns.unwrap_or(hns), fname),
        to: ObjKey::new(tns, tname),
    })
}

/// toHost: `from` must be `vNS/name`; `to` must be a bare name (created in the host namespace).
pub fn parse_to_host(from: &str, to: &str, hns: &str) -> Result<Mapping, &'static str> {
    let (Some(fns), fname) = split_ref(from).ok_or(MAPPING_ERROR)? else {
        return Err(MAPPING_ERROR);
    };
    let (None, tname) = split_ref(to).ok_or(MAPPING_ERROR)? else {
        return Err(MAPPING_ERROR);
    };
    Ok(Mapping {
        from: ObjKey::new(fns, fname),
        to: ObjKey::new(hns, tname),
    })
}

/// One pair per mapping, plus virtual services left behind by removed fromHost entries.
pub fn pairs(ctx: &Ctx) -> Vec<Pair> {
    let (from_host, to_host) = mappings(ctx);
    let mut out = Vec::new();
    for m in &from_host {
        out.push(Pair::new(
            PairKind::ReplicatedFromHost,
            Some(m.to.clone()),
            Some(m.from.clone()),
        ));
    }
    for m in &to_host {
        out.push(Pair::new(
            PairKind::ReplicatedToHost,
            Some(m.from.clone()),
            Some(m.to.clone()),
        ));
    }
    for (key, svc) in &ctx.snapshot.virtual_side.services {
        if is_ours(&svc.metadata) && !from_host.iter().any(|m| &m.to == key) {
            out.push(Pair::new(
                PairKind::ReplicatedFromHost,
                Some(key.clone()),
                None,
            ));
        }
    }
    out
}

fn is_ours(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(naming::LABEL_CONTROLLED_BY))
        .is_some_and(|v| v == naming::CONTROLLED_BY_VCLUSTER)
}

/// A host object whose `managed-by` label names another vCluster is that vCluster's, whatever
/// else it carries (two vClusters may share a host namespace).
fn names_another_vcluster(ctx: &Ctx, meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(naming::LABEL_MANAGED_BY))
        .is_some_and(|v| v != ctx.vcluster)
}

fn controlled_labels() -> BTreeMap<String, String> {
    [(
        naming::LABEL_CONTROLLED_BY.to_string(),
        naming::CONTROLLED_BY_VCLUSTER.to_string(),
    )]
    .into()
}

/// The virtual headless Service a fromHost entry creates.
pub fn from_host_service(host: &Service, to: &ObjKey) -> Service {
    let hspec = host.spec.clone().unwrap_or_default();
    let is_lb = hspec.type_.as_deref() == Some("LoadBalancer");
    Service {
        metadata: ObjectMeta {
            name: Some(to.name.clone()),
            namespace: Some(to.namespace.clone()),
            labels: Some(controlled_labels()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            ports: hspec.ports.map(zero_node_ports),
            ..ServiceSpec::default()
        }),
        status: if is_lb { host.status.clone() } else { None },
    }
}

/// The virtual Endpoints next to it: the host ClusterIP, or the host endpoints when headless.
pub fn from_host_endpoints(ctx: &Ctx, host: &Service, from: &ObjKey, to: &ObjKey) -> Endpoints {
    let subsets = match cluster_ip(host) {
        Some(ip) => {
            let ports: Vec<EndpointPort> = host
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
                .map(|p| EndpointPort {
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.clone(),
                    app_protocol: p.app_protocol.clone(),
                })
                .collect();
            Some(vec![EndpointSubset {
                addresses: Some(vec![EndpointAddress {
                    ip: ip.to_string(),
                    ..EndpointAddress::default()
                }]),
                not_ready_addresses: None,
                ports: (!ports.is_empty()).then_some(ports),
            }])
        }
        None => ctx
            .snapshot
            .host
            .endpoints
            .get(from)
            .and_then(|e| e.subsets.clone()),
    };
    Endpoints {
        metadata: ObjectMeta {
            name: Some(to.name.clone()),
            namespace: Some(to.namespace.clone()),
            labels: Some(controlled_labels()),
            ..ObjectMeta::default()
        },
        subsets,
    }
}

pub fn plan_from_host(ctx: &Ctx, pair: &Pair, _memory: Option<&LastSeen>) -> Plan {
    let mut p = Plan::default();
    let Some(to) = pair.virtual_key.as_ref() else {
        return p;
    };
    let v = &ctx.snapshot.virtual_side;
    let vsvc = v.services.get(to);
    let vep = v.endpoints.get(to);
    let source = pair
        .host_key
        .as_ref()
        .and_then(|k| ctx.snapshot.host.services.get(k));
    let Some(source) = source else {
        // Source gone (or entry removed from config): remove what we created, nothing else.
        if let Some(s) = vsvc.filter(|s| is_ours(&s.metadata)) {
            let why = match &pair.host_key {
                Some(k) => format!("host service {k} no longer exists"),
                None => "no longer listed in networking.replicateServices.fromHost".to_string(),
            };
            p.changes.push(delete(
                SideName::Virtual,
                ObjKind::Service,
                &s.metadata,
                why.clone(),
            ));
            if let Some(e) = vep.filter(|e| is_ours(&e.metadata)) {
                p.changes.push(delete(
                    SideName::Virtual,
                    ObjKind::Endpoints,
                    &e.metadata,
                    why,
                ));
            }
        }
        return p;
    };
    if let Some(s) = vsvc
        && !is_ours(&s.metadata)
    {
        return Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Squatter {
                message: format!(
                    "squatter: virtual service {to} exists and is not controlled by vcluster (label {}={} missing)",
                    naming::LABEL_CONTROLLED_BY,
                    naming::CONTROLLED_BY_VCLUSTER
                ),
            }),
        };
    }
    let from = pair.host_key.clone().unwrap_or_else(|| ObjKey::new("", ""));
    if !v
        .namespaces
        .contains_key(&ObjKey::new("", to.namespace.as_str()))
    {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(to.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        p.changes.push(change(
            target_key(SideName::Virtual, ObjKind::Namespace, "", &to.namespace),
            Action::Create {
                object: to_json(&ns),
            },
            format!("virtual namespace {} is missing", to.namespace),
        ));
    }
    let want = from_host_service(source, to);
    match vsvc {
        None => p.changes.push(create(
            SideName::Virtual,
            ObjKind::Service,
            &want,
            &want.metadata,
            format!("replicate host service {from}"),
        )),
        Some(cur) => {
            let headless = cur.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
            if !headless {
                let mut obj = want.clone();
                obj.metadata = clean_meta(&cur.metadata);
                p.changes.push(change(
                    target(SideName::Virtual, ObjKind::Service, &cur.metadata),
                    Action::Recreate {
                        object: to_json(&obj),
                        uid: cur.metadata.uid.clone(),
                    },
                    "replicated service must be headless",
                ));
            } else {
                let mut upd = cur.as_ref().clone();
                let spec = upd.spec.get_or_insert_with(Default::default);
                let wspec = want.spec.clone().unwrap_or_default();
                spec.ports = wspec.ports;
                spec.selector = None;
                upd.metadata
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .extend(controlled_labels());
                if want.status.is_some() {
                    upd.status = want.status.clone();
                }
                p.changes.extend(patches(
                    SideName::Virtual,
                    ObjKind::Service,
                    cur.as_ref(),
                    &upd,
                    &cur.metadata,
                    "replicated service",
                ));
            }
        }
    }
    let want_ep = from_host_endpoints(ctx, source, &from, to);
    match vep {
        None => p.changes.push(create(
            SideName::Virtual,
            ObjKind::Endpoints,
            &want_ep,
            &want_ep.metadata,
            format!("endpoints of replicated host service {from}"),
        )),
        Some(cur) => {
            let mut upd = cur.as_ref().clone();
            upd.subsets = want_ep.subsets.clone();
            upd.metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend(controlled_labels());
            p.changes.extend(patches(
                SideName::Virtual,
                ObjKind::Endpoints,
                cur.as_ref(),
                &upd,
                &cur.metadata,
                "replicated endpoints",
            ));
        }
    }
    p
}

/// The host Service a toHost entry creates: selects the host pods of the virtual service.
pub fn to_host_service(ctx: &Ctx, vsvc: &Service, to: &ObjKey) -> Service {
    let vns = vsvc.metadata.namespace.as_deref().unwrap_or("");
    let vspec = vsvc.spec.clone().unwrap_or_default();
    let headless = vspec.cluster_ip.as_deref() == Some("None");
    Service {
        metadata: ObjectMeta {
            name: Some(to.name.clone()),
            namespace: Some(to.namespace.clone()),
            labels: Some(controlled_labels()),
            owner_references: metadata::owner_references(ctx, &ObjectMeta::default()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: headless.then(|| "None".to_string()),
            ports: vspec.ports.map(zero_node_ports),
            selector: metadata::host_selector(ctx, vspec.selector.as_ref(), vns),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

pub fn plan_to_host(ctx: &Ctx, pair: &Pair, _memory: Option<&LastSeen>) -> Plan {
    let mut p = Plan::default();
    let (Some(from), Some(to)) = (pair.virtual_key.as_ref(), pair.host_key.as_ref()) else {
        return p;
    };
    let source = ctx.snapshot.virtual_side.services.get(from);
    let host = ctx.snapshot.host.services.get(to);
    if let Some(h) = host
        && (!is_ours(&h.metadata) || names_another_vcluster(ctx, &h.metadata))
    {
        return Plan {
            changes: Vec::new(),
            blocked: Some(Blocked::Squatter {
                message: squatter_message(ctx, ObjKind::Service, &to.namespace, &to.name),
            }),
        };
    }
    let Some(source) = source else {
        if let Some(h) = host {
            p.changes.push(delete(
                SideName::Host,
                ObjKind::Service,
                &h.metadata,
                format!("virtual service {from} no longer exists"),
            ));
        }
        return p;
    };
    let want = to_host_service(ctx, source, to);
    match host {
        None => p.changes.push(create(
            SideName::Host,
            ObjKind::Service,
            &want,
            &want.metadata,
            format!("expose virtual service {from} in the host namespace"),
        )),
        Some(cur) => {
            let mut upd = cur.as_ref().clone();
            let spec = upd.spec.get_or_insert_with(Default::default);
            let wspec = want.spec.clone().unwrap_or_default();
            let mut ports = wspec.ports.clone();
            if let Some(ps) = ports.as_mut() {
                crate::engine::backsync::fill_node_ports(
                    ps,
                    cur.spec
                        .as_ref()
                        .and_then(|s| s.ports.as_deref())
                        .unwrap_or_default(),
                );
                for (a, b) in ps.iter_mut().zip(
                    cur.spec
                        .as_ref()
                        .and_then(|s| s.ports.as_deref())
                        .unwrap_or_default(),
                ) {
                    if a.port == b.port {
                        if a.protocol.is_none() {
                            a.protocol = b.protocol.clone();
                        }
                        if a.target_port.is_none() {
                            a.target_port = b.target_port.clone();
                        }
                    }
                }
            }
            spec.ports = ports;
            spec.selector = wspec.selector;
            p.changes.extend(patches(
                SideName::Host,
                ObjKind::Service,
                cur.as_ref(),
                &upd,
                &cur.metadata,
                "replicated host service",
            ));
        }
    }
    p
}
