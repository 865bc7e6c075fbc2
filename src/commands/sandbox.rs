//! `vinspect sandbox`: embedded host + virtual API servers (issue 3), until SIGINT/SIGTERM.
//!
//! The sandbox's own runner has no bind address; this one starts the same pair with `--bind`
//! and lays down the demo's scenarios (`sandbox::scenario`) and the scale objects.

use std::io::Write;

use anyhow::Context as _;

use crate::cli::{GlobalArgs, SandboxArgs};
use crate::sandbox::command::generate_scale;
use crate::sandbox::{Sandbox, SandboxOptions, scenario};

use super::{EXIT_OK, setup};

/// vCluster name of the sandbox when `--vcluster` is not given.
pub const DEFAULT_VCLUSTER: &str = "demo";

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<u8> {
    if args.churn.is_some() {
        anyhow::bail!(
            "--churn is not supported by the sandbox yet; run without it (change objects with kubectl meanwhile)"
        );
    }
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
            generate_scale(sb.virtual_().cluster(), scale)?;
        }
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
        sb.shutdown().await;
        Ok(EXIT_OK)
    })?
}
