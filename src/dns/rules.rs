//! `networking.resolveDNS` rules: validation (shape of `pkg/config/coredns_plugin_validation.go`)
//! and matching, including `*` substitution.

use crate::vcluster::config::{ResolveDnsRule, ResolveDnsTarget};
use std::fmt;
use std::net::IpAddr;

use super::names::normalize;

/// A hostname with at most one `*`, only as first or last character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lowercase, no trailing dot.
    pub text: String,
    prefix: String,
    suffix: String,
    wildcard: bool,
}

impl HostPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = normalize(raw.trim());
        if text.is_empty() {
            return Err("hostname is empty".to_string());
        }
        let stars = text.matches('*').count();
        if stars > 1 {
            return Err(format!("{raw:?} has more than one '*'"));
        }
        if stars == 1 && !(text.starts_with('*') || text.ends_with('*')) {
            return Err(format!(
                "{raw:?}: '*' is only allowed as first or last character"
            ));
        }
        let (prefix, suffix, wildcard) = match text.find('*') {
            Some(i) => (text[..i].to_string(), text[i + 1..].to_string(), true),
            None => (text.clone(), String::new(), false),
        };
        Ok(Self {
            text,
            prefix,
            suffix,
            wildcard,
        })
    }

    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// `Some(captured)` when `name` matches; the capture is "" for exact patterns and never
    /// empty for wildcards (`*.example.com` does not match `example.com`).
    pub fn matches<'a>(&self, name: &'a str) -> Option<&'a str> {
        if !self.wildcard {
            return (name == self.text).then_some("");
        }
        if name.len() <= self.prefix.len() + self.suffix.len() {
            return None;
        }
        if name.starts_with(&self.prefix) && name.ends_with(&self.suffix) {
            Some(&name[self.prefix.len()..name.len() - self.suffix.len()])
        } else {
            None
        }
    }

    /// The pattern with `*` replaced by `capture`.
    pub fn substitute(&self, capture: &str) -> String {
        if self.wildcard {
            format!("{}{}{}", self.prefix, capture, self.suffix)
        } else {
            self.text.clone()
        }
    }

    /// A name this pattern matches, for live tests (`*` → `test`).
    pub fn example(&self) -> String {
        self.substitute("test")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    Hostname(HostPattern),
    /// Virtual service `namespace/name`.
    Service {
        namespace: String,
        name: String,
    },
    /// Virtual namespace.
    Namespace(String),
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hostname(p) => write!(f, "hostname {}", p.text),
            Self::Service { namespace, name } => write!(f, "service {namespace}/{name}"),
            Self::Namespace(ns) => write!(f, "namespace {ns}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleTarget {
    Hostname(HostPattern),
    Ip(IpAddr),
    /// Host service `namespace/name`.
    HostService {
        namespace: String,
        name: String,
    },
    /// Another vCluster's service: its host twin lives in `host_namespace`.
    VClusterService {
        host_namespace: String,
        vcluster: String,
        namespace: String,
        name: String,
    },
    HostNamespace(String),
}

impl fmt::Display for RuleTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hostname(p) => write!(f, "hostname {}", p.text),
            Self::Ip(ip) => write!(f, "ip {ip}"),
            Self::HostService { namespace, name } => write!(f, "hostService {namespace}/{name}"),
            Self::VClusterService {
                host_namespace,
                vcluster,
                namespace,
                name,
            } => write!(
                f,
                "vClusterService {host_namespace}/{vcluster}/{namespace}/{name}"
            ),
            Self::HostNamespace(ns) => write!(f, "hostNamespace {ns}"),
        }
    }
}

/// One validated rule, or why it is invalid (invalid rules never match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledRule {
    /// Position in `networking.resolveDNS`.
    pub index: usize,
    pub rule: Result<(RuleSource, RuleTarget), String>,
}

impl CompiledRule {
    /// Short description, `hostname a.com → ip 1.2.3.4`, or the raw entry when invalid.
    pub fn describe(&self) -> String {
        match &self.rule {
            Ok((s, t)) => format!("{s} → {t}"),
            Err(e) => format!("invalid: {e}"),
        }
    }
}

fn split_exact(s: &str, parts: usize) -> Option<Vec<String>> {
    let v: Vec<String> = s.trim().split('/').map(str::to_string).collect();
    (v.len() == parts && v.iter().all(|p| !p.is_empty())).then_some(v)
}

fn count_set(opts: &[bool]) -> usize {
    opts.iter().filter(|b| **b).count()
}

fn set(o: &Option<String>) -> bool {
    o.as_deref().is_some_and(|s| !s.is_empty())
}

/// Validate one rule as vCluster does; error texts follow upstream's.
pub fn compile_rule(index: usize, rule: &ResolveDnsRule) -> CompiledRule {
    CompiledRule {
        index,
        rule: compile_inner(index, rule),
    }
}

fn compile_inner(i: usize, rule: &ResolveDnsRule) -> Result<(RuleSource, RuleTarget), String> {
    let sources = count_set(&[
        set(&rule.hostname),
        set(&rule.service),
        set(&rule.namespace),
    ]);
    if sources == 0 {
        return Err(format!(
            "at least one option required for networking.resolveDNS[{i}]"
        ));
    }
    if sources > 1 {
        return Err(format!(
            "only a single option allowed for networking.resolveDNS[{i}]"
        ));
    }
    let target_err = |why: &str| format!("error validating networking.resolveDNS[{i}].to: {why}");
    let target = compile_target(&rule.target).map_err(|e| target_err(&e))?;
    let source = if let Some(h) = rule.hostname.as_deref().filter(|s| !s.is_empty()) {
        let p = HostPattern::parse(h)
            .map_err(|e| format!("networking.resolveDNS[{i}].hostname: {e}"))?;
        match &target {
            RuleTarget::Hostname(t) => {
                if p.is_wildcard() != t.is_wildcard() {
                    return Err(target_err(
                        "a wildcard hostname needs a target hostname with exactly one '*' (and only then)",
                    ));
                }
            }
            RuleTarget::Ip(_) => {
                if p.is_wildcard() {
                    return Err(target_err(
                        "a wildcard hostname needs a target hostname with exactly one '*'",
                    ));
                }
            }
            _ => {
                return Err(target_err(
                    "hostname rules take target.hostname or target.ip",
                ));
            }
        }
        RuleSource::Hostname(p)
    } else if let Some(s) = rule.service.as_deref().filter(|s| !s.is_empty()) {
        let parts = split_exact(s, 2).ok_or_else(|| {
            format!("networking.resolveDNS[{i}].service {s:?} must be namespace/name")
        })?;
        match &target {
            RuleTarget::HostService { .. } | RuleTarget::VClusterService { .. } => {}
            RuleTarget::Ip(_) | RuleTarget::Hostname(_) => {}
            RuleTarget::HostNamespace(_) => {
                return Err(target_err("target.hostNamespace requires a namespace rule"));
            }
        }
        RuleSource::Service {
            namespace: parts[0].to_ascii_lowercase(),
            name: parts[1].to_ascii_lowercase(),
        }
    } else {
        let ns = rule
            .namespace
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !matches!(target, RuleTarget::HostNamespace(_)) {
            return Err(target_err("a namespace rule requires target.hostNamespace"));
        }
        RuleSource::Namespace(ns)
    };
    Ok((source, target))
}

fn compile_target(t: &ResolveDnsTarget) -> Result<RuleTarget, String> {
    let n = count_set(&[
        set(&t.hostname),
        set(&t.ip),
        set(&t.host_service),
        set(&t.host_namespace),
        set(&t.v_cluster_service),
    ]);
    if n == 0 {
        return Err("no target given".to_string());
    }
    if n > 1 {
        return Err("exactly one target field allowed".to_string());
    }
    if let Some(h) = t.hostname.as_deref().filter(|s| !s.is_empty()) {
        return HostPattern::parse(h).map(RuleTarget::Hostname);
    }
    if let Some(ip) = t.ip.as_deref().filter(|s| !s.is_empty()) {
        return ip
            .trim()
            .parse::<IpAddr>()
            .map(RuleTarget::Ip)
            .map_err(|_| format!("ip {ip:?} is not an IP address"));
    }
    if let Some(hs) = t.host_service.as_deref().filter(|s| !s.is_empty()) {
        let p = split_exact(hs, 2)
            .ok_or_else(|| format!("hostService {hs:?} must be hostNamespace/name"))?;
        return Ok(RuleTarget::HostService {
            namespace: p[0].to_ascii_lowercase(),
            name: p[1].to_ascii_lowercase(),
        });
    }
    if let Some(vs) = t.v_cluster_service.as_deref().filter(|s| !s.is_empty()) {
        let p = split_exact(vs, 4).ok_or_else(|| {
            format!(
                "vClusterService {vs:?} must be hostNamespace/vClusterName/vClusterNamespace/vClusterService"
            )
        })?;
        return Ok(RuleTarget::VClusterService {
            host_namespace: p[0].to_ascii_lowercase(),
            vcluster: p[1].to_ascii_lowercase(),
            namespace: p[2].to_ascii_lowercase(),
            name: p[3].to_ascii_lowercase(),
        });
    }
    let hn = t
        .host_namespace
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(RuleTarget::HostNamespace(hn))
}

/// All rules of a config, in order.
pub fn compile_rules(rules: &[ResolveDnsRule]) -> Vec<CompiledRule> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile_rule(i, r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_rule(src: &str, dst: &str) -> ResolveDnsRule {
        ResolveDnsRule {
            hostname: Some(src.into()),
            target: ResolveDnsTarget {
                hostname: Some(dst.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn wildcard_patterns_capture_and_substitute() {
        let p = HostPattern::parse("*.svc.kubernetes").unwrap();
        assert_eq!(p.matches("test.svc.kubernetes"), Some("test"));
        assert_eq!(p.matches("a.b.svc.kubernetes"), Some("a.b"));
        assert_eq!(p.matches("svc.kubernetes"), None);
        assert_eq!(p.matches(".svc.kubernetes"), None);
        assert_eq!(p.matches("xsvc.kubernetes"), None);
        let t = HostPattern::parse("*.svc.cluster.local").unwrap();
        assert_eq!(t.substitute("test"), "test.svc.cluster.local");
        let pre = HostPattern::parse("db.*").unwrap();
        assert_eq!(pre.matches("db.internal"), Some("internal"));
        assert_eq!(pre.matches("db"), None);
        assert_eq!(pre.matches("dbx.internal"), None);
        let any = HostPattern::parse("*").unwrap();
        assert_eq!(any.matches("a.b.c"), Some("a.b.c"));
        let multi = HostPattern::parse("*.svc.cluster.local").unwrap();
        assert_eq!(
            multi.substitute(p.matches("a.b.svc.kubernetes").unwrap()),
            "a.b.svc.cluster.local"
        );
        let exact = HostPattern::parse("Wikipedia.COM.").unwrap();
        assert_eq!(exact.matches("wikipedia.com"), Some(""));
        assert_eq!(exact.matches("en.wikipedia.com"), None);
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(HostPattern::parse("a.*.com").is_err());
        assert!(HostPattern::parse("*.a.*").is_err());
        assert!(HostPattern::parse("").is_err());
    }

    #[test]
    fn validation_follows_upstream_shape() {
        let none = ResolveDnsRule::default();
        assert_eq!(
            compile_rule(0, &none).rule.unwrap_err(),
            "at least one option required for networking.resolveDNS[0]"
        );
        let two = ResolveDnsRule {
            hostname: Some("a.com".into()),
            namespace: Some("x".into()),
            ..host_rule("a.com", "b.com")
        };
        assert_eq!(
            compile_rule(3, &two).rule.unwrap_err(),
            "only a single option allowed for networking.resolveDNS[3]"
        );
        // wildcard source needs wildcard target
        let e = compile_rule(1, &host_rule("*.a.com", "b.com"))
            .rule
            .unwrap_err();
        assert!(
            e.starts_with("error validating networking.resolveDNS[1].to"),
            "{e}"
        );
        let vcs = ResolveDnsRule {
            service: Some("ns/svc".into()),
            target: ResolveDnsTarget {
                v_cluster_service: Some("h/vc/ns".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(compile_rule(0, &vcs).rule.is_err());
        let bad_svc = ResolveDnsRule {
            service: Some("a/b/c".into()),
            target: ResolveDnsTarget {
                host_service: Some("h/s".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(compile_rule(0, &bad_svc).rule.is_err());
        let ns_without = ResolveDnsRule {
            namespace: Some("a".into()),
            target: ResolveDnsTarget {
                ip: Some("1.2.3.4".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(compile_rule(0, &ns_without).rule.is_err());
        assert!(
            compile_rule(0, &host_rule("*.a.com", "*.b.com"))
                .rule
                .is_ok()
        );
    }
}
