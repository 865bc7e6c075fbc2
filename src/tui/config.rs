//! The user config: `$XDG_CONFIG_HOME/vinspect/config.yaml`, else `~/.config/vinspect/config.yaml`,
//! on every OS (macOS included: operators expect the same dotfile everywhere).
//!
//! ```yaml
//! theme: colorblind          # a built-in name or a path
//! read_only: true            # start read-only unless the CLI says otherwise
//! mouse: true
//! keys:                      # per mode: key → command (or none to unbind)
//!   table: { x: fix, f: none }
//! ```

use super::keymap::{Keymap, KeymapError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub theme: Option<String>,
    pub read_only: Option<bool>,
    pub mouse: Option<bool>,
    #[serde(default)]
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: cannot read: {message}")]
    Read { path: String, message: String },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config {path}: {source}")]
    Keys {
        path: String,
        #[source]
        source: KeymapError,
    },
}

/// Where the config lives. `XDG_CONFIG_HOME` counts only when absolute (the XDG spec says
/// relative values are invalid and must be ignored).
pub fn config_path(xdg_config_home: Option<&str>, home: Option<&Path>) -> Option<PathBuf> {
    match xdg_config_home {
        Some(x) if !x.is_empty() && Path::new(x).is_absolute() => {
            Some(Path::new(x).join("vinspect").join("config.yaml"))
        }
        _ => home.map(|h| h.join(".config").join("vinspect").join("config.yaml")),
    }
}

/// The config path for this process's environment.
pub fn default_config_path() -> Option<PathBuf> {
    let xdg = std::env::var("XDG_CONFIG_HOME").ok();
    config_path(xdg.as_deref(), dirs::home_dir().as_deref())
}

impl UserConfig {
    pub fn parse(text: &str, path: &str) -> Result<UserConfig, ConfigError> {
        if text.trim().is_empty() {
            return Ok(UserConfig::default());
        }
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// Load from `path`; a missing file is the empty config.
    pub fn load(path: &Path) -> Result<UserConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => UserConfig::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserConfig::default()),
            Err(e) => Err(ConfigError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// The default keymap with this config's overrides.
    pub fn keymap(&self, path: &str) -> Result<Keymap, ConfigError> {
        Keymap::default()
            .with_overrides(&self.keys)
            .map_err(|source| ConfigError::Keys {
                path: path.to_string(),
                source,
            })
    }
}
