//! Set-up shared by the commands that talk to clusters: which contexts, which vCluster, which
//! config. Errors are one line naming the file or context and what to do.

use std::path::Path;

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::cluster::session::ConnectOptions;
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

/// Run a command's future to its end on a fresh runtime, then leave without waiting for
/// blocking tasks: a row computation still running on a blocking thread (seconds on a large
/// cluster) must not hold the process after the user quit or a signal arrived. Everything
/// that must finish (drained writes, restored terminal) happens inside `fut`.
pub fn block_on<F: std::future::Future>(fut: F) -> anyhow::Result<F::Output> {
    let rt = runtime()?;
    let out = rt.block_on(fut);
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(out)
}

/// A multi-threaded tokio runtime for commands that need one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Resolve the global flags into the settings a cluster session needs. Fails with one line
/// (unreadable kubeconfig, unknown context with the known ones listed, …) before any network.
pub fn connect_options(global: &GlobalArgs) -> anyhow::Result<ConnectOptions> {
    let (_, resolved) = resolve(global)?;
    Ok(connect_options_for(global, resolved))
}

/// [`connect_options`] for contexts resolved already.
pub fn connect_options_for(global: &GlobalArgs, resolved: ResolvedContexts) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: global.kubeconfig.clone(),
        virtual_context: resolved.virtual_context,
        host_context: resolved.host_context,
        vcluster: resolved.vcluster,
        host_namespace: resolved.host_namespace,
        config_file: global.config.clone(),
    }
}

/// `-n NS` narrows to one namespace; `-A` or nothing means every namespace.
pub fn namespace_filter(global: &GlobalArgs) -> Option<String> {
    if global.all_namespaces {
        None
    } else {
        global.namespace.clone()
    }
}

/// An exit code from the library (an `i32`) as the process's (a byte); out-of-range codes are
/// errors.
pub fn exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(super::EXIT_ERROR)
}

/// A future that resolves on SIGINT or SIGTERM (what `dns`, `sync` and `sandbox` stop on).
/// The handlers are installed when this is called, not when the future is first polled, so a
/// signal sent right after a "ready" line is never lost. Call it inside the runtime.
pub fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
