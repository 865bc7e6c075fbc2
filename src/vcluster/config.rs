//! The subset of vcluster.yaml the engine needs, with vCluster's defaults.
//!
//! Upstream shapes: `loft-sh/vcluster: config/config.go`, defaults `chart/values.yaml`.
//! Unknown keys are ignored on purpose: real vcluster.yaml files are large and we model only
//! what changes networking sync. Validation lives in [`VClusterConfig::validate`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VClusterConfig {
    pub sync: Sync,
    pub networking: Networking,
    pub control_plane: ControlPlane,
    pub experimental: Experimental,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sync {
    pub to_host: ToHost,
    pub from_host: FromHost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToHost {
    pub pods: PodsToHost,
    pub services: Toggle,
    pub endpoints: Toggle,
    pub ingresses: Toggle,
}

impl Default for ToHost {
    fn default() -> Self {
        Self {
            pods: PodsToHost::default(),
            services: Toggle { enabled: true },
            endpoints: Toggle { enabled: true },
            ingresses: Toggle { enabled: false },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodsToHost {
    pub enabled: bool,
    pub rewrite_hosts: RewriteHosts,
}

impl Default for PodsToHost {
    fn default() -> Self {
        Self {
            enabled: true,
            rewrite_hosts: RewriteHosts::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RewriteHosts {
    pub enabled: bool,
}

impl Default for RewriteHosts {
    fn default() -> Self {
        Self { enabled: true }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FromHost {
    pub ingress_classes: IngressClassesFromHost,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IngressClassesFromHost {
    pub enabled: bool,
    pub selector: LabelSelectorConfig,
}

/// `matchLabels` / `matchExpressions` as vcluster.yaml spells them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelectorConfig {
    pub match_labels: std::collections::BTreeMap<String, String>,
    pub match_expressions: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Networking {
    pub replicate_services: ReplicateServices,
    #[serde(rename = "resolveDNS")]
    pub resolve_dns: Vec<ResolveDnsRule>,
    pub advanced: NetworkingAdvanced,
}

impl Default for Networking {
    fn default() -> Self {
        Self {
            replicate_services: ReplicateServices::default(),
            resolve_dns: Vec::new(),
            advanced: NetworkingAdvanced::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicateServices {
    pub to_host: Vec<ServiceMapping>,
    pub from_host: Vec<ServiceMapping>,
}

/// One `{from, to}` entry of `networking.replicateServices`, as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceMapping {
    pub from: String,
    pub to: String,
}

/// One `networking.resolveDNS` entry (Pro feature; shape of `config/config.go` `ResolveDNS`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResolveDnsRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub target: ResolveDnsTarget,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResolveDnsTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_namespace: Option<String>,
    #[serde(rename = "vClusterService", skip_serializing_if = "Option::is_none")]
    pub v_cluster_service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NetworkingAdvanced {
    pub cluster_domain: String,
    pub fallback_host_cluster: bool,
    pub proxy_kubelets: ProxyKubelets,
}

impl Default for NetworkingAdvanced {
    fn default() -> Self {
        Self {
            cluster_domain: "cluster.local".to_string(),
            fallback_host_cluster: false,
            proxy_kubelets: ProxyKubelets::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyKubelets {
    pub by_hostname: bool,
    #[serde(rename = "byIP")]
    pub by_ip: bool,
}

impl Default for ProxyKubelets {
    fn default() -> Self {
        Self {
            by_hostname: true,
            by_ip: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ControlPlane {
    pub coredns: CoreDns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CoreDns {
    pub enabled: bool,
    pub embedded: bool,
}

impl Default for CoreDns {
    fn default() -> Self {
        Self {
            enabled: true,
            embedded: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Experimental {
    pub sync_settings: SyncSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncSettings {
    pub set_owner: bool,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self { set_owner: true }
    }
}
