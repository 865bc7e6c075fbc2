//! A small mutation fuzzer shared by the suite's short runs (`tests/fuzz_targets.rs`) and the
//! long runs (`cargo run --release --example fuzz -- <target> --seconds 300`).
//!
//! Each target takes bytes, starts from a few valid seeds, and mutates them (bit flips, random
//! and "interesting" bytes, deletions, duplications, splices with another seed, tokens the
//! parser cares about). A panic anywhere is a crash; each target also states what a correct
//! answer looks like (a sandbox request never gets a 5xx, a DNS reply echoes the query id).
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TARGETS: [&str; 5] = ["config", "context", "ref", "dns", "sandbox"];

/// One crash: the input and what happened.
#[derive(Debug, Clone)]
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub target: String,
    pub iterations: u64,
    pub elapsed: Duration,
    pub crashes: Vec<Crash>,
    /// Distinct outcomes seen (parse error kinds, status codes): a rough coverage signal.
    pub outcomes: HashMap<String, u64>,
}

pub enum Budget {
    Iterations(u64),
    Time(Duration),
}

/// What one input did: `Ok(outcome)` is a correct answer, `Err` a wrong one.
type Outcome = Result<String, String>;

trait Target {
    fn seeds(&self) -> Vec<Vec<u8>>;
    fn tokens(&self) -> &'static [&'static str];
    fn run(&mut self, input: &[u8]) -> Outcome;
}

pub fn run(target: &str, budget: Budget, seed: u64) -> Option<Report> {
    let mut t: Box<dyn Target> = match target {
        "config" => Box::new(ConfigTarget),
        "context" => Box::new(ContextTarget),
        "ref" => Box::new(RefTarget),
        "dns" => Box::new(DnsTarget::new()),
        "sandbox" => Box::new(SandboxTarget::new()),
        _ => return None,
    };
    // Crashes are collected, not printed: the default hook would flood the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut corpus = t.seeds();
    let start = Instant::now();
    let mut report = Report {
        target: target.to_string(),
        ..Report::default()
    };
    loop {
        match budget {
            Budget::Iterations(n) if report.iterations >= n => break,
            Budget::Time(d) if start.elapsed() >= d => break,
            _ => {}
        }
        let input = if report.iterations < corpus.len() as u64 {
            corpus[report.iterations as usize].clone()
        } else {
            mutate(&mut rng, &corpus, t.tokens())
        };
        report.iterations += 1;
        let r = catch_unwind(AssertUnwindSafe(|| t.run(&input)));
        match r {
            Ok(Ok(outcome)) => {
                let n = report.outcomes.entry(outcome).or_insert(0);
                *n += 1;
                // A new outcome makes the input worth mutating further.
                if *n == 1 && corpus.len() < 256 {
                    corpus.push(input);
                }
            }
            Ok(Err(wrong)) => report.crashes.push(Crash {
                input,
                message: wrong,
            }),
            Err(p) => {
                let message = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                report.crashes.push(Crash {
                    input,
                    message: format!("panic: {message}"),
                });
            }
        }
        if report.crashes.len() >= 20 {
            break;
        }
    }
    std::panic::set_hook(hook);
    report.elapsed = start.elapsed();
    Some(report)
}

const INTERESTING: [u8; 12] = [
    0, 1, 0x7f, 0x80, 0xff, b'\n', b':', b'/', b'"', b'-', b'{', b'%',
];

fn mutate(rng: &mut StdRng, corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut v = corpus[rng.random_range(0..corpus.len())].clone();
    for _ in 0..rng.random_range(1..=6) {
        let len = v.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                v[i] = rng.random();
            }
            2 => {
                let i = rng.random_range(0..=len);
                v.insert(i, INTERESTING[rng.random_range(0..INTERESTING.len())]);
            }
            3 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=16)).min(len);
                v.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..=32)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.random_range(0..=v.len());
                v.splice(at..at, chunk);
            }
            5 if !tokens.is_empty() => {
                let tok = tokens[rng.random_range(0..tokens.len())].as_bytes();
                let at = rng.random_range(0..=len);
                v.splice(at..at, tok.iter().copied());
            }
            6 => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                if !other.is_empty() {
                    let cut = rng.random_range(0..=len);
                    let from = rng.random_range(0..other.len());
                    v.truncate(cut);
                    v.extend_from_slice(&other[from..]);
                }
            }
            _ => {
                let at = rng.random_range(0..=len);
                let n = rng.random_range(1..=8);
                let junk: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                v.splice(at..at, junk);
            }
        }
        // Keep inputs bounded: the parsers must be robust, not fed ever-growing documents.
        v.truncate(64 * 1024);
    }
    v
}

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

// --- vcluster.yaml --------------------------------------------------------------------------

struct ConfigTarget;

impl Target for ConfigTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            "",
            "sync:\n  toHost:\n    pods:\n      enabled: true\n    ingresses:\n      enabled: true\n",
            "networking:\n  replicateServices:\n    fromHost:\n    - from: default/db\n      to: shop/db\n    toHost:\n    - from: shop/web\n      to: web\n",
            "networking:\n  advanced:\n    clusterDomain: cluster.local\n  resolveDNS:\n  - hostname: a.example.com\n    target:\n      hostname: b.example.com\n  - service: default/x\n    target:\n      hostNamespace: other\n",
            "controlPlane:\n  coredns:\n    embedded: true\nexperimental:\n  syncSettings:\n    setOwner: false\n",
            "sync: null\nnetworking: ~\n",
            "- a\n- b\n",
            "anchors: &a {x: 1}\nother: *a\n",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }
    fn tokens(&self) -> &'static [&'static str] {
        &[
            "sync:",
            "toHost:",
            "fromHost:",
            "networking:",
            "replicateServices:",
            "resolveDNS:",
            "clusterDomain:",
            "enabled: ",
            "true",
            "null",
            "~",
            "- ",
            "  ",
            "\n",
            ": ",
            "from: ",
            "to: ",
            "&a ",
            "*a",
            "!!str ",
            "{",
            "}",
            "[",
            "]",
            "'",
            "\"",
            "/",
            "hostname: ",
            "service: ",
            "namespace: ",
            "target:",
        ]
    }
    fn run(&mut self, input: &[u8]) -> Outcome {
        use vinspect::vcluster::config::VClusterConfig;
        match VClusterConfig::from_yaml(&text(input)) {
            Ok(cfg) => {
                let _ = cfg.problems();
                let _ = cfg.dns_rules();
                let _ = cfg.from_host_rules("vcluster-x");
                let _ = cfg.to_host_rules("vcluster-x");
                let _ = cfg.cluster_domain();
                Ok("ok".into())
            }
            Err(e) => {
                let line = e.to_string();
                if line.contains('\n') {
                    return Err(format!("error is not one line: {line:?}"));
                }
                Ok(match e.path() {
                    Some(p) => format!("invalid {}", p.split('[').next().unwrap_or("")),
                    None => "parse".into(),
                })
            }
        }
    }
}

// --- contexts and kubeconfigs ---------------------------------------------------------------

struct ContextTarget;

const KUBECONFIG_SEED: &str = "apiVersion: v1\nkind: Config\ncurrent-context: vcluster_vc_vcluster-vc_host\nclusters:\n- name: host\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: host\n  context:\n    cluster: host\n    user: u\n- name: vcluster_vc_vcluster-vc_host\n  context:\n    cluster: host\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n";

impl Target for ContextTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            // Selection line, then the kubeconfig.
            format!("vcluster_vc_vcluster-vc_host\n{KUBECONFIG_SEED}"),
            format!("host|vc|vcluster-vc|host\n{KUBECONFIG_SEED}"),
            format!("||vc|\n{KUBECONFIG_SEED}"),
            "vcluster___\n".to_string(),
            "vcluster_a_b_gke_proj_zone_cluster\napiVersion: v1\n".to_string(),
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }
    fn tokens(&self) -> &'static [&'static str] {
        &[
            "vcluster_",
            "_",
            "|",
            "\n",
            "contexts:",
            "- name: ",
            "current-context: ",
            "context:",
            "cluster: ",
            "user: ",
        ]
    }
    fn run(&mut self, input: &[u8]) -> Outcome {
        use vinspect::vcluster::context::{
            ContextSelection, VClusterContextName, resolve_contexts,
        };
        let s = text(input);
        let (line, rest) = s.split_once('\n').unwrap_or((&s, ""));
        if let Some(n) = VClusterContextName::parse(line) {
            // What we parse we must print back the same.
            if n.to_string() != line {
                return Err(format!("context name {line:?} prints back as {n}"));
            }
        }
        let Ok(kc) = kube::config::Kubeconfig::from_yaml(rest) else {
            return Ok("kubeconfig parse".into());
        };
        let mut parts = line.split('|');
        let mut opt = || parts.next().filter(|p| !p.is_empty()).map(str::to_string);
        let sel = ContextSelection {
            context: opt(),
            vcluster: opt(),
            host_namespace: opt(),
            host_context: opt(),
        };
        match resolve_contexts(&kc, &sel) {
            Ok(_) => Ok("resolved".into()),
            Err(e) => {
                let line = e.to_string();
                if line.contains('\n') {
                    return Err(format!("error is not one line: {line:?}"));
                }
                // The kind of error (its first words), not the names it quotes.
                let kind: Vec<&str> = line.split_whitespace().take(1).collect();
                Ok(format!("error {}", kind.join(" ")))
            }
        }
    }
}

// --- REF ------------------------------------------------------------------------------------

struct RefTarget;

impl Target for RefTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            "svc/default/web",
            "pod/shop/api-0",
            "default/web",
            "web",
            "ing/x/y",
            "ep/a/b",
            "service/a.b/c",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }
    fn tokens(&self) -> &'static [&'static str] {
        &["/", "svc", "pod", "ingress", "ep", ".", "-", "x-x-"]
    }
    fn run(&mut self, input: &[u8]) -> Outcome {
        use vinspect::engine::ObjKind;
        use vinspect::vcluster::reference::ObjRef;
        match ObjRef::parse(&text(input)) {
            Ok(r) => {
                let _ = r.kind_or(ObjKind::Service);
                if r.name.is_empty() {
                    return Err(format!("accepted an empty name: {r:?}"));
                }
                Ok("ok".into())
            }
            Err(e) => {
                let line = e.to_string();
                if line.contains('\n') {
                    return Err(format!("error is not one line: {line:?}"));
                }
                Ok("error".into())
            }
        }
    }
}

// --- DNS ------------------------------------------------------------------------------------

struct DnsTarget {
    resolver: vinspect::dns::resolver::Resolver,
}

impl DnsTarget {
    fn new() -> Self {
        use vinspect::dns::fixture::*;
        let snap = SnapshotBuilder::new("vc", "vcluster-vc")
            .virtual_namespace("default")
            .synced_service(cluster_ip_service(
                "default",
                "web",
                "10.96.0.20",
                vec![port("http", 80, "TCP")],
            ))
            .virtual_service(headless_service(
                "default",
                "db",
                vec![port("pg", 5432, "TCP")],
            ))
            .virtual_endpoints(endpoints(
                "default",
                "db",
                &[("10.0.0.5", Some("db-0"))],
                &[("pg", 5432)],
            ))
            .virtual_service(external_name_service("default", "ext", "example.com"))
            .virtual_pod(pod("default", "p", "10.0.0.9"))
            .build();
        let cfg = vinspect::vcluster::config::VClusterConfig::default();
        Self {
            resolver: vinspect::dns::resolver::Resolver::from_snapshot(&snap, &cfg),
        }
    }
}

fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut v = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    v
}

impl Target for DnsTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        vec![
            dns_query("web.default.svc.cluster.local", 1),
            dns_query("db.default.svc.cluster.local", 1),
            dns_query("_pg._tcp.db.default.svc.cluster.local", 33),
            dns_query("db-0.db.default.svc.cluster.local", 28),
            dns_query("ext.default.svc.cluster.local", 5),
            dns_query("20.0.96.10.in-addr.arpa", 12),
            dns_query("10-0-0-9.default.pod.cluster.local", 1),
            dns_query("cluster.local", 6),
            dns_query("example.com", 255),
        ]
    }
    fn tokens(&self) -> &'static [&'static str] {
        &[
            "\x03svc",
            "\x07default",
            "\x07cluster\x05local",
            "\x00",
            "\x00\x01",
            "\x00\x21",
            "\x3f\x0c",
        ]
    }
    fn run(&mut self, input: &[u8]) -> Outcome {
        use hickory_proto::op::{Message, MessageType};
        use vinspect::dns::types::RecordType;
        use vinspect::dns::wire::to_wire_all;
        // What the server does with a packet: hickory decodes it, the resolver answers each
        // question, the records go back to wire form and the reply is encoded.
        let Ok(msg) = Message::from_vec(input) else {
            return Ok("undecodable".into());
        };
        let mut reply = Message::response(msg.metadata.id, msg.metadata.op_code);
        reply.metadata.message_type = MessageType::Response;
        let mut rcode = String::new();
        for q in msg.queries.iter() {
            let qtype = RecordType::from_code(u16::from(q.query_type()));
            let answer = self.resolver.query_quiet(&q.name().to_string(), qtype);
            rcode = format!("{:?}", answer.rcode);
            let records = to_wire_all(&answer.answers);
            reply.add_answers(records);
            reply.add_additionals(to_wire_all(&answer.additionals));
        }
        let bytes = reply
            .to_vec()
            .map_err(|e| format!("reply does not encode: {e}"))?;
        let back = Message::from_vec(&bytes).map_err(|e| format!("reply does not decode: {e}"))?;
        if back.metadata.id != msg.metadata.id {
            return Err("reply id differs from the query's".into());
        }
        Ok(format!("{} q {rcode}", msg.queries.len().min(3)))
    }
}

// --- sandbox request path -------------------------------------------------------------------

struct SandboxTarget {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
}

impl SandboxTarget {
    fn new() -> Self {
        use vinspect::sandbox::cluster::{Cluster, Role};
        use vinspect::sandbox::http::{Shared, User, app};
        let cluster = Arc::new(Cluster::new(Role::Virtual));
        cluster.seed_namespaces();
        let mut shared = Shared::new(cluster, HashMap::new(), Duration::from_secs(60));
        shared.anonymous = Some(User {
            name: "fuzz".into(),
            readonly: false,
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Self {
            rt,
            app: app(Arc::new(shared)),
        }
    }
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
const CONTENT_TYPES: [&str; 7] = [
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
];

/// `method \xff path \xff content-type \xff body`, each field free-form.
fn sandbox_input(method: usize, path: &str, ct: usize, body: &str) -> Vec<u8> {
    let mut v = vec![method as u8, 0xff];
    v.extend_from_slice(path.as_bytes());
    v.push(0xff);
    v.push(ct as u8);
    v.push(0xff);
    v.extend_from_slice(body.as_bytes());
    v
}

impl Target for SandboxTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        vec![
            sandbox_input(0, "/api/v1/namespaces/default/pods?limit=1", 0, ""),
            sandbox_input(
                1,
                "/api/v1/namespaces/default/configmaps",
                0,
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}"#,
            ),
            sandbox_input(
                1,
                "/api/v1/namespaces/default/services",
                0,
                r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80}],"selector":{"a":"b"}}}"#,
            ),
            sandbox_input(
                3,
                "/api/v1/namespaces/default/configmaps/a",
                1,
                r#"{"data":{"k":null}}"#,
            ),
            sandbox_input(
                3,
                "/api/v1/namespaces/default/configmaps/a",
                2,
                r#"[{"op":"add","path":"/data/x","value":"1"}]"#,
            ),
            sandbox_input(
                3,
                "/api/v1/namespaces/default/services/s?fieldManager=f&force=true",
                4,
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
            ),
            sandbox_input(
                4,
                "/api/v1/namespaces/default/configmaps/a?dryRun=All",
                0,
                r#"{"preconditions":{"uid":"x"}}"#,
            ),
            sandbox_input(
                0,
                "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=0&labelSelector=a%20in%20(b)",
                0,
                "",
            ),
            sandbox_input(
                0,
                "/apis/networking.k8s.io/v1/ingresses?fieldSelector=metadata.name%3Dx",
                0,
                "",
            ),
            sandbox_input(0, "/openapi/v3/api/v1", 0, ""),
            sandbox_input(
                2,
                "/api/v1/namespaces/default/pods/p/status",
                0,
                r#"{"metadata":{"name":"p","resourceVersion":"1"},"status":{"phase":"Running"}}"#,
            ),
        ]
    }
    fn tokens(&self) -> &'static [&'static str] {
        &[
            "/api/v1",
            "/apis/",
            "namespaces/",
            "/status",
            "/binding",
            "?",
            "&",
            "=",
            "%",
            "%zz",
            "watch=1",
            "limit=",
            "continue=",
            "resourceVersion=",
            "labelSelector=",
            "fieldSelector=",
            "dryRun=All",
            "{",
            "}",
            "\"metadata\":",
            "\"name\":",
            "null",
            "[",
            "]",
            "$patch",
            "..",
            "//",
        ]
    }
    fn run(&mut self, input: &[u8]) -> Outcome {
        use tower::ServiceExt;
        let mut parts = input.splitn(4, |b| *b == 0xff);
        let method = METHODS
            [parts.next().and_then(|m| m.first()).copied().unwrap_or(0) as usize % METHODS.len()];
        let path = text(parts.next().unwrap_or_default());
        let ct = CONTENT_TYPES[parts.next().and_then(|m| m.first()).copied().unwrap_or(0) as usize
            % CONTENT_TYPES.len()];
        let body = parts.next().unwrap_or_default().to_vec();
        // A watch streams until it times out: its status is the answer, its body is not read.
        let stream = path.contains("watch");
        let Ok(req) = http::Request::builder()
            .method(method)
            .uri(path.clone())
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
        else {
            return Ok("not a request".into());
        };
        let app = self.app.clone();
        let shown = path.clone();
        let status = self.rt.block_on(async move {
            match tokio::time::timeout(Duration::from_secs(5), app.oneshot(req)).await {
                Ok(Ok(resp)) => {
                    let status = resp.status().as_u16();
                    if stream {
                        return Ok(status);
                    }
                    // Reading the body runs the streaming part of the handler too.
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        axum::body::to_bytes(resp.into_body(), 8 << 20),
                    )
                    .await;
                    Ok(status)
                }
                Ok(Err(e)) => Err(format!("router error: {e}")),
                Err(_) => Err(format!("{method} {shown} hung")),
            }
        })?;
        if status >= 500 {
            return Err(format!("{status} for {method} {path} ({ct})"));
        }
        Ok(format!("{method} {status}"))
    }
}
