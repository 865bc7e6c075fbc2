//! `vinspect` without a subcommand: the TUI over the live clusters (issue 6).

use std::io::IsTerminal;

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::live::{LiveBackend, LiveOptions};
use crate::tui::config::{UserConfig, default_config_path};
use crate::tui::run::{TuiOptions, run_tui};

use super::setup;

/// The TUI's options from the flags, the user config and `NO_COLOR`.
pub fn tui_options(global: &GlobalArgs) -> anyhow::Result<TuiOptions> {
    let path = default_config_path();
    let config = match &path {
        Some(p) => UserConfig::load(p)?,
        None => UserConfig::default(),
    };
    let origin = path.as_ref().map_or_else(
        || "the user config".to_string(),
        |p| p.display().to_string(),
    );
    let no_color = std::env::var("NO_COLOR").ok();
    let mut opts = TuiOptions::resolve(
        global.theme.as_deref(),
        global.read_only,
        &config,
        &origin,
        no_color.as_deref(),
    )?;
    opts.namespace = start_namespace(global);
    Ok(opts)
}

/// The namespace the TUI starts filtered to: `-n NS`; `-A` (or neither) shows every namespace.
pub fn start_namespace(global: &GlobalArgs) -> Option<String> {
    if global.all_namespaces {
        return None;
    }
    global.namespace.clone().filter(|ns| !ns.is_empty())
}

pub fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    // Every setup error is reported before the terminal is taken over.
    setup::resolve(global)?;
    let opts = tui_options(global)?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the TUI needs a terminal; for output to a pipe or file use `vinspect check`"
        );
    }
    let live = LiveOptions {
        kubeconfig: global.kubeconfig.clone(),
        selection: setup::selection(global),
        config_file: global.config.clone(),
        read_only: opts.read_only,
        audit_log: None,
    };
    setup::block_on(async move {
        let (backend, data) = LiveBackend::connect(live).await?;
        let code = run_tui(opts, backend, data)
            .await
            .context("the TUI stopped")?;
        Ok(setup::exit_code(code))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut all = vec!["vinspect"];
        all.extend_from_slice(args);
        crate::cli::Cli::try_parse_from(all).unwrap().global
    }

    #[test]
    fn namespace_flags_decide_where_the_tui_starts() {
        assert_eq!(
            start_namespace(&global(&["-n", "shop"])).as_deref(),
            Some("shop")
        );
        assert_eq!(
            start_namespace(&global(&["--namespace", "billing"])).as_deref(),
            Some("billing")
        );
        assert_eq!(start_namespace(&global(&["-A"])), None);
        assert_eq!(start_namespace(&global(&[])), None);
    }
}
