//! `vinspect sandbox`: run the pair until SIGINT/SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use super::cluster::Cluster;
use super::{Sandbox, SandboxOptions, scenarios};

/// Options of `vinspect sandbox [--kubeconfig PATH] [--vcluster NAME] [--host-namespace NS]
/// [--empty | --scenario NAME] [--scale N]`.
#[derive(Debug, Clone)]
pub struct SandboxCommandOptions {
    pub kubeconfig: Option<PathBuf>,
    pub vcluster: String,
    pub host_namespace: Option<String>,
    /// Only the install layout (the default when no scenario is named).
    pub empty: bool,
    pub scenario: Option<String>,
    /// Virtual objects of this many pairs, spread over namespaces (virtual side only).
    pub scale: u32,
}

impl Default for SandboxCommandOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            vcluster: "demo".into(),
            host_namespace: None,
            empty: true,
            scenario: None,
            scale: 0,
        }
    }
}

/// Adds the virtual objects of `n` pairs (see [`super::scale::virtual_objects`]) in
/// namespaces `scale-0`, `scale-1`, …. Only the virtual side: the sandbox never runs the
/// engine, so the twins come from `vinspect sandbox --scale` (`commands::scale`).
pub fn generate_scale(virt: &Cluster, n: u32) -> anyhow::Result<()> {
    let (namespaces, objects) = super::scale::virtual_objects(n);
    super::scale::create_all(virt, &namespaces, &objects)
        .map_err(|e| anyhow::anyhow!("scale: cannot create the virtual objects: {e}"))
}

/// SIGINT or SIGTERM, registered up front so that a signal sent while the sandbox starts is
/// not lost (or fatal).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn wait(&mut self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
            Ok(())
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
}

/// Runs the sandbox pair; prints `ready: KUBECONFIG=<path>` once both serve and returns 0 after
/// SIGINT or SIGTERM.
pub async fn run_sandbox_command(opts: SandboxCommandOptions) -> anyhow::Result<i32> {
    let mut signals = Signals::register()?;
    let scenario = match &opts.scenario {
        Some(name) => Some(scenarios::find(name).ok_or_else(|| {
            let known: Vec<&str> = scenarios::SCENARIOS.iter().map(|s| s.name).collect();
            anyhow::anyhow!(
                "unknown scenario {name:?}; available: {}",
                if known.is_empty() {
                    "none yet (use --empty)".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?),
        None => None,
    };
    let sb = Sandbox::start(SandboxOptions {
        vcluster: opts.vcluster.clone(),
        host_namespace: opts.host_namespace.clone(),
        kubeconfig_path: opts.kubeconfig.clone(),
        ..SandboxOptions::default()
    })
    .await?;
    if let Some(s) = scenario {
        let host = scenarios::parse(s.host)
            .map_err(|e| anyhow::anyhow!("scenario {} (host): {e}", s.name))?;
        let virt = scenarios::parse(s.virtual_)
            .map_err(|e| anyhow::anyhow!("scenario {} (virtual): {e}", s.name))?;
        sb.host()
            .apply_objects(&host)
            .map_err(|e| anyhow::anyhow!("scenario {} (host): {e}", s.name))?;
        sb.virtual_()
            .apply_objects(&virt)
            .map_err(|e| anyhow::anyhow!("scenario {} (virtual): {e}", s.name))?;
    }
    if opts.scale > 0 {
        generate_scale(sb.virtual_().cluster(), opts.scale)?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready: KUBECONFIG={}", sb.kubeconfig_path().display())?;
        out.flush()?;
    }
    signals.wait().await?;
    sb.shutdown().await;
    Ok(0)
}
