//! Everything a one-shot command needs before it can look at pairs: clients for both contexts,
//! the vcluster.yaml in force, and a snapshot read through them.

use crate::cluster::clients::{self, ClientError, Clients};
use crate::cluster::config_source::{self, ConfigError, LoadedConfig};
use crate::cluster::fetch::{self, HostScope};
use crate::cluster::snapshot::{ConnState, Side, Snapshot};
use std::path::PathBuf;

/// Already-resolved connection settings (the CLI resolves `vcluster_<n>_<ns>_<host>` context
/// names and defaults before filling this in).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--kubeconfig`; `None` = `$KUBECONFIG` (several files merged) or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    pub virtual_context: String,
    pub host_context: String,
    pub vcluster: String,
    pub host_namespace: String,
    /// `--config FILE`; `None` = the host Secret `vc-config-<vc>`, else defaults.
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Clients(#[from] ClientError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

pub struct Session {
    pub clients: Clients,
    pub config: LoadedConfig,
    pub scope: HostScope,
}

/// Build both clients and find the config.
pub async fn connect(opts: &ConnectOptions) -> Result<Session, SessionError> {
    let kc = clients::load_kubeconfig(opts.kubeconfig.as_deref())?;
    let clients = clients::clients(&kc, &opts.virtual_context, &opts.host_context).await?;
    let config = config_source::discover(
        opts.config_file.as_deref(),
        Some(&clients.host.client),
        &opts.vcluster,
        &opts.host_namespace,
    )
    .await?;
    let scope = HostScope::new(&opts.vcluster, &opts.host_namespace, &config.config);
    Ok(Session {
        clients,
        config,
        scope,
    })
}

impl Session {
    /// Start the watch caches of both sides (the TUI's live view). Needs a tokio runtime.
    pub fn watch(&self) -> crate::cluster::watch::Watching {
        crate::cluster::watch::spawn(
            &self.clients,
            crate::cluster::watch::WatchOptions::new(self.scope.clone()),
        )
    }

    /// Read both sides once.
    pub async fn snapshot(&self) -> Snapshot {
        fetch::fetch_snapshot(&self.clients, &self.scope).await
    }
}

/// What `check` and `fix` start with: connect, say the config warning, read both sides once.
/// `None` when that failed; the error lines are written to `err` (the command exits 2).
pub async fn connect_and_read(
    opts: &ConnectOptions,
    err: &mut dyn std::io::Write,
) -> std::io::Result<Option<(Session, Snapshot)>> {
    let session = match connect(opts).await {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    let snap = session.snapshot().await;
    let problems = side_errors(&snap);
    if !problems.is_empty() {
        // One line even when both sides are down; the config warning that an unreachable host
        // causes would only repeat it.
        writeln!(err, "error: {}", problems.join("; and "))?;
        return Ok(None);
    }
    if let Some(w) = &session.config.warning {
        writeln!(err, "{w}")?;
    }
    Ok(Some((session, snap)))
}

/// One line per side that could not be read (it names the context and the server URL).
pub fn side_errors(snap: &Snapshot) -> Vec<String> {
    let one = |s: &Side| match &s.conn {
        ConnState::Error { message } | ConnState::Retrying { message, .. } => Some(message.clone()),
        _ => None,
    };
    [one(&snap.virtual_side), one(&snap.host)]
        .into_iter()
        .flatten()
        .collect()
}
