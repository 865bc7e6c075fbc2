//! What the TUI is fed: rows and DNS lines computed from one snapshot. Pure.

use crate::cluster::snapshot::Snapshot;
use crate::dns::DnsTab;
use crate::tui::types::{DataUpdate, DnsRow};
use crate::vcluster::config::VClusterConfig;
use std::sync::Arc;

/// The TUI's data for one snapshot (the live backend's, at the snapshot's own version). `note`
/// is the header's one-line caveat (the demo banner).
pub fn data_update(
    snapshot: &Snapshot,
    config: &VClusterConfig,
    note: Option<String>,
) -> DataUpdate {
    let (update, _) = crate::live::data_update(
        Arc::new(snapshot.clone()),
        Arc::new(config.clone()),
        note,
        snapshot.version,
    );
    update
}

/// The DNS tab's lines: problems first, then each resolveDNS rule with its live answer, then
/// every virtual Service name.
pub fn dns_rows(tab: &DnsTab) -> Vec<DnsRow> {
    let mut out = Vec::new();
    let kd = &tab.settings.kube_dns;
    out.push(DnsRow {
        name: "kube-dns.kube-system (nameserver of every pod)".to_string(),
        answer: kd
            .host_cluster_ip
            .clone()
            .unwrap_or_else(|| "no host ClusterIP".to_string()),
        explanation: format!(
            "host twin {} · {} ready endpoint(s) · embedded CoreDNS {}",
            kd.host_name,
            kd.host_ready_endpoints,
            if tab.settings.embedded_coredns {
                "on"
            } else {
                "off"
            }
        ),
        problem: kd.host_cluster_ip.is_none(),
    });
    for p in &tab.problems {
        out.push(DnsRow {
            name: p.subject.clone(),
            answer: "problem".to_string(),
            explanation: format!("{} — {}", p.message, p.hint),
            problem: true,
        });
    }
    for r in &tab.rules {
        let (answer, problem) = match (&r.answer, r.valid) {
            (_, false) => ("invalid rule".to_string(), true),
            (Some(a), true) => (a.summary(), !a.resolves()),
            (None, true) => ("-".to_string(), false),
        };
        let state = if r.active { "" } else { " (inactive)" };
        out.push(DnsRow {
            name: r.test_name.clone(),
            answer,
            explanation: format!("resolveDNS[{}]{state}: {}", r.index, r.rule),
            problem,
        });
    }
    for s in &tab.services {
        let fqdn = s.virtual_names.first().cloned().unwrap_or_default();
        let twin = if s.host_exists {
            format!("twin {}", s.host_name)
        } else {
            format!("twin {} is missing", s.host_name)
        };
        out.push(DnsRow {
            name: fqdn,
            answer: s.status.clone(),
            explanation: format!("{} service · {twin}", s.kind),
            problem: !s.answer.resolves() && s.kind != "ExternalName",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::scenario;

    #[test]
    fn incident_dns_lines_include_the_cross_vcluster_rule() {
        let s = scenario::load("incident").unwrap();
        let snap = s.snapshot().unwrap();
        let d = data_update(&snap, &s.config, Some("demo".into()));
        assert_eq!(d.vcluster, "my-vcluster");
        assert!(!d.rows.is_empty());
        let rule = d
            .dns
            .iter()
            .find(|r| {
                r.explanation
                    .contains("vcluster-team-b/team-b/payments/api")
            })
            .unwrap_or_else(|| panic!("{:#?}", d.dns));
        assert_eq!(rule.answer, "10.96.101.20", "{rule:?}");
        // The incident lost the kube-dns twin: the first line says so.
        let kube = &d.dns[0];
        assert_eq!(kube.answer, "no host ClusterIP");
        assert!(kube.problem);
    }

    #[test]
    fn dns_wait_flags_the_missing_kube_dns_twin() {
        let s = scenario::load("dns-wait").unwrap();
        let snap = s.snapshot().unwrap();
        let d = data_update(&snap, &s.config, None);
        assert!(d.dns[0].problem, "{:?}", d.dns[0]);
    }
}
