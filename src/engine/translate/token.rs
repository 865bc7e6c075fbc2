//! Projected service-account tokens (§3.1, upstream `pods/translate/translator.go`
//! `translateProjectedVolume`).
//!
//! A host pod runs as the workload service account, so the kubelet cannot mint the virtual
//! service account's token. vCluster asks the virtual API server for it (TokenRequest bound to
//! the virtual pod, 10-year lifetime, the source's audience or the three `kubernetes.default`
//! ones), stores it in a `vcluster.loft.sh/token-<8 chars>` annotation of the host pod and turns
//! the projected source into a downward-API item that reads that annotation.
//!
//! Everything here is pure: which tokens a pod needs, the request to send, and putting the
//! returned values into the host pod. The request itself is sent by `engine::apply` when it
//! creates the host pod.

use crate::vcluster::naming;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::Pod;

/// vCluster mints tokens for ten years (`10 * 365 * 24 * 60 * 60`), whatever the source asks.
pub const EXPIRATION_SECONDS: i64 = 10 * 365 * 24 * 60 * 60;

/// One token a host pod needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenNeed {
    /// Host pod annotation that holds the token.
    pub annotation: String,
    /// Virtual namespace and service account the token is for.
    pub namespace: String,
    pub service_account: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    /// The virtual pod the token is bound to.
    pub pod_name: String,
    pub pod_uid: String,
}

/// The annotation for the `index`-th source of projected volume `volume`. vCluster picks 8
/// random characters; a pure planner needs a stable choice, so they come from a hash of the
/// pod, the volume and the position (lower-case alphanumerics, like upstream's alphabet).
pub fn annotation_key(pod: &str, namespace: &str, volume: &str, index: usize) -> String {
    let h = naming::host_name_short(&format!("{pod}-{volume}-{index}"), namespace, "token");
    let suffix: String = h
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .skip(1)
        .take(8)
        .collect();
    format!("{}{suffix}", naming::ANNOTATION_POD_TOKEN_PREFIX)
}

/// The virtual pod's service account: `serviceAccountName`, else the deprecated
/// `serviceAccount`, else `default`.
pub fn service_account(vpod: &Pod) -> String {
    let spec = vpod.spec.as_ref();
    spec.and_then(|s| s.service_account_name.clone())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            spec.and_then(|s| s.service_account.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "default".to_string())
}

/// The source's audience, or the three names of the virtual API server.
pub fn audiences(source_audience: Option<&str>, cluster_domain: &str) -> Vec<String> {
    match source_audience.filter(|a| !a.is_empty()) {
        Some(a) => vec![a.to_string()],
        None => vec![
            format!("https://kubernetes.default.svc.{cluster_domain}"),
            "https://kubernetes.default.svc".to_string(),
            "https://kubernetes.default".to_string(),
        ],
    }
}

/// Every token the host twin of `vpod` needs, in volume and source order.
pub fn needs(vpod: &Pod, cluster_domain: &str) -> Vec<TokenNeed> {
    let m = &vpod.metadata;
    let ns = m.namespace.clone().unwrap_or_default();
    let name = m.name.clone().unwrap_or_default();
    let sa = service_account(vpod);
    let mut out = Vec::new();
    for v in vpod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(p) = v.projected.as_ref() else {
            continue;
        };
        for (i, src) in p.sources.iter().flatten().enumerate() {
            if let Some(tok) = &src.service_account_token {
                out.push(TokenNeed {
                    annotation: annotation_key(&name, &ns, &v.name, i),
                    namespace: ns.clone(),
                    service_account: sa.clone(),
                    audiences: audiences(tok.audience.as_deref(), cluster_domain),
                    expiration_seconds: EXPIRATION_SECONDS,
                    pod_name: name.clone(),
                    pod_uid: m.uid.clone().unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// The TokenRequest to send for `need` (to `serviceaccounts/<sa>/token` in the virtual
/// cluster).
pub fn request(need: &TokenNeed) -> TokenRequest {
    TokenRequest {
        metadata: Default::default(),
        spec: TokenRequestSpec {
            audiences: need.audiences.clone(),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Pod".to_string()),
                name: Some(need.pod_name.clone()),
                uid: Some(need.pod_uid.clone()),
            }),
            expiration_seconds: Some(need.expiration_seconds),
        },
        status: None,
    }
}

/// Token annotations the host pod's projected downward-API items read.
pub fn referenced(host: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    for v in host.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            for item in src
                .downward_api
                .iter()
                .flat_map(|d| d.items.iter().flatten())
            {
                let Some(f) = item.field_ref.as_ref() else {
                    continue;
                };
                if let Some(key) = f
                    .field_path
                    .strip_prefix("metadata.annotations['")
                    .and_then(|r| r.strip_suffix("']"))
                    .filter(|k| k.starts_with(naming::ANNOTATION_POD_TOKEN_PREFIX))
                    && !out.iter().any(|k| k == key)
                {
                    out.push(key.to_string());
                }
            }
        }
    }
    out
}

/// The needs whose annotation the host pod reads but does not carry yet.
pub fn missing(host: &Pod, needs: Vec<TokenNeed>) -> Vec<TokenNeed> {
    let read = referenced(host);
    let ann = host.metadata.annotations.as_ref();
    needs
        .into_iter()
        .filter(|n| read.contains(&n.annotation))
        .filter(|n| ann.is_none_or(|a| a.get(&n.annotation).is_none_or(|v| v.is_empty())))
        .collect()
}

/// The cluster domain our translation wrote into the host pod (its `kubernetes.default.svc.<d>`
/// host alias); what the default audiences are made of. Empty when the pod has none.
pub fn cluster_domain_of(host: &Pod) -> String {
    host.spec
        .iter()
        .flat_map(|s| s.host_aliases.iter().flatten())
        .flat_map(|a| a.hostnames.iter().flatten())
        .find_map(|h| h.strip_prefix("kubernetes.default.svc."))
        .unwrap_or("")
        .to_string()
}

/// The host pod with the minted tokens in their annotations.
pub fn with_tokens(mut host: Pod, tokens: &[(String, String)]) -> Pod {
    if tokens.is_empty() {
        return host;
    }
    let ann = host
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    for (k, v) in tokens {
        ann.insert(k.clone(), v.clone());
    }
    host
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vpod(volumes: serde_json::Value, sa: Option<&str>) -> Pod {
        let mut spec = json!({"containers": [{"name": "c", "image": "i"}], "volumes": volumes});
        if let Some(sa) = sa {
            spec["serviceAccountName"] = json!(sa);
        }
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn annotation_keys_are_stable_distinct_and_upstream_shaped() {
        let a = annotation_key("web-0", "shop", "kube-api-access", 0);
        assert_eq!(a, annotation_key("web-0", "shop", "kube-api-access", 0));
        let suffix = a.strip_prefix("vcluster.loft.sh/token-").unwrap();
        assert_eq!(suffix.len(), 8);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
        let others = [
            annotation_key("web-0", "shop", "kube-api-access", 1),
            annotation_key("web-0", "shop", "vault", 0),
            annotation_key("web-1", "shop", "kube-api-access", 0),
            annotation_key("web-0", "other", "kube-api-access", 0),
        ];
        for o in others {
            assert_ne!(a, o);
        }
    }

    #[test]
    fn needs_follow_the_sources_with_upstream_audiences_and_lifetime() {
        let p = vpod(
            json!([
                {"name": "kube-api-access", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"configMap": {"name": "kube-root-ca.crt"}}
                ]}},
                {"name": "vault", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "vault-token", "audience": "vault"}}
                ]}}
            ]),
            Some("builder"),
        );
        let n = needs(&p, "cluster.local");
        assert_eq!(
            n,
            vec![
                TokenNeed {
                    annotation: annotation_key("web-0", "shop", "kube-api-access", 0),
                    namespace: "shop".into(),
                    service_account: "builder".into(),
                    audiences: vec![
                        "https://kubernetes.default.svc.cluster.local".into(),
                        "https://kubernetes.default.svc".into(),
                        "https://kubernetes.default".into(),
                    ],
                    expiration_seconds: EXPIRATION_SECONDS,
                    pod_name: "web-0".into(),
                    pod_uid: "u-1".into(),
                },
                TokenNeed {
                    annotation: annotation_key("web-0", "shop", "vault", 0),
                    namespace: "shop".into(),
                    service_account: "builder".into(),
                    audiences: vec!["vault".into()],
                    expiration_seconds: EXPIRATION_SECONDS,
                    pod_name: "web-0".into(),
                    pod_uid: "u-1".into(),
                },
            ]
        );
        let r = serde_json::to_value(request(&n[1])).unwrap();
        assert_eq!(
            r,
            json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "metadata": {},
                "spec": {
                    "audiences": ["vault"],
                    "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web-0", "uid": "u-1"},
                    "expirationSeconds": EXPIRATION_SECONDS,
                }
            })
        );
    }

    #[test]
    fn the_service_account_falls_back_to_the_deprecated_field_then_default() {
        let mut p = vpod(json!([]), None);
        assert_eq!(service_account(&p), "default");
        p.spec.as_mut().unwrap().service_account = Some("legacy".into());
        assert_eq!(service_account(&p), "legacy");
        p.spec.as_mut().unwrap().service_account_name = Some("new".into());
        assert_eq!(service_account(&p), "new");
    }

    #[test]
    fn missing_tokens_are_the_read_and_unset_ones_and_get_filled_in() {
        let key = annotation_key("web-0", "shop", "kube-api-access", 0);
        let host: Pod = serde_json::from_value(json!({
            "metadata": {"name": "h", "annotations": {"other": "x"}},
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["kubernetes.default.svc.corp.local", "kubernetes"]}],
                "volumes": [{"name": "kube-api-access", "projected": {"sources": [
                    {"downwardAPI": {"items": [{"path": "token", "mode": 420,
                        "fieldRef": {"apiVersion": "v1", "fieldPath": format!("metadata.annotations['{key}']")}}]}}
                ]}}]
            }
        }))
        .unwrap();
        assert_eq!(referenced(&host), vec![key.clone()]);
        assert_eq!(cluster_domain_of(&host), "corp.local");
        let p = vpod(
            json!([{"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}}]}}]),
            None,
        );
        let want = missing(&host, needs(&p, "corp.local"));
        assert_eq!(want.len(), 1);
        assert_eq!(want[0].annotation, key);
        let filled = with_tokens(host, &[(key.clone(), "tok".into())]);
        let ann = filled.metadata.annotations.clone().unwrap();
        assert_eq!(ann.get(&key).map(String::as_str), Some("tok"));
        assert_eq!(ann.get("other").map(String::as_str), Some("x"));
        assert!(missing(&filled, needs(&p, "corp.local")).is_empty());
    }
}
