//! `vinspect sandbox`: embedded host + virtual API servers (issue 3), until SIGINT/SIGTERM.
//!
//! The sandbox's own runner has no bind address; this one starts the same pair with `--bind`
//! and lays down the demo's scenarios (`sandbox::scenario`) and the scale objects.

use std::io::Write;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;

use crate::cli::{GlobalArgs, SandboxArgs};
use crate::sandbox::scale::churn as churn_task;
use crate::sandbox::{Sandbox, SandboxOptions, scenario};

use super::{EXIT_OK, setup};

/// vCluster name of the sandbox when `--vcluster` is not given.
pub const DEFAULT_VCLUSTER: &str = "demo";

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<u8> {
    let churn = match args.churn {
        Some(r) if !r.is_finite() || r <= 0.0 => {
            anyhow::bail!("--churn {r}: give a positive number of changes per second")
        }
        other => other,
    };
    // Scenarios bring their own vCluster name, host namespace and install objects.
    let scenario = match &args.scenario {
        Some(name) => Some(scenario::load(name)?),
        None => None,
    };
    let scale = match args.scale {
        Some(n) => u32::try_from(n).context("--scale is too large")?,
        None => 0,
    };
    let defaults = match &scenario {
        Some(sc) => {
            if global.vcluster.as_ref().is_some_and(|v| *v != sc.vcluster)
                || global
                    .host_namespace
                    .as_ref()
                    .is_some_and(|n| *n != sc.host_namespace)
            {
                anyhow::bail!(
                    "scenario {:?} is vcluster {:?} in host namespace {:?}; drop --vcluster/--host-namespace or use --empty",
                    args.scenario.as_deref().unwrap_or_default(),
                    sc.vcluster,
                    sc.host_namespace
                );
            }
            scenario::sandbox_options(sc)
        }
        None => SandboxOptions {
            vcluster: global
                .vcluster
                .clone()
                .unwrap_or_else(|| DEFAULT_VCLUSTER.to_string()),
            host_namespace: global.host_namespace.clone(),
            ..SandboxOptions::default()
        },
    };
    let opts = SandboxOptions {
        kubeconfig_path: global.kubeconfig.clone(),
        bind: args.bind.unwrap_or(defaults.bind),
        ..defaults
    };
    setup::block_on(async move {
        let stop = setup::stop_signal()?;
        let sb = Sandbox::start(opts).await?;
        if let Some(sc) = &scenario {
            scenario::load_into(&sb, sc)?;
        }
        if scale > 0 {
            let started = std::time::Instant::now();
            let r = super::scale::generate(&sb, scale).await?;
            tracing::info!(
                objects = r.virtual_objects,
                namespaces = r.namespaces,
                writes = r.writes,
                rounds = r.rounds,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "scale objects and their twins are in place"
            );
        }
        // Aborted with the sandbox: churn runs until the sandbox stops.
        let churning = match churn {
            Some(rate) => {
                let on = Arc::new(AtomicBool::new(true));
                let toggle = pause_on_sigusr1(on.clone())?;
                let task = tokio::spawn(churn_task(
                    sb.virtual_().cluster().clone(),
                    sb.host().cluster().clone(),
                    sb.host_namespace().to_string(),
                    rate,
                    on,
                ));
                Some((task, toggle))
            }
            None => None,
        };
        if !args.bind.is_none_or(|ip| ip.is_loopback()) {
            eprintln!(
                "warning: the sandbox listens on {} without TLS; anyone who can reach it and read the kubeconfig's tokens can use it",
                sb.host().addr().ip()
            );
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ready: KUBECONFIG={}", sb.kubeconfig_path().display())?;
            writeln!(
                out,
                "contexts: {} (virtual), {} (host)",
                sb.virtual_context(),
                sb.host_context()
            )?;
            out.flush()?;
        }
        stop.await;
        if let Some((task, toggle)) = churning {
            task.abort();
            if let Some(t) = toggle {
                t.abort();
            }
        }
        sb.shutdown().await;
        Ok(EXIT_OK)
    })?
}

/// SIGUSR1 pauses and resumes churn (a scale run measures idle and churn on one sandbox).
fn pause_on_sigusr1(on: Arc<AtomicBool>) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut usr1 = signal(SignalKind::user_defined1()).context("cannot listen for SIGUSR1")?;
        Ok(Some(tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                let now = !on.load(Ordering::Relaxed);
                on.store(now, Ordering::Relaxed);
                tracing::info!(target: "vinspect::churn", on = now, "churn toggled");
            }
        })))
    }
    #[cfg(not(unix))]
    {
        let _ = on;
        Ok(None)
    }
}
