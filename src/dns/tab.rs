//! Data for the TUI's DNS tab: every service's names and answers, every resolveDNS rule with a
//! live test answer, and DNS problems an operator should see (operator-needs §1, §6).

use crate::cluster::snapshot::{ObjKey, Snapshot};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use serde::Serialize;
use std::sync::Arc;

use super::kube::{cluster_ips, external_name, is_headless, service_type};
use super::names::{in_zone, normalize, strip_zone};
use super::resolver::Resolver;
use super::rules::{RuleSource, RuleTarget};
use super::types::{Answer, Rcode, RecordType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProblemKind {
    /// A resolveDNS rule points at something that does not exist (or is invalid).
    RuleTargetMissing,
    RuleInvalid,
    /// resolveDNS rules configured while `controlPlane.coredns.embedded` is false.
    RulesNeedEmbeddedCoreDns,
    /// ExternalName to an in-cluster name that on the host exists only translated.
    ExternalNameNeedsHostName,
    /// ExternalName to an in-cluster name that exists nowhere.
    ExternalNameDangling,
    /// The host twin of kube-dns has no ready endpoints (pods' nameserver answers nothing).
    KubeDnsWithoutEndpoints,
    KubeDnsMissing,
    KubeDnsIpMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsProblem {
    pub kind: ProblemKind,
    pub severity: Severity,
    /// What it is about (`service web/ext`, `resolveDNS[2]`).
    pub subject: String,
    pub message: String,
    /// What to do.
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeDnsView {
    pub virtual_cluster_ip: Option<String>,
    /// `kube-dns-x-kube-system-x-<vc>` in the host namespace.
    pub host_name: String,
    pub host_cluster_ip: Option<String>,
    pub host_ready_endpoints: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsSettings {
    pub cluster_domain: String,
    pub embedded_coredns: bool,
    pub fallback_host_cluster: bool,
    pub proxy_kubelets_by_hostname: bool,
    pub resolve_dns_rules: usize,
    pub kube_dns: KubeDnsView,
    /// The Corefile vCluster generates for this config.
    pub corefile: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDnsRow {
    pub namespace: String,
    pub name: String,
    /// `ClusterIP`, `Headless`, `ExternalName`, `NodePort`, `LoadBalancer`.
    pub kind: String,
    /// FQDN first, then the forms a pod can type (`svc.ns`, `svc` from its own namespace).
    pub virtual_names: Vec<String>,
    /// The host twin's FQDN as the host DNS knows it.
    pub host_name: String,
    pub host_exists: bool,
    /// Short answer strings (`10.96.0.10`, `CNAME example.com.`).
    pub answers: Vec<String>,
    /// `answers` joined, or `NXDOMAIN` / `NODATA`.
    pub status: String,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    pub index: usize,
    /// `hostname a.com → ip 1.2.3.4`, or the validation error.
    pub rule: String,
    pub valid: bool,
    /// True when vCluster applies it (valid and embedded CoreDNS).
    pub active: bool,
    pub test_name: String,
    /// What the cluster answers now.
    pub answer: Option<Answer>,
    /// What it would answer with embedded CoreDNS on (only when the rule is inactive).
    pub answer_if_embedded: Option<Answer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsTab {
    pub settings: DnsSettings,
    pub services: Vec<ServiceDnsRow>,
    pub rules: Vec<RuleRow>,
    pub problems: Vec<DnsProblem>,
}

/// Build the DNS tab from a snapshot and config.
pub fn dns_tab(snapshot: &Snapshot, config: &VClusterConfig) -> DnsTab {
    let arc = Arc::new(snapshot.clone());
    let resolver = Resolver::new(arc.clone(), config);
    dns_tab_with(&resolver, config)
}

/// Build the DNS tab with an existing resolver (the TUI keeps one per snapshot version).
pub fn dns_tab_with(resolver: &Resolver, config: &VClusterConfig) -> DnsTab {
    let snap = resolver.snapshot();
    let domain = resolver.cluster_domain().to_string();
    let mut problems = Vec::new();
    let services = service_rows(resolver, snap, &domain);
    let rules = rule_rows(resolver, config, snap, &mut problems);
    let kube_dns = kube_dns_view(snap);
    kube_dns_problems(snap, &kube_dns, &mut problems);
    external_name_problems(snap, &domain, &mut problems);
    if !config.control_plane.coredns.embedded && !config.networking.resolve_dns.is_empty() {
        problems.push(DnsProblem {
            kind: ProblemKind::RulesNeedEmbeddedCoreDns,
            severity: Severity::Error,
            subject: "networking.resolveDNS".into(),
            message: format!(
                "{} resolveDNS rule(s) configured but controlPlane.coredns.embedded is false: vCluster only loads the vcluster plugin with embedded CoreDNS, so none of them applies",
                config.networking.resolve_dns.len()
            ),
            hint: "set controlPlane.coredns.embedded: true (vCluster Pro) or remove the rules".into(),
        });
    }
    problems.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.subject.cmp(&b.subject)));
    DnsTab {
        settings: DnsSettings {
            cluster_domain: domain,
            embedded_coredns: config.control_plane.coredns.embedded,
            fallback_host_cluster: config.networking.advanced.fallback_host_cluster,
            proxy_kubelets_by_hostname: config.networking.advanced.proxy_kubelets.by_hostname,
            resolve_dns_rules: config.networking.resolve_dns.len(),
            kube_dns,
            corefile: super::corefile::corefile(config),
        },
        services,
        rules,
        problems,
    }
}

fn service_rows(resolver: &Resolver, snap: &Snapshot, domain: &str) -> Vec<ServiceDnsRow> {
    snap.virtual_side
        .services
        .iter()
        .map(|(key, svc)| {
            let fqdn = format!("{}.{}.svc.{domain}", key.name, key.namespace);
            let answer = resolver.query(&fqdn, RecordType::A);
            let twin = naming::service_host_name(&key.name, &key.namespace, &snap.vcluster);
            let host_exists = snap
                .host
                .services
                .contains_key(&ObjKey::new(snap.host_namespace.clone(), twin.clone()));
            let kind = if external_name(svc).is_some() {
                "ExternalName".to_string()
            } else if is_headless(svc) {
                "Headless".to_string()
            } else {
                service_type(svc).to_string()
            };
            ServiceDnsRow {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                kind,
                virtual_names: vec![
                    fqdn,
                    format!("{}.{}", key.name, key.namespace),
                    key.name.clone(),
                ],
                host_name: format!("{twin}.{}.svc.cluster.local", snap.host_namespace),
                host_exists,
                answers: answer.short(),
                status: answer.summary(),
                answer,
            }
        })
        .collect()
}

/// A query name that exercises the rule.
fn test_name(source: &RuleSource, snap: &Snapshot, domain: &str, target: &RuleTarget) -> String {
    match source {
        RuleSource::Hostname(p) => p.example(),
        RuleSource::Service { namespace, name } => format!("{name}.{namespace}.svc.{domain}"),
        RuleSource::Namespace(ns) => {
            // prefer a service that exists in the mapped host namespace
            let svc = match target {
                RuleTarget::HostNamespace(hns) => snap
                    .host
                    .services
                    .range(ObjKey::new(hns.clone(), "")..)
                    .next()
                    .filter(|(k, _)| &k.namespace == hns)
                    .map(|(k, _)| k.name.clone()),
                _ => None,
            };
            format!("{}.{ns}.svc.{domain}", svc.unwrap_or_else(|| "test".into()))
        }
    }
}

fn rule_rows(
    resolver: &Resolver,
    config: &VClusterConfig,
    snap: &Snapshot,
    problems: &mut Vec<DnsProblem>,
) -> Vec<RuleRow> {
    let embedded = config.control_plane.coredns.embedded;
    let domain = resolver.cluster_domain().to_string();
    let mut would: Option<Resolver> = None;
    let mut rows = Vec::new();
    for rule in resolver.rules() {
        let subject = format!("resolveDNS[{}]", rule.index);
        let Ok((source, target)) = &rule.rule else {
            let why = rule.rule.as_ref().err().cloned().unwrap_or_default();
            problems.push(DnsProblem {
                kind: ProblemKind::RuleInvalid,
                severity: Severity::Error,
                subject: subject.clone(),
                message: why.clone(),
                hint: "fix the rule in vcluster.yaml (vCluster rejects this config)".into(),
            });
            rows.push(RuleRow {
                index: rule.index,
                rule: rule.describe(),
                valid: false,
                active: false,
                test_name: String::new(),
                answer: None,
                answer_if_embedded: None,
            });
            continue;
        };
        let name = test_name(source, snap, &domain, target);
        let answer = resolver.query(&name, RecordType::A);
        let answer_if_embedded = (!embedded).then(|| {
            let r = would.get_or_insert_with(|| {
                Resolver::new(resolver.snapshot_arc().clone(), config).with_embedded(true)
            });
            r.query(&name, RecordType::A)
        });
        target_problems(snap, &subject, target, problems);
        let effective = answer_if_embedded.as_ref().unwrap_or(&answer);
        if let RuleTarget::Hostname(_) = target
            && effective.rcode == Rcode::NxDomain
        {
            problems.push(DnsProblem {
                kind: ProblemKind::RuleTargetMissing,
                severity: Severity::Error,
                subject: subject.clone(),
                message: format!("{}: the target of test name {name} does not resolve", rule.describe()),
                hint: "check the target hostname; in-cluster targets need the full <svc>.<ns>.svc.<domain> name".into(),
            });
        }
        rows.push(RuleRow {
            index: rule.index,
            rule: rule.describe(),
            valid: true,
            active: embedded,
            test_name: name,
            answer: Some(answer),
            answer_if_embedded,
        });
    }
    rows
}

fn host_ns_exists(snap: &Snapshot, ns: &str) -> bool {
    snap.host.namespaces.contains_key(&ObjKey::new("", ns))
        || snap
            .host
            .services
            .range(ObjKey::new(ns, "")..)
            .next()
            .is_some_and(|(k, _)| k.namespace == ns)
}

fn target_problems(
    snap: &Snapshot,
    subject: &str,
    target: &RuleTarget,
    problems: &mut Vec<DnsProblem>,
) {
    let missing = |what: String, hint: &str| DnsProblem {
        kind: ProblemKind::RuleTargetMissing,
        severity: Severity::Error,
        subject: subject.to_string(),
        message: what,
        hint: hint.to_string(),
    };
    match target {
        RuleTarget::HostService { namespace, name } => {
            if !snap
                .host
                .services
                .contains_key(&ObjKey::new(namespace.clone(), name.clone()))
            {
                problems.push(missing(
                    format!("target host service {namespace}/{name} not found on the host"),
                    "create the host service or fix target.hostService (hostNamespace/name); vinspect's host cache may only hold vCluster-managed objects",
                ));
            }
        }
        RuleTarget::VClusterService {
            host_namespace,
            vcluster,
            namespace,
            name,
        } => {
            let twin = naming::host_name(name, namespace, vcluster);
            if !snap
                .host
                .services
                .contains_key(&ObjKey::new(host_namespace.clone(), twin.clone()))
            {
                problems.push(missing(
                    format!(
                        "target service {namespace}/{name} of vCluster {vcluster}: its host twin {host_namespace}/{twin} was not found"
                    ),
                    "check that vCluster and namespace (hostNamespace/vClusterName/vClusterNamespace/vClusterService); vinspect's host cache may only hold this vCluster's objects",
                ));
            }
        }
        RuleTarget::HostNamespace(ns) => {
            if !host_ns_exists(snap, ns) {
                problems.push(missing(
                    format!(
                        "target host namespace {ns} not found (no namespace and no services in it)"
                    ),
                    "create the host namespace or fix target.hostNamespace",
                ));
            }
        }
        RuleTarget::Hostname(_) | RuleTarget::Ip(_) => {}
    }
}

fn kube_dns_view(snap: &Snapshot) -> KubeDnsView {
    let host_name = naming::kube_dns_host_name(&snap.vcluster);
    let host_key = ObjKey::new(snap.host_namespace.clone(), host_name.clone());
    let first_ip = |svc: &k8s_openapi::api::core::v1::Service| {
        cluster_ips(svc).first().map(|s| (*s).to_string())
    };
    KubeDnsView {
        virtual_cluster_ip: snap
            .virtual_side
            .services
            .get(&ObjKey::new("kube-system", "kube-dns"))
            .and_then(|s| first_ip(s)),
        host_cluster_ip: snap.host.services.get(&host_key).and_then(|s| first_ip(s)),
        host_ready_endpoints: snap
            .host
            .endpoints
            .get(&host_key)
            .map(|ep| {
                ep.subsets
                    .iter()
                    .flatten()
                    .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0),
        host_name,
    }
}

fn kube_dns_problems(snap: &Snapshot, v: &KubeDnsView, problems: &mut Vec<DnsProblem>) {
    let subject = "service kube-system/kube-dns".to_string();
    if v.virtual_cluster_ip.is_none() {
        if !snap.virtual_side.services.is_empty() {
            problems.push(DnsProblem {
                kind: ProblemKind::KubeDnsMissing,
                severity: Severity::Error,
                subject,
                message: "no kube-dns service in the virtual kube-system namespace: pods have no cluster DNS".into(),
                hint: "check controlPlane.coredns.enabled and the CoreDNS deployment inside the vCluster".into(),
            });
        }
        return;
    }
    let Some(host_ip) = &v.host_cluster_ip else {
        problems.push(DnsProblem {
            kind: ProblemKind::KubeDnsMissing,
            severity: Severity::Error,
            subject,
            message: format!(
                "kube-dns has no host twin {}/{}: host pods cannot reach the virtual cluster's DNS",
                snap.host_namespace, v.host_name
            ),
            hint:
                "check the service syncer (sync.toHost.services) and SyncError events on kube-dns"
                    .into(),
        });
        return;
    };
    if v.virtual_cluster_ip.as_deref() != Some(host_ip.as_str()) {
        problems.push(DnsProblem {
            kind: ProblemKind::KubeDnsIpMismatch,
            severity: Severity::Error,
            subject: subject.clone(),
            message: format!(
                "virtual kube-dns ClusterIP {} differs from its host twin's {host_ip}; pods use the host IP as nameserver",
                v.virtual_cluster_ip.clone().unwrap_or_default()
            ),
            hint: "vCluster recreates the virtual service with the host IP; if it persists, check the syncer logs".into(),
        });
    }
    if v.host_ready_endpoints == 0 {
        problems.push(DnsProblem {
            kind: ProblemKind::KubeDnsWithoutEndpoints,
            severity: Severity::Error,
            subject,
            message: format!(
                "host twin {}/{} has no ready endpoints: every DNS query from pods times out",
                snap.host_namespace, v.host_name
            ),
            hint: "check that the CoreDNS pod is running and ready, and that nodes allow port 1053 between them (kube-dns maps 53 → 1053)".into(),
        });
    }
}

/// `(service, namespace)` named by an in-cluster service FQDN (`svc.ns.svc.<zone>`) or by
/// the zone-less `svc.ns.svc` form.
fn in_cluster_service(target: &str, domain: &str) -> Option<(String, String)> {
    let zone = [domain, "cluster.local"]
        .into_iter()
        .find(|z| in_zone(target, z));
    let base = match zone {
        Some(z) => strip_zone(target, z)?,
        None => target,
    };
    let parts: Vec<&str> = base.strip_suffix(".svc")?.split('.').collect();
    match parts.as_slice() {
        [svc, ns] => Some(((*svc).to_string(), (*ns).to_string())),
        _ => None,
    }
}

fn external_name_problems(snap: &Snapshot, domain: &str, problems: &mut Vec<DnsProblem>) {
    for (key, svc) in &snap.virtual_side.services {
        let Some(raw) = external_name(svc) else {
            continue;
        };
        let target = normalize(raw);
        let Some((name, ns)) = in_cluster_service(&target, domain) else {
            continue;
        };
        if naming::is_default_kubernetes(&ns, &name) {
            // every cluster has its own kubernetes.default; on the host it is the host's API
            continue;
        }
        let host_verbatim = snap
            .host
            .services
            .contains_key(&ObjKey::new(ns.clone(), name.clone()));
        if host_verbatim {
            continue;
        }
        let twin = naming::service_host_name(&name, &ns, &snap.vcluster);
        let twin_exists = snap
            .host
            .services
            .contains_key(&ObjKey::new(snap.host_namespace.clone(), twin.clone()));
        let virtual_exists = snap
            .virtual_side
            .services
            .contains_key(&ObjKey::new(ns.clone(), name.clone()));
        if twin_exists || virtual_exists {
            let host_fqdn = format!("{twin}.{}.svc.cluster.local", snap.host_namespace);
            problems.push(DnsProblem {
                kind: ProblemKind::ExternalNameNeedsHostName,
                severity: Severity::Warning,
                subject: format!("service {key}"),
                message: format!(
                    "ExternalName {target} resolves inside the vCluster, but its host twin carries the name verbatim; on the host that service was found only as {host_fqdn}"
                ),
                hint: format!(
                    "host components (ingress controllers, meshes) resolve the twin's externalName on the host: use {host_fqdn} if they must reach it"
                ),
            });
        } else {
            problems.push(DnsProblem {
                kind: ProblemKind::ExternalNameDangling,
                severity: Severity::Warning,
                subject: format!("service {key}"),
                message: format!("ExternalName {target} names service {ns}/{name}, which exists neither in the vCluster nor on the host"),
                hint: "fix spec.externalName or create the service".into(),
            });
        }
    }
}
