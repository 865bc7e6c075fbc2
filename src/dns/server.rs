//! `vinspect dns`: the resolver served over UDP and TCP with hickory-server.
//!
//! The resolver is rebuilt whenever a new snapshot arrives on the watch channel; queries read
//! the current one. Names outside the cluster zones are answered REFUSED unless an upstream is
//! configured, in which case they (and the unfinished parts of answers, e.g. an ExternalName
//! pointing outside) are asked there.

use crate::cluster::snapshot::Snapshot;
use crate::vcluster::config::VClusterConfig;
use hickory_proto::op::{
    Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::{Record as WireRecord, RecordType as WireType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::resolver::Resolver;
use super::types::{Answer, Rcode, RecordType};
use super::wire::{to_wire_all, wire_name};

/// Port used when `--listen` gives only an address (unprivileged, CoreDNS's in-pod port).
pub const DEFAULT_PORT: u16 = 1053;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("invalid --listen address {0:?}: use HOST:PORT, :PORT or PORT (e.g. 127.0.0.1:1053)")]
    BadListen(String),
    #[error("invalid --upstream address {0:?}: use IP[:PORT] (e.g. 10.96.0.10:53)")]
    BadUpstream(String),
    #[error("cannot listen on {addr} ({proto}): {source}; pick another port or address")]
    Bind {
        addr: SocketAddr,
        proto: &'static str,
        source: std::io::Error,
    },
    #[error("upstream {addr} did not answer {name}: {reason}")]
    Upstream {
        addr: SocketAddr,
        name: String,
        reason: String,
    },
    #[error("DNS server stopped with an error: {0}")]
    Server(String),
}

#[derive(Debug, Clone)]
pub struct DnsServeOptions {
    /// Where to listen (UDP and TCP on the same port). Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Forward names outside the cluster zones here (`--upstream`); `None` answers REFUSED.
    pub upstream: Option<SocketAddr>,
    pub upstream_timeout: Duration,
    /// Idle TCP connections are closed after this long.
    pub tcp_timeout: Duration,
}

impl Default for DnsServeOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            upstream: None,
            upstream_timeout: Duration::from_secs(2),
            tcp_timeout: Duration::from_secs(5),
        }
    }
}

/// Parse `--listen`: `HOST:PORT`, `[v6]:PORT`, `:PORT` / `PORT` (loopback), or a bare IP
/// (port [`DEFAULT_PORT`]). Loopback unless the address says otherwise.
pub fn parse_listen(s: &str) -> Result<SocketAddr, DnsError> {
    let s = s.trim();
    let bad = || DnsError::BadListen(s.to_string());
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let port = s.strip_prefix(':').unwrap_or(s);
    port.parse::<u16>()
        .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
        .map_err(|_| bad())
}

/// Parse `--upstream`: `IP:PORT` or a bare IP (port 53).
pub fn parse_upstream(s: &str) -> Result<SocketAddr, DnsError> {
    let s = s.trim();
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| DnsError::BadUpstream(s.to_string()))
}

type Current = Arc<RwLock<Arc<Resolver>>>;

fn read(current: &Current) -> Arc<Resolver> {
    match current.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

fn store(current: &Current, r: Resolver) {
    let r = Arc::new(r);
    match current.write() {
        Ok(mut g) => *g = r,
        Err(poisoned) => *poisoned.into_inner() = r,
    }
}

struct Handler {
    current: Current,
    upstream: Option<SocketAddr>,
    upstream_timeout: Duration,
}

/// The response sections after the upstream (if any) filled in what the resolver could not.
struct Completed {
    rcode: ResponseCode,
    authoritative: bool,
    answers: Vec<WireRecord>,
    authorities: Vec<WireRecord>,
    additionals: Vec<WireRecord>,
}

fn rcode(r: Rcode) -> ResponseCode {
    match r {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::Refused => ResponseCode::Refused,
    }
}

impl Handler {
    async fn complete(&self, answer: Answer) -> Completed {
        let mut out = Completed {
            rcode: rcode(answer.rcode),
            authoritative: answer.authoritative,
            answers: to_wire_all(&answer.answers),
            authorities: answer
                .soa
                .as_ref()
                .map(|s| to_wire_all(std::slice::from_ref(s)))
                .unwrap_or_default(),
            additionals: to_wire_all(&answer.additionals),
        };
        let (Some(fwd), Some(up)) = (answer.forward.as_ref(), self.upstream) else {
            return out;
        };
        let relay = answer.rcode == Rcode::Refused && answer.answers.is_empty();
        match forward_query(up, &fwd.name, fwd.qtype, self.upstream_timeout).await {
            Ok(mut msg) => {
                if let Some(to) = fwd.rename_to.as_deref().and_then(wire_name) {
                    let from = wire_name(&fwd.name);
                    for r in msg.answers.iter_mut() {
                        if from
                            .as_ref()
                            .is_some_and(|f| r.name.eq_case(f) || r.name == *f)
                        {
                            r.name = to.clone();
                        }
                    }
                }
                if relay {
                    out.rcode = msg.metadata.response_code;
                    out.authoritative = false;
                    out.answers = msg.answers;
                    out.authorities = msg.authorities;
                    out.additionals = msg.additionals;
                } else {
                    out.answers.extend(msg.answers);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "upstream lookup failed");
                if relay {
                    out.rcode = ResponseCode::ServFail;
                }
            }
        }
        out
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        let resp_edns = request.edns.as_ref().map(|e| {
            let mut r = Edns::new();
            r.set_max_payload(e.max_payload().max(512));
            r.set_version(0);
            r
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = resp_edns.as_ref() {
            builder.edns(e);
        }
        let queries = request.queries.queries();
        let bad = if request.metadata.message_type != MessageType::Query {
            Some(ResponseCode::FormErr)
        } else if request.metadata.op_code != OpCode::Query {
            Some(ResponseCode::NotImp)
        } else if queries.len() != 1 {
            Some(ResponseCode::FormErr)
        } else {
            None
        };
        let completed = match bad {
            Some(code) => Completed {
                rcode: code,
                authoritative: false,
                answers: Vec::new(),
                authorities: Vec::new(),
                additionals: Vec::new(),
            },
            None => {
                let q = &queries[0];
                let qtype = RecordType::from_code(u16::from(q.query_type()));
                let name = q.name().to_string();
                let answer = read(&self.current).query_quiet(&name, qtype);
                tracing::debug!(%name, %qtype, rcode = %answer.rcode, "dns query");
                self.complete(answer).await
            }
        };
        metadata.response_code = completed.rcode;
        metadata.authoritative = completed.authoritative;
        let response = builder.build(
            metadata,
            completed.answers.iter(),
            completed.authorities.iter(),
            std::iter::empty(),
            completed.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, "failed to send DNS response");
                let mut m = Metadata::response_from_request(&request.metadata);
                m.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: m,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

/// Ask `upstream` one question over UDP (TCP when truncated).
pub async fn forward_query(
    upstream: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let err = |reason: String| DnsError::Upstream {
        addr: upstream,
        name: name.to_string(),
        reason,
    };
    let qname = wire_name(name).ok_or_else(|| err("name cannot be encoded".into()))?;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(qname, WireType::from(qtype.code())));
    let id = msg.metadata.id;
    let bytes = msg.to_vec().map_err(|e| err(e.to_string()))?;
    let bind: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let udp = async {
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(upstream).await?;
        sock.send(&bytes).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).await?;
            if let Ok(m) = Message::from_vec(&buf[..n])
                && m.metadata.id == id
            {
                return Ok::<Message, std::io::Error>(m);
            }
        }
    };
    let reply = tokio::time::timeout(timeout, udp)
        .await
        .map_err(|_| err(format!("no UDP answer within {timeout:?}")))?
        .map_err(|e| err(e.to_string()))?;
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    let tcp = async {
        let mut s = TcpStream::connect(upstream).await?;
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        s.write_all(&len.to_be_bytes()).await?;
        s.write_all(&bytes).await?;
        let mut lb = [0u8; 2];
        s.read_exact(&mut lb).await?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(lb))];
        s.read_exact(&mut body).await?;
        Ok::<Vec<u8>, std::io::Error>(body)
    };
    let body = tokio::time::timeout(timeout, tcp)
        .await
        .map_err(|_| err(format!("no TCP answer within {timeout:?}")))?
        .map_err(|e| err(e.to_string()))?;
    Message::from_vec(&body).map_err(|e| err(e.to_string()))
}

/// A running server: its addresses and a way to stop it.
pub struct DnsServer {
    pub udp_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
    watcher: JoinHandle<()>,
}

impl DnsServer {
    /// Stop accepting queries and wait for the server tasks to end.
    pub async fn shutdown(mut self) -> Result<(), DnsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.watcher.abort();
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DnsError::Server(e)),
            Err(e) => Err(DnsError::Server(e.to_string())),
        }
    }

    /// Wait until the server stops by itself (it only does on errors).
    pub async fn wait(&mut self) -> Result<(), DnsError> {
        match (&mut self.task).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DnsError::Server(e)),
            Err(e) => Err(DnsError::Server(e.to_string())),
        }
    }
}

/// Bind UDP and TCP on the same port; with port 0 retry a few ports when TCP's is taken.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let attempts = if addr.port() == 0 { 8 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|source| DnsError::Bind {
                addr,
                proto: "udp",
                source,
            })?;
        let bound = udp.local_addr().map_err(|source| DnsError::Bind {
            addr,
            proto: "udp",
            source,
        })?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => {
                last = Some(DnsError::Bind {
                    addr: bound,
                    proto: "tcp",
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or(DnsError::BadListen(addr.to_string())))
}

/// Serve DNS from the snapshots on `snapshots` until [`DnsServer::shutdown`].
pub async fn serve(
    opts: DnsServeOptions,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<VClusterConfig>,
) -> Result<DnsServer, DnsError> {
    let (udp, tcp) = bind_pair(opts.listen).await?;
    let udp_addr = udp.local_addr().map_err(|source| DnsError::Bind {
        addr: opts.listen,
        proto: "udp",
        source,
    })?;
    let tcp_addr = tcp.local_addr().map_err(|source| DnsError::Bind {
        addr: opts.listen,
        proto: "tcp",
        source,
    })?;
    let first = snapshots.borrow().clone();
    let current: Current = Arc::new(RwLock::new(Arc::new(Resolver::new(first, &config))));
    let watcher = {
        let current = current.clone();
        let mut rx = snapshots;
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let snap = rx.borrow_and_update().clone();
                store(&current, Resolver::new(snap, &config));
            }
        })
    };
    let handler = Handler {
        current,
        upstream: opts.upstream,
        upstream_timeout: opts.upstream_timeout,
    };
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, opts.tcp_timeout, 32);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = stop_rx.await;
        server
            .shutdown_gracefully()
            .await
            .map_err(|e| e.to_string())
    });
    Ok(DnsServer {
        udp_addr,
        tcp_addr,
        stop: Some(stop_tx),
        task,
        watcher,
    })
}

/// The `vinspect dns` command body: serve until `shutdown` resolves (e.g. Ctrl-C), printing
/// where it listens. The caller builds the snapshot channel and the config.
pub async fn run_dns_command<F>(
    opts: DnsServeOptions,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    config: Arc<VClusterConfig>,
    shutdown: F,
) -> Result<(), DnsError>
where
    F: std::future::Future<Output = ()>,
{
    let upstream = opts.upstream;
    let server = serve(opts, snapshots, config).await?;
    eprintln!(
        "vinspect dns: serving udp://{} and tcp://{} ({})",
        server.udp_addr,
        server.tcp_addr,
        match upstream {
            Some(u) => format!("names outside the cluster forwarded to {u}"),
            None =>
                "names outside the cluster answered REFUSED; --upstream ADDR forwards them".into(),
        }
    );
    let mut server = server;
    let stopped_by_itself = tokio::select! {
        _ = shutdown => None,
        r = server.wait() => Some(r),
    };
    match stopped_by_itself {
        None => server.shutdown().await,
        Some(r) => r,
    }
}
