//! Pure resolver tests: every record type, NXDOMAIN vs NODATA, search list, fallback and
//! every resolveDNS form.

use super::fixture::*;
use super::*;
use crate::cluster::snapshot::Snapshot;
use crate::vcluster::config::{ResolveDnsRule, ResolveDnsTarget, VClusterConfig};
use crate::vcluster::naming;
use std::net::{Ipv4Addr, Ipv6Addr};

const VC: &str = "my-vc";
const HNS: &str = "vcluster-my-vc";

fn snapshot() -> Snapshot {
    SnapshotBuilder::new(VC, HNS)
        .synced_service(cluster_ip_service(
            "web",
            "nginx",
            "10.96.0.10",
            vec![port("http", 80, "TCP"), port("https", 443, "TCP")],
        ))
        .synced_service(cluster_ip_service("web", "portless", "10.96.0.11", vec![]))
        .synced_service(cluster_ip_service(
            "default",
            "kubernetes",
            "10.96.0.1",
            vec![port("https", 443, "TCP")],
        ))
        .virtual_service(headless_service(
            "db",
            "pg",
            vec![port("postgres", 5432, "TCP")],
        ))
        .virtual_endpoints(endpoints(
            "db",
            "pg",
            &[("10.244.0.5", Some("pg-0")), ("10.244.0.6", None)],
            &[("postgres", 5432)],
        ))
        .virtual_service(headless_service("db", "empty", vec![port("x", 1, "TCP")]))
        .virtual_service(external_name_service("web", "ext", "Example.COM."))
        .virtual_service(external_name_service(
            "web",
            "alias",
            "nginx.web.svc.cluster.local",
        ))
        .virtual_service(external_name_service(
            "web",
            "broken",
            "missing.web.svc.cluster.local",
        ))
        .virtual_service(external_name_service(
            "web",
            "loop",
            "loop.web.svc.cluster.local",
        ))
        .virtual_pod(pod("db", "pg-0", "10.244.0.5"))
        .virtual_pod(pod("web", "lonely", "10.244.1.9"))
        .virtual_node(node("node-1", "10.100.0.5", None))
        .virtual_node(node("node-2", "10.100.0.6", Some("worker-2.example")))
        .virtual_namespace("legacy")
        .host_service(cluster_ip_service(
            "team-x",
            "api",
            "10.96.5.5",
            vec![port("http", 80, "TCP")],
        ))
        .host_service(cluster_ip_service(
            "vcluster-other",
            &naming::host_name("backend", "prod", "other"),
            "10.96.7.7",
            vec![port("http", 8080, "TCP")],
        ))
        .build()
}

fn resolver(config: &VClusterConfig) -> Resolver {
    Resolver::from_snapshot(&snapshot(), config)
}

fn default_resolver() -> Resolver {
    resolver(&VClusterConfig::default())
}

fn a(ip: &str) -> RData {
    RData::A(ip.parse::<Ipv4Addr>().unwrap())
}

fn data(ans: &Answer) -> Vec<RData> {
    ans.answers.iter().map(|r| r.data.clone()).collect()
}

fn explained(ans: &Answer, needle: &str) -> bool {
    ans.explanation.iter().any(|s| s.text.contains(needle))
}

fn rule(
    hostname: Option<&str>,
    service: Option<&str>,
    namespace: Option<&str>,
    target: ResolveDnsTarget,
) -> ResolveDnsRule {
    ResolveDnsRule {
        hostname: hostname.map(Into::into),
        service: service.map(Into::into),
        namespace: namespace.map(Into::into),
        target,
    }
}

fn to_host(h: &str) -> ResolveDnsTarget {
    ResolveDnsTarget {
        hostname: Some(h.into()),
        ..Default::default()
    }
}

fn to_ip(ip: &str) -> ResolveDnsTarget {
    ResolveDnsTarget {
        ip: Some(ip.into()),
        ..Default::default()
    }
}

fn embedded(rules: Vec<ResolveDnsRule>) -> VClusterConfig {
    let mut c = VClusterConfig::default();
    c.control_plane.coredns.embedded = true;
    c.networking.resolve_dns = rules;
    c
}

#[test]
fn cluster_ip_service_answers_a_equal_to_host_twin() {
    let ans = default_resolver().query("nginx.web.svc.cluster.local.", RecordType::A);
    assert_eq!(ans.rcode, Rcode::NoError);
    assert!(ans.authoritative);
    assert_eq!(
        data(&ans),
        vec![a("10.96.0.10")],
        "two ports, one deduplicated A"
    );
    assert_eq!(ans.answers[0].ttl, types::RECORD_TTL);
    assert!(ans.soa.is_none());
    assert!(
        explained(&ans, "equal to host twin"),
        "{:?}",
        ans.explanation
    );
}

#[test]
fn missing_type_is_nodata_with_soa() {
    let ans = default_resolver().query("nginx.web.svc.cluster.local", RecordType::Aaaa);
    assert!(ans.is_nodata());
    let soa = ans.soa.as_ref().unwrap();
    assert_eq!(soa.name, "cluster.local");
    assert_eq!(soa.ttl, types::NEGATIVE_TTL);
    let mx = default_resolver().query("nginx.web.svc.cluster.local", RecordType::Other(15));
    assert!(mx.is_nodata());
    let cname = default_resolver().query("nginx.web.svc.cluster.local", RecordType::Cname);
    assert!(cname.is_nodata());
}

#[test]
fn nxdomain_versus_nodata_like_coredns() {
    let r = default_resolver();
    let nx = |n: &str| r.query(n, RecordType::A).rcode == Rcode::NxDomain;
    let nodata = |n: &str| r.query(n, RecordType::A).is_nodata();
    assert!(nx("nope.web.svc.cluster.local"));
    assert!(nx("nginx.nons.svc.cluster.local"), "namespace must exist");
    assert!(nodata("web.svc.cluster.local"), "existing namespace");
    assert!(nx("nons.svc.cluster.local"));
    assert!(nodata("svc.cluster.local"));
    assert!(nodata("pod.cluster.local"));
    assert!(nodata("cluster.local"));
    assert!(nx("foo.cluster.local"), "neither svc nor pod");
    assert!(nx("a.b.c.nginx.web.svc.cluster.local"), "too many labels");
    let ans = r.query("nope.web.svc.cluster.local", RecordType::A);
    assert!(ans.soa.is_some());
    assert!(explained(&ans, "no service web/nope"));
}

#[test]
fn zone_apex_answers_soa_and_ns() {
    let r = default_resolver();
    let soa = r.query("cluster.local", RecordType::Soa);
    assert!(matches!(soa.answers[0].data, RData::Soa(_)));
    let ns = r.query("cluster.local", RecordType::Ns);
    assert_eq!(data(&ns), vec![RData::Ns("ns.dns.cluster.local".into())]);
    let txt = r.query("dns-version.cluster.local", RecordType::Txt);
    assert_eq!(data(&txt), vec![RData::Txt("1.1.0".into())]);
}

#[test]
fn portless_service_resolves_without_srv() {
    let r = default_resolver();
    assert_eq!(
        data(&r.query("portless.web.svc.cluster.local", RecordType::A)),
        vec![a("10.96.0.11")]
    );
    assert!(
        r.query("portless.web.svc.cluster.local", RecordType::Srv)
            .is_nodata()
    );
}

#[test]
fn headless_answers_ready_virtual_endpoints() {
    let r = default_resolver();
    let ans = r.query("pg.db.svc.cluster.local", RecordType::A);
    assert_eq!(data(&ans), vec![a("10.244.0.5"), a("10.244.0.6")]);
    assert!(explained(&ans, "virtual endpoints db/pg"));
    let host = r.query("pg-0.pg.db.svc.cluster.local", RecordType::A);
    assert_eq!(data(&host), vec![a("10.244.0.5")]);
    let dashed = r.query("10-244-0-6.pg.db.svc.cluster.local", RecordType::A);
    assert_eq!(data(&dashed), vec![a("10.244.0.6")]);
    assert_eq!(
        r.query("pg-9.pg.db.svc.cluster.local", RecordType::A).rcode,
        Rcode::NxDomain
    );
    let empty = r.query("empty.db.svc.cluster.local", RecordType::A);
    assert_eq!(
        empty.rcode,
        Rcode::NxDomain,
        "headless without ready endpoints"
    );
}

#[test]
fn srv_for_named_ports_with_additionals() {
    let r = default_resolver();
    let ans = r.query("_http._tcp.nginx.web.svc.cluster.local", RecordType::Srv);
    assert_eq!(
        data(&ans),
        vec![RData::Srv {
            priority: 0,
            weight: 100,
            port: 80,
            target: "nginx.web.svc.cluster.local".into()
        }]
    );
    assert_eq!(ans.additionals[0].name, "nginx.web.svc.cluster.local");
    assert_eq!(ans.additionals[0].data, a("10.96.0.10"));
    let all = r.query("nginx.web.svc.cluster.local", RecordType::Srv);
    assert_eq!(all.answers.len(), 2);
    assert!(
        all.answers
            .iter()
            .all(|r| matches!(r.data, RData::Srv { weight: 50, .. }))
    );
    let pg = r.query("_postgres._tcp.pg.db.svc.cluster.local", RecordType::Srv);
    let targets: Vec<String> = pg
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::Srv { target, .. } => target.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            "pg-0.pg.db.svc.cluster.local",
            "10-244-0-6.pg.db.svc.cluster.local"
        ]
    );
    assert_eq!(
        r.query("_nope._tcp.nginx.web.svc.cluster.local", RecordType::Srv)
            .rcode,
        Rcode::NxDomain
    );
    assert_eq!(
        r.query("_http._udp.nginx.web.svc.cluster.local", RecordType::Srv)
            .rcode,
        Rcode::NxDomain
    );
}

#[test]
fn external_name_is_a_cname_chased_like_coredns() {
    let r = default_resolver();
    let ext = r.query("ext.web.svc.cluster.local", RecordType::A);
    assert_eq!(ext.rcode, Rcode::NoError);
    assert_eq!(data(&ext), vec![RData::Cname("example.com".into())]);
    let fwd = ext.forward.as_ref().unwrap();
    assert_eq!(fwd.name, "example.com");
    let alias = r.query("alias.web.svc.cluster.local", RecordType::A);
    assert_eq!(
        data(&alias),
        vec![
            RData::Cname("nginx.web.svc.cluster.local".into()),
            a("10.96.0.10")
        ]
    );
    let broken = r.query("broken.web.svc.cluster.local", RecordType::A);
    assert!(
        broken.is_nodata(),
        "in-zone target missing: CNAME dropped, NOERROR"
    );
    assert!(explained(&broken, "drops the CNAME"));
    let looped = r.query("loop.web.svc.cluster.local", RecordType::A);
    assert!(looped.is_nodata());
    let cname = r.query("ext.web.svc.cluster.local", RecordType::Cname);
    assert_eq!(data(&cname), vec![RData::Cname("example.com".into())]);
    assert_eq!(
        r.query("x.ext.web.svc.cluster.local", RecordType::A).rcode,
        Rcode::NxDomain
    );
}

#[test]
fn pod_names_are_ips_in_insecure_mode() {
    let r = default_resolver();
    assert_eq!(
        data(&r.query("10-1-2-3.db.pod.cluster.local", RecordType::A)),
        vec![a("10.1.2.3")]
    );
    let v6 = r.query("fd00--1.db.pod.cluster.local", RecordType::Aaaa);
    assert_eq!(
        data(&v6),
        vec![RData::Aaaa("fd00::1".parse::<Ipv6Addr>().unwrap())]
    );
    assert!(
        r.query("10-1-2-3.db.pod.cluster.local", RecordType::Aaaa)
            .is_nodata()
    );
    assert_eq!(
        r.query("pg-0.db.pod.cluster.local", RecordType::A).rcode,
        Rcode::NxDomain
    );
    assert_eq!(
        r.query("10-1-2-3.nons.pod.cluster.local", RecordType::A)
            .rcode,
        Rcode::NxDomain
    );
    assert!(r.query("db.pod.cluster.local", RecordType::A).is_nodata());
}

#[test]
fn ptr_for_services_endpoints_and_nodes() {
    let r = default_resolver();
    let svc = r.query("10.0.96.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        data(&svc),
        vec![RData::Ptr("nginx.web.svc.cluster.local".into())]
    );
    let ep = r.query("5.0.244.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        data(&ep),
        vec![RData::Ptr("pg-0.pg.db.svc.cluster.local".into())]
    );
    let dashed = r.query("6.0.244.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        data(&dashed),
        vec![RData::Ptr("10-244-0-6.pg.db.svc.cluster.local".into())]
    );
    let node = r.query("5.0.100.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(data(&node), vec![RData::Ptr("node-1".into())]);
    let lonely = r.query("9.1.244.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        lonely.rcode,
        Rcode::Refused,
        "kubernetes falls through for reverse misses"
    );
    assert!(explained(&lonely, "web/lonely"));
    let partial = r.query("244.10.in-addr.arpa", RecordType::Ptr);
    assert!(!partial.resolves());
}

#[test]
fn node_hosts_and_nodes_vcluster_com() {
    let r = default_resolver();
    assert_eq!(
        data(&r.query("node-1", RecordType::A)),
        vec![a("10.100.0.5")]
    );
    assert_eq!(
        data(&r.query("worker-2.example", RecordType::A)),
        vec![a("10.100.0.6")]
    );
    assert_eq!(
        r.query("node-2", RecordType::A).rcode,
        Rcode::Refused,
        "Hostname address replaces the name"
    );
    let via_search = r.lookup("node-1", RecordType::A, Some("web"));
    assert_eq!(via_search.qname, "node-1");
    assert_eq!(data(&via_search), vec![a("10.100.0.5")]);
    let rewritten = r.query("node-1.nodes.vcluster.com", RecordType::A);
    assert_eq!(data(&rewritten), vec![a("10.96.0.1")]);
    assert_eq!(rewritten.answers[0].name, "node-1.nodes.vcluster.com");
    assert!(
        rewritten
            .explanation
            .iter()
            .any(|s| s.stage == Stage::Rewrite)
    );
    let mut off = VClusterConfig::default();
    off.networking.advanced.proxy_kubelets.by_hostname = false;
    let r_off = resolver(&off);
    assert_eq!(
        r_off
            .query("node-1.nodes.vcluster.com", RecordType::A)
            .rcode,
        Rcode::Refused
    );
}

#[test]
fn custom_cluster_domain_serves_both_zones() {
    let mut c = VClusterConfig::default();
    c.networking.advanced.cluster_domain = "corp.internal".into();
    let r = resolver(&c);
    assert_eq!(
        data(&r.query("nginx.web.svc.corp.internal", RecordType::A)),
        vec![a("10.96.0.10")]
    );
    assert_eq!(
        data(&r.query("nginx.web.svc.cluster.local", RecordType::A)),
        vec![a("10.96.0.10")]
    );
    let ptr = r.query("10.0.96.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        data(&ptr),
        vec![RData::Ptr("nginx.web.svc.corp.internal".into())]
    );
    let short = r.lookup("nginx", RecordType::A, Some("web"));
    assert_eq!(short.qname, "nginx.web.svc.corp.internal");
}

#[test]
fn search_list_and_ndots() {
    let r = default_resolver();
    let short = r.lookup("nginx", RecordType::A, Some("web"));
    assert_eq!(short.qname, "nginx.web.svc.cluster.local");
    assert!(short.explanation[0].stage == Stage::Search);
    let two = r.lookup("nginx.web", RecordType::A, Some("default"));
    assert_eq!(two.qname, "nginx.web.svc.cluster.local");
    assert!(short.resolves() && two.resolves());
    let other_ns = r.lookup("nginx", RecordType::A, Some("default"));
    assert!(!other_ns.resolves());
    // NODATA is kept over the later NXDOMAINs of the search list
    let nodata = r.lookup("nginx", RecordType::Aaaa, Some("web"));
    assert!(nodata.is_nodata());
    assert_eq!(nodata.qname, "nginx.web.svc.cluster.local");
    let fqdn = r.lookup(
        "nginx.web.svc.cluster.local.",
        RecordType::A,
        Some("default"),
    );
    assert!(fqdn.resolves());
}

#[test]
fn fallback_host_cluster_only_for_cluster_local_misses() {
    let r = default_resolver();
    let off = r.lookup("api.team-x", RecordType::A, Some("default"));
    assert!(!off.resolves());
    assert!(
        explained(&off, "fallbackHostCluster: true"),
        "{:?}",
        off.explanation
    );
    let mut c = VClusterConfig::default();
    c.networking.advanced.fallback_host_cluster = true;
    let f = resolver(&c);
    let ans = f.lookup("api.team-x", RecordType::A, Some("default"));
    assert_eq!(data(&ans), vec![a("10.96.5.5")]);
    assert!(
        ans.explanation
            .iter()
            .any(|s| s.stage == Stage::HostFallback)
    );
    // NODATA does not fall through
    assert!(
        f.query("nginx.web.svc.cluster.local", RecordType::Aaaa)
            .is_nodata()
    );
    // a custom domain is not in the fallthrough list
    let mut cd = c.clone();
    cd.networking.advanced.cluster_domain = "corp.internal".into();
    let fc = resolver(&cd);
    assert_eq!(
        fc.query("api.team-x.svc.corp.internal", RecordType::A)
            .rcode,
        Rcode::NxDomain
    );
    assert!(
        fc.query("api.team-x.svc.cluster.local", RecordType::A)
            .resolves()
    );
    // reverse misses reach the host too
    let ptr = f.query("5.5.96.10.in-addr.arpa", RecordType::Ptr);
    assert_eq!(
        data(&ptr),
        vec![RData::Ptr("api.team-x.svc.cluster.local".into())]
    );
}

#[test]
fn rule_hostname_to_hostname_exact() {
    let r = resolver(&embedded(vec![rule(
        Some("wikipedia.com"),
        None,
        None,
        to_host("nginx.web.svc.cluster.local"),
    )]));
    let ans = r.query("Wikipedia.com.", RecordType::A);
    assert_eq!(data(&ans), vec![a("10.96.0.10")]);
    assert_eq!(ans.answers[0].name, "wikipedia.com");
    assert!(ans.explanation.iter().any(|s| s.stage == Stage::ResolveDns));
    assert_eq!(
        r.query("en.wikipedia.com", RecordType::A).rcode,
        Rcode::Refused
    );
}

#[test]
fn rule_hostname_wildcards() {
    let r = resolver(&embedded(vec![
        rule(
            Some("*.svc.kubernetes"),
            None,
            None,
            to_host("*.svc.cluster.local"),
        ),
        rule(Some("db.*"), None, None, to_host("*.db.svc.cluster.local")),
    ]));
    let ans = r.query("nginx.web.svc.kubernetes", RecordType::A);
    assert_eq!(data(&ans), vec![a("10.96.0.10")]);
    assert_eq!(ans.answers[0].name, "nginx.web.svc.kubernetes");
    assert_eq!(
        r.query("svc.kubernetes", RecordType::A).rcode,
        Rcode::Refused,
        "* never matches empty"
    );
    let pre = r.query("db.pg", RecordType::A);
    assert_eq!(data(&pre), vec![a("10.244.0.5"), a("10.244.0.6")]);
    let missing = r.query("nope.web.svc.kubernetes", RecordType::A);
    assert_eq!(missing.rcode, Rcode::NxDomain);
    assert!(explained(&missing, "does not resolve"));
}

#[test]
fn rule_hostname_to_outside_name_forwards_with_rename() {
    let r = resolver(&embedded(vec![rule(
        Some("wiki.local"),
        None,
        None,
        to_host("en.wikipedia.org"),
    )]));
    let ans = r.query("wiki.local", RecordType::A);
    let f = ans.forward.unwrap();
    assert_eq!(f.name, "en.wikipedia.org");
    assert_eq!(f.rename_to.as_deref(), Some("wiki.local"));
}

#[test]
fn rule_hostname_to_ip() {
    let r = resolver(&embedded(vec![rule(
        Some("db.example"),
        None,
        None,
        to_ip("192.168.1.5"),
    )]));
    assert_eq!(
        data(&r.query("db.example", RecordType::A)),
        vec![a("192.168.1.5")]
    );
    let v6 = r.query("db.example", RecordType::Aaaa);
    assert!(v6.is_nodata());
    assert!(v6.soa.is_some());
}

#[test]
fn rule_service_to_host_service_takes_precedence() {
    let r = resolver(&embedded(vec![rule(
        None,
        Some("web/nginx"),
        None,
        ResolveDnsTarget {
            host_service: Some("team-x/api".into()),
            ..Default::default()
        },
    )]));
    let ans = r.query("nginx.web.svc.cluster.local", RecordType::A);
    assert_eq!(
        data(&ans),
        vec![a("10.96.5.5")],
        "rule wins over the virtual service"
    );
    assert_eq!(ans.answers[0].name, "nginx.web.svc.cluster.local");
    let srv = r.query("_http._tcp.nginx.web.svc.cluster.local", RecordType::Srv);
    assert!(srv.resolves());
    let short = r.lookup("nginx", RecordType::A, Some("web"));
    assert_eq!(data(&short), vec![a("10.96.5.5")]);
}

#[test]
fn rule_service_to_vcluster_service() {
    let r = resolver(&embedded(vec![rule(
        None,
        Some("web/backend"),
        None,
        ResolveDnsTarget {
            v_cluster_service: Some("vcluster-other/other/prod/backend".into()),
            ..Default::default()
        },
    )]));
    let ans = r.query("backend.web.svc.cluster.local", RecordType::A);
    assert_eq!(data(&ans), vec![a("10.96.7.7")]);
    assert!(explained(&ans, "backend-x-prod-x-other"));
}

#[test]
fn rule_namespace_to_host_namespace() {
    let r = resolver(&embedded(vec![rule(
        None,
        None,
        Some("legacy"),
        ResolveDnsTarget {
            host_namespace: Some("team-x".into()),
            ..Default::default()
        },
    )]));
    assert_eq!(
        data(&r.query("api.legacy.svc.cluster.local", RecordType::A)),
        vec![a("10.96.5.5")]
    );
    let missing = r.query("nope.legacy.svc.cluster.local", RecordType::A);
    assert_eq!(missing.rcode, Rcode::NxDomain);
    assert!(explained(&missing, "missing on the host"));
    assert!(
        r.query("legacy.svc.cluster.local", RecordType::A)
            .is_nodata(),
        "namespace name itself is not mapped"
    );
}

#[test]
fn rule_target_missing_is_nxdomain() {
    let r = resolver(&embedded(vec![rule(
        None,
        Some("web/nginx"),
        None,
        ResolveDnsTarget {
            host_service: Some("team-x/gone".into()),
            ..Default::default()
        },
    )]));
    let ans = r.query("nginx.web.svc.cluster.local", RecordType::A);
    assert_eq!(ans.rcode, Rcode::NxDomain);
    assert!(explained(&ans, "missing on the host"));
}

#[test]
fn rules_are_inactive_without_embedded_coredns() {
    let mut c = embedded(vec![rule(
        None,
        Some("web/nginx"),
        None,
        ResolveDnsTarget {
            host_service: Some("team-x/api".into()),
            ..Default::default()
        },
    )]);
    c.control_plane.coredns.embedded = false;
    let ans = resolver(&c).query("nginx.web.svc.cluster.local", RecordType::A);
    assert_eq!(
        data(&ans),
        vec![a("10.96.0.10")],
        "kubernetes plugin answers"
    );
    assert!(explained(&ans, "inactive"));
    assert!(explained(&ans, "controlPlane.coredns.embedded is false"));
}

#[test]
fn first_matching_rule_wins() {
    let r = resolver(&embedded(vec![
        rule(Some("db.example"), None, None, to_ip("10.0.0.1")),
        rule(Some("db.example"), None, None, to_ip("10.0.0.2")),
    ]));
    assert_eq!(
        data(&r.query("db.example", RecordType::A)),
        vec![a("10.0.0.1")]
    );
    let r2 = resolver(&embedded(vec![
        rule(Some("db.example"), None, None, to_ip("10.0.0.2")),
        rule(
            Some("*.example"),
            None,
            None,
            to_host("*.web.svc.cluster.local"),
        ),
    ]));
    assert_eq!(
        data(&r2.query("db.example", RecordType::A)),
        vec![a("10.0.0.2")]
    );
    assert_eq!(
        data(&r2.query("nginx.example", RecordType::A)),
        vec![a("10.96.0.10")]
    );
}

#[test]
fn invalid_rules_never_match() {
    let r = resolver(&embedded(vec![rule(
        Some("*.a.com"),
        None,
        None,
        to_host("b.com"),
    )]));
    assert!(r.rules()[0].rule.is_err());
    assert_eq!(r.query("x.a.com", RecordType::A).rcode, Rcode::Refused);
}

#[test]
fn outside_names_are_left_to_the_upstream() {
    let ans = default_resolver().query("example.org", RecordType::A);
    assert_eq!(ans.rcode, Rcode::Refused);
    assert!(!ans.authoritative);
    assert_eq!(ans.forward.as_ref().unwrap().name, "example.org");
    assert!(ans.explanation.iter().any(|s| s.stage == Stage::Forward));
}

mod check_and_tab {
    use super::*;
    use crate::dns::check::{EXIT_BAD_INPUT, EXIT_DOES_NOT_RESOLVE, EXIT_RESOLVES, check_dns};
    use crate::dns::tab::{ProblemKind, dns_tab};

    #[test]
    fn check_prints_answer_and_chain_with_exit_codes() {
        let snap = snapshot();
        let c = VClusterConfig::default();
        let ok = check_dns(&snap, &c, "nginx", None, Some("web"));
        assert_eq!(ok.exit_code, EXIT_RESOLVES);
        assert!(
            ok.text
                .contains("nginx.web.svc.cluster.local.\t5\tIN\tA\t10.96.0.10"),
            "{}",
            ok.text
        );
        assert!(ok.text.contains("why:") && ok.text.contains("[kubernetes]"));
        let miss = check_dns(&snap, &c, "nginx", None, None);
        assert_eq!(
            miss.exit_code, EXIT_DOES_NOT_RESOLVE,
            "default namespace has no nginx"
        );
        let nodata = check_dns(
            &snap,
            &c,
            "nginx.web.svc.cluster.local",
            Some(RecordType::Aaaa),
            None,
        );
        assert_eq!(nodata.exit_code, EXIT_DOES_NOT_RESOLVE);
        assert!(nodata.text.contains("NODATA"));
        assert!(nodata.text.contains("authority:"));
        let ptr = check_dns(&snap, &c, "10.96.0.10", None, None);
        assert_eq!(ptr.exit_code, EXIT_RESOLVES);
        assert!(
            ptr.text.contains("PTR\tnginx.web.svc.cluster.local."),
            "{}",
            ptr.text
        );
        let srv = check_dns(&snap, &c, "_http._tcp.nginx.web", None, None);
        assert_eq!(srv.exit_code, EXIT_RESOLVES, "{}", srv.text);
        let bad = check_dns(&snap, &c, "bad name!", None, None);
        assert_eq!(bad.exit_code, EXIT_BAD_INPUT);
        assert!(bad.text.starts_with("error:"));
    }

    #[test]
    fn tab_lists_services_rules_and_problems() {
        let mut snap = snapshot();
        // kube-dns synced, but its host twin has no endpoints
        snap = {
            let b = SnapshotBuilder::new(VC, HNS);
            let mut s = b
                .synced_service(cluster_ip_service(
                    "kube-system",
                    "kube-dns",
                    "10.96.0.53",
                    vec![port("dns", 53, "UDP")],
                ))
                .build();
            for (k, v) in s.virtual_side.services.iter() {
                snap.virtual_side.services.insert(k.clone(), v.clone());
            }
            for (k, v) in std::mem::take(&mut s.host.services) {
                snap.host.services.insert(k, v);
            }
            snap
        };
        let mut c = VClusterConfig::default();
        c.networking.resolve_dns = vec![
            rule(
                None,
                Some("web/portless"),
                None,
                ResolveDnsTarget {
                    host_service: Some("team-x/gone".into()),
                    ..Default::default()
                },
            ),
            rule(
                Some("wikipedia.com"),
                None,
                None,
                to_host("nginx.web.svc.cluster.local"),
            ),
            rule(Some("*.bad"), None, None, to_ip("1.2.3.4")),
        ];
        let tab = dns_tab(&snap, &c);
        let nginx = tab.services.iter().find(|r| r.name == "nginx").unwrap();
        assert_eq!(nginx.answers, vec!["10.96.0.10"]);
        assert!(nginx.host_exists);
        assert_eq!(
            nginx.host_name,
            "nginx-x-web-x-my-vc.vcluster-my-vc.svc.cluster.local"
        );
        assert_eq!(nginx.virtual_names[0], "nginx.web.svc.cluster.local");
        let ext = tab.services.iter().find(|r| r.name == "ext").unwrap();
        assert_eq!(ext.kind, "ExternalName");
        assert_eq!(ext.answers, vec!["CNAME example.com."]);

        assert_eq!(tab.rules.len(), 3);
        let r1 = &tab.rules[1];
        assert!(r1.valid && !r1.active);
        assert_eq!(r1.test_name, "wikipedia.com");
        assert_eq!(
            r1.answer.as_ref().unwrap().rcode,
            Rcode::Refused,
            "inactive rule: not answered now"
        );
        assert_eq!(
            r1.answer_if_embedded.as_ref().unwrap().short(),
            vec!["10.96.0.10"]
        );
        assert!(!tab.rules[2].valid);

        let kinds: Vec<ProblemKind> = tab.problems.iter().map(|p| p.kind).collect();
        assert!(kinds.contains(&ProblemKind::RuleTargetMissing), "{kinds:?}");
        assert!(kinds.contains(&ProblemKind::RuleInvalid));
        assert!(kinds.contains(&ProblemKind::RulesNeedEmbeddedCoreDns));
        assert!(kinds.contains(&ProblemKind::KubeDnsWithoutEndpoints));
        // web/alias points at nginx.web.svc.cluster.local: on the host only the twin exists
        let alias = tab
            .problems
            .iter()
            .find(|p| p.kind == ProblemKind::ExternalNameNeedsHostName)
            .unwrap();
        assert_eq!(alias.subject, "service web/alias");
        assert!(
            alias
                .message
                .contains("nginx-x-web-x-my-vc.vcluster-my-vc.svc.cluster.local")
        );
        // web/broken points at a service that exists nowhere
        assert!(kinds.contains(&ProblemKind::ExternalNameDangling));
    }

    #[test]
    fn tab_has_no_kube_dns_problem_when_twin_has_endpoints() {
        let snap = SnapshotBuilder::new(VC, HNS)
            .synced_service(cluster_ip_service(
                "kube-system",
                "kube-dns",
                "10.96.0.53",
                vec![port("dns", 53, "UDP")],
            ))
            .host_endpoints(endpoints(
                HNS,
                &naming::kube_dns_host_name(VC),
                &[("10.244.0.2", None)],
                &[("dns", 1053)],
            ))
            .build();
        let tab = dns_tab(&snap, &VClusterConfig::default());
        assert!(tab.problems.is_empty(), "{:?}", tab.problems);
        assert_eq!(tab.settings.kube_dns.host_ready_endpoints, 1);
        assert_eq!(
            tab.settings.kube_dns.host_cluster_ip.as_deref(),
            Some("10.96.0.53")
        );
    }
}

#[test]
fn quiet_queries_answer_the_same_without_explanation() {
    let r = default_resolver();
    for (n, t) in [
        ("nginx.web.svc.cluster.local", RecordType::A),
        ("pg.db.svc.cluster.local", RecordType::Srv),
        ("nope.web.svc.cluster.local", RecordType::A),
        ("ext.web.svc.cluster.local", RecordType::A),
        ("10.0.96.10.in-addr.arpa", RecordType::Ptr),
    ] {
        let loud = r.query(n, t);
        let quiet = r.query_quiet(n, t);
        assert!(!loud.explanation.is_empty());
        assert!(quiet.explanation.is_empty());
        assert_eq!(
            (
                loud.rcode,
                loud.answers,
                loud.additionals,
                loud.soa,
                loud.forward
            ),
            (
                quiet.rcode,
                quiet.answers,
                quiet.additionals,
                quiet.soa,
                quiet.forward
            )
        );
    }
}

#[test]
fn answers_serialise_for_json_output() {
    let snap = snapshot();
    let c = crate::dns::check::check_dns(
        &snap,
        &VClusterConfig::default(),
        "nginx",
        None,
        Some("web"),
    );
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["answer"]["rcode"], "NOERROR");
    assert_eq!(v["answer"]["qtype"], "A");
    assert_eq!(v["answer"]["answers"][0]["data"]["A"], "10.96.0.10");
    assert_eq!(v["answer"]["explanation"][0]["stage"], "search");
    let tab = crate::dns::tab::dns_tab(&snap, &VClusterConfig::default());
    let t = serde_json::to_value(&tab).unwrap();
    assert!(t["services"].as_array().unwrap().len() >= 5);
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn any_name_and_type_gets_an_answer(
            labels in proptest::collection::vec("[a-z0-9_*\\-]{0,12}|svc|pod|web|db|cluster|local|in-addr|arpa|ß", 0..9),
            code in 0u16..300,
            ns in proptest::option::of("[a-z]{1,6}"),
        ) {
            let name = labels.join(".");
            let r = resolver(&embedded(vec![
                rule(Some("*.svc.kubernetes"), None, None, to_host("*.svc.cluster.local")),
                rule(Some("loop.a"), None, None, to_host("loop.a")),
                rule(None, None, Some("legacy"), ResolveDnsTarget { host_namespace: Some("team-x".into()), ..Default::default() }),
            ]));
            let t = RecordType::from_code(code);
            let a = r.query(&name, t);
            prop_assert!(a.rcode != Rcode::NoError || a.answers.iter().all(|x| !x.name.is_empty() || name.is_empty()));
            let _ = r.lookup(&name, t, ns.as_deref());
        }
    }

    #[test]
    fn self_referencing_rule_terminates() {
        let r = resolver(&embedded(vec![rule(
            Some("loop.a"),
            None,
            None,
            to_host("loop.a"),
        )]));
        assert_eq!(r.query("loop.a", RecordType::A).rcode, Rcode::ServFail);
    }
}
