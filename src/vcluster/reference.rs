//! `REF` arguments of `translate`, `check` and `fix`: `[kind/]namespace/name`.
//!
//! Validation follows the API server's rules for the kind, so a REF that could never name an
//! object is refused with the rule it breaks instead of silently matching nothing.

use std::fmt;
use std::str::FromStr;

use super::naming::{MAX_NAME_BYTES, is_dns1123_label, is_dns1123_subdomain};
use crate::engine::change::ObjKind;

/// Longest object name the API server accepts (DNS-1123 subdomain).
pub const MAX_SUBDOMAIN_BYTES: usize = 253;

/// The kinds a REF may name, as shown in messages and help.
pub const REF_KINDS: &str = "pod, service|svc, ingress|ing, endpoints|ep, endpointslice|eps";

/// A parsed `[kind/]namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjRef {
    /// `None` when the REF gave no kind (callers pick their default, or match every kind).
    pub kind: Option<ObjKind>,
    pub namespace: String,
    pub name: String,
}

/// A REF that cannot name an object: the REF as given and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid REF {reference:?}: {rule}")]
pub struct RefError {
    pub reference: String,
    pub rule: String,
}

impl ObjRef {
    /// Parse and validate `[kind/]namespace/name`.
    pub fn parse(s: &str) -> Result<ObjRef, RefError> {
        let fail = |rule: String| RefError {
            reference: s.to_string(),
            rule,
        };
        if s.is_empty() {
            return Err(fail(
                "empty; expected [kind/]namespace/name, e.g. svc/default/nginx".to_string(),
            ));
        }
        let parts: Vec<&str> = s.split('/').collect();
        let (kind, namespace, name) = match parts.as_slice() {
            [_] => {
                return Err(fail(
                    "missing '/'; expected [kind/]namespace/name, e.g. default/nginx".to_string(),
                ));
            }
            [ns, name] => (None, *ns, *name),
            [kind, ns, name] => {
                let k = ObjKind::parse_ref_kind(kind)
                    .filter(|k| *k != ObjKind::Namespace)
                    .ok_or_else(|| {
                        fail(format!("unknown kind {kind:?}; use one of {REF_KINDS}"))
                    })?;
                (Some(k), *ns, *name)
            }
            _ => {
                return Err(fail(
                    "too many '/'; expected [kind/]namespace/name".to_string(),
                ));
            }
        };
        check_namespace(namespace).map_err(fail)?;
        check_name(kind, name).map_err(fail)?;
        Ok(ObjRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// The kind, or `default` when the REF gave none.
    pub fn kind_or(&self, default: ObjKind) -> ObjKind {
        self.kind.unwrap_or(default)
    }
}

impl FromStr for ObjRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjRef::parse(s)
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(kind) = self.kind {
            write!(f, "{kind}/")?;
        }
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

const LABEL_RULE: &str =
    "lowercase letters, digits and '-', starting and ending with a letter or digit";

fn check_namespace(ns: &str) -> Result<(), String> {
    if ns.is_empty() {
        return Err("empty namespace".to_string());
    }
    if ns.len() > MAX_NAME_BYTES {
        return Err(format!(
            "namespace is {} bytes, longer than {MAX_NAME_BYTES}",
            ns.len()
        ));
    }
    if !is_dns1123_label(ns) {
        return Err(format!(
            "namespace {ns:?} is not a valid DNS-1123 label ({LABEL_RULE})"
        ));
    }
    Ok(())
}

fn check_name(kind: Option<ObjKind>, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".to_string());
    }
    if name.len() > MAX_SUBDOMAIN_BYTES {
        return Err(format!(
            "name is {} bytes, longer than {MAX_SUBDOMAIN_BYTES}",
            name.len()
        ));
    }
    if kind == Some(ObjKind::Service) {
        // Services are DNS-1035 labels: their name is a DNS label inside the cluster domain.
        if name.len() > MAX_NAME_BYTES {
            return Err(format!(
                "service name is {} bytes, longer than {MAX_NAME_BYTES}",
                name.len()
            ));
        }
        if !is_dns1123_label(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(format!(
                "service name {name:?} is not a valid DNS-1035 label (lowercase letters, digits and '-', starting with a letter and ending with a letter or digit)"
            ));
        }
        return Ok(());
    }
    if !is_dns1123_subdomain(name) {
        return Err(format!(
            "name {name:?} is not a valid DNS-1123 subdomain ({LABEL_RULE}, '.' between parts)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ObjRef {
        ObjRef::parse(s).unwrap()
    }

    fn rule(s: &str) -> String {
        ObjRef::parse(s).unwrap_err().rule
    }

    #[test]
    fn kinds_and_defaults() {
        assert_eq!(
            ok("default/nginx"),
            ObjRef {
                kind: None,
                namespace: "default".into(),
                name: "nginx".into()
            }
        );
        for (prefix, kind) in [
            ("pod", ObjKind::Pod),
            ("service", ObjKind::Service),
            ("svc", ObjKind::Service),
            ("ingress", ObjKind::Ingress),
            ("ing", ObjKind::Ingress),
            ("endpoints", ObjKind::Endpoints),
            ("ep", ObjKind::Endpoints),
            ("endpointslice", ObjKind::EndpointSlice),
            ("eps", ObjKind::EndpointSlice),
        ] {
            let r = ok(&format!("{prefix}/kube-system/kube-dns"));
            assert_eq!(r.kind, Some(kind));
            assert_eq!(r.to_string(), format!("{kind}/kube-system/kube-dns"));
        }
        assert_eq!(ok("a/b").kind_or(ObjKind::Pod), ObjKind::Pod);
        assert_eq!(ok("svc/a/b").kind_or(ObjKind::Pod), ObjKind::Service);
        assert_eq!("pod/a/b.c".parse::<ObjRef>().unwrap().name, "b.c");
    }

    #[test]
    fn bad_refs_name_the_rule() {
        assert!(rule("").starts_with("empty"));
        assert!(rule("nginx").starts_with("missing '/'"));
        assert!(rule("a/b/c/d").starts_with("too many '/'"));
        assert_eq!(
            rule("deployment/default/nginx"),
            format!("unknown kind \"deployment\"; use one of {REF_KINDS}")
        );
        assert!(rule("namespace/default/x").starts_with("unknown kind"));
        assert_eq!(rule("/nginx"), "empty namespace");
        assert_eq!(rule("default/"), "empty name");
        assert!(
            rule("Default/nginx")
                .starts_with("namespace \"Default\" is not a valid DNS-1123 label")
        );
        assert!(
            rule("default/Nginx").starts_with("name \"Nginx\" is not a valid DNS-1123 subdomain")
        );
        assert!(rule("svc/default/Nginx").starts_with("service name \"Nginx\""));
        assert!(rule("svc/default/1abc").contains("DNS-1035"));
        assert!(rule("svc/default/a.b").contains("DNS-1035"));
        assert_eq!(
            rule(&format!("default/{}", "a".repeat(254))),
            "name is 254 bytes, longer than 253"
        );
        assert!(ObjRef::parse(&format!("pod/default/{}", "a".repeat(253))).is_ok());
        assert_eq!(
            rule(&format!("svc/default/{}", "a".repeat(64))),
            "service name is 64 bytes, longer than 63"
        );
        assert_eq!(
            rule(&format!("{}/x", "n".repeat(64))),
            "namespace is 64 bytes, longer than 63"
        );
        let e = ObjRef::parse("Default/nginx").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid REF \"Default/nginx\": namespace")
        );
    }
}
