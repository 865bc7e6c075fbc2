//! `vinspect demo`: the sandbox pair, a scenario, the sync controller and the TUI, with no
//! cluster needed.
//!
//! The controller plays vCluster's syncer: objects created with kubectl get their twins within
//! a second. The scenario's incident is held back from it (its writes are refused until the
//! operator fixes the pair from the TUI, or `--repair`-style [`DemoOptions::repair`] is set) so
//! the problems stay on screen to be diagnosed and fixed by hand.

pub mod data;
pub mod holds;

use crate::cluster::clients::{Clients, Target as ClientTarget};
use crate::cluster::fetch::HostScope;
use crate::cluster::snapshot::ConnState;
use crate::cluster::watch::{WatchOptions, spawn};
use crate::engine::controller::{
    ConfigSource, Controller, ControllerOptions, Parts, WriteError, Writer, Written,
};
use crate::engine::kube_writer::KubeWriter;
use crate::engine::{Action, Change};
use crate::live::{LiveBackend, LiveHooks, LiveOptions};
use crate::sandbox::scenario::{self, HostQuota, Scenario};
use crate::sandbox::{Sandbox, SandboxOptions};
use crate::tui::run::{TuiOptions, run_tui};
use crate::tui::theme::Theme;
use crate::tui::types::DataUpdate;
use crate::vcluster::context::ContextSelection;
use anyhow::Context as _;
use holds::{Holds, incident_targets};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What `vinspect demo` was asked to do: plain data, filled in by the CLI.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// `--scenario NAME`; `None` = [`scenario::DEFAULT`].
    pub scenario: Option<String>,
    /// `--list-scenarios`: print names and descriptions, exit 0.
    pub list_scenarios: bool,
    /// `--no-tui`: print `ready: KUBECONFIG=<path>` and run until SIGINT/SIGTERM.
    pub no_tui: bool,
    /// `--theme NAME|PATH`.
    pub theme: Option<String>,
    /// `--read-only`: the TUI cannot fix (the controller still syncs new objects).
    pub read_only: bool,
    /// `--kubeconfig PATH`: where to write the sandbox kubeconfig; default [`default_kubeconfig`].
    pub kubeconfig: Option<PathBuf>,
    /// Let the controller repair the incident too (it is gone within seconds).
    pub repair: bool,
    /// `-n NS`: the TUI starts showing only this virtual namespace.
    pub namespace: Option<String>,
}

/// Where the demo writes its kubeconfig unless told: a fixed path, so the README's kubectl
/// lines work as written (`/tmp/vinspect-demo/kubeconfig` on Linux).
pub fn default_kubeconfig() -> PathBuf {
    std::env::temp_dir()
        .join("vinspect-demo")
        .join("kubeconfig")
}

/// The lines `--list-scenarios` prints.
pub fn scenario_list() -> String {
    let list = scenario::list();
    let width = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, description) in list {
        let default = if name == scenario::DEFAULT {
            " (default)"
        } else {
            ""
        };
        out.push_str(&format!("{name:width$}  {description}{default}\n"));
    }
    out
}

/// The banner the TUI header shows: it is a demo, and how to reach it with kubectl (the
/// kubeconfig's current context is the virtual cluster; `--context sandbox-host` is the host).
pub fn banner(kubeconfig: &std::path::Path) -> String {
    format!("DEMO · export KUBECONFIG={}", kubeconfig.display())
}

/// The scenario's host quota refusing `change`, the way the host's quota admission would
/// refuse vCluster's syncer (the sandbox has no quota admission of its own).
pub fn quota_refusal(quota: Option<&HostQuota>, change: &Change) -> Option<String> {
    let quota = quota?;
    if change.target.side != crate::engine::SideName::Host {
        return None;
    }
    match &change.action {
        Action::Create { object } | Action::Recreate { object, .. } => quota.refusal(object),
        _ => None,
    }
}

/// A writer that refuses writes to held objects (the incident the operator is to fix), and
/// writes the scenario's host quota forbids.
struct HoldingWriter {
    inner: KubeWriter,
    holds: Holds,
    quota: Option<HostQuota>,
}

impl Writer for HoldingWriter {
    async fn write(&self, change: &Change) -> Result<Written, WriteError> {
        if self.holds.is_held(&change.target) {
            // Answered as written, so the controller does not log a failure and back off for
            // every incident object: it re-plans after its expectation timeout and asks again.
            tracing::debug!("demo: holding {} for the operator", change.target);
            return Ok(Written::default());
        }
        if let Some(message) = quota_refusal(self.quota.as_ref(), change) {
            return Err(WriteError::Failed(message));
        }
        self.inner.write(change).await
    }
}

/// A running demo: the sandbox, the watch caches and the controller. Dropping it stops all.
pub struct Demo {
    pub sandbox: Sandbox,
    pub scenario: Scenario,
    pub clients: Clients,
    pub snapshots: watch::Receiver<Arc<crate::cluster::snapshot::Snapshot>>,
    pub holds: Holds,
    stop: watch::Sender<bool>,
    controller: tokio::task::JoinHandle<()>,
    _watching: crate::cluster::watch::Watching,
}

impl Demo {
    /// Start the sandbox pair, load the scenario, start the watch caches and the controller.
    pub async fn start(
        scenario: Scenario,
        kubeconfig: PathBuf,
        repair: bool,
    ) -> anyhow::Result<Demo> {
        if let Some(dir) = kubeconfig.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let sandbox = Sandbox::start(SandboxOptions {
            kubeconfig_path: Some(kubeconfig),
            ..scenario::sandbox_options(&scenario)
        })
        .await
        .context("cannot start the sandbox")?;
        scenario::load_into(&sandbox, &scenario)?;
        let clients = Clients {
            virtual_: ClientTarget {
                context: sandbox.virtual_context(),
                server: sandbox.virtual_().url(),
                client: sandbox.virtual_client(),
            },
            host: ClientTarget {
                context: sandbox.host_context().to_string(),
                server: sandbox.host().url(),
                client: sandbox.host_client(),
            },
        };
        let scope = HostScope::new(
            &scenario.vcluster,
            &scenario.host_namespace,
            &scenario.config,
        );
        let mut watching = spawn(&clients, WatchOptions::new(scope));
        let first = watching.settled(Duration::from_secs(20)).await;
        let holds = if repair {
            Holds::default()
        } else {
            Holds::new(incident_targets(&first, &scenario.config))
        };
        let (stop, stop_rx) = watch::channel(false);
        // No election in the demo: this process is the only syncer.
        let (_leader_tx, leader_rx) = watch::channel(true);
        let controller = Controller::new(Parts {
            vcluster: scenario.vcluster.clone(),
            host_namespace: scenario.host_namespace.clone(),
            snapshots: watching.rx.clone(),
            writer: HoldingWriter {
                inner: KubeWriter {
                    virtual_client: clients.virtual_.client.clone(),
                    host_client: clients.host.client.clone(),
                    dry_run: false,
                    audit: None,
                },
                holds: holds.clone(),
                quota: scenario.host_quota.clone(),
            },
            recorder: None,
            config: ConfigSource::Fixed(scenario.config.clone()),
            leader: leader_rx,
            stop: stop_rx,
            read_only: false,
            options: ControllerOptions::default(),
        });
        let controller = tokio::spawn(async move {
            let _leader_tx = _leader_tx;
            controller.run().await;
        });
        Ok(Demo {
            snapshots: watching.rx.clone(),
            sandbox,
            scenario,
            clients,
            holds,
            stop,
            controller,
            _watching: watching,
        })
    }

    /// The TUI's backend on this demo: the live one over the demo's kubeconfig, whose fixes
    /// release the holds. Returns once its data covers both sides (or 20 s passed), so the
    /// rows the demo shows can be diffed and fixed at once.
    pub async fn backend(
        &self,
        audit_log: PathBuf,
        note: Option<String>,
        read_only: bool,
    ) -> anyhow::Result<(LiveBackend, watch::Receiver<DataUpdate>)> {
        let opts = LiveOptions {
            kubeconfig: Some(self.sandbox.kubeconfig_path().to_path_buf()),
            selection: ContextSelection {
                context: Some(self.sandbox.virtual_context()),
                ..ContextSelection::default()
            },
            // The scenario's config is in its Secret on the host, as in a real install.
            config_file: None,
            read_only,
            audit_log: Some(audit_log),
        };
        let holds = self.holds.clone();
        let quota = self.scenario.host_quota.clone();
        let hooks = LiveHooks {
            note,
            on_applied: Some(Arc::new(move |c: &Change| holds.release(&c.target))),
            refuse: Some(Arc::new(move |c: &Change| quota_refusal(quota.as_ref(), c))),
        };
        let (backend, mut rx) = LiveBackend::connect_with(opts, hooks).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let connecting = |c: &ConnState| matches!(c, ConnState::Connecting);
            {
                let d = rx.borrow_and_update();
                if !d.loading && !connecting(&d.virtual_conn) && !connecting(&d.host_conn) {
                    break;
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        Ok((backend, rx))
    }

    /// Stop the controller and both API servers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.controller).await;
        self.sandbox.shutdown().await;
    }
}

/// Run `vinspect demo`. Exit code as the TUI's (0 on quit); `--no-tui` returns 0 on a signal.
pub async fn run_demo(opts: DemoOptions) -> anyhow::Result<i32> {
    if opts.list_scenarios {
        print!("{}", scenario_list());
        return Ok(0);
    }
    let name = opts.scenario.as_deref().unwrap_or(scenario::DEFAULT);
    let scenario = scenario::load(name)?;
    // Load the theme before starting anything: a typo should not cost a sandbox start.
    let tui_opts = if opts.no_tui {
        None
    } else {
        let theme = match &opts.theme {
            Some(spec) => Theme::load(spec).map_err(|e| anyhow::anyhow!(e))?,
            None => Theme::dark(),
        }
        .honour_no_color(std::env::var("NO_COLOR").ok().as_deref());
        Some(TuiOptions {
            theme,
            read_only: opts.read_only,
            read_only_reason: if opts.read_only {
                "vinspect was started with --read-only".to_string()
            } else {
                String::new()
            },
            namespace: opts.namespace.clone(),
            ..TuiOptions::default()
        })
    };
    let kubeconfig = opts.kubeconfig.clone().unwrap_or_else(default_kubeconfig);
    let demo = Demo::start(scenario, kubeconfig, opts.repair).await?;
    let path = demo.sandbox.kubeconfig_path().to_path_buf();

    let Some(tui_opts) = tui_opts else {
        println!("ready: KUBECONFIG={}", path.display());
        println!(
            "  virtual: KUBECONFIG={} kubectl get pods -A",
            path.display()
        );
        println!(
            "  host:    KUBECONFIG={} kubectl --context {} get pods -n {}",
            path.display(),
            demo.sandbox.host_context(),
            demo.scenario.host_namespace
        );
        println!("  stop with Ctrl-C");
        let _ = std::io::stdout().flush();
        wait_for_signal().await?;
        demo.shutdown().await;
        return Ok(0);
    };

    let audit_path = path.with_file_name("audit.log");
    let (backend, data_rx) = demo
        .backend(audit_path, Some(banner(&path)), opts.read_only)
        .await?;
    let code = run_tui(tui_opts, backend, data_rx).await;
    demo.shutdown().await;
    code
}

/// Wait for SIGINT or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_every_scenario_and_marks_the_default() {
        let text = scenario_list();
        for (name, _) in scenario::FILES {
            assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
        }
        let default = text
            .lines()
            .find(|l| l.starts_with(scenario::DEFAULT))
            .unwrap();
        assert!(default.ends_with("(default)"), "{default}");
    }

    #[test]
    fn banner_says_demo_and_how_to_reach_it() {
        let b = banner(std::path::Path::new("/tmp/x/kubeconfig"));
        assert_eq!(b, "DEMO · export KUBECONFIG=/tmp/x/kubeconfig");
    }
}
