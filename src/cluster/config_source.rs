//! Which vcluster.yaml applies: `--config FILE`, else the host Secret `vc-config-<vc>` (key
//! `config.yaml`), else vCluster's defaults with a warning line.

use crate::cluster::snapshot::{ObjKey, Side};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::Secret;
use std::path::{Path, PathBuf};

/// Key of the config inside the Secret.
pub const CONFIG_KEY: &str = "config.yaml";

/// Where the config in use came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigOrigin {
    File(PathBuf),
    Secret { namespace: String, name: String },
    Defaults,
}

impl std::fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigOrigin::File(p) => write!(f, "file {}", p.display()),
            ConfigOrigin::Secret { namespace, name } => write!(f, "host secret {namespace}/{name}"),
            ConfigOrigin::Defaults => f.write_str("vCluster defaults"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: VClusterConfig,
    pub origin: ConfigOrigin,
    /// A line to show the operator (defaults in use, secret unreadable, …).
    pub warning: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read vcluster.yaml {path}: {message}")]
    Read { path: String, message: String },
    #[error("vcluster.yaml {path} is invalid: {message}")]
    Parse { path: String, message: String },
}

pub fn parse_config(text: &str) -> Result<VClusterConfig, String> {
    serde_yaml::from_str::<VClusterConfig>(text).map_err(|e| e.to_string())
}

/// Read `--config FILE` (a bad file is an error: the operator asked for it).
pub fn config_from_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    // Validated too: a file the operator named must be one vCluster would accept, and the
    // error names the YAML path of the offending value.
    let config = VClusterConfig::from_yaml(&text).map_err(|e| ConfigError::Parse {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(LoadedConfig {
        config,
        origin: ConfigOrigin::File(path.to_path_buf()),
        warning: None,
    })
}

/// The config held in a `vc-config-<vc>` Secret.
pub fn config_from_secret(secret: &Secret) -> Result<VClusterConfig, String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(CONFIG_KEY))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(CONFIG_KEY))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| format!("it has no key {CONFIG_KEY}"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{CONFIG_KEY} is not UTF-8"))?;
    parse_config(&text)
}

/// Defaults, with the line that says why.
pub fn defaults(why: String) -> LoadedConfig {
    LoadedConfig {
        config: VClusterConfig::default(),
        origin: ConfigOrigin::Defaults,
        warning: Some(format!("warning: {why}; using vCluster's default config")),
    }
}

/// The config in the vCluster's Secret `host_namespace/name`, or defaults if it holds none.
fn from_found_secret(secret: &Secret, host_namespace: &str, name: String) -> LoadedConfig {
    match config_from_secret(secret) {
        Ok(config) => LoadedConfig {
            config,
            origin: ConfigOrigin::Secret {
                namespace: host_namespace.to_string(),
                name,
            },
            warning: None,
        },
        Err(e) => defaults(format!(
            "host secret {host_namespace}/{name} holds no usable config ({e})"
        )),
    }
}

/// Pick the config from a host side that was read (the Secret is cached there).
pub fn config_from_host_side(host: &Side, vcluster: &str, host_namespace: &str) -> LoadedConfig {
    let name = naming::config_secret_name(vcluster);
    match host.secrets.get(&ObjKey::new(host_namespace, &name)) {
        Some(secret) => from_found_secret(secret, host_namespace, name),
        None => defaults(format!(
            "host secret {host_namespace}/{name} not found or not readable"
        )),
    }
}

/// `--config FILE` if given, else the Secret read through the host client, else defaults.
pub async fn discover(
    file: Option<&Path>,
    host: Option<&kube::Client>,
    vcluster: &str,
    host_namespace: &str,
) -> Result<LoadedConfig, ConfigError> {
    if let Some(path) = file {
        return config_from_file(path);
    }
    let name = naming::config_secret_name(vcluster);
    let Some(client) = host else {
        return Ok(defaults(
            "no host cluster to read the config from".to_string(),
        ));
    };
    let api = kube::Api::<Secret>::namespaced(client.clone(), host_namespace);
    Ok(match api.get_opt(&name).await {
        Ok(Some(secret)) => from_found_secret(&secret, host_namespace, name),
        Ok(None) => defaults(format!("host secret {host_namespace}/{name} not found")),
        Err(e) => defaults(format!(
            "cannot read host secret {host_namespace}/{name}: {}",
            crate::cluster::fetch::one_line(&e.to_string())
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::snapshot::Obj;
    use k8s_openapi::ByteString;

    fn secret(yaml: &str) -> Secret {
        let mut s = Secret::default();
        s.metadata.namespace = Some("vcluster-vc".into());
        s.metadata.name = Some("vc-config-vc".into());
        s.data = Some([(CONFIG_KEY.to_string(), ByteString(yaml.as_bytes().to_vec()))].into());
        s
    }

    #[test]
    fn secret_config_is_used_and_bad_or_missing_ones_fall_back_with_a_warning() {
        let mut side = Side::default();
        let got = config_from_host_side(&side, "vc", "vcluster-vc");
        assert_eq!(got.origin, ConfigOrigin::Defaults);
        assert!(
            got.warning
                .unwrap()
                .contains("vcluster-vc/vc-config-vc not found")
        );

        side.secrets.insert(
            ObjKey::new("vcluster-vc", "vc-config-vc"),
            Obj::new(secret(
                "sync:\n  toHost:\n    ingresses:\n      enabled: true\n",
            )),
        );
        let got = config_from_host_side(&side, "vc", "vcluster-vc");
        assert!(got.config.sync.to_host.ingresses.enabled);
        assert!(got.warning.is_none());
        assert_eq!(
            got.origin.to_string(),
            "host secret vcluster-vc/vc-config-vc"
        );

        side.secrets.insert(
            ObjKey::new("vcluster-vc", "vc-config-vc"),
            Obj::new(secret("sync: [not, a, map]")),
        );
        let got = config_from_host_side(&side, "vc", "vcluster-vc");
        assert_eq!(got.origin, ConfigOrigin::Defaults);
        assert!(got.warning.unwrap().contains("holds no usable config"));
    }

    #[test]
    fn config_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vc.yaml");
        std::fs::write(&p, "networking: 3\n").unwrap();
        let err = config_from_file(&p).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("vcluster.yaml {} is invalid", p.display())),
            "{err}"
        );
        let err = config_from_file(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read vcluster.yaml"), "{err}");
    }
}
