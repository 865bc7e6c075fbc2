//! `vinspect translate`: the host name a virtual object gets, and the host key of a label key.
//! Works offline: only names are computed, no cluster is contacted.

use serde::Serialize;

use crate::cli::{GlobalArgs, TranslateArgs, TranslateFormat};
use crate::engine::change::ObjKind;
use crate::vcluster::context::{VClusterContextName, load_kubeconfig};
use crate::vcluster::naming::{
    default_host_namespace, host_label_key, host_name, is_default_kubernetes, is_dns1123_label,
    is_dns1123_subdomain, is_hashed, joined_host_name,
};
use crate::vcluster::reference::ObjRef;

use super::EXIT_OK;

/// Kind used for a REF without one: services carry the `default/kubernetes` special case.
pub const DEFAULT_KIND: ObjKind = ObjKind::Service;

/// One translated REF (`-o json` prints exactly these fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Translation {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub host_namespace: String,
    pub host_name: String,
    /// Whether the joined name was over 63 bytes and was hashed.
    pub hashed: bool,
    /// The string before hashing (`<name>-x-<namespace>-x-<vcluster>`).
    pub joined: String,
}

/// One translated label key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelTranslation {
    pub key: String,
    pub host_key: String,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Item {
    Object(Translation),
    Label(LabelTranslation),
}

/// Translate one REF for vCluster `vcluster` running in `host_namespace`.
pub fn translate_ref(r: &ObjRef, vcluster: &str, host_namespace: &str) -> Translation {
    let kind = r.kind_or(DEFAULT_KIND);
    let special = matches!(
        kind,
        ObjKind::Service | ObjKind::Endpoints | ObjKind::EndpointSlice
    ) && is_default_kubernetes(&r.namespace, &r.name);
    let (host, hashed, joined) = if special {
        // `default/kubernetes` is the vCluster's own Service `<vc>`: no joining, no hashing.
        (vcluster.to_string(), false, vcluster.to_string())
    } else {
        (
            host_name(&r.name, &r.namespace, vcluster),
            is_hashed(&r.name, &r.namespace, vcluster),
            joined_host_name(&r.name, &r.namespace, vcluster),
        )
    };
    Translation {
        kind: kind.as_str().to_string(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        host_namespace: host_namespace.to_string(),
        host_name: host,
        hashed,
        joined,
    }
}

/// Translate one label key.
pub fn translate_label(key: &str, vcluster: &str) -> LabelTranslation {
    LabelTranslation {
        key: key.to_string(),
        host_key: host_label_key(key, vcluster).into_owned(),
    }
}

/// Kubernetes' rule for label keys: `[prefix/]name`, prefix a DNS-1123 subdomain, name 1–63
/// characters of alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return Err(format!(
            "invalid label key {key:?}: prefix {p:?} must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')"
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if !ok {
        return Err(format!(
            "invalid label key {key:?}: the name part must be 1-63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// The vCluster name and host namespace: flags first, then the `--context` name, then the
/// kubeconfig's current-context when it is a `vcluster_…` context.
pub fn names(global: &GlobalArgs) -> anyhow::Result<(String, String)> {
    let from_context = match &global.context {
        Some(ctx) => {
            let parsed = VClusterContextName::parse(ctx);
            if parsed.is_none() && global.vcluster.is_none() {
                anyhow::bail!(
                    "context {ctx:?} is not of the form vcluster_<name>_<namespace>_<hostcontext>; pass --vcluster NAME"
                );
            }
            parsed
        }
        None if global.vcluster.is_none() => load_kubeconfig(global.kubeconfig.as_deref())
            .ok()
            .and_then(|k| k.config.current_context)
            .and_then(|c| VClusterContextName::parse(&c)),
        None => None,
    };
    let vcluster = match (&global.vcluster, &from_context) {
        (Some(vc), _) => vc.clone(),
        (None, Some(p)) => p.vcluster.clone(),
        (None, None) => anyhow::bail!(
            "no vCluster given: pass --vcluster NAME or --context vcluster_<name>_<namespace>_<hostcontext>"
        ),
    };
    if !is_dns1123_label(&vcluster) {
        anyhow::bail!(
            "invalid --vcluster {vcluster:?}: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 bytes)"
        );
    }
    let host_namespace = match (&global.host_namespace, &from_context) {
        (Some(ns), _) => ns.clone(),
        (None, Some(p)) if p.vcluster == vcluster => p.host_namespace.clone(),
        _ => default_host_namespace(&vcluster),
    };
    if !is_dns1123_label(&host_namespace) {
        anyhow::bail!(
            "invalid --host-namespace {host_namespace:?}: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 bytes)"
        );
    }
    Ok((vcluster, host_namespace))
}

pub fn run(global: &GlobalArgs, args: &TranslateArgs) -> anyhow::Result<u8> {
    // Validate every input before printing anything: output is all or nothing.
    let refs = args
        .refs
        .iter()
        .map(|r| ObjRef::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    for key in &args.labels {
        check_label_key(key).map_err(anyhow::Error::msg)?;
    }
    let (vcluster, host_namespace) = names(global)?;
    let mut items: Vec<Item> = refs
        .iter()
        .map(|r| Item::Object(translate_ref(r, &vcluster, &host_namespace)))
        .collect();
    items.extend(
        args.labels
            .iter()
            .map(|k| Item::Label(translate_label(k, &vcluster))),
    );
    let out = match args.output {
        TranslateFormat::Json => serde_json::to_string_pretty(&items)? + "\n",
        TranslateFormat::Text => items
            .iter()
            .map(|item| match item {
                Item::Object(t) => format!("{}/{}\n", t.host_namespace, t.host_name),
                Item::Label(l) => format!("{}\n", l.host_key),
            })
            .collect(),
    };
    print!("{out}");
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> ObjRef {
        ObjRef::parse(s).unwrap()
    }

    #[test]
    fn translations() {
        let t = translate_ref(&r("default/nginx"), "my-vcluster", "vcluster-my-vcluster");
        assert_eq!(
            t,
            Translation {
                kind: "service".into(),
                namespace: "default".into(),
                name: "nginx".into(),
                host_namespace: "vcluster-my-vcluster".into(),
                host_name: "nginx-x-default-x-my-vcluster".into(),
                hashed: false,
                joined: "nginx-x-default-x-my-vcluster".into(),
            }
        );
        let t = translate_ref(
            &r("pod/production/my-very-long-service-name-for-the-payments-backend"),
            "my-vcluster",
            "h",
        );
        assert!(t.hashed);
        assert_eq!(t.kind, "pod");
        assert_eq!(
            t.host_name,
            "my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4"
        );
        assert_eq!(t.joined.len(), 77);
        assert_eq!(
            translate_ref(&r("default/kubernetes"), "vc", "h").host_name,
            "vc"
        );
        assert_eq!(
            translate_ref(&r("ep/default/kubernetes"), "vc", "h").host_name,
            "vc"
        );
        assert_eq!(
            translate_ref(&r("pod/default/kubernetes"), "vc", "h").host_name,
            "kubernetes-x-default-x-vc"
        );
    }

    #[test]
    fn label_keys() {
        assert_eq!(
            translate_label("release", "my-vcluster").host_key,
            "vcluster.loft.sh/label-my-vcluster-x-a4d451ec23"
        );
        assert_eq!(translate_label("app", "my-vcluster").host_key, "app");
        assert!(check_label_key("app.kubernetes.io/name").is_ok());
        assert!(check_label_key("Release_1.x").is_ok());
        assert!(check_label_key("").is_err());
        assert!(check_label_key("-a").is_err());
        assert!(check_label_key("Bad_Prefix/a").is_err());
        assert!(check_label_key("a/b/c").is_err());
        assert!(check_label_key(&"a".repeat(64)).is_err());
    }
}
