//! An embedded Kubernetes-API-compatible server pair (host + virtual cluster) that kube-rs and
//! kubectl use unchanged, with a small simulated control plane and fault knobs for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vinspect::sandbox::SandboxError> {
//! use vinspect::sandbox::{Sandbox, SandboxOptions};
//! let sb = Sandbox::start(SandboxOptions::default()).await?;
//! let client = sb.virtual_client();
//! sb.host().fail_next(1, "create", "pods", 500);
//! # let _ = client; sb.shutdown().await; Ok(()) }
//! ```
//!
//! * Both servers report Kubernetes v1.32.4, serve legacy and aggregated discovery and the
//!   `/openapi/v3` stub, and keep one global resourceVersion each.
//! * Credentials: the kubeconfig carries a bearer token per user. Over plain http kubectl sends
//!   none (client-go merges kubeconfig credentials only into TLS transports), so requests without
//!   a token are admitted as admin there (loopback binds only); with `tls: true` or a
//!   non-loopback bind a token is required (401 otherwise)
//!   and the `sandbox-host-readonly` user is limited to get/list/watch (403 otherwise). kube-rs
//!   sends tokens either way, so `readonly_client()` sees 403 over http too.
//! * The host runs a scheduler/kubelet (`sandbox-node-N`, pod IPs from 10.244.0.0/16); both run
//!   the endpoints + EndpointSlice controller and the namespace controller; services get
//!   ClusterIPs from 10.96.0.0/12 and NodePorts from 30000–32767.
//!
//! The sandbox is a cluster, not part of the syncer: it never imports the engine.

pub mod authz;
pub mod cluster;
pub mod command;
pub mod controllers;
pub mod defaults;
pub mod error;
pub mod faults;
pub mod http;
pub mod kubeconfig;
pub mod layout;
pub mod patch;
pub mod registry;
pub mod scale;
pub mod scenario;
pub mod scenarios;
pub mod selectors;
pub mod store;
pub mod table;
pub mod tls;
pub mod token_request;
pub mod validate;
pub mod watch;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use cluster::{Cluster, Role};
pub use command::{SandboxCommandOptions, run_sandbox_command};
pub use error::ApiError;
pub use kubeconfig::{HOST_CONTEXT, READONLY_CONTEXT};

use http::{Listener, Shared, User};
use layout::Install;

/// How to start a sandbox pair.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// vCluster name; default `demo`.
    pub vcluster: String,
    /// Host namespace of the vCluster; default `vcluster-<name>`.
    pub host_namespace: Option<String>,
    /// Lay down the vCluster install objects (what `vinspect sandbox --empty` shows); default
    /// true. False gives two bare clusters with only the seeded namespaces (and host nodes).
    pub empty_layout: bool,
    /// Delay before the host kubelet marks a scheduled pod Running and Ready; default 200 ms.
    pub kubelet_delay: Duration,
    /// Host nodes; default 3.
    pub nodes: u32,
    /// Serve HTTPS with a generated CA; default false (plain http).
    pub tls: bool,
    /// Bind address; default 127.0.0.1 (port 0 always).
    pub bind: IpAddr,
    /// Where to write the kubeconfig; default a fresh temp dir.
    pub kubeconfig_path: Option<PathBuf>,
    /// Opt-in RBAC users (see [`authz`]); default none, and then no request is checked
    /// against RBAC rules.
    pub rbac: Option<Rbac>,
}

/// Users authorized by RBAC manifests, per server. Each user gets a token on both servers;
/// [`Sandbox::write_rbac_kubeconfig`] writes a kubeconfig that uses them.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    /// User names, as RoleBinding subjects name them (`kind: User`, or
    /// `system:serviceaccount:<ns>:<name>` for `kind: ServiceAccount`).
    pub users: Vec<String>,
    /// Role/ClusterRole/RoleBinding/ClusterRoleBinding manifests of the host server.
    pub host: Vec<Value>,
    /// The same for the virtual server.
    pub virtual_: Vec<Value>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            vcluster: "demo".into(),
            host_namespace: None,
            empty_layout: true,
            kubelet_delay: Duration::from_millis(200),
            nodes: 3,
            tls: false,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            kubeconfig_path: None,
            rbac: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "sandbox: cannot listen on {addr}: {source}; pick another --bind address or free the port"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "sandbox: cannot write the kubeconfig {path}: {source}; check the directory exists and is writable"
    )]
    Kubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox: cannot build a kube client for {url}: {message}")]
    Client { url: String, message: String },
    #[error("sandbox: TLS setup failed: {0}")]
    Tls(String),
    #[error("sandbox: invalid vCluster name {0:?}: use a lowercase DNS-1123 label")]
    InvalidName(String),
    #[error("sandbox: {0}")]
    Rbac(#[from] authz::ManifestError),
}

/// What a server gets back after a restart that loses its state.
enum Reseed {
    Host {
        nodes: u32,
        install: Option<Install>,
    },
    Virtual {
        host: Arc<Cluster>,
        install: Option<Install>,
    },
}

/// One of the two API servers, with its fault knobs.
pub struct SandboxServer {
    listener: Listener,
    token: String,
    scheme: &'static str,
    /// DER of the CA when serving HTTPS.
    ca_der: Option<Vec<u8>>,
    client: kube::Client,
    reseed: Reseed,
    controllers: JoinHandle<()>,
}

impl SandboxServer {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.listener.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.addr
    }

    /// DER of the sandbox CA when serving HTTPS (for clients built by hand).
    pub fn ca_der(&self) -> Option<&[u8]> {
        self.ca_der.as_deref()
    }

    /// The admin bearer token of this server.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's state, for seeding objects directly (bypassing HTTP).
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.listener.shared.cluster
    }

    /// A kube client with admin rights on this server.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The next `n` requests with `verb` (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`, or `*`) on `resource` (plural such as `pods`, or `*`) fail
    /// with `code` (500, 409 or 403; other codes get a generic reason).
    pub fn fail_next(&self, n: u32, verb: &str, resource: &str, code: u16) {
        self.listener.shared.faults().add(n, verb, resource, code);
    }

    /// Ends every open watch stream (clients see the stream close and re-watch).
    pub fn drop_watches(&self) {
        self.listener.shared.drop_watches();
    }

    /// How often watches that asked for bookmarks get one (default 60 s, as the apiserver).
    pub fn set_bookmark_interval(&self, every: Duration) {
        self.listener.shared.set_bookmark_every(every);
    }

    /// Every write request (create, update, patch, delete, deletecollection) this server has
    /// received, accepted or not, in arrival order.
    pub fn writes(&self) -> Vec<http::RequestRecord> {
        self.listener.shared.writes()
    }

    /// Every request of an RBAC user (see [`SandboxOptions::rbac`]) that RBAC denied.
    pub fn denials(&self) -> Vec<http::RequestRecord> {
        self.listener.shared.denials()
    }

    /// How many write requests this server has received.
    pub fn write_count(&self) -> usize {
        self.listener.shared.writes().len()
    }

    /// Authorizes RBAC users (see [`Sandbox::rbac_token`]) by these manifests from now on.
    pub fn set_rbac(&self, manifests: &[Value]) -> Result<(), SandboxError> {
        let az = authz::Authorizer::from_manifests(manifests)?;
        self.listener.shared.set_rbac(az);
        Ok(())
    }

    /// Resource requests served so far, per `"<verb> <resource>[/<sub>]"` (e.g.
    /// `"patch services/status"`); discovery and health checks are not counted.
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.listener.shared.request_counts()
    }

    /// Adds this much latency to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.listener.shared.faults().latency = latency;
    }

    /// Stops serving (connections close, watches end). The port stays reserved for restart.
    pub async fn stop(&self) {
        self.listener.stop().await;
    }

    pub fn is_running(&self) -> bool {
        self.listener.is_running()
    }

    /// Serves again on the same port, with the state kept or reset to a fresh install.
    pub async fn restart(&self, keep_state: bool) -> Result<(), SandboxError> {
        self.listener.stop().await;
        if !keep_state {
            let c = self.cluster();
            c.reset();
            c.seed_namespaces();
            match &self.reseed {
                Reseed::Host { nodes, install } => {
                    controllers::kubelet::register_nodes(c, *nodes);
                    layout::host_base(c);
                    if let Some(i) = install {
                        layout::host(c, i).await;
                    }
                }
                Reseed::Virtual { host, install } => {
                    if let Some(i) = install {
                        let ip = host
                            .get(
                                cluster::kind("pods"),
                                &i.host_namespace,
                                &format!("{}-0", i.vcluster),
                            )
                            .ok()
                            .and_then(|p| {
                                p.pointer("/status/podIP")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                            });
                        layout::virtual_(host, c, i, ip.as_deref());
                    }
                }
            }
        }
        self.listener
            .start_again()
            .await
            .map_err(|source| SandboxError::Bind {
                addr: self.listener.addr,
                source,
            })
    }

    /// Creates or replaces objects (kind/apiVersion decide the resource) through the
    /// apiserver's write path; for scenarios and test seeding.
    pub fn apply_objects(&self, objects: &[Value]) -> Result<(), ApiError> {
        scenarios::apply(self.cluster(), objects)
    }
}

/// The host + virtual API server pair with its kubeconfig.
pub struct Sandbox {
    host: SandboxServer,
    virt: SandboxServer,
    kubeconfig_path: PathBuf,
    virtual_context: String,
    vcluster: String,
    host_namespace: String,
    readonly_token: String,
    /// RBAC user name → token (the same on both servers).
    rbac_tokens: Vec<(String, String)>,
    ca_pem: Option<String>,
    _tempdir: Option<tempfile::TempDir>,
}

fn random_token() -> String {
    use rand::Rng;
    let b: [u8; 24] = rand::rng().random();
    hex::encode(b)
}

fn make_client(
    url: &str,
    token: &str,
    ca_der: Option<&[u8]>,
) -> Result<kube::Client, SandboxError> {
    let err = |message: String| SandboxError::Client {
        url: url.to_string(),
        message,
    };
    let uri: ::http::Uri = url
        .parse()
        .map_err(|e: ::http::uri::InvalidUri| err(e.to_string()))?;
    let mut cfg = kube::Config::new(uri);
    cfg.default_namespace = "default".into();
    cfg.auth_info.token = Some(token.to_string().into());
    cfg.root_cert = ca_der.map(|d| vec![d.to_vec()]);
    kube::Client::try_from(cfg).map_err(|e| err(e.to_string()))
}

async fn start_server(
    cluster: Arc<Cluster>,
    bind: IpAddr,
    admin_token: &str,
    readonly_token: &str,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Listener, SandboxError> {
    let mut users = HashMap::new();
    users.insert(
        admin_token.to_string(),
        User {
            name: "sandbox-admin".into(),
            readonly: false,
        },
    );
    users.insert(
        readonly_token.to_string(),
        User {
            name: "sandbox-readonly".into(),
            readonly: true,
        },
    );
    let mut shared = Shared::new(cluster, users, Duration::from_secs(60));
    // Never for a non-loopback address: that would open an unauthenticated admin port.
    if tls.is_none() && bind.is_loopback() {
        shared.anonymous = Some(User {
            name: "system:anonymous".into(),
            readonly: false,
        });
    }
    let shared = Arc::new(shared);
    let addr = SocketAddr::new(bind, 0);
    Listener::bind(shared, addr, tls)
        .await
        .map_err(|source| SandboxError::Bind { addr, source })
}

impl Sandbox {
    /// Starts both servers, lays down the install (unless disabled) and writes the kubeconfig.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        if !crate::vcluster::naming::is_dns1123_label(&opts.vcluster) {
            return Err(SandboxError::InvalidName(opts.vcluster));
        }
        let host_namespace = opts
            .host_namespace
            .clone()
            .unwrap_or_else(|| crate::vcluster::naming::default_host_namespace(&opts.vcluster));
        if !crate::vcluster::naming::is_dns1123_label(&host_namespace) {
            return Err(SandboxError::InvalidName(host_namespace));
        }
        let certs = if opts.tls {
            Some(tls::generate(opts.bind).map_err(SandboxError::Tls)?)
        } else {
            None
        };
        let server_tls = certs.as_ref().map(|c| c.server.clone());
        let ca_pem = certs.as_ref().map(|c| c.ca_pem.clone());
        let ca_der = certs.as_ref().map(|c| c.ca_der.clone());
        let scheme = if opts.tls { "https" } else { "http" };
        let host_c = Arc::new(Cluster::new(Role::Host));
        let virt_c = Arc::new(Cluster::new(Role::Virtual));
        host_c.seed_namespaces();
        virt_c.seed_namespaces();
        let host_ctl = controllers::spawn(host_c.clone(), Some((opts.nodes, opts.kubelet_delay)));
        let virt_ctl = controllers::spawn(virt_c.clone(), None);
        layout::host_base(&host_c);
        let install = opts.empty_layout.then(|| Install {
            vcluster: opts.vcluster.clone(),
            host_namespace: host_namespace.clone(),
        });
        if let Some(i) = &install {
            let ip = layout::host(&host_c, i).await;
            layout::virtual_(&host_c, &virt_c, i, ip.as_deref());
        }
        let (host_token, virt_token, readonly_token) =
            (random_token(), random_token(), random_token());
        let host_l = start_server(
            host_c.clone(),
            opts.bind,
            &host_token,
            &readonly_token,
            server_tls.clone(),
        )
        .await?;
        let virt_l = start_server(
            virt_c.clone(),
            opts.bind,
            &virt_token,
            &readonly_token,
            server_tls,
        )
        .await?;
        let host_url = format!("{scheme}://{}", host_l.addr);
        let virt_url = format!("{scheme}://{}", virt_l.addr);
        let (tempdir, path) = match &opts.kubeconfig_path {
            Some(p) => (None, p.clone()),
            None => {
                let d = tempfile::tempdir().map_err(|source| SandboxError::Kubeconfig {
                    path: std::env::temp_dir(),
                    source,
                })?;
                let p = d.path().join("kubeconfig");
                (Some(d), p)
            }
        };
        let ca_pem_kept = ca_pem.clone();
        let yaml = kubeconfig::render(
            &opts.vcluster,
            &host_namespace,
            &kubeconfig::Endpoint {
                url: host_url.clone(),
                token: host_token.clone(),
                ca_pem: ca_pem.clone(),
            },
            &kubeconfig::Endpoint {
                url: virt_url.clone(),
                token: virt_token.clone(),
                ca_pem,
            },
            &readonly_token,
        );
        std::fs::write(&path, yaml).map_err(|source| SandboxError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        let mut rbac_tokens = Vec::new();
        if let Some(rbac) = &opts.rbac {
            host_l
                .shared
                .set_rbac(authz::Authorizer::from_manifests(&rbac.host)?);
            virt_l
                .shared
                .set_rbac(authz::Authorizer::from_manifests(&rbac.virtual_)?);
            for user in &rbac.users {
                let token = random_token();
                host_l.shared.add_rbac_user(&token, user);
                virt_l.shared.add_rbac_user(&token, user);
                rbac_tokens.push((user.clone(), token));
            }
        }
        let host = SandboxServer {
            client: make_client(&host_url, &host_token, ca_der.as_deref())?,
            listener: host_l,
            token: host_token,
            scheme,
            ca_der: ca_der.clone(),
            reseed: Reseed::Host {
                nodes: opts.nodes,
                install: install.clone(),
            },
            controllers: host_ctl,
        };
        let virt = SandboxServer {
            client: make_client(&virt_url, &virt_token, ca_der.as_deref())?,
            listener: virt_l,
            token: virt_token,
            scheme,
            ca_der,
            reseed: Reseed::Virtual {
                host: host_c,
                install,
            },
            controllers: virt_ctl,
        };
        Ok(Sandbox {
            host,
            virt,
            kubeconfig_path: path,
            virtual_context: kubeconfig::virtual_context(&opts.vcluster, &host_namespace),
            vcluster: opts.vcluster,
            host_namespace,
            readonly_token,
            rbac_tokens,
            ca_pem: ca_pem_kept,
            _tempdir: tempdir,
        })
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// `sandbox-host`.
    pub fn host_context(&self) -> &str {
        HOST_CONTEXT
    }

    /// `vcluster_<NAME>_<NS>_sandbox-host`, the kubeconfig's current context.
    pub fn virtual_context(&self) -> String {
        self.virtual_context.clone()
    }

    /// `sandbox-host-readonly`: the host, as a user limited to get, list and watch.
    pub fn readonly_context(&self) -> &str {
        READONLY_CONTEXT
    }

    pub fn vcluster(&self) -> &str {
        &self.vcluster
    }

    pub fn host_namespace(&self) -> &str {
        &self.host_namespace
    }

    pub fn host(&self) -> &SandboxServer {
        &self.host
    }

    pub fn virtual_(&self) -> &SandboxServer {
        &self.virt
    }

    pub fn host_client(&self) -> kube::Client {
        self.host.client()
    }

    /// Graceful pod deletion on both servers (see `Cluster::set_graceful_pod_deletion`).
    pub fn set_graceful_pod_deletion(&self, on: bool) {
        self.host.cluster().set_graceful_pod_deletion(on);
        self.virt.cluster().set_graceful_pod_deletion(on);
    }

    pub fn virtual_client(&self) -> kube::Client {
        self.virt.client()
    }

    /// A host client as the read-only user.
    pub fn readonly_client(&self) -> Result<kube::Client, SandboxError> {
        make_client(
            &self.host.url(),
            &self.readonly_token,
            self.host.ca_der.as_deref(),
        )
    }

    /// The bearer token of an RBAC user named in [`SandboxOptions::rbac`].
    pub fn rbac_token(&self, user: &str) -> Option<&str> {
        self.rbac_tokens
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, t)| t.as_str())
    }

    /// Writes a kubeconfig like the sandbox's own (same context names) whose host and virtual
    /// users are the given RBAC users (`None` = the server's admin).
    pub fn write_rbac_kubeconfig(
        &self,
        host_user: Option<&str>,
        virtual_user: Option<&str>,
        path: &Path,
    ) -> Result<(), SandboxError> {
        let token = |user: Option<&str>, admin: &str| {
            user.and_then(|u| self.rbac_token(u))
                .unwrap_or(admin)
                .to_string()
        };
        let host_token = token(host_user, &self.host.token);
        let yaml = kubeconfig::render(
            &self.vcluster,
            &self.host_namespace,
            &kubeconfig::Endpoint {
                url: self.host.url(),
                token: host_token.clone(),
                ca_pem: self.ca_pem.clone(),
            },
            &kubeconfig::Endpoint {
                url: self.virt.url(),
                token: token(virtual_user, &self.virt.token),
                ca_pem: self.ca_pem.clone(),
            },
            &self.readonly_token,
        );
        std::fs::write(path, yaml).map_err(|source| SandboxError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A client of one server as an RBAC user.
    pub fn rbac_client(&self, user: &str, host: bool) -> Result<kube::Client, SandboxError> {
        let server = if host { &self.host } else { &self.virt };
        make_client(
            &server.url(),
            self.rbac_token(user).unwrap_or_default(),
            server.ca_der.as_deref(),
        )
    }

    /// Stops both servers and their controllers.
    pub async fn shutdown(self) {
        self.host.stop().await;
        self.virt.stop().await;
        self.host.controllers.abort();
        self.virt.controllers.abort();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Controllers hold the clusters; end them with the sandbox even without shutdown().
        self.host.controllers.abort();
        self.virt.controllers.abort();
    }
}
