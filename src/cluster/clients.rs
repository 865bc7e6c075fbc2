//! One kube client per kubeconfig context. The kubeconfig is read by
//! [`crate::vcluster::context::load_kubeconfig`] (as kubectl does); here exec credential plugins
//! are forced non-interactive: with the TUI owning the terminal a plugin must neither read stdin
//! nor write to stderr.

use crate::vcluster::context::{self, ContextError, context_names};
use kube::config::{ExecInteractiveMode, KubeConfigOptions, Kubeconfig};
use std::path::Path;
use std::time::Duration;

/// A client and the names an error line needs.
#[derive(Clone)]
pub struct Target {
    pub context: String,
    pub server: String,
    pub client: kube::Client,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish()
    }
}

/// The two clusters of one vCluster.
#[derive(Debug, Clone)]
pub struct Clients {
    pub virtual_: Target,
    pub host: Target,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Kubeconfig(#[from] ContextError),
    #[error("context {context:?} not found in kubeconfig (available: {available})")]
    NoContext { context: String, available: String },
    #[error("kubeconfig has no current-context; pass --context")]
    NoCurrentContext,
    #[error("cannot build a client for context {context:?}: {message}")]
    Build { context: String, message: String },
}

/// Read and merge the kubeconfig, with every exec plugin made non-interactive.
pub fn load_kubeconfig(explicit: Option<&Path>) -> Result<Kubeconfig, ClientError> {
    let mut kc = context::load_kubeconfig(explicit)?.config;
    make_noninteractive(&mut kc);
    Ok(kc)
}

/// Force `interactiveMode: Never` on every exec plugin (kube then pipes stdin and captures stderr).
pub fn make_noninteractive(kc: &mut Kubeconfig) {
    for ai in kc.auth_infos.iter_mut() {
        if let Some(exec) = ai.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
}

/// The context to use: the given one (must exist) or the kubeconfig's current context.
pub fn resolve_context(kc: &Kubeconfig, wanted: Option<&str>) -> Result<String, ClientError> {
    let name = match wanted {
        Some(n) => n.to_string(),
        None => kc
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or(ClientError::NoCurrentContext)?,
    };
    if kc.contexts.iter().any(|c| c.name == name) {
        Ok(name)
    } else {
        Err(ClientError::NoContext {
            context: name,
            available: context_names(kc).join(", "),
        })
    }
}

/// Server URL of a context (for error lines), empty when the kubeconfig does not say.
pub fn server_of(kc: &Kubeconfig, context: &str) -> String {
    let cluster = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    cluster
        .and_then(|cl| kc.clusters.iter().find(|c| c.name == cl))
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default()
}

/// kube's exec-plugin errors dump the whole command line and a Rust `Output` struct; say
/// which plugin failed, how, and what it printed, on one line.
fn explain_build_error(kc: &Kubeconfig, context: &str, message: &str) -> String {
    if !message.contains("auth exec") {
        return one_line(message);
    }
    let command = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.as_deref())
        .and_then(|u| kc.auth_infos.iter().find(|a| a.name == u))
        .and_then(|a| a.auth_info.as_ref()?.exec.as_ref()?.command.clone())
        .unwrap_or_else(|| "?".to_string());
    let how = if let Some(rest) = message.split("unable to run auth exec: ").nth(1) {
        format!("cannot be run ({})", one_line(rest))
    } else if let Some(rest) = message.split("failed with status ").nth(1) {
        let status = rest.split(": Output").next().unwrap_or(rest);
        let stderr = rest
            .split("stderr: \"")
            .nth(1)
            .and_then(|e| e.rsplit_once('"'))
            .map(|(e, _)| e.replace("\\n", " ").trim().to_string())
            .filter(|e| !e.is_empty());
        match stderr {
            Some(e) => format!("failed ({status}): {e}"),
            None => format!("failed ({status}) without saying why"),
        }
    } else {
        format!("failed: {}", one_line(message))
    };
    format!("credential plugin {command:?} {how}; run it by hand (or log in again) and retry")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A client for one context, with timeouts so an unreachable server fails fast.
pub async fn client_for(kc: &Kubeconfig, context: &str) -> Result<Target, ClientError> {
    let context = resolve_context(kc, Some(context))?;
    let opts = KubeConfigOptions {
        context: Some(context.clone()),
        cluster: None,
        user: None,
    };
    let mut cfg = kube::Config::from_custom_kubeconfig(kc.clone(), &opts)
        .await
        .map_err(|e| ClientError::Build {
            message: explain_build_error(kc, &context, &e.to_string()),
            context: context.clone(),
        })?;
    cfg.connect_timeout = Some(Duration::from_secs(5));
    let server = cfg
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let client = kube::Client::try_from(cfg).map_err(|e| ClientError::Build {
        message: explain_build_error(kc, &context, &e.to_string()),
        context: context.clone(),
    })?;
    Ok(Target {
        context,
        server,
        client,
    })
}

/// Clients for the virtual and the host context.
pub async fn clients(
    kc: &Kubeconfig,
    virtual_context: &str,
    host_context: &str,
) -> Result<Clients, ClientError> {
    // Side by side: building a client can run an exec credential plugin (often a second or
    // more against a cloud), and the two contexts do not depend on each other.
    let (virtual_, host) = tokio::try_join!(
        client_for(kc, virtual_context),
        client_for(kc, host_context)
    )?;
    Ok(Clients { virtual_, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: a
  context: {cluster: a, user: a}
users:
- name: a
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: /bin/false
      interactiveMode: IfAvailable
"#;

    const B: &str = r#"
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: b
  cluster: {server: "https://127.0.0.1:2"}
- name: a
  cluster: {server: "https://shadowed:9"}
contexts:
- name: b
  context: {cluster: b, user: b}
users:
- name: b
  user: {token: abc}
"#;

    #[test]
    fn kubeconfig_env_lists_several_files_merged_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, A).unwrap();
        std::fs::write(&b, B).unwrap();
        let missing = dir.path().join("missing");
        let joined = std::env::join_paths([&a, &missing, &b]).unwrap();
        let mut kc = context::load_kubeconfig_with(None, Some(&joined), None)
            .unwrap()
            .config;
        make_noninteractive(&mut kc);
        assert_eq!(kc.current_context.as_deref(), Some("a"));
        assert_eq!(context_names(&kc), vec!["a", "b"]);
        assert_eq!(server_of(&kc, "a"), "https://127.0.0.1:1");
        assert_eq!(server_of(&kc, "b"), "https://127.0.0.1:2");
        let exec = kc.auth_infos[0]
            .auth_info
            .as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap();
        assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
        let err = resolve_context(&kc, Some("zzz")).unwrap_err().to_string();
        assert_eq!(
            err,
            "context \"zzz\" not found in kubeconfig (available: a, b)"
        );
    }

    #[test]
    fn explicit_missing_file_is_a_clear_error() {
        let err = load_kubeconfig(Some(Path::new("/nonexistent/kubeconfig")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("kubeconfig /nonexistent/kubeconfig: file not found"),
            "{err}"
        );
    }
}
