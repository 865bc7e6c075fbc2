//! The live [`Backend`]: one cluster session with watch caches per virtual context, a pump that
//! turns each new snapshot into the TUI's data (coalesced: while one update is computed, and
//! for [`MIN_ROWS_GAP`] after one started, newer snapshots replace each other and only the
//! latest is taken; rows are reused where nothing changed), and fixes through the engine.
//!
//! The TUI never waits on this: every call here is a future the UI loop polls next to input.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::session::{self, ConnectOptions, Session};
use crate::cluster::snapshot::Snapshot;
use crate::cluster::watch::{self as cache, WatchOptions, Watching};
use crate::engine::apply::{self as engine_apply, ApplyError, ApplyOptions, AuditLog};
use crate::engine::ctx::Ctx;
use crate::engine::pair::pairs;
use crate::engine::plan::plan;
use crate::engine::{Change, Plan, SideName};
use crate::inspect::fix_cmd::MAX_ROUNDS;
use crate::tui::backend::{Backend, BackendError};
use crate::tui::types::{DataUpdate, DiffSource, FixOutcome, FixRequest, RowKey};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::context::{
    ContextSelection, VClusterContextName, load_kubeconfig, resolve_contexts,
};

use super::data::{Latest, LiveRows, diff_source, object_json};

/// What a fix answers when writes are off. No request leaves the process.
pub const READ_ONLY_REFUSAL: &str =
    "read-only: nothing was written (restart without --read-only to fix)";

/// Pause between a fix round's writes and the re-read (IP allocation, kubelet catch up).
const SETTLE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// `--kubeconfig`; `None` = `$KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The context flags the TUI starts with.
    pub selection: ContextSelection,
    /// `--config`; applies to the starting vCluster only (another context discovers its own).
    pub config_file: Option<PathBuf>,
    /// No write leaves the process: fixes are refused here, whatever the UI does.
    pub read_only: bool,
    /// `None` = the default audit log.
    pub audit_log: Option<PathBuf>,
}

/// Called with every change a fix from the TUI wrote (the demo releases its holds here).
pub type OnApplied = Arc<dyn Fn(&Change) + Send + Sync>;

/// Answers `Some(message)` for a change that must not be written (the demo's host quota).
pub type Refuse = Arc<dyn Fn(&Change) -> Option<String> + Send + Sync>;

/// What an embedder adds to the plain live backend (the demo: its banner, its holds, the
/// admission its sandbox does not have).
#[derive(Clone, Default)]
pub struct LiveHooks {
    /// Shown in the header instead of the config note.
    pub note: Option<String>,
    pub on_applied: Option<OnApplied>,
    /// Checked before each write of a fix; a refusal is that change's failure.
    pub refuse: Option<Refuse>,
}

/// One connected vCluster: clients, config and the running watch caches.
struct Conn {
    session: Session,
    writer: engine_apply::Clients,
    config: Arc<VClusterConfig>,
    note: Option<String>,
    /// Kept for its tasks: dropping it stops the watches.
    watching: Watching,
}

pub struct LiveBackend {
    opts: LiveOptions,
    hooks: LiveHooks,
    initial_context: String,
    conn: Mutex<Arc<Conn>>,
    latest: Arc<Mutex<Arc<Latest>>>,
    pump: Mutex<Option<JoinHandle<()>>>,
    data_tx: watch::Sender<DataUpdate>,
    version: Arc<AtomicU64>,
    switching: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resolve the contexts (one-line errors naming the context and the known ones), connect, and
/// start the watch caches.
async fn open(
    kubeconfig: Option<&std::path::Path>,
    selection: &ContextSelection,
    config_file: Option<PathBuf>,
    note: Option<String>,
) -> anyhow::Result<Conn> {
    let loaded = load_kubeconfig(kubeconfig)?;
    let resolved = resolve_contexts(&loaded.config, selection)?;
    let connect = ConnectOptions {
        kubeconfig: kubeconfig.map(PathBuf::from),
        virtual_context: resolved.virtual_context,
        host_context: resolved.host_context,
        vcluster: resolved.vcluster,
        host_namespace: resolved.host_namespace,
        config_file,
    };
    let session = session::connect(&connect).await?;
    let watching = cache::spawn(
        &session.clients,
        WatchOptions::cooled(session.scope.clone()),
    );
    let writer = engine_apply::Clients {
        virtual_client: session.clients.virtual_.client.clone(),
        host_client: session.clients.host.client.clone(),
        virtual_context: session.clients.virtual_.context.clone(),
        host_context: session.clients.host.context.clone(),
    };
    Ok(Conn {
        writer,
        config: Arc::new(session.config.config.clone()),
        note: note.or_else(|| session.config.warning.clone()),
        session,
        watching,
    })
}

/// How long the pump waits for a side's initial lists when that side has sent nothing at all
/// before it computes rows from what it has (a side that never answers must not keep the
/// other side's rows off the screen).
const PARTIAL_AFTER: Duration = Duration::from_secs(5);

/// How long it waits when both sides are answering but still listing (a big cluster): rows of
/// a half-listed snapshot would show most pairs as missing and cost a full pass over every
/// pair, only to be thrown away when the rest of the lists arrive moments later.
const PARTIAL_AFTER_ANSWERING: Duration = Duration::from_secs(30);

fn still_listing(snap: &Snapshot) -> bool {
    use crate::cluster::snapshot::ConnState;
    let listing = |c: &ConnState| matches!(c, ConnState::Connecting);
    listing(&snap.virtual_side.conn) || listing(&snap.host.conn)
}

/// Whether some list of the side has come back with objects (namespaces and nodes, the
/// smallest, usually first).
fn answering(side: &crate::cluster::snapshot::Side) -> bool {
    !(side.namespaces.is_empty()
        && side.nodes.is_empty()
        && side.pods.is_empty()
        && side.services.is_empty()
        && side.endpoints.is_empty()
        && side.ingresses.is_empty())
}

/// How long after the start the pump may wait for the initial lists of `snap`'s sides.
fn partial_after(snap: &Snapshot) -> Duration {
    if answering(&snap.virtual_side) && answering(&snap.host) {
        PARTIAL_AFTER_ANSWERING
    } else {
        PARTIAL_AFTER
    }
}

/// Rows are computed at most this often while changes keep coming. A change after a quiet
/// spell is computed at once; under churn the snapshots that arrive meanwhile replace each
/// other and only the newest is computed (the lag goal is 500 ms from a write to its frame).
const MIN_ROWS_GAP: Duration = Duration::from_millis(200);

/// Wait for a new snapshot or until `due` (the rows' next deadline, or the DNS tab held back
/// under churn); false when the snapshot channel closed.
async fn next_wake(
    rx: &mut watch::Receiver<Arc<Snapshot>>,
    due: Option<tokio::time::Instant>,
) -> bool {
    let sleep = async {
        match due {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = rx.changed() => r.is_ok(),
        () = sleep => true,
    }
}

/// When the pump must update again with no new snapshot.
fn due(live: &LiveRows) -> Option<tokio::time::Instant> {
    let rows = live.next_deadline().map(|d| {
        let secs = u64::try_from(d.saturating_sub(crate::engine::ctx::now_seconds())).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_secs(secs)
    });
    let dns = live.dns_due().map(tokio::time::Instant::from_std);
    match (rows, dns) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Publish the TUI's data for every new snapshot until the snapshot channel closes.
///
/// Until rows exist the TUI gets "loading" updates carrying only the connection states, and
/// rows are not computed for half-listed snapshots (each would cost a full pass over every
/// pair, only to be thrown away when the rest of the lists arrive). After that, each update
/// reuses the rows of namespaces nothing changed in ([`LiveRows`]).
async fn pump(
    mut rx: watch::Receiver<Arc<Snapshot>>,
    config: Arc<VClusterConfig>,
    note: Option<String>,
    tx: watch::Sender<DataUpdate>,
    version: Arc<AtomicU64>,
    latest: Arc<Mutex<Arc<Latest>>>,
) {
    let started = tokio::time::Instant::now();
    let mut have_rows = false;
    let mut live = Some(LiveRows::default());
    let mut last_start: Option<tokio::time::Instant> = None;
    loop {
        let mut snap = rx.borrow_and_update().clone();
        if !have_rows {
            tx.send_modify(|d| {
                d.virtual_conn = snap.virtual_side.conn.clone();
                d.host_conn = snap.host.conn.clone();
                d.loading = true;
            });
            let wait = partial_after(&snap);
            if still_listing(&snap) && started.elapsed() < wait {
                match tokio::time::timeout_at(started + wait, rx.changed()).await {
                    Ok(Ok(())) | Err(_) => continue,
                    Ok(Err(_)) => break,
                }
            }
        } else if let Some(t) = last_start
            && t.elapsed() < MIN_ROWS_GAP
        {
            // Changes keep coming: let the next ones gather, then take the newest.
            tokio::time::sleep_until(t + MIN_ROWS_GAP).await;
            snap = rx.borrow_and_update().clone();
        }
        last_start = Some(tokio::time::Instant::now());
        let (cfg, note2) = (config.clone(), note.clone());
        let v = version.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::trace!(target: "vinspect::live", data_version = v, snapshot_version = snap.version, "rows for snapshot");
        let Some(mut rows) = live.take() else { break };
        // Pairing and planning thousands of objects is CPU work: keep it off the runtime.
        let job = tokio::task::spawn_blocking(move || {
            let out = rows.update(snap, cfg, note2, v);
            (rows, out)
        });
        match job.await {
            Ok((rows, (update, l))) => {
                tracing::trace!(target: "vinspect::live", data_version = v, recomputed = ?rows.last(), "rows computed");
                *lock(&latest) = Arc::new(l);
                tx.send_replace(update);
                have_rows = true;
                live = Some(rows);
            }
            Err(e) => {
                tracing::error!("cannot compute the rows: {e}");
                live = Some(LiveRows::default());
            }
        }
        let due = live.as_ref().and_then(due);
        if !next_wake(&mut rx, due).await {
            break;
        }
    }
}

impl LiveBackend {
    /// Connect to the clusters the options name and start publishing. Errors are setup errors
    /// (kubeconfig, contexts, config file); an unreachable server is not: its side shows as
    /// failing in the data and the watch keeps retrying.
    pub async fn connect(
        opts: LiveOptions,
    ) -> anyhow::Result<(LiveBackend, watch::Receiver<DataUpdate>)> {
        Self::connect_with(opts, LiveHooks::default()).await
    }

    /// [`LiveBackend::connect`] with an embedder's hooks.
    pub async fn connect_with(
        opts: LiveOptions,
        hooks: LiveHooks,
    ) -> anyhow::Result<(LiveBackend, watch::Receiver<DataUpdate>)> {
        let conn = open(
            opts.kubeconfig.as_deref(),
            &opts.selection,
            opts.config_file.clone(),
            hooks.note.clone(),
        )
        .await?;
        let initial_context = conn.session.clients.virtual_.context.clone();
        let (data_tx, data_rx) = watch::channel(DataUpdate {
            virtual_context: initial_context.clone(),
            host_context: conn.session.clients.host.context.clone(),
            vcluster: conn.session.scope.vcluster.clone(),
            host_namespace: conn.session.scope.host_namespace.clone(),
            note: conn.note.clone(),
            ..DataUpdate::default()
        });
        let backend = LiveBackend {
            opts,
            hooks,
            initial_context,
            conn: Mutex::new(Arc::new(conn)),
            latest: Arc::new(Mutex::new(Arc::new(Latest::default()))),
            pump: Mutex::new(None),
            data_tx,
            version: Arc::new(AtomicU64::new(0)),
            switching: tokio::sync::Mutex::new(()),
        };
        backend.start_pump();
        Ok((backend, data_rx))
    }

    fn start_pump(&self) {
        let conn = self.conn();
        let task = tokio::spawn(pump(
            conn.watching.rx.clone(),
            conn.config.clone(),
            conn.note.clone(),
            self.data_tx.clone(),
            self.version.clone(),
            self.latest.clone(),
        ));
        if let Some(old) = lock(&self.pump).replace(task) {
            old.abort();
        }
    }

    fn conn(&self) -> Arc<Conn> {
        lock(&self.conn).clone()
    }

    /// The snapshot and pair index behind the rows the TUI shows now.
    pub fn latest(&self) -> Arc<Latest> {
        lock(&self.latest).clone()
    }

    /// The virtual context the backend watches now.
    pub fn virtual_context(&self) -> String {
        self.conn().session.clients.virtual_.context.clone()
    }

    fn applied(&self, change: &Change, outcome: FixOutcome) -> FixOutcome {
        if let Some(hook) = &self.hooks.on_applied {
            hook(change);
        }
        outcome
    }

    /// Fix one pair: the confirmed plan first, then re-read and re-plan until the plan is empty
    /// (at most [`MAX_ROUNDS`] rounds in all, as `vinspect fix` does).
    async fn fix_one(&self, conn: &Conn, opts: &ApplyOptions, req: FixRequest) -> Vec<FixOutcome> {
        let mut out = Vec::new();
        let outcome = |c: &Change, result: Result<(), String>| FixOutcome {
            key: req.key.clone(),
            target: c.target.clone(),
            verb: c.action.verb().to_string(),
            result,
        };
        let pair = self.latest().pair(&req.key).cloned();
        let Some(pair) = pair else {
            return req
                .plan
                .changes
                .iter()
                .map(|c| {
                    outcome(
                        c,
                        Err("the pair is gone from the clusters; nothing was written".into()),
                    )
                })
                .collect();
        };
        let mut current = req.plan.clone();
        // A conflict only counts as a failure if no later round gets the pair through.
        let mut conflict: Option<FixOutcome> = None;
        for round in 1..=MAX_ROUNDS {
            for (i, c) in current.changes.iter().enumerate() {
                // One change at a time, so each gets its own outcome.
                if let Some(message) = self.hooks.refuse.as_ref().and_then(|r| r(c)) {
                    out.push(outcome(c, Err(message)));
                    return out;
                }
                let single = Plan {
                    changes: vec![c.clone()],
                    blocked: None,
                };
                match engine_apply::apply(&conn.writer, &single, opts).await {
                    Ok(_) => out.push(self.applied(c, outcome(c, Ok(())))),
                    Err(e @ ApplyError::Audit { .. }) => {
                        tracing::warn!("{e}");
                        out.push(self.applied(c, outcome(c, Ok(()))));
                    }
                    Err(ApplyError::Conflict { reason, .. }) => {
                        conflict = Some(outcome(c, Err(format!("conflict: {reason}"))));
                        break;
                    }
                    Err(e) => {
                        out.push(outcome(c, Err(one_line(&anyhow::Error::new(e)))));
                        // The rest of the plan was never sent: say so, change by change.
                        for rest in &current.changes[i + 1..] {
                            out.push(outcome(
                                rest,
                                Err("not sent: an earlier change of this fix failed".into()),
                            ));
                        }
                        return out;
                    }
                }
            }
            if round == MAX_ROUNDS {
                break;
            }
            tokio::time::sleep(SETTLE).await;
            let snap = conn.session.snapshot().await;
            if !session::side_errors(&snap).is_empty() {
                break;
            }
            let ctx = Ctx::new(&snap, &conn.config);
            if !pairs(&ctx).contains(&pair) {
                // Deleting an orphan ends the pair: done.
                conflict = None;
                break;
            }
            let next = plan(&ctx, &pair, None);
            if next.is_empty() {
                conflict = None;
            }
            if next.is_empty() || next.blocked.is_some() {
                break;
            }
            conflict = None;
            current = next;
        }
        out.extend(conflict);
        out
    }
}

impl Drop for LiveBackend {
    fn drop(&mut self) {
        if let Some(t) = lock(&self.pump).take() {
            t.abort();
        }
    }
}

impl Backend for LiveBackend {
    async fn load_diff(&self, key: RowKey) -> Result<DiffSource, BackendError> {
        let latest = self.latest();
        let pair = latest
            .pair(&key)
            .ok_or_else(|| BackendError(format!("{key} is gone from the clusters")))?;
        Ok(diff_source(&latest.snapshot, &latest.config, pair))
    }

    async fn load_object(
        &self,
        side: SideName,
        key: RowKey,
    ) -> Result<Option<serde_json::Value>, BackendError> {
        let latest = self.latest();
        let pair = latest
            .pair(&key)
            .ok_or_else(|| BackendError(format!("{key} is gone from the clusters")))?;
        Ok(object_json(&latest.snapshot, pair, side))
    }

    async fn apply_fixes(&self, fixes: Vec<FixRequest>) -> Vec<FixOutcome> {
        if self.opts.read_only {
            return fixes
                .iter()
                .flat_map(|f| {
                    f.plan.changes.iter().map(|c| FixOutcome {
                        key: f.key.clone(),
                        target: c.target.clone(),
                        verb: c.action.verb().to_string(),
                        result: Err(READ_ONLY_REFUSAL.to_string()),
                    })
                })
                .collect();
        }
        let conn = self.conn();
        let opts = ApplyOptions {
            dry_run: false,
            audit: self
                .opts
                .audit_log
                .clone()
                .or_else(AuditLog::default_path)
                .map(AuditLog::new),
        };
        let mut out = Vec::new();
        for fix in fixes {
            out.extend(self.fix_one(&conn, &opts, fix).await);
        }
        out
    }

    async fn list_contexts(&self) -> Result<Vec<String>, BackendError> {
        let loaded = load_kubeconfig(self.opts.kubeconfig.as_deref())
            .map_err(|e| BackendError(e.to_string()))?;
        Ok(loaded
            .context_names()
            .into_iter()
            .filter(|c| VClusterContextName::parse(c).is_some())
            .map(str::to_string)
            .collect())
    }

    async fn switch_context(&self, context: String) -> Result<(), BackendError> {
        let _one_at_a_time = self.switching.lock().await;
        let (selection, config_file) = if context == self.initial_context {
            (self.opts.selection.clone(), self.opts.config_file.clone())
        } else {
            // Another vCluster: its name, namespace and host context come from the context
            // name, its config from its own Secret.
            (
                ContextSelection {
                    context: Some(context.clone()),
                    ..ContextSelection::default()
                },
                None,
            )
        };
        let conn = open(
            self.opts.kubeconfig.as_deref(),
            &selection,
            config_file,
            self.hooks.note.clone(),
        )
        .await
        .map_err(|e| BackendError(one_line(&e)))?;
        *lock(&self.conn) = Arc::new(conn);
        self.start_pump();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::snapshot::{Obj, ObjKey};
    use k8s_openapi::api::core::v1::Namespace;

    fn with_namespace(side: &mut crate::cluster::snapshot::Side) {
        side.namespaces
            .insert(ObjKey::new("", "default"), Obj::new(Namespace::default()));
    }

    #[test]
    fn a_silent_side_gets_the_short_wait_and_two_answering_sides_the_long_one() {
        let mut snap = Snapshot::default();
        assert_eq!(partial_after(&snap), PARTIAL_AFTER);
        with_namespace(&mut snap.virtual_side);
        assert_eq!(
            partial_after(&snap),
            PARTIAL_AFTER,
            "the host has sent nothing"
        );
        with_namespace(&mut snap.host);
        assert_eq!(partial_after(&snap), PARTIAL_AFTER_ANSWERING);
        assert!(PARTIAL_AFTER < PARTIAL_AFTER_ANSWERING);
    }
}
