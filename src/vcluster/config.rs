//! The subset of vcluster.yaml the engine needs, with vCluster's defaults.
//!
//! Upstream shapes: `loft-sh/vcluster: config/config.go`, defaults `chart/values.yaml`.
//! Unknown keys are ignored on purpose: real vcluster.yaml files are large and we model only
//! what changes networking sync. Validation lives in [`VClusterConfig::validate`].

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VClusterConfig {
    #[serde(deserialize_with = "nullable")]
    pub sync: Sync,
    #[serde(deserialize_with = "nullable")]
    pub networking: Networking,
    #[serde(deserialize_with = "nullable")]
    pub control_plane: ControlPlane,
    #[serde(deserialize_with = "nullable")]
    pub experimental: Experimental,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sync {
    #[serde(deserialize_with = "nullable")]
    pub to_host: ToHost,
    #[serde(deserialize_with = "nullable")]
    pub from_host: FromHost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ToHost {
    #[serde(deserialize_with = "nullable")]
    pub pods: PodsToHost,
    #[serde(deserialize_with = "nullable")]
    pub services: Toggle,
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Toggle,
    #[serde(deserialize_with = "nullable")]
    pub endpoint_slices: Toggle,
    #[serde(deserialize_with = "nullable")]
    pub ingresses: Toggle,
}

impl Default for ToHost {
    fn default() -> Self {
        Self {
            pods: PodsToHost::default(),
            services: Toggle { enabled: true },
            endpoints: Toggle { enabled: true },
            endpoint_slices: Toggle { enabled: true },
            ingresses: Toggle { enabled: false },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodsToHost {
    pub enabled: bool,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
    pub ingress_classes: IngressClassesFromHost,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IngressClassesFromHost {
    pub enabled: bool,
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelectorConfig,
}

/// `matchLabels` / `matchExpressions` as vcluster.yaml spells them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelectorConfig {
    #[serde(deserialize_with = "nullable")]
    pub match_labels: std::collections::BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub match_expressions: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Networking {
    #[serde(deserialize_with = "nullable")]
    pub replicate_services: ReplicateServices,
    #[serde(rename = "resolveDNS", deserialize_with = "nullable")]
    pub resolve_dns: Vec<ResolveDnsRule>,
    #[serde(deserialize_with = "nullable")]
    pub advanced: NetworkingAdvanced,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicateServices {
    #[serde(deserialize_with = "nullable")]
    pub to_host: Vec<ServiceMapping>,
    #[serde(deserialize_with = "nullable")]
    pub from_host: Vec<ServiceMapping>,
}

/// One `{from, to}` entry of `networking.replicateServices`, as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceMapping {
    #[serde(deserialize_with = "nullable")]
    pub from: String,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
    pub cluster_domain: String,
    pub fallback_host_cluster: bool,
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
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
    #[serde(deserialize_with = "nullable")]
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

/// Helm treats `key: ~` like an absent key; so do we for sections and lists, which keeps
/// the enclosing section's vCluster default instead of failing on a half-written file.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// What vCluster uses when `networking.advanced.clusterDomain` is unset.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// vCluster's own parse error for a replicateServices rule whose `to` must be `namespace/name`.
pub const MAPPING_ERROR_TO_NAMESPACED: &str =
    "invalid service mapping, please use namespace1/service1=namespace2/service2";
/// vCluster's own parse error for every other malformed replicateServices rule.
pub const MAPPING_ERROR_TO_BARE: &str =
    "invalid service mapping, please use namespace1/service1=service2";

/// A vcluster.yaml that could not be read or that vCluster would refuse. The message is one
/// line and starts with the YAML path of the offending value when one is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// YAML syntax error or a value of the wrong type (serde's message, with path and position).
    #[error("{0}")]
    Parse(String),
    /// A value of the right type that vCluster rejects.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl ConfigError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        // Messages quote user values; a value with a line break must not break the one line.
        let message: String = message.into();
        let message = if message.contains(char::is_control) {
            message
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        } else {
            message
        };
        ConfigError::Invalid {
            path: path.into(),
            message,
        }
    }

    /// The YAML path the error is about, when it is known.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { path, .. } => Some(path),
            ConfigError::Parse(_) => None,
        }
    }
}

/// `networking.replicateServices.fromHost[index]`, parsed: host service → virtual service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FromHostRule {
    /// Position in the config list (for messages that point back at the file).
    pub index: usize,
    pub host_namespace: String,
    pub host_name: String,
    pub virtual_namespace: String,
    pub virtual_name: String,
}

/// `networking.replicateServices.toHost[index]`, parsed: virtual service → host service in HNS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToHostRule {
    pub index: usize,
    pub virtual_namespace: String,
    pub virtual_name: String,
    /// Always the vCluster's host namespace: upstream rejects any other.
    pub host_namespace: String,
    pub host_name: String,
}

/// What a `networking.resolveDNS` entry matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum DnsSource {
    /// A hostname, possibly with one `*` as first or last character.
    Hostname { hostname: String },
    /// A virtual service `namespace/name`.
    Service { namespace: String, name: String },
    /// Every service of a virtual namespace.
    Namespace { namespace: String },
}

/// What a `networking.resolveDNS` entry answers with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum DnsTarget {
    Hostname {
        hostname: String,
    },
    Ip {
        ip: String,
    },
    HostService {
        namespace: String,
        name: String,
    },
    HostNamespace {
        namespace: String,
    },
    /// A service of another vCluster: `hostNamespace/vClusterName/vClusterNamespace/vClusterService`.
    VClusterService {
        host_namespace: String,
        vcluster: String,
        namespace: String,
        service: String,
    },
}

/// One `networking.resolveDNS` entry, validated and typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DnsRule {
    pub index: usize,
    pub source: DnsSource,
    pub target: DnsTarget,
}

impl VClusterConfig {
    /// Parse a vcluster.yaml (any size; keys outside the modelled subset are ignored) and
    /// validate it. An empty document yields vCluster's defaults.
    pub fn from_yaml(text: &str) -> Result<VClusterConfig, ConfigError> {
        let parsed: Option<VClusterConfig> =
            serde_yaml::from_str(text).map_err(|e| ConfigError::Parse(one_line(&e.to_string())))?;
        let config = parsed.unwrap_or_default();
        config.validate()?;
        Ok(config)
    }

    /// The first problem vCluster would refuse this config for (see [`Self::problems`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every problem, in file order: replicateServices rules, resolveDNS rules, clusterDomain.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let rs = &self.networking.replicate_services;
        for (i, m) in rs.from_host.iter().enumerate() {
            if let Err(e) = parse_from_host(i, m, "") {
                out.push(e);
            }
        }
        for (i, m) in rs.to_host.iter().enumerate() {
            if let Err(e) = parse_to_host(i, m, "") {
                out.push(e);
            }
        }
        for (i, r) in self.networking.resolve_dns.iter().enumerate() {
            if let Err(e) = parse_dns_rule(i, r) {
                out.push(e);
            }
        }
        let domain = &self.networking.advanced.cluster_domain;
        let trimmed = domain.strip_suffix('.').unwrap_or(domain);
        if !domain.is_empty() && !super::naming::is_dns1123_subdomain(trimmed) {
            out.push(ConfigError::invalid(
                "networking.advanced.clusterDomain",
                format!("expected a DNS domain such as \"cluster.local\", got {domain:?}"),
            ));
        }
        out
    }

    /// The fromHost rules, with bare `from` names placed in `host_namespace` (the vCluster's
    /// namespace). Entries [`Self::validate`] rejects are left out.
    pub fn from_host_rules(&self, host_namespace: &str) -> Vec<FromHostRule> {
        let rs = &self.networking.replicate_services.from_host;
        rs.iter()
            .enumerate()
            .filter_map(|(i, m)| parse_from_host(i, m, host_namespace).ok())
            .collect()
    }

    /// The toHost rules; every target lives in `host_namespace`. Invalid entries are left out.
    pub fn to_host_rules(&self, host_namespace: &str) -> Vec<ToHostRule> {
        let rs = &self.networking.replicate_services.to_host;
        rs.iter()
            .enumerate()
            .filter_map(|(i, m)| parse_to_host(i, m, host_namespace).ok())
            .collect()
    }

    /// The resolveDNS rules, typed. Invalid entries are left out.
    pub fn dns_rules(&self) -> Vec<DnsRule> {
        self.networking
            .resolve_dns
            .iter()
            .enumerate()
            .filter_map(|(i, r)| parse_dns_rule(i, r).ok())
            .collect()
    }

    /// The cluster DNS domain without a trailing dot; `cluster.local` when unset or empty.
    pub fn cluster_domain(&self) -> &str {
        let d = self.networking.advanced.cluster_domain.as_str();
        let d = d.strip_suffix('.').unwrap_or(d);
        if d.is_empty() {
            DEFAULT_CLUSTER_DOMAIN
        } else {
            d
        }
    }

    pub fn pods_enabled(&self) -> bool {
        self.sync.to_host.pods.enabled
    }

    pub fn services_enabled(&self) -> bool {
        self.sync.to_host.services.enabled
    }

    pub fn endpoints_enabled(&self) -> bool {
        self.sync.to_host.endpoints.enabled
    }

    pub fn endpoint_slices_enabled(&self) -> bool {
        self.sync.to_host.endpoint_slices.enabled
    }

    pub fn ingresses_enabled(&self) -> bool {
        self.sync.to_host.ingresses.enabled
    }

    pub fn set_owner(&self) -> bool {
        self.experimental.sync_settings.set_owner
    }

    pub fn fallback_host_cluster(&self) -> bool {
        self.networking.advanced.fallback_host_cluster
    }

    pub fn embedded_coredns(&self) -> bool {
        self.control_plane.coredns.embedded
    }

    /// resolveDNS is served only by the embedded CoreDNS plugin; rules without it are inert.
    pub fn resolve_dns_active(&self) -> bool {
        self.control_plane.coredns.embedded && !self.networking.resolve_dns.is_empty()
    }
}

/// serde_yaml messages can quote multi-line snippets; the CLI promises one line per error.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Split `ns/name`: `Ok(None)` for a bare name, `Err` for more than one `/`.
fn split_ref(s: &str) -> Result<Option<(&str, &str)>, ()> {
    let mut parts = s.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), None, _) => Ok(None),
        (Some(ns), Some(name), None) => Ok(Some((ns, name))),
        _ => Err(()),
    }
}

fn mapping_error(path: String, expected: &str, got: &str, upstream: &str) -> ConfigError {
    ConfigError::invalid(
        path,
        format!("expected {expected}, got {got:?} ({upstream})"),
    )
}

fn check_parts(path: &str, value: &str, parts: &[&str]) -> Result<(), ConfigError> {
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::invalid(
            path,
            format!("empty namespace or name in {value:?}"),
        ));
    }
    Ok(())
}

fn parse_from_host(i: usize, m: &ServiceMapping, hns: &str) -> Result<FromHostRule, ConfigError> {
    let base = format!("networking.replicateServices.fromHost[{i}]");
    let from_path = format!("{base}.from");
    let (host_namespace, host_name) = match split_ref(&m.from) {
        Ok(Some((ns, name))) => {
            check_parts(&from_path, &m.from, &[ns, name])?;
            (ns, name)
        }
        // A bare name lives in the vCluster's host namespace (validation runs without it).
        Ok(None) => {
            check_parts(&from_path, &m.from, &[m.from.as_str()])?;
            (hns, m.from.as_str())
        }
        Err(()) => {
            return Err(mapping_error(
                from_path,
                "\"namespace/name\" or \"name\"",
                &m.from,
                MAPPING_ERROR_TO_BARE,
            ));
        }
    };
    let to_path = format!("{base}.to");
    let (virtual_namespace, virtual_name) = match split_ref(&m.to) {
        Ok(Some(pair)) => pair,
        Ok(None) => {
            return Err(mapping_error(
                to_path,
                "\"namespace/name\"",
                &m.to,
                MAPPING_ERROR_TO_NAMESPACED,
            ));
        }
        Err(()) => {
            return Err(mapping_error(
                to_path,
                "\"namespace/name\"",
                &m.to,
                MAPPING_ERROR_TO_BARE,
            ));
        }
    };
    check_parts(&to_path, &m.to, &[virtual_namespace, virtual_name])?;
    Ok(FromHostRule {
        index: i,
        host_namespace: host_namespace.to_string(),
        host_name: host_name.to_string(),
        virtual_namespace: virtual_namespace.to_string(),
        virtual_name: virtual_name.to_string(),
    })
}

fn parse_to_host(i: usize, m: &ServiceMapping, hns: &str) -> Result<ToHostRule, ConfigError> {
    let base = format!("networking.replicateServices.toHost[{i}]");
    let from_path = format!("{base}.from");
    let (virtual_namespace, virtual_name) = match split_ref(&m.from) {
        Ok(Some(pair)) => pair,
        _ => {
            return Err(mapping_error(
                from_path,
                "\"namespace/name\"",
                &m.from,
                MAPPING_ERROR_TO_BARE,
            ));
        }
    };
    check_parts(&from_path, &m.from, &[virtual_namespace, virtual_name])?;
    let to_path = format!("{base}.to");
    if split_ref(&m.to) != Ok(None) {
        return Err(mapping_error(
            to_path,
            "a service name without namespace (it is created in the vCluster's host namespace)",
            &m.to,
            MAPPING_ERROR_TO_BARE,
        ));
    }
    check_parts(&to_path, &m.to, &[m.to.as_str()])?;
    Ok(ToHostRule {
        index: i,
        virtual_namespace: virtual_namespace.to_string(),
        virtual_name: virtual_name.to_string(),
        host_namespace: hns.to_string(),
        host_name: m.to.clone(),
    })
}

/// Non-empty string option: vCluster's Go structs treat `""` like unset.
fn set(o: &Option<String>) -> Option<&str> {
    o.as_deref().filter(|s| !s.is_empty())
}

fn wildcard_at_edge(s: &str) -> bool {
    s.starts_with('*') || s.ends_with('*')
}

/// The rules of `pkg/config/coredns_plugin_validation.go`, in its order, with its messages.
fn parse_dns_rule(i: usize, r: &ResolveDnsRule) -> Result<DnsRule, ConfigError> {
    let path = format!("networking.resolveDNS[{i}]");
    let t = &r.target;
    let mut options = 0;
    let mut source = None;
    if let Some(service) = set(&r.service) {
        options += 1;
        if service.matches('/').count() != 1 {
            return Err(ConfigError::invalid(
                format!("{path}.service"),
                format!(
                    "error validating networking.resolveDNS[{i}].service: expected format namespace/name, but got {service}"
                ),
            ));
        }
        let (namespace, name) = service.split_once('/').unwrap_or_default();
        source = Some(DnsSource::Service {
            namespace: namespace.to_string(),
            name: name.to_string(),
        });
    }
    if let Some(hostname) = set(&r.hostname) {
        let stars = hostname.matches('*').count();
        let err = |msg: String| {
            ConfigError::invalid(
                format!("{path}.hostname"),
                format!("error validating networking.resolveDNS[{i}].hostname: {msg}"),
            )
        };
        if stars > 1 {
            return Err(err(format!(
                "can only contain a maximum of one wildcard, but got {hostname}"
            )));
        } else if stars == 1 {
            match set(&t.hostname) {
                None => {
                    return Err(err(
                        "when using wildcard hostname, target.hostname is required".to_string(),
                    ));
                }
                Some(th) if th.matches('*').count() != 1 => {
                    return Err(err(
                        "when using wildcard hostname, target.hostname needs to contain a single wildcard as well"
                            .to_string(),
                    ));
                }
                Some(_) => {}
            }
            if !wildcard_at_edge(hostname) {
                return Err(err(format!(
                    "when using wildcard hostname, needs to be as a suffix or prefix, but got {hostname}"
                )));
            }
        }
        options += 1;
        source = Some(DnsSource::Hostname {
            hostname: hostname.to_string(),
        });
    }
    if let Some(namespace) = set(&r.namespace) {
        if set(&t.host_namespace).is_none() {
            return Err(ConfigError::invalid(
                format!("{path}.namespace"),
                format!(
                    "error validating networking.resolveDNS[{i}].namespace: when using namespace, target.hostNamespace is required"
                ),
            ));
        }
        options += 1;
        source = Some(DnsSource::Namespace {
            namespace: namespace.to_string(),
        });
    } else if set(&t.host_namespace).is_some() {
        return Err(ConfigError::invalid(
            path.clone(),
            format!(
                "error validating networking.resolveDNS[{i}]: when using target.hostNamespace, .namespace is required"
            ),
        ));
    }
    let source = match (options, source) {
        (1, Some(source)) => source,
        (0, _) | (_, None) => {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "at least one option required for networking.resolveDNS[{i}] (set one of hostname, service, namespace)"
                ),
            ));
        }
        _ => {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "only a single option allowed for networking.resolveDNS[{i}] (set only one of hostname, service, namespace)"
                ),
            ));
        }
    };
    let target = parse_dns_target(t).map_err(|detail| {
        ConfigError::invalid(
            format!("{path}.target"),
            format!("error validating networking.resolveDNS[{i}].to: {detail}"),
        )
    })?;
    Ok(DnsRule {
        index: i,
        source,
        target,
    })
}

fn parse_dns_target(t: &ResolveDnsTarget) -> Result<DnsTarget, String> {
    let mut found = Vec::new();
    if let Some(hostname) = set(&t.hostname) {
        let stars = hostname.matches('*').count();
        if stars > 1 {
            return Err(format!(
                "target can only contain a maximum of one wildcard, but got {hostname}"
            ));
        } else if stars == 1 && !wildcard_at_edge(hostname) {
            return Err(format!(
                "when using wildcard hostname, needs to be as a suffix or prefix, but got {hostname}"
            ));
        }
        found.push(DnsTarget::Hostname {
            hostname: hostname.to_string(),
        });
    }
    if let Some(ip) = set(&t.ip) {
        found.push(DnsTarget::Ip { ip: ip.to_string() });
    }
    if let Some(ns) = set(&t.host_namespace) {
        found.push(DnsTarget::HostNamespace {
            namespace: ns.to_string(),
        });
    }
    if let Some(svc) = set(&t.host_service) {
        let Some((namespace, name)) = svc
            .split_once('/')
            .filter(|_| svc.matches('/').count() == 1)
        else {
            return Err(format!(
                "expected namespace/name format for .to.service, but got {svc}"
            ));
        };
        found.push(DnsTarget::HostService {
            namespace: namespace.to_string(),
            name: name.to_string(),
        });
    }
    if let Some(vs) = set(&t.v_cluster_service) {
        let parts: Vec<&str> = vs.split('/').collect();
        let [host_namespace, vcluster, namespace, service] = parts.as_slice() else {
            return Err(format!(
                "expected hostNamespace/vClusterName/vClusterNamespace/vClusterService format for .to.vClusterService, but got {vs}"
            ));
        };
        found.push(DnsTarget::VClusterService {
            host_namespace: host_namespace.to_string(),
            vcluster: vcluster.to_string(),
            namespace: namespace.to_string(),
            service: service.to_string(),
        });
    }
    match found.len() {
        0 => Err("at least one option required for .to".to_string()),
        1 => Ok(found.remove(0)),
        _ => Err("only a single option allowed for .to".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART_DEFAULTS: &str = include_str!("../../tests/fixtures/vcluster/chart-defaults.yaml");
    const FULL: &str = include_str!("../../tests/fixtures/vcluster/ingress-replicate-dns.yaml");
    const MISTAKES: &str = include_str!("../../tests/fixtures/vcluster/mistakes.yaml");

    fn invalid_message(yaml: &str) -> String {
        VClusterConfig::from_yaml(yaml).unwrap_err().to_string()
    }

    #[test]
    fn chart_defaults_equal_the_built_in_defaults() {
        let cfg = VClusterConfig::from_yaml(CHART_DEFAULTS).unwrap();
        assert_eq!(cfg, VClusterConfig::default());
        assert!(cfg.pods_enabled() && cfg.services_enabled() && cfg.endpoints_enabled());
        assert!(!cfg.ingresses_enabled());
        assert!(cfg.set_owner());
        assert!(!cfg.embedded_coredns());
        assert_eq!(cfg.cluster_domain(), "cluster.local");
        assert!(cfg.from_host_rules("vcluster-x").is_empty());
    }

    #[test]
    fn empty_and_comment_only_files_give_defaults() {
        assert_eq!(
            VClusterConfig::from_yaml("").unwrap(),
            VClusterConfig::default()
        );
        assert_eq!(
            VClusterConfig::from_yaml("# nothing here\n").unwrap(),
            VClusterConfig::default()
        );
    }

    #[test]
    fn null_sections_keep_the_defaults() {
        let cfg = VClusterConfig::from_yaml("sync:\nnetworking:\n  replicateServices:\n").unwrap();
        assert_eq!(cfg, VClusterConfig::default());
    }

    #[test]
    fn full_file_is_parsed_into_typed_rules() {
        let cfg = VClusterConfig::from_yaml(FULL).unwrap();
        assert!(cfg.ingresses_enabled());
        assert!(cfg.pods_enabled());
        assert!(!cfg.sync.to_host.pods.rewrite_hosts.enabled);
        assert!(cfg.sync.from_host.ingress_classes.enabled);
        assert_eq!(
            cfg.sync.from_host.ingress_classes.selector.match_labels["team"],
            "payments"
        );
        assert_eq!(
            cfg.sync
                .from_host
                .ingress_classes
                .selector
                .match_expressions
                .len(),
            1
        );
        assert!(!cfg.set_owner());
        assert!(cfg.embedded_coredns());
        assert!(cfg.resolve_dns_active());
        assert!(cfg.fallback_host_cluster());
        assert!(!cfg.networking.advanced.proxy_kubelets.by_hostname);
        assert!(cfg.networking.advanced.proxy_kubelets.by_ip);
        assert_eq!(cfg.cluster_domain(), "corp.internal");

        assert_eq!(
            cfg.from_host_rules("vcluster-prod"),
            vec![
                FromHostRule {
                    index: 0,
                    host_namespace: "db-ns".into(),
                    host_name: "postgres".into(),
                    virtual_namespace: "apps".into(),
                    virtual_name: "postgres".into(),
                },
                FromHostRule {
                    index: 1,
                    host_namespace: "vcluster-prod".into(),
                    host_name: "redis".into(),
                    virtual_namespace: "cache".into(),
                    virtual_name: "redis".into(),
                },
            ]
        );
        assert_eq!(
            cfg.to_host_rules("vcluster-prod"),
            vec![ToHostRule {
                index: 0,
                virtual_namespace: "default".into(),
                virtual_name: "nginx".into(),
                host_namespace: "vcluster-prod".into(),
                host_name: "nginx-shared".into(),
            }]
        );

        let rules = cfg.dns_rules();
        assert_eq!(rules.len(), 6);
        assert_eq!(
            rules[1],
            DnsRule {
                index: 1,
                source: DnsSource::Hostname {
                    hostname: "*.svc.kubernetes".into()
                },
                target: DnsTarget::Hostname {
                    hostname: "*.svc.cluster.local".into()
                },
            }
        );
        assert_eq!(
            rules[2].target,
            DnsTarget::Ip {
                ip: "10.1.2.3".into()
            }
        );
        assert_eq!(
            rules[3].source,
            DnsSource::Service {
                namespace: "my-namespace".into(),
                name: "my-svc".into()
            }
        );
        assert_eq!(
            rules[3].target,
            DnsTarget::HostService {
                namespace: "dns-test".into(),
                name: "nginx-svc".into()
            }
        );
        assert_eq!(
            rules[4].target,
            DnsTarget::VClusterService {
                host_namespace: "team-b".into(),
                vcluster: "vc-b".into(),
                namespace: "default".into(),
                service: "billing".into(),
            }
        );
        assert_eq!(
            rules[5],
            DnsRule {
                index: 5,
                source: DnsSource::Namespace {
                    namespace: "external".into()
                },
                target: DnsTarget::HostNamespace {
                    namespace: "shared-services".into()
                },
            }
        );
    }

    #[test]
    fn mistakes_file_reports_every_problem_with_its_path() {
        let parsed: VClusterConfig = serde_yaml::from_str(MISTAKES).unwrap();
        let problems: Vec<String> = parsed.problems().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            problems,
            vec![
                format!(
                    "networking.replicateServices.fromHost[1].to: expected \"namespace/name\", got \"postgres\" ({MAPPING_ERROR_TO_NAMESPACED})"
                ),
                format!(
                    "networking.replicateServices.toHost[0].from: expected \"namespace/name\", got \"nginx\" ({MAPPING_ERROR_TO_BARE})"
                ),
                format!(
                    "networking.replicateServices.toHost[1].to: expected a service name without namespace (it is created in the vCluster's host namespace), got \"other-ns/web\" ({MAPPING_ERROR_TO_BARE})"
                ),
                "networking.resolveDNS[0].hostname: error validating networking.resolveDNS[0].hostname: can only contain a maximum of one wildcard, but got *.*.example.com".to_string(),
                "networking.resolveDNS[1]: at least one option required for networking.resolveDNS[1] (set one of hostname, service, namespace)".to_string(),
                "networking.resolveDNS[2]: only a single option allowed for networking.resolveDNS[2] (set only one of hostname, service, namespace)".to_string(),
                "networking.resolveDNS[3].target: error validating networking.resolveDNS[3].to: expected namespace/name format for .to.service, but got b".to_string(),
                "networking.advanced.clusterDomain: expected a DNS domain such as \"cluster.local\", got \"Cluster_Local\"".to_string(),
            ]
        );
        // from_yaml stops at the first one; the accessors skip the bad entries.
        assert_eq!(invalid_message(MISTAKES), problems[0]);
        assert_eq!(parsed.from_host_rules("h").len(), 1);
        assert!(parsed.to_host_rules("h").is_empty());
        assert!(parsed.dns_rules().is_empty());
        assert_eq!(
            VClusterConfig::from_yaml(MISTAKES).unwrap_err().path(),
            Some("networking.replicateServices.fromHost[1].to")
        );
    }

    #[test]
    fn wrong_types_name_the_path_and_position() {
        let msg = invalid_message("sync:\n  toHost:\n    pods:\n      enabled: maybe\n");
        assert!(
            msg.starts_with("sync.toHost.pods.enabled: invalid type"),
            "{msg}"
        );
        assert!(msg.contains("line 4"), "{msg}");
        assert!(!msg.contains('\n'));

        let msg = invalid_message("networking:\n  replicateServices:\n    fromHost: nope\n");
        assert!(
            msg.starts_with("networking.replicateServices.fromHost: invalid type"),
            "{msg}"
        );
        let msg = invalid_message("networking:\n  resolveDNS:\n    - hostname: [a]\n");
        assert!(
            msg.starts_with("networking.resolveDNS[0].hostname: invalid type"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let msg = invalid_message("sync:\n  toHost: [\n  pods: {\n");
        assert!(!msg.is_empty());
        assert!(!msg.contains('\n'), "{msg}");
        let msg = invalid_message("- just\n- a list\n");
        assert!(msg.contains("invalid type"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let cfg = VClusterConfig::from_yaml(
            "sync:\n  toHost:\n    services:\n      enabled: false\n      patches: [{path: x}]\nfoo: {bar: 1}\n",
        )
        .unwrap();
        assert!(!cfg.services_enabled());
        assert!(cfg.endpoints_enabled());
    }

    fn mapping(from: &str, to: &str) -> ServiceMapping {
        ServiceMapping {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn replicate_services_parse_rules() {
        // fromHost: bare from → HNS; `a/b/c` anywhere → the generic upstream message.
        assert!(parse_from_host(0, &mapping("svc", "ns/svc"), "h").is_ok());
        let e = parse_from_host(0, &mapping("a/b/c", "ns/svc"), "h").unwrap_err();
        assert!(
            e.to_string()
                .ends_with(&format!("({MAPPING_ERROR_TO_BARE})"))
        );
        assert_eq!(
            e.path(),
            Some("networking.replicateServices.fromHost[0].from")
        );
        let e = parse_from_host(2, &mapping("a/b", "x/y/z"), "h").unwrap_err();
        assert_eq!(
            e.path(),
            Some("networking.replicateServices.fromHost[2].to")
        );
        assert!(
            e.to_string()
                .ends_with(&format!("({MAPPING_ERROR_TO_BARE})"))
        );
        let e = parse_from_host(0, &mapping("a/", "x/y"), "h").unwrap_err();
        assert_eq!(
            e.to_string(),
            "networking.replicateServices.fromHost[0].from: empty namespace or name in \"a/\""
        );
        let e = parse_from_host(0, &mapping("a/b", ""), "h").unwrap_err();
        assert!(e.to_string().contains(MAPPING_ERROR_TO_NAMESPACED));
        // toHost: from must be namespaced, to must be bare.
        let r = parse_to_host(3, &mapping("default/nginx", "nginx-shared"), "hns").unwrap();
        assert_eq!(r.host_namespace, "hns");
        assert_eq!(r.index, 3);
        let e = parse_to_host(0, &mapping("a/b/c", "x"), "h").unwrap_err();
        assert!(e.to_string().contains(MAPPING_ERROR_TO_BARE));
        let e = parse_to_host(0, &mapping("a/b", ""), "h").unwrap_err();
        assert_eq!(e.path(), Some("networking.replicateServices.toHost[0].to"));
    }

    fn dns(yaml: &str) -> Result<DnsRule, ConfigError> {
        let rule: ResolveDnsRule = serde_yaml::from_str(yaml).unwrap();
        parse_dns_rule(4, &rule)
    }

    #[test]
    fn resolve_dns_rules_and_messages() {
        let msg = |yaml: &str| dns(yaml).unwrap_err().to_string();
        assert!(dns("hostname: '*.a.com'\ntarget: {hostname: '*.b.com'}").is_ok());
        assert!(dns("hostname: 'a.*'\ntarget: {hostname: 'b.*'}").is_ok());
        assert_eq!(
            msg("service: a/b/c\ntarget: {ip: 1.2.3.4}"),
            "networking.resolveDNS[4].service: error validating networking.resolveDNS[4].service: expected format namespace/name, but got a/b/c"
        );
        assert_eq!(
            msg("service: ab\ntarget: {ip: 1.2.3.4}"),
            "networking.resolveDNS[4].service: error validating networking.resolveDNS[4].service: expected format namespace/name, but got ab"
        );
        assert_eq!(
            msg("hostname: '*.a.com'\ntarget: {ip: 1.2.3.4}"),
            "networking.resolveDNS[4].hostname: error validating networking.resolveDNS[4].hostname: when using wildcard hostname, target.hostname is required"
        );
        assert_eq!(
            msg("hostname: '*.a.com'\ntarget: {hostname: b.com}"),
            "networking.resolveDNS[4].hostname: error validating networking.resolveDNS[4].hostname: when using wildcard hostname, target.hostname needs to contain a single wildcard as well"
        );
        assert_eq!(
            msg("hostname: 'a.*.com'\ntarget: {hostname: '*.b.com'}"),
            "networking.resolveDNS[4].hostname: error validating networking.resolveDNS[4].hostname: when using wildcard hostname, needs to be as a suffix or prefix, but got a.*.com"
        );
        assert_eq!(
            msg("namespace: ns\ntarget: {ip: 1.2.3.4}"),
            "networking.resolveDNS[4].namespace: error validating networking.resolveDNS[4].namespace: when using namespace, target.hostNamespace is required"
        );
        assert_eq!(
            msg("hostname: a.com\ntarget: {hostNamespace: x}"),
            "networking.resolveDNS[4]: error validating networking.resolveDNS[4]: when using target.hostNamespace, .namespace is required"
        );
        // Target errors (upstream collapses them to `.to`; we keep its words and add the detail).
        let to = |detail: &str| {
            format!(
                "networking.resolveDNS[4].target: error validating networking.resolveDNS[4].to: {detail}"
            )
        };
        assert_eq!(
            msg("hostname: a.com\ntarget: {}"),
            to("at least one option required for .to")
        );
        assert_eq!(
            msg("hostname: a.com\ntarget: {ip: 1.1.1.1, hostname: b.com}"),
            to("only a single option allowed for .to")
        );
        assert_eq!(
            msg("hostname: a.com\ntarget: {hostname: '*.*.b'}"),
            to("target can only contain a maximum of one wildcard, but got *.*.b")
        );
        assert_eq!(
            msg("hostname: '*.a'\ntarget: {hostname: 'b.*.c'}"),
            to("when using wildcard hostname, needs to be as a suffix or prefix, but got b.*.c")
        );
        assert_eq!(
            msg("service: a/b\ntarget: {vClusterService: a/b/c}"),
            to(
                "expected hostNamespace/vClusterName/vClusterNamespace/vClusterService format for .to.vClusterService, but got a/b/c"
            )
        );
        // Empty strings count as unset, as in vCluster's Go structs.
        assert!(dns("hostname: a.com\nservice: ''\ntarget: {ip: 1.1.1.1, hostname: ''}").is_ok());
    }

    #[test]
    fn cluster_domain_falls_back_and_drops_the_trailing_dot() {
        let cfg =
            VClusterConfig::from_yaml("networking:\n  advanced:\n    clusterDomain: ''\n").unwrap();
        assert_eq!(cfg.cluster_domain(), "cluster.local");
        let cfg = VClusterConfig::from_yaml(
            "networking:\n  advanced:\n    clusterDomain: 'corp.example.'\n",
        )
        .unwrap();
        assert_eq!(cfg.cluster_domain(), "corp.example");
    }
}
