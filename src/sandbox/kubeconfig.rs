//! The kubeconfig the sandbox writes: a host context, the vCluster context (current) named like
//! `vcluster connect` names it, and a read-only host user for RBAC tests.

use serde_json::{Value, json};

pub const HOST_CONTEXT: &str = "sandbox-host";
pub const READONLY_CONTEXT: &str = "sandbox-host-readonly";
/// With HTTPS: the host without a CA, trusting any certificate.
pub const INSECURE_CONTEXT: &str = "sandbox-host-insecure";

/// `vcluster_<NAME>_<NS>_<host context>`, as `vcluster connect` names its context.
pub fn virtual_context(vcluster: &str, host_namespace: &str) -> String {
    format!("vcluster_{vcluster}_{host_namespace}_{HOST_CONTEXT}")
}

/// Where and how to reach one server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub token: String,
    /// PEM CA certificate when serving HTTPS.
    pub ca_pem: Option<String>,
}

fn cluster_entry(name: &str, ep: &Endpoint) -> Value {
    use base64::Engine;
    let mut c = json!({"server": ep.url});
    if let Some(ca) = &ep.ca_pem {
        c["certificate-authority-data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    json!({"name": name, "cluster": c})
}

pub fn render(
    vcluster: &str,
    host_namespace: &str,
    host: &Endpoint,
    virt: &Endpoint,
    readonly_token: &str,
) -> String {
    let vctx = virtual_context(vcluster, host_namespace);
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [cluster_entry(HOST_CONTEXT, host), cluster_entry(&vctx, virt)],
        "users": [
            {"name": HOST_CONTEXT, "user": {"token": host.token}},
            {"name": vctx, "user": {"token": virt.token}},
            {"name": READONLY_CONTEXT, "user": {"token": readonly_token}},
        ],
        "contexts": [
            {"name": HOST_CONTEXT, "context": {"cluster": HOST_CONTEXT, "user": HOST_CONTEXT, "namespace": "default"}},
            {"name": vctx, "context": {"cluster": vctx, "user": vctx, "namespace": "default"}},
            {"name": READONLY_CONTEXT, "context": {"cluster": HOST_CONTEXT, "user": READONLY_CONTEXT, "namespace": "default"}},
        ],
        "current-context": vctx,
    });
    let mut doc = doc;
    if host.ca_pem.is_some() {
        // A separate cluster entry: kubectl rejects a CA together with insecure-skip-tls-verify.
        if let Some(c) = doc["clusters"].as_array_mut() {
            c.push(json!({"name": INSECURE_CONTEXT, "cluster": {"server": host.url, "insecure-skip-tls-verify": true}}));
        }
        if let Some(c) = doc["contexts"].as_array_mut() {
            c.push(json!({"name": INSECURE_CONTEXT, "context": {"cluster": INSECURE_CONTEXT, "user": HOST_CONTEXT, "namespace": "default"}}));
        }
    }
    serde_yaml::to_string(&doc).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts_and_current() {
        let ep = |u: &str| Endpoint {
            url: u.into(),
            token: "t".into(),
            ca_pem: None,
        };
        let y = render(
            "demo",
            "vcluster-demo",
            &ep("http://127.0.0.1:1"),
            &ep("http://127.0.0.1:2"),
            "ro",
        );
        let kc = kube::config::Kubeconfig::from_yaml(&y).unwrap();
        assert_eq!(
            kc.current_context.as_deref(),
            Some("vcluster_demo_vcluster-demo_sandbox-host")
        );
        assert_eq!(kc.contexts.len(), 3);
    }
}
