//! Watch caches on both sides, published as `Arc<Snapshot>` on a `tokio::sync::watch` channel.
//!
//! One watcher task per (side, kind, namespace scope) writes into a shared snapshot under a
//! mutex; one publisher task coalesces bursts (at most one publish per [`WatchOptions::debounce`])
//! and bumps the version on every publish. A re-list (`Init` … `InitDone`) replaces only the
//! watcher's own namespace scope, so two watchers feeding one collection never erase each other.
//! A side whose watchers fail keeps its last objects and reports `Error`/`Retrying`.

use crate::cluster::clients::{Clients, Target};
use crate::cluster::fetch::{HostScope, one_line};
use crate::cluster::kinds::{self, Cached, Prepared, api_in};
use crate::cluster::snapshot::{ConnState, ObjKey, Side, Snapshot};
use crate::vcluster::naming;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Api;
use kube::runtime::watcher::{self, Event as WEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub scope: HostScope,
    /// Minimum time between two publishes (50 ms = at most 20 per second).
    pub debounce: Duration,
    /// How often the caches swap the objects parsed since for cooled copies (see
    /// [`crate::cluster::obj`]); `None`: never. Only for a reader that reads little of the
    /// snapshot per change (the TUI): a controller that plans every pair would parse every
    /// object again each time.
    pub cool_every: Option<Duration>,
    /// How long a parse is kept before it is cooled ([`COOL_AFTER`]; the first lists' objects
    /// are cooled at once).
    pub cool_after: Duration,
}

impl WatchOptions {
    pub fn new(scope: HostScope) -> Self {
        Self {
            scope,
            debounce: Duration::from_millis(50),
            cool_every: None,
            cool_after: COOL_AFTER,
        }
    }

    /// As [`WatchOptions::new`], cooling every [`COOL_EVERY`].
    pub fn cooled(scope: HostScope) -> Self {
        Self {
            cool_every: Some(COOL_EVERY),
            ..Self::new(scope)
        }
    }
}

/// How often a cooling cache looks for parsed objects. Each look walks every cached key under
/// the lock (under 5 ms at 50,000 pairs: the idle TUI uses 0.23 % of a core); the first
/// cooling after the initial lists writes and compresses every object (1.5 s of one core at
/// 50,000 pairs, without the lock).
pub const COOL_EVERY: Duration = Duration::from_secs(2);

/// How long an object stays parsed once read or changed before it is cooled again: each
/// object is parsed at most once per this time, so a busy namespace's updates do not parse
/// its objects over and over (at 50,000 pairs, parsing all ~180,000 objects once takes ~2 s
/// of one core: ~7 % of a core if every object were read in every such period). The
/// objects of the initial lists are cooled at once.
pub const COOL_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Which {
    Virtual,
    Host,
}

#[derive(Debug, Clone, PartialEq)]
enum WState {
    Connecting,
    Ready,
    Failing { message: String, attempts: u32 },
}

struct Building {
    snap: Snapshot,
    /// Newest resourceVersion applied per (side, kind), for the publish trace: a scale run
    /// joins it with the writes it made to measure change-to-screen lag.
    newest_rv: std::collections::BTreeMap<(Which, &'static str), u64>,
    /// State of each required watcher per side; optional watchers are not tracked.
    virtual_w: Vec<WState>,
    host_w: Vec<WState>,
    /// Whether each required watcher has completed a list at least once.
    virtual_listed: Vec<bool>,
    host_listed: Vec<bool>,
}

impl Building {
    fn states(&mut self, which: Which) -> &mut Vec<WState> {
        match which {
            Which::Virtual => &mut self.virtual_w,
            Which::Host => &mut self.host_w,
        }
    }

    fn listed(&mut self, which: Which) -> &mut Vec<bool> {
        match which {
            Which::Virtual => &mut self.virtual_listed,
            Which::Host => &mut self.host_listed,
        }
    }

    fn side(&mut self, which: Which) -> &mut Side {
        match which {
            Which::Virtual => &mut self.snap.virtual_side,
            Which::Host => &mut self.snap.host,
        }
    }

    /// Side state from its watchers: any failing → Error (first failure) / Retrying; all ready
    /// → Live; else Connecting.
    fn refresh_conn(&mut self, which: Which) {
        let states = self.states(which).clone();
        let failing = states.iter().find_map(|s| match s {
            WState::Failing { message, attempts } => Some((message.clone(), *attempts)),
            _ => None,
        });
        let conn = match failing {
            Some((message, 1)) => ConnState::Error { message },
            Some((message, attempts)) => ConnState::Retrying {
                message,
                attempt: attempts - 1,
            },
            None if states.iter().all(|s| *s == WState::Ready) => ConnState::Live,
            None => ConnState::Connecting,
        };
        let listed = self.listed(which).iter().all(|l| *l);
        let side = self.side(which);
        side.conn = conn;
        side.listed = listed;
    }
}

struct Shared {
    state: Mutex<Building>,
    notify: Notify,
    /// Per side (virtual, host): whether its server streams initial lists (asked once).
    streaming: [tokio::sync::OnceCell<bool>; 2],
}

impl Shared {
    /// The building snapshot, for the watchers, the publisher and the cooler. A poisoned lock
    /// (a task panicked holding it) is taken as it is: the caches go on serving.
    fn lock(&self) -> std::sync::MutexGuard<'_, Building> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Whether a server of this version serves streaming lists (`sendInitialEvents`, the WatchList
/// feature) by default: on from 1.32, off again in 1.33 only. Older servers ignore the
/// parameter and would never send the end-of-list bookmark, so they get paged lists.
pub fn streams_lists(major: &str, minor: &str) -> bool {
    let minor: u32 = minor
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(0);
    major == "1" && minor >= 32 && minor != 33
}

async fn server_streams_lists(client: kube::Client) -> bool {
    match client.apiserver_version().await {
        Ok(v) => streams_lists(&v.major, &v.minor),
        Err(_) => false,
    }
}

/// A watch that failed to start because the server refused `sendInitialEvents` (feature gate
/// off): the watcher falls back to paged lists.
fn streaming_refused(e: &watcher::Error) -> bool {
    matches!(e, watcher::Error::WatchStartFailed(kube::Error::Api(s)) if matches!(s.code, 400 | 422))
}

/// Running watch caches. Dropping it stops every task.
pub struct Watching {
    pub rx: watch::Receiver<Arc<Snapshot>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Watching {
    /// Wait until both sides are no longer connecting (Live or failing), or the timeout passes;
    /// returns the snapshot at that point.
    pub async fn settled(&mut self, timeout: Duration) -> Arc<Snapshot> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let snap = self.rx.borrow_and_update().clone();
            let done = |c: &ConnState| !matches!(c, ConnState::Connecting);
            if done(&snap.virtual_side.conn) && done(&snap.host.conn) {
                return snap;
            }
            match tokio::time::timeout_at(deadline, self.rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.rx.borrow().clone(),
            }
        }
    }
}

struct Spec<K: Cached> {
    which: Which,
    api: Api<K::Wire>,
    cfg: watcher::Config,
    /// The namespace this watcher covers (`None` = all namespaces / cluster-scoped).
    namespace: Option<String>,
    /// Index into the side's required-watcher states, `None` for optional watchers.
    required: Option<usize>,
}

fn in_scope(key: &ObjKey, ns: &Option<String>) -> bool {
    ns.as_ref().is_none_or(|n| &key.namespace == n)
}

fn spawn_one<K: Cached>(shared: Arc<Shared>, spec: Spec<K>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Spec {
            which,
            api,
            cfg,
            namespace,
            required,
        } = spec;
        let side = match which {
            Which::Virtual => 0,
            Which::Host => 1,
        };
        let mut streaming = *shared.streaming[side]
            .get_or_init(|| server_streams_lists(api.clone().into_client()))
            .await;
        // After any failure the watcher is started afresh, so the cache is re-listed rather
        // than resumed: a server that came back (with or without its state) is seen as it is
        // now, and the side turns Live again even when nothing changes on it.
        let new_stream = |delay: Duration, streaming: bool| {
            let api = api.clone();
            let cfg = if streaming {
                cfg.clone().streaming_lists()
            } else {
                cfg.clone()
            };
            futures::stream::once(tokio::time::sleep(delay))
                .flat_map(move |()| watcher::watcher(api.clone(), cfg.clone()))
                .boxed()
        };
        let mut stream = new_stream(Duration::ZERO, streaming);
        let mut listed = false;
        let mut buffer: Option<Vec<Prepared<K>>> = None;
        // Failures since the last successful list, for the retry delay.
        let mut failures = 0u32;
        while let Some(item) = stream.next().await {
            let mut failed = false;
            if streaming
                && !listed
                && let Err(e) = &item
                && streaming_refused(e)
            {
                tracing::info!(side = ?which, error = %one_line(&e.to_string()), "streaming list refused; using paged lists");
                streaming = false;
                stream = new_stream(Duration::ZERO, false);
                continue;
            }
            if matches!(item, Ok(WEvent::InitDone)) {
                listed = true;
            }
            let mut st = shared.lock();
            let mut changed = true;
            match item {
                Ok(ev) => {
                    match ev {
                        WEvent::Init => {
                            buffer = Some(Vec::new());
                            changed = false;
                        }
                        WEvent::InitApply(o) => {
                            // Pooled as it arrives: a buffered list of full pods is what
                            // made the first list of a big cluster peak.
                            if let Some(p) = K::from_wire(st.side(which), o) {
                                buffer.get_or_insert_with(Vec::new).push(p);
                            }
                            changed = false;
                        }
                        WEvent::InitDone => {
                            let fresh = buffer.take().unwrap_or_default();
                            let side = st.side(which);
                            kinds::retain::<K>(side, |k, _| !in_scope(k, &namespace));
                            for p in fresh {
                                p.insert(side);
                            }
                            if let Some(i) = required {
                                st.states(which)[i] = WState::Ready;
                                if std::mem::replace(&mut st.listed(which)[i], true) {
                                    st.side(which).relists += 1;
                                }
                            }
                            failures = 0;
                        }
                        WEvent::Apply(o) => {
                            note_rv::<K>(&mut st, which, &o);
                            let key = ObjKey::of(&o);
                            let side = st.side(which);
                            match K::from_wire(side, o) {
                                Some(p) => p.insert(side),
                                None => kinds::remove::<K>(side, &key),
                            }
                        }
                        WEvent::Delete(o) => {
                            note_rv::<K>(&mut st, which, &o);
                            kinds::remove::<K>(st.side(which), &ObjKey::of(&o));
                        }
                    }
                    if let Some(i) = required
                        && matches!(st.states(which)[i], WState::Failing { .. })
                        && changed
                    {
                        st.states(which)[i] = WState::Ready;
                    }
                }
                Err(e) => {
                    failed = true;
                    failures = failures.saturating_add(1);
                    let message = one_line(&e.to_string());
                    tracing::warn!(side = ?which, error = %message, "watch failed; retrying");
                    if let Some(i) = required {
                        let attempts = match &st.states(which)[i] {
                            WState::Failing { attempts, .. } => attempts + 1,
                            _ => 1,
                        };
                        st.states(which)[i] = WState::Failing { message, attempts };
                    } else {
                        changed = false;
                    }
                }
            }
            st.refresh_conn(which);
            drop(st);
            if changed {
                shared.notify.notify_one();
            }
            if failed {
                stream = new_stream(retry_delay(failures, required.is_some()), streaming);
                buffer = None;
            }
        }
    })
}

/// Wait before re-listing after `failures` failures in a row: 250 ms doubling, at most 5 s
/// for the kinds pairs are made of (a server back from a restart is seen within seconds) and
/// 30 s for optional ones (a kind the role does not grant keeps failing).
fn retry_delay(failures: u32, required: bool) -> Duration {
    let cap = if required { 5_000 } else { 30_000 };
    let ms = 250u64.saturating_mul(1u64 << failures.saturating_sub(1).min(7));
    Duration::from_millis(ms.min(cap))
}

/// Remembers the newest resourceVersion seen for this side and kind (only when tracing wants it).
fn note_rv<K: Cached>(st: &mut Building, which: Which, o: &K::Wire) {
    if !tracing::enabled!(target: "vinspect::watch", tracing::Level::TRACE) {
        return;
    }
    let rv = kube::Resource::meta(o)
        .resource_version
        .as_deref()
        .and_then(|r| r.parse::<u64>().ok())
        .unwrap_or(0);
    let slot = st.newest_rv.entry((which, kind_name::<K>())).or_default();
    *slot = (*slot).max(rv);
}

fn kind_name<K: Cached>() -> &'static str {
    match K::kind(&()).as_ref() {
        "Pod" => "pods",
        "Service" => "services",
        "Endpoints" => "endpoints",
        "EndpointSlice" => "endpointslices",
        "Ingress" => "ingresses",
        _ => "other",
    }
}

fn list_cfg() -> watcher::Config {
    watcher::Config::default().page_size(crate::cluster::fetch::PAGE_SIZE)
}

/// The watcher tasks of one [`spawn`], as they are started.
struct Watchers<'a> {
    shared: &'a Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers<'_> {
    /// One watcher of `ns` (`None` = all namespaces / cluster-scoped). A required one counts
    /// toward its side's connection state.
    fn add<K: Cached>(
        &mut self,
        which: Which,
        api: Api<K::Wire>,
        cfg: watcher::Config,
        ns: Option<&str>,
        required: bool,
    ) {
        let required = required.then(|| {
            let mut st = self.shared.lock();
            st.listed(which).push(false);
            let v = st.states(which);
            v.push(WState::Connecting);
            v.len() - 1
        });
        let spec = Spec::<K> {
            which,
            api,
            cfg,
            namespace: ns.map(str::to_string),
            required,
        };
        self.tasks.push(spawn_one(self.shared.clone(), spec));
    }

    /// The kinds pairs are made of (required: a side without them is not live) and the
    /// syncer's events (optional), in `ns`.
    fn pair_kinds(&mut self, which: Which, c: &kube::Client, ns: Option<&str>) {
        // Pods are read with their env as text (see `envpool::WirePod`).
        self.add::<Pod>(which, api_in(c, ns), list_cfg(), ns, true);
        self.add::<Service>(which, api_in(c, ns), list_cfg(), ns, true);
        self.add::<Endpoints>(which, api_in(c, ns), list_cfg(), ns, true);
        self.add::<EndpointSlice>(which, api_in(c, ns), list_cfg(), ns, true);
        self.add::<Ingress>(which, api_in(c, ns), list_cfg(), ns, true);
        self.add::<Event>(which, api_in(c, ns), list_cfg(), ns, false);
    }

    /// The cluster-scoped kinds, optional.
    fn cluster_kinds(&mut self, which: Which, c: &kube::Client) {
        self.add::<Namespace>(which, Api::all(c.clone()), list_cfg(), None, false);
        self.add::<Node>(which, Api::all(c.clone()), list_cfg(), None, false);
        let classes = Api::<IngressClass>::all(c.clone());
        self.add::<IngressClass>(which, classes, list_cfg(), None, false);
    }
}

/// Start the caches of both sides and the publisher. Must run inside a tokio runtime.
pub fn spawn(clients: &Clients, opts: WatchOptions) -> Watching {
    let scope = opts.scope.clone();
    let side = |t: &Target| Side {
        context: t.context.clone(),
        server: t.server.clone(),
        ..Default::default()
    };
    let snap = Snapshot {
        version: 0,
        vcluster: scope.vcluster.clone(),
        host_namespace: scope.host_namespace.clone(),
        virtual_side: side(&clients.virtual_),
        host: side(&clients.host),
    };
    let (tx, rx) = watch::channel(Arc::new(snap.clone()));
    let shared = Arc::new(Shared {
        state: Mutex::new(Building {
            snap,
            newest_rv: Default::default(),
            virtual_w: Vec::new(),
            host_w: Vec::new(),
            virtual_listed: Vec::new(),
            host_listed: Vec::new(),
        }),
        notify: Notify::new(),
        streaming: Default::default(),
    });

    let mut w = Watchers {
        shared: &shared,
        tasks: Vec::new(),
    };
    let vc = &clients.virtual_.client;
    let hc = &clients.host.client;
    let hns = scope.host_namespace.as_str();

    // Virtual side: everything, all namespaces.
    w.pair_kinds(Which::Virtual, vc, None);
    w.cluster_kinds(Which::Virtual, vc);

    // Host side: the host namespace (twins and squatters alike), plus what the config names.
    w.pair_kinds(Which::Host, hc, Some(hns));
    let secret_cfg = list_cfg().fields(&format!(
        "metadata.name={}",
        naming::config_secret_name(&scope.vcluster)
    ));
    w.add::<Secret>(
        Which::Host,
        api_in(hc, Some(hns)),
        secret_cfg,
        Some(hns),
        false,
    );
    w.cluster_kinds(Which::Host, hc);
    for extra in &scope.extra_namespaces {
        let ns = Some(extra.as_str());
        w.add::<Service>(Which::Host, api_in(hc, ns), list_cfg(), ns, false);
        w.add::<Endpoints>(Which::Host, api_in(hc, ns), list_cfg(), ns, false);
    }
    let mut tasks = w.tasks;

    // Publisher: coalesce, bump the version, send.
    let debounce = opts.debounce;
    let pub_shared = shared.clone();
    tasks.push(tokio::spawn(async move {
        let mut version = 0u64;
        loop {
            pub_shared.notify.notified().await;
            tokio::time::sleep(debounce).await;
            version += 1;
            let snap = {
                let mut st = pub_shared.lock();
                st.snap.version = version;
                if tracing::enabled!(target: "vinspect::watch", tracing::Level::TRACE) {
                    let newest: Vec<String> = st
                        .newest_rv
                        .iter()
                        .map(|((w, k), rv)| format!("{}/{k}={rv}", if *w == Which::Virtual { "virtual" } else { "host" }))
                        .collect();
                    tracing::trace!(target: "vinspect::watch", version, newest = %newest.join(","), "published");
                }
                Arc::new(st.snap.clone())
            };
            if tx.send(snap).is_err() {
                break;
            }
        }
    }));

    if let Some(every) = opts.cool_every {
        tasks.push(tokio::spawn(cool(shared.clone(), every, opts.cool_after)));
    }

    Watching { rx, tasks }
}

/// Swaps the parsed objects of both sides for cooled copies every `every`, once both sides
/// are listed (the objects of the first lists at once, later ones once parsed for `after`),
/// and has the result published so that readers let go of the parses.
async fn cool(shared: Arc<Shared>, every: Duration, after: Duration) {
    let mut min_age = Duration::ZERO;
    loop {
        tokio::time::sleep(every).await;
        let (mut v, mut h) = {
            let st = shared.lock();
            if !(st.snap.virtual_side.is_listed() && st.snap.host.is_listed()) {
                continue;
            }
            (
                st.snap.virtual_side.warm(min_age),
                st.snap.host.warm(min_age),
            )
        };
        min_age = after;
        if v.is_empty() && h.is_empty() {
            continue;
        }
        let picked = v.len() + h.len();
        let started = std::time::Instant::now();
        let Ok((v, h)) = tokio::task::spawn_blocking(move || {
            v.cool();
            h.cool();
            (v, h)
        })
        .await
        else {
            continue;
        };
        let swapped = {
            let mut st = shared.lock();
            st.snap.virtual_side.take_cooled(v) + st.snap.host.take_cooled(h)
        };
        tracing::debug!(target: "vinspect::watch", picked, swapped, ms = started.elapsed().as_millis() as u64, "cooled");
        if swapped > 0 {
            shared.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(retry_delay(1, true), Duration::from_millis(250));
        assert_eq!(retry_delay(3, true), Duration::from_millis(1000));
        assert_eq!(retry_delay(30, true), Duration::from_secs(5));
        assert_eq!(retry_delay(30, false), Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::streams_lists;

    #[test]
    fn streaming_lists_only_where_on_by_default() {
        assert!(streams_lists("1", "32"));
        assert!(streams_lists("1", "34+"));
        assert!(!streams_lists("1", "33"));
        assert!(!streams_lists("1", "31"));
        assert!(!streams_lists("1", "27"));
        assert!(!streams_lists("1", ""));
        assert!(!streams_lists("2", "0"));
    }
}
