//! `vinspect sync`: the engine running as a controller.
//!
//! One feeder task turns every new [`Snapshot`] into queue entries for the pairs that changed;
//! a pool of workers takes pairs off the [`WorkQueue`], plans them with the pair's
//! [`LastSeen`] memory and hands the writes to a [`Writer`] (the kube-rs applier). Writes are
//! only made while this process holds the leader Lease; everything else (watching, planning,
//! events about blocked pairs) is the same for a standby.
//!
//! Two details make the loop correct rather than merely busy:
//! - **Expectations.** A write is visible to the planner only after the watch brings it back.
//!   Until then the snapshot is stale for that pair and planning it again would repeat the
//!   write (a second create → 409 AlreadyExists). After each write the worker records what the
//!   snapshot must show (the object at the returned resourceVersion, or gone) and a pair whose
//!   expectation is unmet is put aside until it is met or a short deadline passes.
//! - **Memory.** Deletion from host to virtual is only allowed when the host twin was seen
//!   before (§8.4), so a pair's memory is updated whenever it is in line and after each
//!   successful write, and forgotten when both objects are gone.

use crate::cluster::snapshot::{ObjKey, Snapshot};
use crate::engine::change::{Action, Blocked, Change, ObjKind, PairKind, Plan, SideName, Target};
use crate::engine::ctx::Ctx;
use crate::engine::events::{Involved, Notice, Recorder};
use crate::engine::memory::Memory;
use crate::engine::pair::{Pair, pairs};
use crate::engine::plan::plan;
use crate::engine::queue::{Backoff, RetryBucket, WorkQueue};
pub use crate::engine::runner::{Tuning, run_sync, run_sync_tuned};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// What `vinspect sync` was asked to do: plain data, filled in by the CLI.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// `--kubeconfig`; `None` = `$KUBECONFIG`, else `~/.kube/config` (in-cluster config when
    /// neither exists).
    pub kubeconfig: Option<PathBuf>,
    /// `--context` (the virtual cluster).
    pub context: Option<String>,
    /// `--host-context`.
    pub host_context: Option<String>,
    pub vcluster: Option<String>,
    pub host_namespace: Option<String>,
    /// `--config vcluster.yaml`; `None` = read (and follow) host Secret `vc-config-<vc>`.
    pub config: Option<PathBuf>,
    pub once: bool,
    pub audit_log: Option<PathBuf>,
    /// Watch and plan, never write (leader election is skipped: a read-only syncer leads
    /// nothing).
    pub read_only: bool,
}

/// Tunables of the controller; the defaults are the production values, tests shorten them.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub workers: usize,
    pub backoff: Backoff,
    /// Retries per second across all pairs (burst 10× that).
    pub retry_rate: f64,
    /// Every pair is planned again this often, whatever changed (catches dependencies the
    /// feeder does not track, e.g. a Service that appeared after a pod's env was written).
    pub resync: Duration,
    /// How long a write may take to show up in the snapshot before the pair is planned anyway.
    pub expectation_ttl: Duration,
    /// The same blocked/failed notice is repeated on the virtual object at most this often.
    pub notice_every: Duration,
    /// `--once`: at most this many plan/apply/settle rounds.
    pub max_rounds: u32,
    /// `--once`: how long to wait for both sides to be listed, and for leadership.
    pub start_timeout: Duration,
    /// `--once`: how long one round may take to settle.
    pub round_timeout: Duration,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            workers: 8,
            backoff: Backoff::default(),
            retry_rate: 10.0,
            resync: Duration::from_secs(300),
            expectation_ttl: Duration::from_secs(3),
            notice_every: Duration::from_secs(60),
            max_rounds: 5,
            start_timeout: Duration::from_secs(30),
            round_timeout: Duration::from_secs(20),
        }
    }
}

/// How soon a pair is looked at again after a delete was held back because the snapshot was
/// behind the server.
const STALE_RECHECK: Duration = Duration::from_millis(100);

/// The outcome of one write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// resourceVersion of the object after the write (`None` for deletes, bindings, or when
    /// the server did not say).
    pub resource_version: Option<String>,
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// 409: the object changed since it was planned (or already exists). Re-plan.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else the server or the connection said.
    #[error("{0}")]
    Failed(String),
    /// 400/422: the server refused the body itself (too large, invalid). Sending it again
    /// cannot help until one of the objects changes.
    #[error("{0}")]
    Rejected(String),
}

/// Executes single changes. The kube-rs implementation is `engine::kube_writer` (over
/// `engine::apply`); tests use fakes to drive the loop without a server.
pub trait Writer: Send + Sync + 'static {
    fn write(&self, change: &Change) -> impl Future<Output = Result<Written, WriteError>> + Send;

    /// Whether `target` exists on its server right now (a live read, not the cache).
    ///
    /// Asked before a delete that is justified only by the *other* object being absent from
    /// the snapshot (§8.4 both ways): a snapshot that lags behind a re-create shows the object
    /// briefly gone, and acting on that would delete both sides. Writers with no server to
    /// ask answer `false` (trust the snapshot).
    fn exists(&self, target: &Target) -> impl Future<Output = Result<bool, WriteError>> + Send {
        let _ = target;
        async { Ok(false) }
    }
}

/// Where the vcluster.yaml comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// Fixed (`--config` given, or tests).
    Fixed(VClusterConfig),
    /// Host Secret `vc-config-<vc>` key `config.yaml`, re-read whenever the Secret changes;
    /// defaults until it can be read.
    HostSecret,
}

/// Counters for logs and the `--once` summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub applied: u64,
    pub failed: u64,
    pub notices: u64,
    pub config_reloads: u64,
}

/// A pair the controller could not bring in line, with the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsynced {
    pub pair: Pair,
    pub reason: String,
}

/// What one `--once` run achieved.
#[derive(Debug, Clone, Default)]
pub struct OnceReport {
    pub rounds: u32,
    pub stats: Stats,
    pub unsynced: Vec<Unsynced>,
}

impl OnceReport {
    /// One line per unsynced pair, for stderr.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "sync --once: {} round(s), {} change(s) applied, {} failed, {} pair(s) left unsynced",
            self.rounds,
            self.stats.applied,
            self.stats.failed,
            self.unsynced.len()
        );
        for u in &self.unsynced {
            s.push_str(&format!("\n  {}: {}", describe_pair(&u.pair), u.reason));
        }
        s
    }
}

/// `service default/web ⇄ hns/web-x-default-x-vc`, for logs and summaries.
pub fn describe_pair(p: &Pair) -> String {
    let key = |k: &Option<ObjKey>| k.as_ref().map_or("-".to_string(), |k| k.to_string());
    let kind = match p.kind {
        PairKind::ReplicatedFromHost => "replicated service (from host)".to_string(),
        PairKind::ReplicatedToHost => "replicated service (to host)".to_string(),
        _ => p.obj_kind().to_string(),
    };
    format!("{kind} {} ⇄ {}", key(&p.virtual_key), key(&p.host_key))
}

/// What the snapshot must show for a write to have come back through the watch.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// The object exists at `rv` or later; with no `rv`, at anything but `before`.
    Present {
        target: Target,
        rv: Option<String>,
        before: Option<String>,
        /// Whether the object being gone also ends the wait (someone deleted what we
        /// patched). Never for creates and re-creates: between the delete and the create of a
        /// re-creation the object is briefly gone, and planning from that moment would take
        /// the pair for an orphan.
        gone_ok: bool,
    },
    /// The object is gone (or replaced by one with another UID).
    Gone { target: Target, uid: Option<String> },
}

#[derive(Debug, Clone)]
struct Expectation {
    wants: Vec<Expect>,
    deadline: Instant,
}

/// resourceVersion and UID of a target as the snapshot shows it.
fn observed(snap: &Snapshot, t: &Target) -> Option<(Option<String>, Option<String>)> {
    observed_meta(snap, t.side, t.kind, &t.namespace, &t.name)
        .map(|m| (m.resource_version.clone(), m.uid.clone()))
}

/// The metadata of an object as the snapshot shows it, looked up without building a key: the
/// feeder fingerprints every pair on every publish.
fn observed_meta<'s>(
    snap: &'s Snapshot,
    side: SideName,
    kind: ObjKind,
    namespace: &str,
    name: &str,
) -> Option<&'s ObjectMeta> {
    use crate::cluster::snapshot::lookup;
    let side = match side {
        SideName::Virtual => &snap.virtual_side,
        SideName::Host => &snap.host,
    };
    match kind {
        ObjKind::Pod => lookup(&side.pods, namespace, name).map(|o| &o.metadata),
        ObjKind::Service => lookup(&side.services, namespace, name).map(|o| &o.metadata),
        ObjKind::Endpoints => lookup(&side.endpoints, namespace, name).map(|o| &o.metadata),
        ObjKind::EndpointSlice => {
            lookup(&side.endpoint_slices, namespace, name).map(|o| &o.metadata)
        }
        ObjKind::Ingress => lookup(&side.ingresses, namespace, name).map(|o| &o.metadata),
        ObjKind::Namespace => lookup(&side.namespaces, "", name).map(|o| &o.metadata),
    }
}

/// Whether `seen` is `want` or newer. resourceVersions are opaque, but every server we talk to
/// (etcd-backed or the sandbox) uses increasing integers; anything else only matches exactly.
fn rv_reached(seen: &str, want: &str) -> bool {
    match (seen.parse::<u64>(), want.parse::<u64>()) {
        (Ok(s), Ok(w)) => s >= w,
        _ => seen == want,
    }
}

impl Expect {
    fn met(&self, snap: &Snapshot) -> bool {
        match self {
            Expect::Present {
                target,
                rv,
                before,
                gone_ok,
            } => match observed(snap, target) {
                // Gone after a patch to an object that existed: deleted since, by someone
                // else. Waiting for our write to show up would be waiting forever.
                None => *gone_ok && before.is_some(),
                Some((seen, _)) => match (rv, seen) {
                    (Some(want), Some(seen)) => rv_reached(&seen, want),
                    (None, seen) => seen != *before,
                    (Some(_), None) => true,
                },
            },
            Expect::Gone { target, uid } => match observed(snap, target) {
                None => true,
                Some((_, seen_uid)) => uid.is_some() && seen_uid != *uid,
            },
        }
    }
}

/// A cheap summary of everything a pair's plan reads about the pair itself: when it is the
/// same as last time, planning again would give the same answer.
fn pair_fingerprint(snap: &Snapshot, pair: &Pair) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut look = |kind: ObjKind| {
        for (side, key) in [
            (SideName::Virtual, &pair.virtual_key),
            (SideName::Host, &pair.host_key),
        ] {
            if let Some(k) = key {
                observed_meta(snap, side, kind, &k.namespace, &k.name)
                    .map(|m| (m.resource_version.as_deref(), m.uid.as_deref()))
                    .hash(&mut h);
            }
        }
    };
    look(pair.obj_kind());
    // Replicated pairs also read the endpoints of their source; the virtual `default/kubernetes`
    // slice is made from the `kubernetes` Endpoints on both sides.
    let kubernetes_slice = pair.kind == PairKind::EndpointSlice
        && pair
            .virtual_key
            .as_ref()
            .is_some_and(|k| naming::is_default_kubernetes(&k.namespace, &k.name));
    if kubernetes_slice
        || matches!(
            pair.kind,
            PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost
        )
    {
        look(ObjKind::Endpoints);
    }
    // An Endpoints or slice plan reads the virtual Service it belongs to (selector or not):
    // a Service that gains a selector must re-plan its Endpoints/slices at once.
    let service = match (&pair.kind, &pair.virtual_key) {
        (PairKind::Endpoints, Some(k)) => Some((k, k.name.as_str())),
        (PairKind::EndpointSlice, Some(k)) => crate::cluster::snapshot::lookup(
            &snap.virtual_side.endpoint_slices,
            &k.namespace,
            &k.name,
        )
        .and_then(|s| crate::engine::translate::endpoint_slice::service_name(&s.metadata))
        .map(|svc| (k, svc)),
        _ => None,
    };
    if let Some((k, svc)) = service {
        observed_meta(snap, SideName::Virtual, ObjKind::Service, &k.namespace, svc)
            .map(|m| (m.resource_version.as_deref(), m.uid.as_deref()))
            .hash(&mut h);
    }
    h.finish()
}

/// What every pair's plan may read besides the pair: the vCluster's own Service, the kube-dns
/// twin, the virtual namespaces (pod labels) and the config. A change here replans everything.
fn environment_fingerprint(
    snap: &Snapshot,
    vcluster: &str,
    hns: &str,
    config: &VClusterConfig,
) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for name in [vcluster.to_string(), naming::kube_dns_host_name(vcluster)] {
        let t = Target {
            side: SideName::Host,
            kind: ObjKind::Service,
            namespace: hns.to_string(),
            name,
        };
        observed(snap, &t).hash(&mut h);
    }
    for (k, ns) in &snap.virtual_side.namespaces {
        k.hash(&mut h);
        ns.metadata.resource_version.hash(&mut h);
    }
    format!("{config:?}").hash(&mut h);
    h.finish()
}

/// The config in the host Secret, if the Secret is there. `Err` = present but unusable.
pub fn config_from_snapshot(
    snap: &Snapshot,
    vcluster: &str,
    hns: &str,
) -> Option<Result<(String, VClusterConfig), String>> {
    let key = ObjKey::new(hns, naming::config_secret_name(vcluster));
    let secret = snap.host.secrets.get(&key)?;
    let version = secret.metadata.resource_version.clone().unwrap_or_default();
    Some(
        crate::cluster::config_source::config_from_secret(secret)
            .map(|c| (version, c))
            .map_err(|e| {
                format!("host Secret {key} (config.yaml): {e}; keeping the previous config")
            }),
    )
}

/// The virtual object a pair's notices are about (none when it does not exist).
fn involved(snap: &Snapshot, pair: &Pair) -> Option<Involved> {
    let key = pair.virtual_key.as_ref()?;
    let kind = pair.obj_kind();
    let t = Target {
        side: SideName::Virtual,
        kind,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    };
    let (_, uid) = observed(snap, &t)?;
    Some(Involved {
        kind,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        uid,
    })
}

/// The notice a planned-but-blocked pair deserves (vCluster is silent on these; we are not).
fn blocked_notice(snap: &Snapshot, pair: &Pair, plan: &Plan) -> Option<Notice> {
    let message = match plan.blocked.as_ref()? {
        Blocked::Squatter { message } | Blocked::Waiting { message } => message.clone(),
        Blocked::Disabled { .. } => return None,
    };
    Some(Notice::warning(involved(snap, pair)?, message))
}

fn failure_notice(
    snap: &Snapshot,
    pair: &Pair,
    change: &Change,
    err: &WriteError,
) -> Option<Notice> {
    let dir = match change.target.side {
        SideName::Host => "to",
        SideName::Virtual => "from",
    };
    let what = match pair.kind {
        PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost => "replicateServices: ",
        _ => "",
    };
    Some(Notice::error(
        involved(snap, pair)?,
        format!(
            "{what}Error syncing {dir} host cluster: {} {}: {err}",
            change.action.verb(),
            change.target
        ),
    ))
}

/// Whether an empty-but-blocked plan counts as "left unsynced" for `--once`.
///
/// Squatters and waits do: the virtual object is not running on the host, which is exactly
/// what `sync --once` in a pipeline must catch. A kind disabled by config does not: that is
/// the operator's choice, not a failure.
fn unsynced_reason(plan: &Plan) -> Option<String> {
    if !plan.changes.is_empty() {
        let first = &plan.changes[0];
        let more = plan.changes.len() - 1;
        return Some(if more == 0 {
            first.reason.clone()
        } else {
            format!("{} (+{more} more change(s))", first.reason)
        });
    }
    match plan.blocked.as_ref()? {
        Blocked::Squatter { message } | Blocked::Waiting { message } => Some(message.clone()),
        Blocked::Disabled { .. } => None,
    }
}

/// Everything the workers and the feeder share.
struct Shared<W> {
    vcluster: String,
    host_namespace: String,
    opts: ControllerOptions,
    read_only: bool,
    writer: W,
    recorder: Option<Recorder>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: RwLock<Arc<VClusterConfig>>,
    memory: Mutex<Memory>,
    queue: Mutex<WorkQueue<Pair>>,
    wake: Notify,
    expectations: Mutex<HashMap<Pair, Expectation>>,
    last_notice: Mutex<HashMap<Pair, (String, Instant)>>,
    stats: Mutex<Stats>,
    leader: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    /// Set by `run_once`: a rejected write waits for the next round instead of a backoff
    /// retry, so one object the server refuses cannot hold every round to its timeout.
    once: std::sync::atomic::AtomicBool,
}

/// The running controller. Build with [`Controller::new`], drive with [`Controller::run`] (until
/// stopped) or [`Controller::run_once`].
pub struct Controller<W: Writer> {
    shared: Arc<Shared<W>>,
    config_source: ConfigSource,
}

/// Parts a controller is made of (the I/O is all passed in, so tests can use fakes).
pub struct Parts<W> {
    pub vcluster: String,
    pub host_namespace: String,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub writer: W,
    /// Events on virtual objects (`None`: log only).
    pub recorder: Option<Recorder>,
    pub config: ConfigSource,
    /// `true` while this process may write (the leader election's output; a constant `true`
    /// channel when there is no election).
    pub leader: watch::Receiver<bool>,
    /// Turns `true` to stop (SIGTERM): no new work, in-flight writes finish.
    pub stop: watch::Receiver<bool>,
    pub read_only: bool,
    pub options: ControllerOptions,
}

impl<W: Writer> Controller<W> {
    pub fn new(parts: Parts<W>) -> Self {
        let initial = match &parts.config {
            ConfigSource::Fixed(c) => c.clone(),
            ConfigSource::HostSecret => VClusterConfig::default(),
        };
        let queue = WorkQueue::new(
            parts.options.backoff,
            RetryBucket::new(
                parts.options.retry_rate,
                (parts.options.retry_rate * 10.0).clamp(1.0, 10_000.0) as u32,
            ),
        );
        Self {
            config_source: parts.config,
            shared: Arc::new(Shared {
                vcluster: parts.vcluster,
                host_namespace: parts.host_namespace,
                opts: parts.options,
                read_only: parts.read_only,
                writer: parts.writer,
                recorder: parts.recorder,
                snapshots: parts.snapshots,
                config: RwLock::new(Arc::new(initial)),
                memory: Mutex::new(Memory::default()),
                queue: Mutex::new(queue),
                wake: Notify::new(),
                expectations: Mutex::new(HashMap::new()),
                last_notice: Mutex::new(HashMap::new()),
                stats: Mutex::new(Stats::default()),
                leader: parts.leader,
                stop: parts.stop,
                once: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Run until the stop signal: feed, work, drain. Returns the counters.
    pub async fn run(self) -> Stats {
        let workers = self.spawn_workers();
        let feeder = Feeder::new(self.shared.clone(), self.config_source.clone());
        feeder.run_until_stopped().await;
        self.drain(workers).await;
        self.stats()
    }

    /// `--once`: reconcile everything, let it settle, repeat until nothing is left to do or
    /// the round limit is hit. Waits for leadership first (a running controller elsewhere
    /// keeps writing; two writers would fight).
    pub async fn run_once(self) -> Result<OnceReport, OnceError> {
        let sh = self.shared.clone();
        let opts = sh.opts.clone();
        let mut snaps = sh.snapshots.clone();
        let deadline = Instant::now() + opts.start_timeout;
        // Both sides listed.
        loop {
            let (v, h) = {
                let s = snaps.borrow_and_update();
                (s.virtual_side.conn.clone(), s.host.conn.clone())
            };
            if v.is_live() && h.is_live() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(OnceError::NotConnected {
                    virtual_state: format!("{v:?}"),
                    host_state: format!("{h:?}"),
                });
            }
            let _ = tokio::time::timeout_at(deadline, snaps.changed()).await;
        }
        if !sh.read_only {
            let mut leader = sh.leader.clone();
            let got = tokio::time::timeout_at(deadline, leader.wait_for(|l| *l)).await;
            if !matches!(got, Ok(Ok(_))) {
                return Err(OnceError::NotLeader);
            }
        }
        sh.once.store(true, std::sync::atomic::Ordering::Relaxed);
        let workers = self.spawn_workers();
        let mut feeder = Feeder::new(sh.clone(), self.config_source.clone());
        feeder.load_config();
        let mut rounds = 0;
        let mut unsynced = Vec::new();
        while rounds < opts.max_rounds {
            if *sh.stop.borrow() {
                break;
            }
            rounds += 1;
            feeder.load_config();
            let (todo, writes, left) = evaluate(&sh);
            unsynced = left;
            if todo.is_empty() {
                break;
            }
            {
                let mut q = lock(&sh.queue);
                for p in todo {
                    q.add(p);
                }
            }
            sh.wake.notify_waiters();
            for _ in 0..opts.workers {
                sh.wake.notify_one();
            }
            // Work done, then the watch caught up with it.
            let round_deadline = Instant::now() + opts.round_timeout;
            self.settle(round_deadline).await;
            if !writes || sh.read_only {
                break;
            }
        }
        self.drain(workers).await;
        if rounds > 0 {
            // The verdict is on the state after the last round, not before it.
            unsynced = evaluate(&sh).2;
        }
        Ok(OnceReport {
            rounds,
            stats: self.stats(),
            unsynced,
        })
    }

    /// Wait until the queue is idle (no retries pending) and every expectation is met or
    /// expired, or the deadline passes.
    async fn settle(&self, deadline: Instant) {
        let sh = &self.shared;
        let mut snaps = sh.snapshots.clone();
        loop {
            let idle = !lock(&sh.queue).has_pending_work(Instant::now().into_std());
            let waiting = {
                let snap = snaps.borrow_and_update().clone();
                let now = Instant::now();
                let mut ex = lock(&sh.expectations);
                ex.retain(|p, e| {
                    let keep = !e.wants.iter().all(|w| w.met(&snap));
                    if keep && e.deadline <= now {
                        tracing::debug!(
                            "write for {} not seen in time: {:?}",
                            describe_pair(p),
                            e.wants
                        );
                    }
                    keep && e.deadline > now
                });
                !ex.is_empty()
            };
            if (idle && !waiting) || Instant::now() >= deadline {
                return;
            }
            tokio::select! {
                _ = snaps.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    fn spawn_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.shared.opts.workers.max(1))
            .map(|_| tokio::spawn(worker(self.shared.clone())))
            .collect()
    }

    /// Stop handing out work and wait for in-flight writes to finish.
    async fn drain(&self, workers: Vec<tokio::task::JoinHandle<()>>) {
        lock(&self.shared.queue).shut_down();
        self.shared.wake.notify_waiters();
        for w in workers {
            if let Err(e) = w.await {
                tracing::error!("sync worker ended abnormally: {e}");
            }
        }
    }
}

/// Order a batch of pairs so Services go first.
///
/// A new Service needs two round trips (host twin, then the virtual re-create with the host's
/// ClusterIP) and every pod in its namespace copies its ClusterIP into service-link env vars
/// when the pod's twin is created (pods are immutable there). Services first means both
/// converge sooner and new pods are created with the final IPs.
fn services_first(batch: &mut [Pair]) {
    batch.sort_by_key(|p| match p.kind {
        PairKind::Service | PairKind::ReplicatedToHost | PairKind::ReplicatedFromHost => 0u8,
        PairKind::Endpoints | PairKind::EndpointSlice => 1,
        PairKind::Pod | PairKind::Ingress => 2,
    });
}

/// Plan every pair against the newest snapshot: the pairs a worker should see (writes or
/// blocked), whether any write is planned, and what is left unsynced.
fn evaluate<W>(sh: &Shared<W>) -> (Vec<Pair>, bool, Vec<Unsynced>) {
    let snap = sh.snapshots.borrow().clone();
    let config = read(&sh.config);
    let ctx = Ctx {
        snapshot: &snap,
        config: &config,
        vcluster: &sh.vcluster,
        host_namespace: &sh.host_namespace,
        now: crate::engine::ctx::now_seconds(),
    };
    let memory = lock(&sh.memory).clone();
    let mut todo = Vec::new();
    let mut writes = false;
    let mut left = Vec::new();
    let mut all = pairs(&ctx);
    services_first(&mut all);
    for p in all {
        let pl = plan(&ctx, &p, memory.get(&p));
        writes |= !pl.changes.is_empty();
        // Blocked pairs go through a worker too: that is where their events are said
        // (deduplicated across rounds).
        if let Some(reason) = unsynced_reason(&pl) {
            todo.push(p.clone());
            left.push(Unsynced { pair: p, reason });
        }
    }
    (todo, writes, left)
}

/// Why `--once` could not run.
#[derive(Debug, thiserror::Error)]
pub enum OnceError {
    #[error(
        "could not list both clusters in time (virtual: {virtual_state}, host: {host_state}); check the contexts and that the API servers are reachable"
    )]
    NotConnected {
        virtual_state: String,
        host_state: String,
    },
    #[error(
        "another vinspect sync holds the leader Lease for this vCluster; it keeps the pairs in sync (stop it, or wait for its lease to expire)"
    )]
    NotLeader,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked mid-update leaves data that is still consistent enough for a
    // controller that replans from snapshots; don't take the whole process down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T: Clone>(m: &RwLock<T>) -> T {
    m.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Turns snapshots into queue entries.
struct Feeder<W> {
    sh: Arc<Shared<W>>,
    source: ConfigSource,
    /// Per pair: its fingerprint and the feed round that last saw it.
    fingerprints: HashMap<Pair, (u64, u64)>,
    round: u64,
    environment: Option<u64>,
    config_version: Option<String>,
    last_resync: Instant,
    was_leader: bool,
}

impl<W: Writer> Feeder<W> {
    fn new(sh: Arc<Shared<W>>, source: ConfigSource) -> Self {
        Self {
            sh,
            source,
            fingerprints: HashMap::new(),
            round: 0,
            environment: None,
            config_version: None,
            last_resync: Instant::now(),
            was_leader: false,
        }
    }

    /// Follow the config Secret. Returns whether the config changed.
    fn load_config(&mut self) -> bool {
        if !matches!(self.source, ConfigSource::HostSecret) {
            return false;
        }
        let snap = self.sh.snapshots.borrow().clone();
        match config_from_snapshot(&snap, &self.sh.vcluster, &self.sh.host_namespace) {
            None => false,
            Some(Err(msg)) => {
                let version = snap
                    .host
                    .secrets
                    .get(&ObjKey::new(
                        self.sh.host_namespace.clone(),
                        naming::config_secret_name(&self.sh.vcluster),
                    ))
                    .and_then(|s| s.metadata.resource_version.clone());
                if version != self.config_version {
                    tracing::warn!("{msg}");
                    self.config_version = version;
                }
                false
            }
            Some(Ok((version, config))) => {
                if Some(&version) == self.config_version.as_ref() {
                    return false;
                }
                self.config_version = Some(version);
                let mut cur = self.sh.config.write().unwrap_or_else(|p| p.into_inner());
                if **cur == config {
                    return false;
                }
                *cur = Arc::new(config);
                lock(&self.sh.stats).config_reloads += 1;
                tracing::info!("config reloaded from host Secret");
                true
            }
        }
    }

    /// Look at the newest snapshot and queue what changed.
    fn feed(&mut self) {
        let snap = self.sh.snapshots.borrow().clone();
        tracing::trace!("feed snapshot {}", snap.version);
        // Until both sides are listed, an empty side would read as "everything deleted".
        // A side that failed before its first full list is as empty as one still connecting.
        if !snap.virtual_side.is_listed() || !snap.host.is_listed() {
            return;
        }
        let config_changed = self.load_config();
        let config = read(&self.sh.config);
        let ctx = Ctx {
            snapshot: &snap,
            config: &config,
            vcluster: &self.sh.vcluster,
            host_namespace: &self.sh.host_namespace,
            now: crate::engine::ctx::now_seconds(),
        };
        let env =
            environment_fingerprint(&snap, &self.sh.vcluster, &self.sh.host_namespace, &config);
        let leader = *self.sh.leader.borrow();
        let gained = leader && !self.was_leader;
        self.was_leader = leader;
        let resync = self.last_resync.elapsed() >= self.sh.opts.resync;
        if resync {
            self.last_resync = Instant::now();
        }
        let everything = config_changed || gained || resync || self.environment != Some(env);
        self.environment = Some(env);

        let feeding = Instant::now();
        // Updated in place: rebuilding the map cloned and re-hashed every pair per publish.
        self.round += 1;
        let round = self.round;
        let mut changed = Vec::new();
        for p in pairs(&ctx) {
            let fp = pair_fingerprint(&snap, &p);
            match self.fingerprints.get_mut(&p) {
                Some((old, seen)) => {
                    let differs = *old != fp;
                    (*old, *seen) = (fp, round);
                    if everything || differs {
                        changed.push(p);
                    }
                }
                None => {
                    self.fingerprints.insert(p.clone(), (fp, round));
                    changed.push(p);
                }
            }
        }
        // Pairs whose objects are both gone: nothing left to remember.
        let gone: Vec<Pair> = self
            .fingerprints
            .iter()
            .filter(|(_, (_, seen))| *seen != round)
            .map(|(p, _)| p.clone())
            .collect();
        if !gone.is_empty() {
            let mut memory = lock(&self.sh.memory);
            let mut q = lock(&self.sh.queue);
            let mut ex = lock(&self.sh.expectations);
            let mut notes = lock(&self.sh.last_notice);
            for p in &gone {
                self.fingerprints.remove(p);
                memory.forget(p);
                q.forget(p);
                ex.remove(p);
                notes.remove(p);
            }
        }
        tracing::trace!("fed snapshot {} in {:?}", snap.version, feeding.elapsed());
        if changed.is_empty() {
            return;
        }
        services_first(&mut changed);
        let n = changed.len();
        tracing::debug!("snapshot {}: {n} pair(s) to look at", snap.version);
        {
            let mut q = lock(&self.sh.queue);
            for p in changed {
                q.add(p);
            }
        }
        for _ in 0..n.min(self.sh.opts.workers.max(1)) {
            self.sh.wake.notify_one();
        }
    }

    async fn run_until_stopped(mut self) {
        let mut snaps = self.sh.snapshots.clone();
        let mut leader = self.sh.leader.clone();
        let mut stop = self.sh.stop.clone();
        // A closed channel answers `changed()` at once, forever: stop selecting on it.
        let mut leader_open = true;
        snaps.mark_changed();
        loop {
            if *stop.borrow() {
                return;
            }
            let resync_at = self.last_resync + self.sh.opts.resync;
            tokio::select! {
                r = snaps.changed() => {
                    if r.is_err() {
                        // The watch caches are gone: nothing more will ever change.
                        tracing::warn!("snapshot source closed; stopping");
                        return;
                    }
                }
                r = leader.changed(), if leader_open => {
                    if r.is_err() {
                        // No election any more: keep what we had.
                        leader_open = false;
                    } else if !*leader.borrow() {
                        tracing::info!("lost leadership: pausing writes");
                    } else {
                        tracing::info!("leading: syncing");
                    }
                }
                _ = stop.changed() => return,
                _ = tokio::time::sleep_until(resync_at) => {}
            }
            self.feed();
        }
    }
}

async fn worker<W: Writer>(sh: Arc<Shared<W>>) {
    let mut leader = sh.leader.clone();
    let mut stop = sh.stop.clone();
    // A closed channel answers `changed()` at once, forever: stop selecting on it.
    let (mut leader_open, mut stop_open) = (true, true);
    loop {
        if *stop.borrow() || lock(&sh.queue).is_shut_down() {
            return;
        }
        // A standby writes nothing, but its queue keeps filling so it can start at once.
        if !sh.read_only && !*leader.borrow_and_update() {
            if !leader_open {
                return; // the election ended without us leading: nothing left to do
            }
            tokio::select! {
                r = leader.changed() => leader_open = r.is_ok(),
                r = stop.changed(), if stop_open => stop_open = r.is_ok(),
                _ = sh.wake.notified() => {}
            }
            continue;
        }
        // Register interest before looking, so an add between the look and the wait is not lost.
        let notified = sh.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (item, due) = {
            let mut q = lock(&sh.queue);
            let now = Instant::now().into_std();
            (q.pop(now), q.next_due())
        };
        match item {
            Some(pair) => process(&sh, pair).await,
            None => {
                let wait_until = due
                    .map(Instant::from_std)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(wait_until) => {}
                    r = stop.changed(), if stop_open => stop_open = r.is_ok(),
                    r = leader.changed(), if leader_open => leader_open = r.is_ok(),
                }
            }
        }
    }
}

/// Plan one pair and carry out its writes.
async fn process<W: Writer>(sh: &Shared<W>, pair: Pair) {
    let snap = sh.snapshots.borrow().clone();
    let config = read(&sh.config);
    let now = Instant::now();

    // A write of ours not yet back through the watch: planning now would repeat it.
    let pending = {
        let mut ex = lock(&sh.expectations);
        match ex.get(&pair) {
            Some(e) if e.deadline > now && !e.wants.iter().all(|w| w.met(&snap)) => {
                Some(e.deadline)
            }
            Some(_) => {
                ex.remove(&pair);
                None
            }
            None => None,
        }
    };
    if let Some(deadline) = pending {
        let mut q = lock(&sh.queue);
        q.done(&pair);
        // The watch normally re-queues the pair; this covers a write undone before we saw it.
        q.add_at(pair, deadline.into_std());
        return;
    }

    let ctx = Ctx {
        snapshot: &snap,
        config: &config,
        vcluster: &sh.vcluster,
        host_namespace: &sh.host_namespace,
        now: crate::engine::ctx::now_seconds(),
    };
    let planning = Instant::now();
    // Plan outside the lock: other workers and the feeder must not wait on a plan.
    let seen = {
        let mut m = lock(&sh.memory);
        m.follow(&snap);
        m.get(&pair).cloned()
    };
    let the_plan = plan(&ctx, &pair, seen.as_ref());
    tracing::trace!(
        "planned {} in {:?}",
        describe_pair(&pair),
        planning.elapsed()
    );

    tracing::debug!(
        "plan {}: {} change(s){}",
        describe_pair(&pair),
        the_plan.changes.len(),
        the_plan
            .blocked
            .as_ref()
            .map(|b| format!(", blocked: {b:?}"))
            .unwrap_or_default()
    );
    if the_plan.changes.is_empty() {
        lock(&sh.memory).observe(&ctx, &pair);
        if let Some(n) = blocked_notice(&snap, &pair, &the_plan) {
            notify(sh, &pair, n, &snap).await;
        } else {
            lock(&sh.last_notice).remove(&pair);
        }
        lock(&sh.queue).done(&pair);
        return;
    }
    if sh.read_only {
        for c in &the_plan.changes {
            tracing::info!(
                "read-only: would {} {} ({})",
                c.action.verb(),
                c.target,
                c.reason
            );
        }
        lock(&sh.queue).done(&pair);
        return;
    }

    let mut wants = Vec::new();
    let mut chain = crate::engine::apply::RvChain::default();
    for planned in &the_plan.changes {
        let change = chain.next(planned);
        let change = change.as_ref();
        // Leadership can end mid-plan; the rest of the plan is the next leader's.
        if !*sh.leader.borrow() {
            lock(&sh.queue).done(&pair);
            return;
        }
        // Deleting because the other side is gone: make sure it really is (see
        // `Writer::exists`). If it is there, the snapshot is behind; look again shortly.
        if let Some(other) = absent_counterpart(&snap, &pair, change) {
            match sh.writer.exists(&other).await {
                Ok(false) => {}
                Ok(true) => {
                    tracing::debug!(
                        "not deleting {}: {other} exists though the snapshot does not show it yet",
                        change.target
                    );
                    let mut q = lock(&sh.queue);
                    q.done(&pair);
                    q.add_at(pair, (Instant::now() + STALE_RECHECK).into_std());
                    return;
                }
                Err(err) => {
                    lock(&sh.stats).failed += 1;
                    let delay = lock(&sh.queue).retry(&pair, Instant::now().into_std());
                    tracing::warn!(
                        "cannot confirm {other} is gone before deleting {}: {err}; retrying in {delay:?}",
                        change.target
                    );
                    return;
                }
            }
        }
        let before = observed(&snap, &change.target);
        let writing = Instant::now();
        let result = sh.writer.write(change).await;
        tracing::trace!(
            "{} {} took {:?}",
            change.action.verb(),
            change.target,
            writing.elapsed()
        );
        match result {
            Ok(written) => {
                lock(&sh.stats).applied += 1;
                tracing::info!(
                    "{} {}: {}",
                    change.action.verb(),
                    change.target,
                    change.reason
                );
                chain.record(planned, written.resource_version.as_deref());
                wants.push(expect_after(change, &written, before));
            }
            Err(err) => {
                lock(&sh.stats).failed += 1;
                if !wants.is_empty() {
                    lock(&sh.expectations).insert(
                        pair.clone(),
                        Expectation {
                            wants,
                            deadline: Instant::now() + sh.opts.expectation_ttl,
                        },
                    );
                }
                let rejected_once = matches!(err, WriteError::Rejected(_))
                    && sh.once.load(std::sync::atomic::Ordering::Relaxed);
                if rejected_once {
                    lock(&sh.queue).done(&pair);
                    tracing::warn!(
                        "{} {}: {err}; the next round plans it again",
                        change.action.verb(),
                        change.target
                    );
                } else {
                    let delay = lock(&sh.queue).retry(&pair, Instant::now().into_std());
                    match &err {
                        WriteError::Conflict(_) => tracing::debug!(
                            "{} {}: {err}; planning again in {delay:?}",
                            change.action.verb(),
                            change.target
                        ),
                        WriteError::Failed(_) | WriteError::Rejected(_) => tracing::warn!(
                            "{} {}: {err}; retrying in {delay:?}",
                            change.action.verb(),
                            change.target
                        ),
                    }
                }
                // A conflict is routine (someone wrote first); only real failures are news.
                if !matches!(err, WriteError::Conflict(_))
                    && let Some(n) = failure_notice(&snap, &pair, change, &err)
                {
                    notify(sh, &pair, n, &snap).await;
                }
                return;
            }
        }
    }
    lock(&sh.memory).observe(&ctx, &pair);
    lock(&sh.last_notice).remove(&pair);
    let deadline = Instant::now() + sh.opts.expectation_ttl;
    lock(&sh.expectations).insert(pair.clone(), Expectation { wants, deadline });
    let mut q = lock(&sh.queue);
    q.done(&pair);
    // Normally the watch brings the write back and re-queues the pair; if the object was
    // changed back before we ever saw it (created and deleted within one publish), nothing
    // would, so look again when the expectation runs out.
    q.add_at(pair, deadline.into_std());
}

/// The object whose absence from the snapshot is the whole reason for deleting `change`'s
/// target: the other side of the pair, when the snapshot does not show it.
fn absent_counterpart(snap: &Snapshot, pair: &Pair, change: &Change) -> Option<Target> {
    if !matches!(change.action, Action::Delete { .. }) {
        return None;
    }
    let (side, key) = match change.target.side {
        SideName::Host => (SideName::Virtual, pair.virtual_key.as_ref()?),
        SideName::Virtual => (SideName::Host, pair.host_key.as_ref()?),
    };
    // Replicated services delete their target when the source Service is gone.
    let kind = match pair.kind {
        PairKind::ReplicatedFromHost | PairKind::ReplicatedToHost => ObjKind::Service,
        _ => pair.obj_kind(),
    };
    let t = Target {
        side,
        kind,
        namespace: key.namespace.clone(),
        name: key.name.clone(),
    };
    observed(snap, &t).is_none().then_some(t)
}

fn expect_after(
    change: &Change,
    written: &Written,
    before: Option<(Option<String>, Option<String>)>,
) -> Expect {
    let target = change.target.clone();
    let (before_rv, before_uid) = before.unwrap_or((None, None));
    match &change.action {
        Action::Delete { uid, .. } => Expect::Gone {
            target,
            uid: uid.clone().or(before_uid),
        },
        Action::Create { .. } | Action::Recreate { .. } => Expect::Present {
            target,
            rv: written.resource_version.clone(),
            before: before_rv,
            gone_ok: false,
        },
        Action::Patch { .. } | Action::Bind { .. } => Expect::Present {
            target,
            rv: written.resource_version.clone(),
            before: before_rv,
            gone_ok: true,
        },
    }
}

/// Say `notice` on the virtual object unless the same thing was said recently.
async fn notify<W: Writer>(sh: &Shared<W>, pair: &Pair, notice: Notice, snap: &Snapshot) {
    let now = Instant::now();
    {
        let mut notes = lock(&sh.last_notice);
        if let Some((msg, at)) = notes.get(pair)
            && *msg == notice.message
            && now.duration_since(*at) < sh.opts.notice_every
        {
            return;
        }
        notes.insert(pair.clone(), (notice.message.clone(), now));
    }
    tracing::warn!(
        "{} {}/{}: {}",
        notice.involved.kind,
        notice.involved.namespace,
        notice.involved.name,
        notice.message
    );
    lock(&sh.stats).notices += 1;
    if sh.read_only {
        return;
    }
    if let Some(rec) = &sh.recorder
        && let Err(e) = rec.record(&notice, Some(snap)).await
    {
        tracing::warn!(
            "could not record event on {} {}/{}: {e}",
            notice.involved.kind,
            notice.involved.namespace,
            notice.involved.name
        );
    }
}

#[cfg(test)]
mod tests;
