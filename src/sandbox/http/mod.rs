//! The HTTP/1.1 server of one sandbox API server: listener lifecycle (stop and restart on the
//! same port) around the catch-all handler in [`router`].

pub mod discovery;
pub mod router;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::cluster::Cluster;
use super::faults::Faults;
pub use router::User;

/// State shared by every request of one server.
pub struct Shared {
    pub cluster: Arc<Cluster>,
    pub users: HashMap<String, User>,
    faults: Mutex<Faults>,
    drop_tx: watch::Sender<u64>,
    pub bookmark_every: Duration,
    address: Mutex<String>,
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
            faults: Mutex::new(Faults::default()),
            drop_tx,
            bookmark_every,
            address: Mutex::new(String::new()),
        }
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

    pub fn server_address(&self) -> String {
        self.address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
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
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn bind(shared: Arc<Shared>, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        *shared.address.lock().unwrap_or_else(|e| e.into_inner()) = addr.to_string();
        let me = Self {
            shared,
            addr,
            running: Mutex::new(None),
        };
        me.serve(listener);
        Ok(me)
    }

    fn serve(&self, listener: TcpListener) {
        let app = axum::Router::new()
            .fallback(router::handle)
            .with_state(self.shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
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
            self.shared.drop_watches();
            let _ = r.shutdown.send(());
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
