//! `vinspect check --dns NAME [--from-namespace NS]`: one answer with its explanation chain,
//! printable, plus the exit code (0 resolves, 1 does not, 2 bad input).

use crate::cluster::snapshot::Snapshot;
use crate::vcluster::config::VClusterConfig;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::names::reverse_name;
use super::resolver::Resolver;
use super::types::{Answer, RecordType};

/// Namespace a short name is resolved from when `--from-namespace` is not given.
pub const DEFAULT_CLIENT_NAMESPACE: &str = "default";

pub const EXIT_RESOLVES: i32 = 0;
pub const EXIT_DOES_NOT_RESOLVE: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Debug, Clone, serde::Serialize)]
pub struct DnsCheck {
    /// The answer that decided the outcome (`None` only for bad input).
    pub answer: Option<Answer>,
    /// Printable report: query, records, status, explanation chain.
    pub text: String,
    pub exit_code: i32,
}

/// `check --dns` over a snapshot and config.
pub fn check_dns(
    snapshot: &Snapshot,
    config: &VClusterConfig,
    name: &str,
    qtype: Option<RecordType>,
    from_namespace: Option<&str>,
) -> DnsCheck {
    check_with(
        &Resolver::from_snapshot(snapshot, config),
        name,
        qtype,
        from_namespace,
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
        })
}

/// `check --dns` with an existing resolver. An IP is looked up as PTR, `_port._proto.…` as
/// SRV, anything else as A and, when that has no address, AAAA.
pub fn check_with(
    resolver: &Resolver,
    name: &str,
    qtype: Option<RecordType>,
    from_namespace: Option<&str>,
) -> DnsCheck {
    let name = name.trim();
    let ns = from_namespace.unwrap_or(DEFAULT_CLIENT_NAMESPACE);
    if let Ok(ip) = name.parse::<IpAddr>() {
        let answer = resolver.query(&reverse_name(ip), qtype.unwrap_or(RecordType::Ptr));
        return report(name, ns, answer, &[]);
    }
    if !valid_name(name) {
        return DnsCheck {
            answer: None,
            text: format!(
                "error: {name:?} is not a DNS name (labels of letters, digits and '-', separated by dots)\n"
            ),
            exit_code: EXIT_BAD_INPUT,
        };
    }
    let first_type = qtype.unwrap_or(if name.starts_with('_') {
        RecordType::Srv
    } else {
        RecordType::A
    });
    let first = resolver.lookup(name, first_type, Some(ns));
    if qtype.is_none() && first_type == RecordType::A && !first.resolves() {
        let v6 = resolver.lookup(name, RecordType::Aaaa, Some(ns));
        if v6.resolves() {
            return report(name, ns, v6, &[first]);
        }
    }
    report(name, ns, first, &[])
}

fn report(input: &str, ns: &str, answer: Answer, earlier: &[Answer]) -> DnsCheck {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "query:  {input} ({}) from namespace {ns:?}",
        answer.qtype
    );
    for e in earlier {
        let _ = writeln!(t, "        {} {}: {}", e.qname, e.qtype, e.summary());
    }
    let _ = writeln!(t, "name:   {}.", answer.qname);
    let resolves = answer.resolves();
    let status = if resolves {
        "resolves"
    } else if answer.is_nodata() {
        "NODATA: the name exists but has no record of this type"
    } else {
        "does not resolve"
    };
    let _ = writeln!(t, "status: {} — {status}", answer.rcode);
    if !answer.answers.is_empty() {
        let _ = writeln!(t, "answer:");
        for r in &answer.answers {
            let _ = writeln!(t, "  {r}");
        }
    }
    if !answer.additionals.is_empty() {
        let _ = writeln!(t, "additional:");
        for r in &answer.additionals {
            let _ = writeln!(t, "  {r}");
        }
    }
    if let Some(soa) = &answer.soa {
        let _ = writeln!(t, "authority:\n  {soa}");
    }
    if let Some(f) = &answer.forward {
        let _ = writeln!(
            t,
            "upstream: {} {} would be asked upstream (vinspect does not forward here)",
            f.name, f.qtype
        );
    }
    let _ = writeln!(t, "why:");
    for (i, s) in answer.explanation.iter().enumerate() {
        let _ = writeln!(t, "  {}. {s}", i + 1);
    }
    DnsCheck {
        answer: Some(answer),
        text: t,
        exit_code: if resolves {
            EXIT_RESOLVES
        } else {
            EXIT_DOES_NOT_RESOLVE
        },
    }
}
