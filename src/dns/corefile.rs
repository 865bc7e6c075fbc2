//! The Corefile vCluster generates for its CoreDNS (`pkg/coredns/template.go`, §7.1), shown in
//! the DNS tab so an operator sees which of fallback, resolveDNS and the node rewrite are on.

use crate::vcluster::config::VClusterConfig;

/// The effective Corefile for `config` (without `controlPlane.coredns.overwriteConfig`).
/// `{host DNS}` stands for the first nameserver of the syncer's resolv.conf, which vinspect
/// cannot see.
pub fn corefile(config: &VClusterConfig) -> String {
    let adv = &config.networking.advanced;
    let embedded = config.control_plane.coredns.embedded;
    let domain = if adv.cluster_domain.trim().is_empty() {
        "cluster.local"
    } else {
        adv.cluster_domain.trim().trim_end_matches('.')
    };
    let mut zones = Vec::new();
    if domain != "cluster.local" {
        zones.push(domain);
    }
    zones.extend(["cluster.local", "in-addr.arpa", "ip6.arpa"]);
    let mut out = String::from(".:1053 {\n    errors\n    health\n    ready\n");
    if embedded && !config.networking.resolve_dns.is_empty() {
        out.push_str("    vcluster\n");
    }
    if adv.proxy_kubelets.by_hostname {
        out.push_str(
            "    rewrite name regex .*\\.nodes\\.vcluster\\.com kubernetes.default.svc.cluster.local\n",
        );
    }
    out.push_str(&format!(
        "    kubernetes {} {{\n        pods insecure\n",
        zones.join(" ")
    ));
    if adv.fallback_host_cluster {
        out.push_str("        fallthrough cluster.local in-addr.arpa ip6.arpa\n");
    } else {
        out.push_str("        fallthrough in-addr.arpa ip6.arpa\n");
    }
    out.push_str("    }\n    hosts /etc/coredns/NodeHosts {\n        ttl 60\n        reload 15s\n        fallthrough\n    }\n");
    out.push_str("    prometheus :9153\n");
    if adv.fallback_host_cluster {
        out.push_str("    forward . {host DNS}\n");
    } else {
        out.push_str("    forward . /etc/resolv.conf\n");
    }
    out.push_str("    cache 30\n    loop\n");
    if !embedded {
        out.push_str("    reload\n");
    }
    out.push_str("    loadbalance\n}\n\nimport /etc/coredns/custom/*.server\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_corefile_has_no_fallback_and_no_vcluster_plugin() {
        let c = corefile(&VClusterConfig::default());
        assert!(c.contains("kubernetes cluster.local in-addr.arpa ip6.arpa {"));
        assert!(c.contains("fallthrough in-addr.arpa ip6.arpa\n"));
        assert!(c.contains("forward . /etc/resolv.conf"));
        assert!(c.contains("rewrite name regex"));
        assert!(!c.contains("vcluster\n"));
        assert!(c.contains("    reload\n"));
    }

    #[test]
    fn options_change_the_corefile() {
        let mut cfg = VClusterConfig::default();
        cfg.networking.advanced.fallback_host_cluster = true;
        cfg.networking.advanced.cluster_domain = "corp.internal".into();
        cfg.networking.advanced.proxy_kubelets.by_hostname = false;
        cfg.control_plane.coredns.embedded = true;
        cfg.networking.resolve_dns = vec![Default::default()];
        let c = corefile(&cfg);
        assert!(c.contains("kubernetes corp.internal cluster.local in-addr.arpa ip6.arpa {"));
        assert!(c.contains("fallthrough cluster.local in-addr.arpa ip6.arpa"));
        assert!(c.contains("forward . {host DNS}"));
        assert!(c.contains("    vcluster\n"));
        assert!(!c.contains("rewrite"));
        assert!(!c.contains("    reload\n"));
    }
}
