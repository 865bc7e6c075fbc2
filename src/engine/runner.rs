//! `vinspect sync` end to end: kubeconfig → clients → watch caches → leader election →
//! controller → exit code. Everything here is wiring; the decisions live in `controller`.

use crate::cluster::clients::{Clients, Target, client_for};
use crate::cluster::fetch::HostScope;
use crate::cluster::snapshot::Snapshot;
use crate::cluster::watch::{WatchOptions, Watching, spawn};
use crate::engine::apply::AuditLog;
use crate::engine::controller::{
    ConfigSource, Controller, ControllerOptions, OnceError, Parts, SyncOptions,
    config_from_snapshot,
};
use crate::engine::events::Recorder;
use crate::engine::kube_writer::{Audit, KubeWriter};
use crate::engine::lease::{self, LeaseOptions};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::context::{ContextSelection, load_kubeconfig, resolve_contexts};
use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::Lease;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Knobs tests and benches turn; production uses the defaults.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub controller: ControllerOptions,
    /// `None` = the production election (15 s lease, 5 s renew).
    pub lease: Option<LeaseOptions>,
    /// Stop signal in addition to SIGTERM/SIGINT (tests stop a controller this way).
    pub stop: Option<watch::Receiver<bool>>,
    /// Skip listening for SIGTERM/SIGINT (several controllers in one test process).
    pub no_signals: bool,
}

/// Run `vinspect sync` with production settings. Exit code: 0 stopped by a signal or
/// `--once` converged, 1 `--once` left pairs unsynced (summary on stderr). Setup errors are
/// returned (the CLI prints them as one line and exits 2).
pub async fn run_sync(opts: SyncOptions) -> anyhow::Result<i32> {
    run_sync_tuned(opts, Tuning::default()).await
}

/// Aborts a spawned task when dropped, so an aborted `run_sync` takes its helpers with it
/// (what a SIGKILL does to a process).
struct Guard(JoinHandle<()>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Who we are talking to, once resolved.
struct Setup {
    clients: Clients,
    vcluster: String,
    host_namespace: String,
}

async fn setup(opts: &SyncOptions) -> anyhow::Result<Setup> {
    let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let mut loaded = load_kubeconfig(opts.kubeconfig.as_deref())?;
    // Same rule as every other client: an exec credential plugin never prompts.
    crate::cluster::clients::make_noninteractive(&mut loaded.config);
    let sel = ContextSelection {
        context: opts.context.clone(),
        host_context: opts.host_context.clone(),
        vcluster: opts.vcluster.clone(),
        host_namespace: opts.host_namespace.clone(),
    };
    // In a pod with no host context named, the host is the cluster we run in.
    if in_pod && opts.host_context.is_none() {
        let virtual_context = match &opts.context {
            Some(c) => c.clone(),
            None => loaded
                .config
                .current_context
                .clone()
                .filter(|c| !c.is_empty())
                .context(
                    "the virtual cluster's kubeconfig has no current-context; pass --context",
                )?,
        };
        let vcluster = opts
            .vcluster
            .clone()
            .or_else(|| {
                crate::vcluster::context::VClusterContextName::parse(&virtual_context)
                    .map(|p| p.vcluster)
            })
            .context("pass --vcluster (running in-cluster, it cannot be inferred)")?;
        let host_namespace =
            match &opts.host_namespace {
                Some(ns) => ns.clone(),
                None => std::fs::read_to_string(
                    "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
                )
                .map(|s| s.trim().to_string())
                .context("pass --host-namespace (the service account namespace is not readable)")?,
            };
        let virtual_ = client_for(&loaded.config, &virtual_context).await?;
        let cfg = kube::Config::incluster()
            .context("cannot use the in-cluster config for the host side")?;
        let server = cfg.cluster_url.to_string();
        let client = kube::Client::try_from(cfg)
            .context("cannot build the in-cluster client for the host side")?;
        return Ok(Setup {
            clients: Clients {
                virtual_,
                host: Target {
                    context: "in-cluster".to_string(),
                    server,
                    client,
                },
            },
            vcluster,
            host_namespace,
        });
    }
    let resolved = resolve_contexts(&loaded.config, &sel)?;
    let virtual_ = client_for(&loaded.config, &resolved.virtual_context).await?;
    let host = client_for(&loaded.config, &resolved.host_context).await?;
    Ok(Setup {
        clients: Clients { virtual_, host },
        vcluster: resolved.vcluster,
        host_namespace: resolved.host_namespace,
    })
}

/// [`run_sync`] with test knobs.
pub async fn run_sync_tuned(opts: SyncOptions, tuning: Tuning) -> anyhow::Result<i32> {
    let setup = setup(&opts).await?;
    let fixed = match &opts.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read vcluster.yaml {}", path.display()))?;
            Some(
                VClusterConfig::from_yaml(&text)
                    .with_context(|| format!("vcluster.yaml {} is invalid", path.display()))?,
            )
        }
        None => None,
    };
    run_with_clients(setup, fixed, &opts, tuning).await
}

/// Keep the snapshot flowing to the controller, re-creating the watch caches when the config
/// names other host namespaces (replicateServices sources) so a config change needs no restart.
async fn relay(
    clients: Clients,
    vcluster: String,
    host_namespace: String,
    fixed: Option<VClusterConfig>,
    first: Watching,
    first_scope: Vec<String>,
    out: watch::Sender<Arc<Snapshot>>,
) {
    let mut watching = first;
    let mut scope = first_scope;
    loop {
        if watching.rx.changed().await.is_err() {
            return;
        }
        let snap = watching.rx.borrow_and_update().clone();
        tracing::trace!("relay snapshot {}", snap.version);
        if fixed.is_none()
            && let Some(Ok((_, config))) = config_from_snapshot(&snap, &vcluster, &host_namespace)
        {
            let wanted = HostScope::new(&vcluster, &host_namespace, &config);
            if wanted.extra_namespaces != scope {
                tracing::info!(
                    "config names host namespaces {:?}: re-creating the host watches",
                    wanted.extra_namespaces
                );
                scope = wanted.extra_namespaces.clone();
                let mut next = spawn(&clients, WatchOptions::new(wanted));
                // Hand over only once the new caches are listed: an empty snapshot would look
                // like every object vanished.
                let settled = next.settled(Duration::from_secs(30)).await;
                watching = next;
                out.send_replace(settled);
                continue;
            }
        }
        out.send_replace(snap);
    }
}

async fn run_with_clients(
    setup: Setup,
    fixed: Option<VClusterConfig>,
    opts: &SyncOptions,
    tuning: Tuning,
) -> anyhow::Result<i32> {
    let Setup {
        clients,
        vcluster,
        host_namespace,
    } = setup;
    // The first scope comes from the config as it is now; the relay follows later changes.
    let initial = match &fixed {
        Some(c) => c.clone(),
        None => {
            crate::cluster::config_source::discover(
                None,
                Some(&clients.host.client),
                &vcluster,
                &host_namespace,
            )
            .await?
            .config
        }
    };
    let scope = HostScope::new(&vcluster, &host_namespace, &initial);
    let first_scope = scope.extra_namespaces.clone();
    let watching = spawn(&clients, WatchOptions::new(scope));
    let (snap_tx, snap_rx) = watch::channel(watching.rx.borrow().clone());
    let mut guards = vec![Guard(tokio::spawn(relay(
        clients.clone(),
        vcluster.clone(),
        host_namespace.clone(),
        fixed.clone(),
        watching,
        first_scope,
        snap_tx,
    )))];

    let (stop_tx, stop_rx) = watch::channel(false);
    if let Some(mut ext) = tuning.stop.clone() {
        let tx = stop_tx.clone();
        guards.push(Guard(tokio::spawn(async move {
            let _ = ext.wait_for(|s| *s).await;
            tx.send_replace(true);
        })));
    }
    if !tuning.no_signals {
        let tx = stop_tx.clone();
        guards.push(Guard(tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received: finishing in-flight writes, then exiting");
            tx.send_replace(true);
        })));
    }

    let lease_opts = tuning.lease.clone().unwrap_or_default();
    let identity = lease_opts.identity.clone();
    let (leader_tx, leader_rx) = watch::channel(opts.read_only);
    let mut election = None;
    if !opts.read_only {
        let api: kube::Api<Lease> =
            kube::Api::namespaced(clients.host.client.clone(), &host_namespace);
        election = Some(tokio::spawn(lease::run(
            api,
            lease::lease_name(&vcluster),
            lease_opts,
            leader_tx,
            stop_rx.clone(),
        )));
    }
    let mut election = ElectionGuard(election.take());

    let audit = opts
        .audit_log
        .clone()
        .or_else(AuditLog::default_path)
        .map(|path| Audit {
            log: AuditLog::new(path),
            virtual_context: clients.virtual_.context.clone(),
            host_context: clients.host.context.clone(),
        });
    if audit.is_none() && !opts.read_only {
        tracing::warn!("no state directory for the audit log; pass --audit-log PATH to keep one");
    }
    let writer = KubeWriter {
        virtual_client: clients.virtual_.client.clone(),
        host_client: clients.host.client.clone(),
        dry_run: false,
        audit,
    };
    let controller = Controller::new(Parts {
        vcluster: vcluster.clone(),
        host_namespace: host_namespace.clone(),
        snapshots: snap_rx,
        writer,
        recorder: Some(Recorder::new(clients.virtual_.client.clone(), identity)),
        config: match fixed {
            Some(c) => ConfigSource::Fixed(c),
            None => ConfigSource::HostSecret,
        },
        leader: leader_rx,
        stop: stop_rx,
        read_only: opts.read_only,
        options: tuning.controller.clone(),
    });

    let code = if opts.once {
        let result = controller.run_once().await;
        stop_tx.send_replace(true);
        match result {
            Ok(report) => {
                if report.unsynced.is_empty() {
                    tracing::info!("{}", report.summary());
                    0
                } else {
                    eprintln!("{}", report.summary());
                    1
                }
            }
            Err(e @ OnceError::NotLeader) => {
                eprintln!("error: {e}");
                1
            }
            Err(e) => {
                finish_election(&mut election).await;
                return Err(e.into());
            }
        }
    } else {
        let stats = controller.run().await;
        tracing::info!(
            "sync stopped: {} change(s) applied, {} failed, {} event(s)",
            stats.applied,
            stats.failed,
            stats.notices
        );
        0
    };
    // Let the election release the lease so a standby takes over at once.
    finish_election(&mut election).await;
    drop(guards);
    Ok(code)
}

/// The election task; aborted (no release, like a SIGKILL) if `run_sync` is dropped.
struct ElectionGuard(Option<JoinHandle<()>>);

impl Drop for ElectionGuard {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

/// Wait (briefly) for the election loop to notice the stop and release the lease.
async fn finish_election(election: &mut ElectionGuard) {
    if let Some(h) = election.0.take()
        && tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .is_err()
    {
        tracing::warn!("leader election did not stop in time; the lease will expire on its own");
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); only Ctrl-C stops sync");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
