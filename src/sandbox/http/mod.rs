//! The HTTP/1.1 server of one sandbox API server: listener lifecycle (stop and restart on the
//! same port) around the catch-all handler in [`router`].

pub mod discovery;
pub mod protobuf;
pub mod router;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::authz::{Attributes, Authorizer};
use super::cluster::Cluster;
use super::faults::Faults;
pub use router::User;

/// State shared by every request of one server.
pub struct Shared {
    pub cluster: Arc<Cluster>,
    pub users: HashMap<String, User>,
    /// Who a request without credentials is; None answers it with 401.
    pub anonymous: Option<User>,
    faults: Mutex<Faults>,
    drop_tx: watch::Sender<u64>,
    serving: std::sync::atomic::AtomicBool,
    bookmark_every_ms: std::sync::atomic::AtomicU64,
    address: Mutex<String>,
    /// Requests served per `"<verb> <resource>[/<sub>]"`, for benches and write-count tests.
    requests: Mutex<HashMap<String, u64>>,
    /// Every write request received (accepted or not), in arrival order.
    writes: Mutex<Vec<RequestRecord>>,
    /// Every request of an RBAC user that RBAC denied.
    denials: Mutex<Vec<RequestRecord>>,
    /// Opt-in RBAC: bearer token → user name of users authorized by [`Authorizer`].
    rbac_users: Mutex<HashMap<String, String>>,
    authorizer: Mutex<Authorizer>,
}

/// One request as the server received it (a write, or a request RBAC denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub user: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: String,
    pub resource: String,
    /// `status`, `binding`, ... or empty.
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// When it arrived (for retry spacing).
    pub at: std::time::Instant,
}

impl Shared {
    pub fn new(
        cluster: Arc<Cluster>,
        users: HashMap<String, User>,
        bookmark_every: Duration,
    ) -> Self {
        let (drop_tx, _) = watch::channel(0);
        Self {
            cluster,
            users,
            anonymous: None,
            faults: Mutex::new(Faults::default()),
            drop_tx,
            serving: std::sync::atomic::AtomicBool::new(true),
            bookmark_every_ms: std::sync::atomic::AtomicU64::new(bookmark_every.as_millis() as u64),
            address: Mutex::new(String::new()),
            requests: Mutex::new(HashMap::new()),
            writes: Mutex::new(Vec::new()),
            denials: Mutex::new(Vec::new()),
            rbac_users: Mutex::new(HashMap::new()),
            authorizer: Mutex::new(Authorizer::default()),
        }
    }

    pub fn record_write(&self, w: RequestRecord) {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w);
    }

    pub fn record_denial(&self, r: RequestRecord) {
        self.denials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }

    /// Every request RBAC denied so far.
    pub fn denials(&self) -> Vec<RequestRecord> {
        self.denials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every write request received so far.
    pub fn writes(&self) -> Vec<RequestRecord> {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds a user authorized by RBAC rules (see [`Shared::set_rbac`]).
    pub fn add_rbac_user(&self, token: &str, name: &str) {
        self.rbac_users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), name.to_string());
    }

    /// The roles and bindings RBAC users are authorized by.
    pub fn set_rbac(&self, authorizer: Authorizer) {
        *self.authorizer.lock().unwrap_or_else(|e| e.into_inner()) = authorizer;
    }

    /// The user name of an RBAC user's token.
    pub fn rbac_user(&self, token: &str) -> Option<String> {
        self.rbac_users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Whether `user`, an RBAC user, may make the request; `None` for other users.
    pub fn rbac_allows(&self, user: &str, a: &Attributes<'_>) -> Option<bool> {
        let is_rbac = self
            .rbac_users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|n| n == user);
        is_rbac.then(|| {
            self.authorizer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .allows(user, a)
        })
    }

    /// Counts one resource request (`what` is `"<verb> <resource>[/<sub>]"`).
    pub fn count_request(&self, what: &str) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(what) {
            Some(n) => *n += 1,
            None => {
                m.insert(what.to_string(), 1);
            }
        }
    }

    /// Requests served so far per `"<verb> <resource>[/<sub>]"`.
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        m.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn drop_rx(&self) -> watch::Receiver<u64> {
        self.drop_tx.subscribe()
    }

    /// Ends every open watch stream.
    pub fn drop_watches(&self) {
        self.drop_tx.send_modify(|g| *g += 1);
    }

    /// False between stop and restart: requests on connections that outlive the listener are
    /// refused and their connection closed.
    pub fn is_serving(&self) -> bool {
        self.serving.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How often open watches that asked for bookmarks get one.
    pub fn bookmark_every(&self) -> Duration {
        Duration::from_millis(
            self.bookmark_every_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    pub fn set_bookmark_every(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
        self.bookmark_every_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn server_address(&self) -> String {
        self.address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The request handler as a router, for serving or for driving in-process (fuzzing).
pub fn app(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .fallback(router::handle)
        .with_state(shared)
}

struct Running {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running (or stopped) listener for one [`Shared`].
pub struct Listener {
    pub shared: Arc<Shared>,
    pub addr: SocketAddr,
    running: Mutex<Option<Running>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn bind(
        shared: Arc<Shared>,
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        *shared.address.lock().unwrap_or_else(|e| e.into_inner()) = addr.to_string();
        let me = Self {
            shared,
            addr,
            running: Mutex::new(None),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
        };
        me.serve(listener);
        Ok(me)
    }

    fn serve(&self, listener: TcpListener) {
        let app = app(self.shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = rx.await;
        };
        let task = match self.tls.clone() {
            Some(acceptor) => {
                let tls = crate::sandbox::tls::TlsListener {
                    tcp: listener,
                    acceptor,
                };
                tokio::spawn(async move {
                    let _ = axum::serve(tls, app).with_graceful_shutdown(shutdown).await;
                })
            }
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await;
            }),
        };
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Running { shutdown: tx, task });
    }

    pub fn is_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Stops accepting, ends watches and waits (briefly) for connections to close.
    pub async fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(r) = running {
            let _ = r.shutdown.send(());
            self.shared
                .serving
                .store(false, std::sync::atomic::Ordering::SeqCst);
            self.shared.drop_watches();
            let abort = r.task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), r.task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Serves again on the same address.
    pub async fn start_again(&self) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        // The old socket may linger for a moment after the serve task ends.
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    self.shared
                        .serving
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    self.serve(l);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
    }
}
