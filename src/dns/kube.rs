//! The CoreDNS `kubernetes` plugin's record lookup over one side of the snapshot
//! (`parseRequest`, `findServices`, `findPods` with `pods insecure`, `serviceRecordForIP`).
//!
//! It returns CoreDNS's intermediate "service entries" (an IP or a CNAME target plus a port);
//! the resolver turns them into records per query type, as `plugin.A`/`SRV`/… do.

use crate::cluster::snapshot::{ObjKey, Side};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use std::collections::HashMap;
use std::net::IpAddr;

use super::names::{dashed_ip, strip_zone};

/// Port of the sentinel entry CoreDNS adds for services/subsets without ports (no SRV).
const NO_PORT: i32 = -1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

/// One CoreDNS `msg.Service`: what a record will be built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub host: Host,
    pub port: i32,
    /// The owner name an SRV record targets (`svc.ns.svc.zone` or `ep.svc.ns.svc.zone`).
    pub target: String,
    /// Which object produced it, for the explanation.
    pub origin: String,
    /// Set for ClusterIP answers: the service, so the resolver can compare with its twin.
    pub cluster_ip_of: Option<ObjKey>,
}

/// Why the plugin answers NXDOMAIN (its `errNoItems`/`errInvalidRequest`/`errNsNotExposed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Miss(pub String);

/// Lookup result: entries (possibly none → NODATA) or a name error.
pub(crate) type KubeResult = Result<Vec<Entry>, Miss>;

#[derive(Debug, Default)]
struct Rev {
    services: Vec<ObjKey>,
    /// (endpoints key, CoreDNS endpoint hostname)
    endpoints: Vec<(ObjKey, String)>,
    pods: Vec<ObjKey>,
}

/// Reverse index of one side: IP → services / endpoint addresses / pods.
#[derive(Debug, Default)]
pub(crate) struct SideIndex {
    rev: HashMap<IpAddr, Rev>,
}

impl SideIndex {
    pub fn build(side: &Side) -> Self {
        let mut rev: HashMap<IpAddr, Rev> = HashMap::new();
        for (key, svc) in &side.services {
            for ip in cluster_ips(svc) {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    rev.entry(ip).or_default().services.push(key.clone());
                }
            }
        }
        for (key, ep) in &side.endpoints {
            for subset in ep.subsets.iter().flatten() {
                for addr in subset.addresses.iter().flatten() {
                    if let Ok(ip) = addr.ip.parse::<IpAddr>() {
                        rev.entry(ip)
                            .or_default()
                            .endpoints
                            .push((key.clone(), endpoint_hostname(addr)));
                    }
                }
            }
        }
        for (key, pod) in &side.pods {
            let ip = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref());
            if let Some(ip) = ip.and_then(|s| s.parse::<IpAddr>().ok()) {
                rev.entry(ip).or_default().pods.push(key.clone());
            }
        }
        Self { rev }
    }

    /// Pods carrying `ip` (for explanations of PTR misses).
    pub fn pods_with_ip(&self, ip: &IpAddr) -> &[ObjKey] {
        self.rev.get(ip).map(|r| r.pods.as_slice()).unwrap_or(&[])
    }
}

/// `spec.clusterIPs`, falling back to `spec.clusterIP` (CoreDNS `object.ToService`).
pub(crate) fn cluster_ips(svc: &Service) -> Vec<&str> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    match spec.cluster_ips.as_ref().filter(|v| !v.is_empty()) {
        Some(ips) => ips.iter().map(String::as_str).collect(),
        None => spec.cluster_ip.as_deref().into_iter().collect(),
    }
}

pub(crate) fn is_headless(svc: &Service) -> bool {
    cluster_ips(svc).first().is_some_and(|ip| *ip == "None")
}

pub(crate) fn service_type(svc: &Service) -> &str {
    svc.spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("ClusterIP")
}

pub(crate) fn external_name(svc: &Service) -> Option<&str> {
    (service_type(svc) == "ExternalName")
        .then(|| svc.spec.as_ref().and_then(|s| s.external_name.as_deref()))
        .flatten()
}

fn endpoint_hostname(addr: &k8s_openapi::api::core::v1::EndpointAddress) -> String {
    match addr.hostname.as_deref() {
        Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
        _ => dashed_ip(&addr.ip),
    }
}

/// `a == b` ignoring case, or `a` empty (an unspecified port/protocol matches anything).
fn wild_match(a: &str, b: &str) -> bool {
    a.is_empty() || a.eq_ignore_ascii_case(b)
}

/// One side seen through the kubernetes plugin.
pub(crate) struct KubeView<'a> {
    pub side: &'a Side,
    pub index: &'a SideIndex,
    /// "virtual" or "host", for explanations.
    pub label: &'static str,
    /// Whether to format explanation texts (off on the server's hot path).
    pub explain: bool,
}

fn why(explain: bool, text: impl FnOnce() -> String) -> String {
    if explain { text() } else { String::new() }
}

fn miss(explain: bool, text: impl FnOnce() -> String) -> Miss {
    Miss(why(explain, text))
}

struct Request<'n> {
    pod: bool,
    namespace: &'n str,
    service: &'n str,
    endpoint: &'n str,
    port: &'n str,
    protocol: &'n str,
}

impl<'a> KubeView<'a> {
    /// Whether the namespace exists. Without a namespace cache (host side is often watched
    /// only for managed objects) a namespace holding any service or pod counts as existing.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        if self.side.namespaces.contains_key(&ObjKey::new("", ns)) {
            return true;
        }
        let probe = ObjKey::new(ns, "");
        let has = |keys: Option<&ObjKey>| keys.is_some_and(|k| k.namespace == ns);
        has(self
            .side
            .services
            .range(probe.clone()..)
            .next()
            .map(|(k, _)| k))
            || has(self.side.pods.range(probe..).next().map(|(k, _)| k))
    }

    /// CoreDNS `Records` for a forward name inside `zone`.
    pub fn records(&self, name: &str, zone: &str) -> KubeResult {
        let Some(base) = strip_zone(name, zone) else {
            return Err(miss(self.explain, || {
                format!("{name} is not in zone {zone}")
            }));
        };
        if base.is_empty() || base == "svc" || base == "pod" {
            return Ok(Vec::new());
        }
        let segs: Vec<&str> = base.split('.').collect();
        let n = segs.len();
        let kind = segs[n - 1];
        if kind != "svc" && kind != "pod" {
            return Err(miss(self.explain, || {
                format!(
                    "{name}: CoreDNS only answers <…>.svc.{zone} and <…>.pod.{zone} names (label before the zone is {kind:?})"
                )
            }));
        }
        let mut r = Request {
            pod: kind == "pod",
            namespace: "",
            service: "",
            endpoint: "",
            port: "",
            protocol: "",
        };
        if n >= 2 {
            r.namespace = segs[n - 2];
        }
        if n >= 3 {
            r.service = segs[n - 3];
        }
        match n {
            4 => r.endpoint = segs[0],
            5 => {
                r.port = segs[0].strip_prefix('_').unwrap_or(segs[0]);
                r.protocol = segs[1].strip_prefix('_').unwrap_or(segs[1]);
            }
            n if n > 5 => {
                return Err(miss(self.explain, || {
                    format!("{name} has too many labels for a service name")
                }));
            }
            _ => {}
        }
        if r.namespace.is_empty() {
            return Ok(Vec::new());
        }
        if !self.namespace_exists(r.namespace) {
            return Err(miss(self.explain, || {
                format!(
                    "namespace {:?} does not exist in the {} cluster",
                    r.namespace, self.label
                )
            }));
        }
        if r.pod {
            self.find_pods(&r, zone)
        } else {
            self.find_services(&r, zone)
        }
    }

    fn find_pods(&self, r: &Request<'_>, zone: &str) -> KubeResult {
        let podname = r.service;
        if podname.is_empty() {
            return Ok(Vec::new());
        }
        let ip_text = if podname.matches('-').count() == 3 && !podname.contains("--") {
            podname.replace('-', ".")
        } else {
            podname.replace('-', ":")
        };
        match ip_text.parse::<IpAddr>() {
            Ok(ip) => Ok(vec![Entry {
                host: Host::Ip(ip),
                port: 0,
                target: format!("{podname}.{}.pod.{zone}", r.namespace),
                origin: why(self.explain, || {
                    format!(
                        "pod name {podname:?} read as IP {ip} (pods insecure: not checked against any pod)"
                    )
                }),
                cluster_ip_of: None,
            }]),
            Err(_) => Err(miss(self.explain, || {
                format!(
                    "{podname:?} is not an IP written with dashes; pod names themselves do not resolve"
                )
            })),
        }
    }

    fn find_services(&self, r: &Request<'_>, zone: &str) -> KubeResult {
        if r.service.is_empty() {
            return Ok(Vec::new());
        }
        let key = ObjKey::new(r.namespace, r.service);
        let Some(svc) = self.side.services.get(&key) else {
            return Err(miss(self.explain, || {
                format!("no service {key} in the {} cluster", self.label)
            }));
        };
        let svc_name = format!("{}.{}.svc.{zone}", r.service, r.namespace);
        if let Some(target) = external_name(svc) {
            if !r.endpoint.is_empty() {
                return Err(miss(self.explain, || {
                    format!("{key} is an ExternalName service; it has no endpoints")
                }));
            }
            if target.parse::<IpAddr>().is_ok() || target.is_empty() {
                return Err(miss(self.explain, || {
                    format!(
                        "{key} is an ExternalName service whose externalName {target:?} is not a host name; CoreDNS serves no record for it"
                    )
                }));
            }
            return Ok(vec![Entry {
                host: Host::Name(super::names::normalize(target)),
                port: 0,
                target: svc_name,
                origin: why(self.explain, || {
                    format!("{} service {key} (ExternalName)", self.label)
                }),
                cluster_ip_of: None,
            }]);
        }
        if is_headless(svc) || !r.endpoint.is_empty() {
            return self.endpoint_entries(&key, svc, r, &svc_name);
        }
        let mut out = Vec::new();
        let mut matched_port = false;
        for (pname, port, proto) in service_ports(svc) {
            if !(wild_match(r.port, &pname) && wild_match(r.protocol, &proto)) {
                continue;
            }
            matched_port = true;
            for ip in cluster_ips(svc) {
                let Ok(ip) = ip.parse::<IpAddr>() else {
                    continue;
                };
                out.push(Entry {
                    host: Host::Ip(ip),
                    port,
                    target: svc_name.clone(),
                    origin: why(self.explain, || {
                        format!(
                            "{} service {key} ({}) has ClusterIP {ip}",
                            self.label,
                            service_type(svc)
                        )
                    }),
                    cluster_ip_of: Some(key.clone()),
                });
            }
        }
        if !matched_port {
            return Err(miss(self.explain, || {
                format!(
                    "service {key} has no port named {:?} with protocol {:?}",
                    r.port, r.protocol
                )
            }));
        }
        Ok(out)
    }

    fn endpoint_entries(
        &self,
        key: &ObjKey,
        svc: &Service,
        r: &Request<'_>,
        svc_name: &str,
    ) -> KubeResult {
        let why = if is_headless(svc) {
            "headless"
        } else {
            "endpoint name"
        };
        let Some(ep) = self.side.endpoints.get(key) else {
            return Err(miss(self.explain, || {
                format!(
                    "service {key} is {why}-addressed but has no Endpoints object in the {} cluster",
                    self.label
                )
            }));
        };
        let out = endpoint_entries_of(ep, key, r, svc_name, self.label, self.explain);
        if out.is_empty() {
            let detail = if r.endpoint.is_empty() {
                "no ready endpoint address matches".to_string()
            } else {
                format!("no ready endpoint address is named {:?}", r.endpoint)
            };
            return Err(miss(self.explain, || {
                format!("{} service {key} ({why}): {detail}", self.label)
            }));
        }
        Ok(out)
    }

    /// CoreDNS `serviceRecordForIP`: the first service with this ClusterIP, else every ready
    /// endpoint address with it.
    pub fn reverse(&self, ip: &IpAddr, primary_zone: &str) -> Vec<(String, String)> {
        let Some(rev) = self.index.rev.get(ip) else {
            return Vec::new();
        };
        if let Some(key) = rev.services.first() {
            return vec![(
                format!("{}.{}.svc.{primary_zone}", key.name, key.namespace),
                format!("{} service {key} has ClusterIP {ip}", self.label),
            )];
        }
        rev.endpoints
            .iter()
            .map(|(key, host)| {
                (
                    format!("{host}.{}.{}.svc.{primary_zone}", key.name, key.namespace),
                    format!("{} endpoints {key} has ready address {ip}", self.label),
                )
            })
            .collect()
    }
}

fn endpoint_entries_of(
    ep: &Endpoints,
    key: &ObjKey,
    r: &Request<'_>,
    svc_name: &str,
    label: &str,
    explain: bool,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let ports = port_triples(
            subset
                .ports
                .iter()
                .flatten()
                .map(|p| (&p.name, p.port, &p.protocol)),
        );
        for addr in subset.addresses.iter().flatten() {
            let host = endpoint_hostname(addr);
            if !r.endpoint.is_empty() && !r.endpoint.eq_ignore_ascii_case(&host) {
                continue;
            }
            let Ok(ip) = addr.ip.parse::<IpAddr>() else {
                continue;
            };
            for (pname, port, proto) in &ports {
                if !(wild_match(r.port, pname) && wild_match(r.protocol, proto)) {
                    continue;
                }
                out.push(Entry {
                    host: Host::Ip(ip),
                    port: *port,
                    target: format!("{host}.{svc_name}"),
                    origin: why(explain, || {
                        format!("{label} endpoints {key}: ready address {ip} ({host})")
                    }),
                    cluster_ip_of: None,
                });
            }
        }
    }
    out
}

/// (name, port, protocol) of each service port, or CoreDNS's portless sentinel.
fn service_ports(svc: &Service) -> Vec<(String, i32, String)> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref());
    port_triples(
        ports
            .into_iter()
            .flatten()
            .map(|p| (&p.name, p.port, &p.protocol)),
    )
}

/// (name, port, protocol) of each port (protocol TCP when unset), or CoreDNS's portless
/// sentinel when there are none.
fn port_triples<'a>(
    ports: impl Iterator<Item = (&'a Option<String>, i32, &'a Option<String>)>,
) -> Vec<(String, i32, String)> {
    let out: Vec<_> = ports
        .map(|(name, port, protocol)| {
            (
                name.clone().unwrap_or_default(),
                port,
                protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect();
    if out.is_empty() {
        vec![(String::new(), NO_PORT, String::new())]
    } else {
        out
    }
}
