//! The pure resolver: vCluster's CoreDNS chain over a [`Snapshot`].
//!
//! Order follows CoreDNS's plugin execution order for the Corefile vCluster writes:
//! `rewrite` (`*.nodes.vcluster.com`) → `hosts` (NodeHosts) → the embedded `vcluster` plugin
//! (`networking.resolveDNS`, before `kubernetes`) → `kubernetes` (virtual API; misses in
//! `cluster.local` fall through to the host with `fallbackHostCluster`, reverse misses always
//! fall through) → `forward`. Every stage appends to the explanation chain.

use crate::cluster::snapshot::{ObjKey, Snapshot};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::kube::{Entry, Host, KubeView, SideIndex};
use super::names::{in_zone, normalize, parse_reverse, search_candidates, strip_zone};
use super::rules::{CompiledRule, RuleSource, RuleTarget, compile_rules};
use super::types::{
    Answer, Forward, NEGATIVE_TTL, RData, Rcode, Record, RecordType, Soa, Stage, Step,
};

/// CoreDNS stops following CNAMEs after this many (`len(previousRecords) > 7`).
const MAX_DEPTH: u8 = 8;
/// The name `*.nodes.vcluster.com` is rewritten to (hard-coded upstream, whatever the domain).
const KUBERNETES_NAME: &str = "kubernetes.default.svc.cluster.local";
const DEFAULT_DOMAIN: &str = "cluster.local";
/// The host cluster's domain as the host DNS serves it (vinspect cannot see it; the default).
const HOST_DOMAIN: &str = "cluster.local";

/// The explanation chain being built; switched off on the server's hot path, where the
/// text would be formatted for nobody.
struct Trace {
    enabled: bool,
    steps: Vec<Step>,
}

impl Trace {
    fn add<S: Into<String>>(&mut self, stage: Stage, text: impl FnOnce() -> S) {
        if self.enabled {
            self.steps.push(Step::new(stage, text()));
        }
    }
}

/// What one stage produced before it is turned into an [`Answer`].
#[derive(Debug, Clone)]
struct Partial {
    rcode: Rcode,
    answers: Vec<Record>,
    additionals: Vec<Record>,
    /// Zone whose SOA goes into negative answers.
    soa_zone: Option<String>,
    authoritative: bool,
    forward: Option<Forward>,
}

impl Partial {
    fn records(answers: Vec<Record>, additionals: Vec<Record>, zone: Option<&str>) -> Self {
        let rcode = Rcode::NoError;
        Self {
            rcode,
            answers,
            additionals,
            soa_zone: zone.map(str::to_string),
            authoritative: zone.is_some(),
            forward: None,
        }
    }

    fn negative(rcode: Rcode, zone: Option<&str>) -> Self {
        Self {
            rcode,
            answers: Vec::new(),
            additionals: Vec::new(),
            soa_zone: zone.map(str::to_string),
            authoritative: zone.is_some(),
            forward: None,
        }
    }

    fn positive(&self) -> bool {
        self.rcode == Rcode::NoError && !self.answers.is_empty()
    }

    fn rename(&mut self, from: &str, to: &str) {
        for r in self.answers.iter_mut() {
            if r.name == from {
                r.name = to.to_string();
            }
        }
        if let Some(f) = self.forward.as_mut()
            && f.rename_to.is_none()
            && f.name == from
        {
            f.rename_to = Some(to.to_string());
        }
    }
}

/// A snapshot and a config, indexed for answering queries.
pub struct Resolver {
    snapshot: Arc<Snapshot>,
    /// Forward zones served by the kubernetes plugin: the cluster domain and `cluster.local`.
    zones: Vec<String>,
    primary_zone: String,
    fallback: bool,
    embedded: bool,
    by_hostname: bool,
    rules: Vec<CompiledRule>,
    virtual_index: SideIndex,
    host_index: SideIndex,
    node_hosts: HashMap<String, Vec<IpAddr>>,
    node_rev: HashMap<IpAddr, Vec<String>>,
}

impl Resolver {
    pub fn new(snapshot: Arc<Snapshot>, config: &VClusterConfig) -> Self {
        let domain = normalize(&config.networking.advanced.cluster_domain);
        let domain = if domain.is_empty() {
            DEFAULT_DOMAIN.to_string()
        } else {
            domain
        };
        let mut zones = vec![domain.clone()];
        if domain != DEFAULT_DOMAIN {
            zones.push(DEFAULT_DOMAIN.to_string());
        }
        let (node_hosts, node_rev) = node_hosts(&snapshot);
        let fallback = config.networking.advanced.fallback_host_cluster;
        let host_index = if fallback {
            SideIndex::build(&snapshot.host)
        } else {
            SideIndex::default()
        };
        Self {
            virtual_index: SideIndex::build(&snapshot.virtual_side),
            host_index,
            snapshot,
            primary_zone: domain,
            zones,
            fallback,
            embedded: config.control_plane.coredns.embedded,
            by_hostname: config.networking.advanced.proxy_kubelets.by_hostname,
            rules: compile_rules(&config.networking.resolve_dns),
            node_hosts,
            node_rev,
        }
    }

    /// Convenience for one-off use (`check`): clones the snapshot into an `Arc`.
    pub fn from_snapshot(snapshot: &Snapshot, config: &VClusterConfig) -> Self {
        Self::new(Arc::new(snapshot.clone()), config)
    }

    /// The same resolver as if `controlPlane.coredns.embedded` were `embedded`
    /// (the DNS tab shows what an inactive rule would answer).
    pub fn with_embedded(mut self, embedded: bool) -> Self {
        self.embedded = embedded;
        self
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn snapshot_arc(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    pub fn cluster_domain(&self) -> &str {
        &self.primary_zone
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Answer one query for an absolute name, as the vCluster's DNS server would.
    pub fn query(&self, name: &str, qtype: RecordType) -> Answer {
        self.query_traced(name, qtype, true)
    }

    /// [`Resolver::query`] without the explanation chain (the server's hot path).
    pub fn query_quiet(&self, name: &str, qtype: RecordType) -> Answer {
        self.query_traced(name, qtype, false)
    }

    fn query_traced(&self, name: &str, qtype: RecordType, explain: bool) -> Answer {
        let qname = normalize(name);
        let mut t = Trace {
            enabled: explain,
            steps: Vec::new(),
        };
        let p = self.resolve(&qname, qtype, 0, &mut t);
        self.finish(qname, qtype, p, t.steps)
    }

    /// Resolve `name` as a pod in `client_ns` would: search list, `ndots:5`, first positive
    /// answer wins (glibc: NXDOMAIN and NODATA both move on to the next candidate).
    pub fn lookup(&self, name: &str, qtype: RecordType, client_ns: Option<&str>) -> Answer {
        let candidates = search_candidates(name, client_ns, &self.primary_zone);
        if candidates.len() == 1 {
            return self.query(&candidates[0], qtype);
        }
        let mut steps = vec![Step::new(
            Stage::Search,
            format!(
                "client namespace {:?}: search {}.svc.{d} svc.{d} {d}, ndots {}; trying {}",
                client_ns.unwrap_or_default(),
                client_ns.unwrap_or_default(),
                super::names::NDOTS,
                candidates.join(", "),
                d = self.primary_zone
            ),
        )];
        let mut first_nodata: Option<Answer> = None;
        let mut last: Option<Answer> = None;
        for c in &candidates {
            let a = self.query(c, qtype);
            if a.resolves() {
                steps.push(Step::new(Stage::Search, format!("{c}: answered")));
                return with_prefix(a, steps);
            }
            steps.push(Step::new(
                Stage::Search,
                format!(
                    "{c}: {} — {}",
                    if a.is_nodata() {
                        "NODATA".to_string()
                    } else {
                        a.rcode.to_string()
                    },
                    a.explanation
                        .last()
                        .map(|s| s.text.trim_end_matches(": NXDOMAIN").to_string())
                        .unwrap_or_default()
                ),
            ));
            if a.is_nodata() && first_nodata.is_none() {
                first_nodata = Some(a.clone());
            }
            last = Some(a);
        }
        let chosen = first_nodata.or(last);
        match chosen {
            Some(a) => with_prefix(a, steps),
            None => self.query(name, qtype),
        }
    }

    fn finish(
        &self,
        qname: String,
        qtype: RecordType,
        p: Partial,
        explanation: Vec<Step>,
    ) -> Answer {
        let negative =
            p.rcode == Rcode::NxDomain || (p.rcode == Rcode::NoError && p.answers.is_empty());
        let soa = negative.then(|| self.soa(p.soa_zone.as_deref().unwrap_or(&qname)));
        Answer {
            qname,
            qtype,
            rcode: p.rcode,
            authoritative: p.authoritative,
            answers: p.answers,
            additionals: p.additionals,
            soa,
            forward: p.forward,
            explanation,
        }
    }

    /// The SOA CoreDNS puts into negative answers for `zone`.
    pub fn soa(&self, zone: &str) -> Record {
        Record {
            name: zone.to_string(),
            ttl: NEGATIVE_TTL,
            data: RData::Soa(Soa {
                mname: format!("ns.dns.{zone}"),
                rname: format!("hostmaster.{zone}"),
                serial: (self.snapshot.version & u64::from(u32::MAX)) as u32,
                refresh: 7200,
                retry: 1800,
                expire: 86400,
                minimum: NEGATIVE_TTL,
            }),
        }
    }

    fn virtual_view(&self, explain: bool) -> KubeView<'_> {
        KubeView {
            side: &self.snapshot.virtual_side,
            index: &self.virtual_index,
            label: "virtual",
            explain,
        }
    }

    fn host_view(&self, explain: bool) -> KubeView<'_> {
        KubeView {
            side: &self.snapshot.host,
            index: &self.host_index,
            label: "host",
            explain,
        }
    }

    fn resolve(&self, name: &str, qtype: RecordType, depth: u8, t: &mut Trace) -> Partial {
        if depth > MAX_DEPTH {
            t.add(Stage::Kubernetes, || {
                format!("{name}: alias chain longer than {MAX_DEPTH}; giving up")
            });
            return Partial::negative(Rcode::ServFail, None);
        }
        if self.by_hostname && name.contains(".nodes.vcluster.com") {
            t.add(Stage::Rewrite, || format!(
                    "{name} matches .*\\.nodes\\.vcluster\\.com (proxyKubelets.byHostname): answered as {KUBERNETES_NAME}"
                ));
            let mut p = self.resolve_chain(KUBERNETES_NAME, qtype, depth, t);
            p.rename(KUBERNETES_NAME, name);
            return p;
        }
        self.resolve_chain(name, qtype, depth, t)
    }

    fn resolve_chain(&self, name: &str, qtype: RecordType, depth: u8, t: &mut Trace) -> Partial {
        if let Some(p) = self.node_hosts_stage(name, qtype, t) {
            return p;
        }
        if let Some(p) = self.rules_stage(name, qtype, depth, t) {
            return p;
        }
        if let Some(zone) = self.forward_zone(name) {
            let p = self.expand(&self.virtual_view(t.enabled), name, zone, qtype, depth, t);
            if p.rcode == Rcode::NxDomain && self.fallback && zone == DEFAULT_DOMAIN {
                t.add(Stage::HostFallback, || "fallbackHostCluster: the miss in cluster.local falls through to the host cluster's DNS");
                let mut h = self.expand(
                    &self.host_view(t.enabled),
                    name,
                    HOST_DOMAIN,
                    qtype,
                    depth,
                    t,
                );
                if h.rcode == Rcode::NxDomain {
                    t.add(Stage::HostFallback, || "not found on the host either (vinspect's host cache may hold only objects this vCluster manages)");
                }
                h.authoritative = false;
                return h;
            }
            if p.rcode == Rcode::NxDomain && !self.fallback && t.enabled {
                self.hint_host_service(name, zone, t);
            }
            return p;
        }
        if (in_zone(name, "in-addr.arpa") || in_zone(name, "ip6.arpa"))
            && let Some(p) = self.reverse_stage(name, qtype, t)
        {
            return p;
        }
        self.forward_stage(name, qtype, t)
    }

    /// Longest cluster zone containing `name`.
    fn forward_zone(&self, name: &str) -> Option<&str> {
        self.zones
            .iter()
            .filter(|z| in_zone(name, z))
            .max_by_key(|z| z.len())
            .map(String::as_str)
    }

    fn node_hosts_stage(&self, name: &str, qtype: RecordType, t: &mut Trace) -> Option<Partial> {
        if qtype == RecordType::Ptr
            && let Some(ip) = parse_reverse(name)
            && let Some(hosts) = self.node_rev.get(&ip)
        {
            t.add(Stage::NodeHosts, || {
                format!("NodeHosts maps {ip} to {}", hosts.join(", "))
            });
            let answers = hosts
                .iter()
                .map(|h| Record::new(name, RData::Ptr(h.clone())))
                .collect();
            return Some(Partial::records(answers, Vec::new(), None));
        }
        let ips = self.node_hosts.get(name)?;
        let answers: Vec<Record> = ips
            .iter()
            .filter_map(|ip| ip_record(name, *ip, qtype))
            .collect();
        if answers.is_empty() {
            t.add(Stage::NodeHosts, || {
                format!(
                    "virtual node {name} is in NodeHosts but has no {qtype} address; falls through"
                )
            });
            return None;
        }
        t.add(Stage::NodeHosts, || {
            format!(
                "virtual node {name} (NodeHosts entry from its InternalIP) → {}",
                ips.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        Some(Partial::records(answers, Vec::new(), None))
    }

    /// Match the query against `networking.resolveDNS`; first matching active rule wins.
    fn rules_stage(
        &self,
        name: &str,
        qtype: RecordType,
        depth: u8,
        t: &mut Trace,
    ) -> Option<Partial> {
        for rule in &self.rules {
            let Ok((source, target)) = &rule.rule else {
                continue;
            };
            let Some(capture) = self.rule_match(source, name) else {
                continue;
            };
            if !self.embedded {
                t.add(Stage::ResolveDns, || format!(
                        "rule #{} ({}) matches {name} but is inactive: controlPlane.coredns.embedded is false, so the vcluster plugin is not loaded",
                        rule.index,
                        rule.describe()
                    ));
                continue;
            }
            t.add(Stage::ResolveDns, || {
                format!("rule #{} ({}) matches {name}", rule.index, rule.describe())
            });
            return Some(self.apply_rule(name, qtype, &capture, target, depth, t));
        }
        None
    }

    /// For hostname rules the `*` capture; for service/namespace rules the labels in front
    /// of the service (or of `<ns>.svc`) plus the zone.
    fn rule_match(&self, source: &RuleSource, name: &str) -> Option<String> {
        match source {
            RuleSource::Hostname(p) => p.matches(name).map(str::to_string),
            RuleSource::Service {
                namespace,
                name: svc,
            } => {
                let zone = self.forward_zone(name)?;
                let base = strip_zone(name, zone)?;
                let tail = format!("{svc}.{namespace}.svc");
                if base == tail {
                    Some(String::new())
                } else {
                    base.strip_suffix(&tail)
                        .and_then(|p| p.strip_suffix('.'))
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                }
            }
            RuleSource::Namespace(ns) => {
                let zone = self.forward_zone(name)?;
                let base = strip_zone(name, zone)?;
                base.strip_suffix(&format!(".{ns}.svc"))
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
            }
        }
    }

    fn apply_rule(
        &self,
        name: &str,
        qtype: RecordType,
        capture: &str,
        target: &RuleTarget,
        depth: u8,
        t: &mut Trace,
    ) -> Partial {
        let zone_of = |n: &str| self.forward_zone(n).map(str::to_string);
        match target {
            RuleTarget::Ip(ip) => {
                let answers: Vec<Record> = ip_record(name, *ip, qtype).into_iter().collect();
                t.add(Stage::ResolveDns, || {
                    if answers.is_empty() {
                        format!("fixed address {ip} has no {qtype} record: NODATA")
                    } else {
                        format!("answered with the fixed address {ip}")
                    }
                });
                let zone = zone_of(name);
                let mut p = Partial::records(answers, Vec::new(), zone.as_deref());
                p.soa_zone = Some(zone.unwrap_or_else(|| name.to_string()));
                p.authoritative = true;
                p
            }
            RuleTarget::Hostname(pattern) => {
                let target_name = pattern.substitute(capture);
                t.add(Stage::ResolveDns, || {
                    format!("answered with the records of {target_name}")
                });
                let mut p = self.resolve(&target_name, qtype, depth + 1, t);
                p.rename(&target_name, name);
                if !p.positive() && p.rcode != Rcode::Refused {
                    t.add(Stage::ResolveDns, || {
                        format!("rule target {target_name} does not resolve")
                    });
                }
                // the negative SOA must own an ancestor of the queried name, not of the target
                p.soa_zone = Some(self.forward_zone(name).unwrap_or(name).to_string());
                p
            }
            RuleTarget::HostService {
                namespace,
                name: svc,
            } => self.host_target(
                name,
                qtype,
                capture,
                svc,
                namespace,
                "host service",
                depth,
                t,
            ),
            RuleTarget::VClusterService {
                host_namespace,
                vcluster,
                namespace,
                name: svc,
            } => {
                let twin = naming::host_name(svc, namespace, vcluster);
                t.add(Stage::ResolveDns, || format!(
                        "vCluster {vcluster}'s service {namespace}/{svc} has host twin {host_namespace}/{twin}"
                    ));
                self.host_target(
                    name,
                    qtype,
                    capture,
                    &twin,
                    host_namespace,
                    "host twin",
                    depth,
                    t,
                )
            }
            RuleTarget::HostNamespace(hns) => {
                let host_name = format!("{capture}.{hns}.svc.{HOST_DOMAIN}");
                t.add(Stage::ResolveDns, || {
                    format!("looked up as {host_name} on the host")
                });
                self.host_lookup(name, &host_name, qtype, depth, t)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn host_target(
        &self,
        name: &str,
        qtype: RecordType,
        prefix: &str,
        svc: &str,
        ns: &str,
        what: &str,
        depth: u8,
        t: &mut Trace,
    ) -> Partial {
        let base = format!("{svc}.{ns}.svc.{HOST_DOMAIN}");
        let host_name = if prefix.is_empty() {
            base
        } else {
            format!("{prefix}.{base}")
        };
        t.add(Stage::ResolveDns, || {
            format!("answered from {what} {ns}/{svc} ({host_name})")
        });
        self.host_lookup(name, &host_name, qtype, depth, t)
    }

    fn host_lookup(
        &self,
        name: &str,
        host_name: &str,
        qtype: RecordType,
        depth: u8,
        t: &mut Trace,
    ) -> Partial {
        let mut p = self.expand(
            &self.host_view(t.enabled),
            host_name,
            HOST_DOMAIN,
            qtype,
            depth,
            t,
        );
        if p.rcode == Rcode::NxDomain {
            t.add(Stage::ResolveDns, || {
                format!("rule target {host_name} is missing on the host: NXDOMAIN")
            });
        }
        p.rename(host_name, name);
        p.soa_zone = Some(self.forward_zone(name).unwrap_or(name).to_string());
        p.authoritative = true;
        p
    }

    /// Turn kubernetes-plugin entries into records for `qtype` (CoreDNS `plugin.A`, `SRV`, …).
    fn expand(
        &self,
        view: &KubeView<'_>,
        name: &str,
        zone: &str,
        qtype: RecordType,
        depth: u8,
        t: &mut Trace,
    ) -> Partial {
        let stage = if view.label == "host" {
            Stage::HostFallback
        } else {
            Stage::Kubernetes
        };
        if name == zone {
            let answers = match qtype {
                RecordType::Soa => vec![self.soa(zone)],
                RecordType::Ns => vec![Record::new(name, RData::Ns(format!("ns.dns.{zone}")))],
                _ => Vec::new(),
            };
            t.add(stage, || format!("{name} is the zone apex"));
            return Partial::records(answers, Vec::new(), Some(zone));
        }
        if qtype == RecordType::Txt && name == format!("dns-version.{zone}") {
            t.add(stage, || "schema version of the Kubernetes DNS spec");
            return Partial::records(
                vec![Record::new(name, RData::Txt("1.1.0".into()))],
                Vec::new(),
                Some(zone),
            );
        }
        let entries = match view.records(name, zone) {
            Ok(e) => e,
            Err(miss) => {
                t.add(stage, || format!("{}: NXDOMAIN", miss.0));
                return Partial::negative(Rcode::NxDomain, Some(zone));
            }
        };
        let mut seen_origin: Vec<&str> = Vec::new();
        let explain = t.enabled;
        for e in entries.iter().filter(|_| explain) {
            if !seen_origin.contains(&e.origin.as_str()) {
                seen_origin.push(&e.origin);
                t.add(stage, || e.origin.clone());
            }
        }
        if view.label == "virtual" && t.enabled {
            self.explain_twins(&entries, t);
        }
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        let mut forward = None;
        match qtype {
            RecordType::A | RecordType::Aaaa => {
                for e in &entries {
                    match &e.host {
                        Host::Ip(ip) => answers.extend(ip_record(name, *ip, qtype)),
                        Host::Name(target) => {
                            let (recs, fwd) = self.chase(view, name, target, zone, qtype, depth, t);
                            answers.extend(recs);
                            if forward.is_none() {
                                forward = fwd;
                            }
                        }
                    }
                }
            }
            RecordType::Cname => {
                for e in &entries {
                    if let Host::Name(t) = &e.host {
                        answers.push(Record::new(name, RData::Cname(t.clone())));
                    }
                }
            }
            RecordType::Ptr => {
                for e in &entries {
                    if let Host::Name(t) = &e.host {
                        answers.push(Record::new(name, RData::Ptr(t.clone())));
                    }
                }
            }
            RecordType::Srv => {
                let weight = u16::try_from(100 / entries.len().max(1))
                    .unwrap_or(1)
                    .max(1);
                for e in &entries {
                    if e.port < 0 {
                        continue;
                    }
                    let port = u16::try_from(e.port).unwrap_or(0);
                    match &e.host {
                        Host::Ip(ip) => {
                            answers.push(Record::new(
                                name,
                                RData::Srv {
                                    priority: 0,
                                    weight,
                                    port,
                                    target: e.target.clone(),
                                },
                            ));
                            additionals.extend(ip_record(&e.target, *ip, addr_type(*ip)));
                        }
                        Host::Name(t) => answers.push(Record::new(
                            name,
                            RData::Srv {
                                priority: 0,
                                weight,
                                port,
                                target: t.clone(),
                            },
                        )),
                    }
                }
            }
            _ => {}
        }
        dedup(&mut answers);
        dedup(&mut additionals);
        if answers.is_empty() && forward.is_none() {
            t.add(stage, || {
                format!("{name} exists but has no {qtype} record: NOERROR/NODATA")
            });
        }
        let mut p = Partial::records(answers, additionals, Some(zone));
        p.forward = forward;
        p
    }

    /// Follow an ExternalName CNAME as `plugin.A` does: inside the zone through the plugin
    /// itself (the CNAME is dropped when the target has no address), elsewhere through the
    /// whole server (CNAME kept; an outside target is left to the upstream).
    #[allow(clippy::too_many_arguments)]
    fn chase(
        &self,
        view: &KubeView<'_>,
        name: &str,
        target: &str,
        zone: &str,
        qtype: RecordType,
        depth: u8,
        t: &mut Trace,
    ) -> (Vec<Record>, Option<Forward>) {
        if target == name || depth >= MAX_DEPTH - 1 {
            t.add(Stage::Kubernetes, || {
                format!("CNAME {name} → {target} loops; dropped")
            });
            return (Vec::new(), None);
        }
        let cname = Record::new(name, RData::Cname(target.to_string()));
        if in_zone(target, zone) {
            let sub = self.expand(view, target, zone, qtype, depth + 1, t);
            if sub.positive() {
                let mut out = vec![cname];
                out.extend(sub.answers);
                return (out, None);
            }
            t.add(Stage::Kubernetes, || format!("ExternalName target {target} has no {qtype} record in {zone}; CoreDNS drops the CNAME"));
            return (Vec::new(), None);
        }
        let sub = self.resolve(target, qtype, depth + 1, t);
        if sub.rcode == Rcode::ServFail {
            return (Vec::new(), None);
        }
        let mut out = vec![cname];
        out.extend(sub.answers);
        let fwd = sub.forward.map(|f| Forward {
            rename_to: None,
            ..f
        });
        (out, fwd)
    }

    /// A miss that names a service existing only on the host: say how it could resolve.
    fn hint_host_service(&self, name: &str, zone: &str, t: &mut Trace) {
        let Some(base) = strip_zone(name, zone).and_then(|b| b.strip_suffix(".svc")) else {
            return;
        };
        let parts: Vec<&str> = base.split('.').collect();
        let [svc, ns] = parts.as_slice() else {
            return;
        };
        let key = ObjKey::new(*ns, *svc);
        if self.snapshot.host.services.contains_key(&key) {
            t.add(Stage::HostFallback, || {
                format!(
                    "host service {key} exists: it resolves from inside the vCluster only with networking.advanced.fallbackHostCluster: true or a resolveDNS rule"
                )
            });
        }
    }

    /// Compare a ClusterIP answer with the host twin's ClusterIP (they must be equal, §4.2).
    fn explain_twins(&self, entries: &[Entry], t: &mut Trace) {
        let mut done: Vec<&ObjKey> = Vec::new();
        for e in entries {
            let Some(key) = e.cluster_ip_of.as_ref() else {
                continue;
            };
            if done.contains(&key) {
                continue;
            }
            done.push(key);
            let twin = ObjKey::new(
                self.snapshot.host_namespace.clone(),
                naming::service_host_name(&key.name, &key.namespace, &self.snapshot.vcluster),
            );
            let virtual_ip = self
                .snapshot
                .virtual_side
                .services
                .get(key)
                .and_then(|s| s.spec.as_ref())
                .and_then(|s| s.cluster_ip.clone())
                .unwrap_or_default();
            let text = match self.snapshot.host.services.get(&twin) {
                None => {
                    format!("host twin {twin} not found: host pods behind this IP may not exist")
                }
                Some(h) => {
                    let host_ip = h
                        .spec
                        .as_ref()
                        .and_then(|s| s.cluster_ip.clone())
                        .unwrap_or_default();
                    if host_ip == virtual_ip {
                        format!("equal to host twin {twin}'s ClusterIP {host_ip}")
                    } else {
                        format!(
                            "differs from host twin {twin}'s ClusterIP {host_ip}: vCluster recreates the virtual service with the host IP"
                        )
                    }
                }
            };
            t.add(Stage::Kubernetes, || text);
        }
    }

    fn reverse_stage(&self, name: &str, qtype: RecordType, t: &mut Trace) -> Option<Partial> {
        let zone = if in_zone(name, "in-addr.arpa") {
            "in-addr.arpa"
        } else {
            "ip6.arpa"
        };
        let ip = parse_reverse(name).filter(|_| qtype == RecordType::Ptr);
        let Some(ip) = ip else {
            t.add(Stage::Kubernetes, || {
                format!("{name} is not a full PTR query for an address; falls through ({zone})")
            });
            return None;
        };
        let hits = self
            .virtual_view(t.enabled)
            .reverse(&ip, &self.primary_zone);
        if !hits.is_empty() {
            for (_, why) in &hits {
                t.add(Stage::Kubernetes, || why.clone());
            }
            let answers = hits
                .into_iter()
                .map(|(target, _)| Record::new(name, RData::Ptr(target)))
                .collect();
            return Some(Partial::records(answers, Vec::new(), Some(zone)));
        }
        let pods = self.virtual_index.pods_with_ip(&ip);
        if pods.is_empty() {
            t.add(Stage::Kubernetes, || format!("no virtual service or ready endpoint has {ip}; falls through (fallthrough {zone})"));
        } else {
            let names: Vec<String> = pods.iter().map(ToString::to_string).collect();
            t.add(Stage::Kubernetes, || format!(
                    "{ip} belongs to pod {} but to no service's ready endpoints, so CoreDNS has no PTR for it; falls through",
                    names.join(", ")
                ));
        }
        if self.fallback {
            let hits = self.host_view(t.enabled).reverse(&ip, HOST_DOMAIN);
            if !hits.is_empty() {
                t.add(
                    Stage::HostFallback,
                    || "fallbackHostCluster: answered by the host cluster's DNS",
                );
                for (_, why) in &hits {
                    t.add(Stage::HostFallback, || why.clone());
                }
                let answers = hits
                    .into_iter()
                    .map(|(target, _)| Record::new(name, RData::Ptr(target)))
                    .collect();
                let mut p = Partial::records(answers, Vec::new(), Some(zone));
                p.authoritative = false;
                return Some(p);
            }
        }
        None
    }

    fn forward_stage(&self, name: &str, qtype: RecordType, t: &mut Trace) -> Partial {
        let upstream = if self.fallback {
            "the host cluster's DNS (fallbackHostCluster)"
        } else {
            "the nameserver in the CoreDNS pod's /etc/resolv.conf"
        };
        t.add(Stage::Forward, || format!("{name} is outside the cluster zones: vCluster's CoreDNS forwards it to {upstream}; vinspect asks an upstream only with --upstream"));
        let mut p = Partial::negative(Rcode::Refused, None);
        p.forward = Some(Forward {
            name: name.to_string(),
            qtype,
            rename_to: None,
        });
        p
    }
}

fn with_prefix(mut a: Answer, mut prefix: Vec<Step>) -> Answer {
    prefix.append(&mut a.explanation);
    a.explanation = prefix;
    a
}

fn addr_type(ip: IpAddr) -> RecordType {
    if ip.is_ipv4() {
        RecordType::A
    } else {
        RecordType::Aaaa
    }
}

/// An A/AAAA record for `ip` when it fits `qtype`.
fn ip_record(name: &str, ip: IpAddr, qtype: RecordType) -> Option<Record> {
    match (ip, qtype) {
        (IpAddr::V4(v4), RecordType::A) => Some(Record::new(name, RData::A(v4))),
        (IpAddr::V6(v6), RecordType::Aaaa) => Some(Record::new(name, RData::Aaaa(v6))),
        _ => None,
    }
}

fn dedup(records: &mut Vec<Record>) {
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    for r in records.drain(..) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    *records = out;
}

/// NodeHosts as `compileNodeHosts` writes it: one `<InternalIP> <Hostname address or name>`
/// per virtual node (the last address of each type wins).
fn node_hosts(snapshot: &Snapshot) -> (HashMap<String, Vec<IpAddr>>, HashMap<IpAddr, Vec<String>>) {
    let mut fwd: HashMap<String, Vec<IpAddr>> = HashMap::new();
    let mut rev: HashMap<IpAddr, Vec<String>> = HashMap::new();
    for (key, node) in &snapshot.virtual_side.nodes {
        let mut ip = None;
        let mut hostname = key.name.clone();
        for a in node
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
        {
            match a.type_.as_str() {
                "InternalIP" => ip = a.address.parse::<IpAddr>().ok(),
                "Hostname" => hostname = a.address.clone(),
                _ => {}
            }
        }
        let Some(ip) = ip else { continue };
        let hostname = normalize(&hostname);
        fwd.entry(hostname.clone()).or_default().push(ip);
        rev.entry(ip).or_default().push(hostname);
    }
    (fwd, rev)
}
