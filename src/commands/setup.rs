//! Set-up shared by the commands that talk to clusters: which contexts, which vCluster, which
//! config. Errors are one line naming the file or context and what to do.

use std::path::Path;

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::context::{
    ContextSelection, LoadedKubeconfig, ResolvedContexts, load_kubeconfig, resolve_contexts,
};

/// The context-related global flags as a selection.
pub fn selection(global: &GlobalArgs) -> ContextSelection {
    ContextSelection {
        context: global.context.clone(),
        host_context: global.host_context.clone(),
        vcluster: global.vcluster.clone(),
        host_namespace: global.host_namespace.clone(),
    }
}

/// Load the kubeconfig (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`) and resolve the
/// virtual and host contexts, the vCluster and its host namespace.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<(LoadedKubeconfig, ResolvedContexts)> {
    let loaded = load_kubeconfig(global.kubeconfig.as_deref())?;
    let resolved = resolve_contexts(&loaded.config, &selection(global))?;
    Ok((loaded, resolved))
}

/// Read and validate a vcluster.yaml given with `--config`.
pub fn read_config_file(path: &Path) -> anyhow::Result<VClusterConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read vcluster.yaml {}", path.display()))?;
    VClusterConfig::from_yaml(&text)
        .with_context(|| format!("vcluster.yaml {} is invalid", path.display()))
}

/// A multi-threaded tokio runtime for commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
