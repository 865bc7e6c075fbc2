//! The real binary against a sandbox started in this test process: every command's happy path,
//! and the bad input an operator types (kubeconfig, contexts, unreachable servers).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("vinspect").unwrap();
    // Keep the audit log and user config inside the test's temp area.
    let state = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vinspect-cli-test-{}", std::process::id()));
    c.env("XDG_STATE_HOME", &state)
        .env("XDG_CONFIG_HOME", &state)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    c
}

fn kc(sb: &Sandbox) -> String {
    sb.kubeconfig_path().display().to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run the binary off the runtime's thread (the sandbox serves on the runtime meanwhile).
async fn run(mut cmd: Command) -> Run {
    tokio::task::spawn_blocking(move || {
        let out = cmd.timeout(Duration::from_secs(60)).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

async fn vinspect(sb: &Sandbox, args: &[&str]) -> Run {
    let mut c = bin();
    c.arg("--kubeconfig").arg(kc(sb)).args(args);
    run(c).await
}

/// A virtual Service with no host twin yet (status Missing until fixed).
async fn create_virtual_service(sb: &Sandbox, name: &str) {
    let api: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
}

fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr:?}");
    assert!(lines[0].starts_with("error: "), "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
    lines[0]
}

fn status_of(report: &Value, kind: &str, ns: &str, name: &str) -> String {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["namespace"] == ns && i["name"] == name)
        .map(|i| i["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no {kind} {ns}/{name} in {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exit_codes_follow_the_pairs_and_fix_repairs_them() {
    let sb = sandbox().await;
    create_virtual_service(&sb, "web").await;

    // A synced pair only: exit 0.
    let r = vinspect(&sb, &["check", "svc/default/kubernetes"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("kubernetes") && r.stdout.contains("Synced"));

    // A twin missing: exit 1, reported in the JSON schema.
    let r = vinspect(&sb, &["check", "-o", "json", "svc/default/web"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(status_of(&report, "service", "default", "web"), "Missing");

    // No terminal and no --yes: nothing applied, exit 1.
    let r = vinspect(&sb, &["fix", "svc/default/web"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    // --read-only: plans shown, nothing written, exit 1.
    let r = vinspect(&sb, &["--read-only", "fix", "--yes", "svc/default/web"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let host: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    assert!(
        host.get_opt("web-x-default-x-demo")
            .await
            .unwrap()
            .is_none(),
        "read-only fix wrote the twin"
    );

    let r = vinspect(&sb, &["fix", "--yes", "svc/default/web"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("fixed"), "{}", r.stdout);
    assert!(
        host.get_opt("web-x-default-x-demo")
            .await
            .unwrap()
            .is_some()
    );

    let r = vinspect(
        &sb,
        &["check", "-o", "yaml", "-n", "default", "--kind", "svc"],
    )
    .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let report: Value = serde_yaml::from_str(&r.stdout).unwrap();
    assert_eq!(status_of(&report, "service", "default", "web"), "Synced");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_dns_explains_and_exits_by_resolution() {
    let sb = sandbox().await;
    let r = vinspect(
        &sb,
        &["check", "--dns", "kubernetes.default.svc.cluster.local"],
    )
    .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("10.96.0.10"), "{}", r.stdout);

    let r = vinspect(
        &sb,
        &[
            "check",
            "--dns",
            "kubernetes",
            "--from-namespace",
            "default",
        ],
    )
    .await;
    assert_eq!(
        r.code, 0,
        "short name through the search path: {}{}",
        r.stdout, r.stderr
    );

    let r = vinspect(&sb, &["check", "--dns", "nope.default.svc.cluster.local"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("NXDOMAIN"), "{}", r.stdout);

    let r = vinspect(&sb, &["check", "--dns", "bad name!"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_once_creates_missing_twins() {
    let sb = sandbox().await;
    create_virtual_service(&sb, "api").await;
    let audit = tempfile::tempdir().unwrap();
    let log = audit.path().join("audit.log");
    let r = vinspect(
        &sb,
        &["sync", "--once", "--audit-log", log.to_str().unwrap()],
    )
    .await;
    assert_ne!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let host: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    assert!(
        host.get_opt("api-x-default-x-demo")
            .await
            .unwrap()
            .is_some(),
        "sync --once did not create the twin: {}{}",
        r.stdout,
        r.stderr
    );
    sb.shutdown().await;
}

/// Reads stderr lines of a child until one contains `needle`.
fn wait_for_line(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    needle: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains(needle) {
            return line;
        }
        assert!(Instant::now() < deadline, "no line with {needle:?}");
    }
    panic!("stream ended before a line with {needle:?}");
}

fn sigterm(child: &Child) {
    let ok = StdCommand::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_query(name: &str) -> Vec<u8> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// DNS over TCP: the message behind a two-byte length, on the same port as UDP.
fn dns_query_tcp(server: std::net::SocketAddr, name: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let q = a_query(name);
    let mut s = std::net::TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let len = u16::try_from(q.len()).unwrap().to_be_bytes();
    s.write_all(&len).unwrap();
    s.write_all(&q).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    buf
}

fn dns_query(server: std::net::SocketAddr, name: &str) -> Vec<u8> {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&a_query(name), server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_serves_live_names_and_stops_on_sigterm() {
    let sb = sandbox().await;
    // A service the sync engine creates the twin of: its virtual name must answer with the
    // host twin's ClusterIP (vCluster keeps the two equal).
    create_virtual_service(&sb, "web").await;
    let synced = vinspect(&sb, &["sync", "--once"]).await;
    assert_eq!(synced.code, 0, "{}{}", synced.stdout, synced.stderr);
    let hns = sb.host_namespace().to_string();
    let twins: Api<Service> = Api::namespaced(sb.host_client(), &hns);
    let twin = twins
        .get(&vinspect::vcluster::naming::host_name(
            "web",
            "default",
            sb.vcluster(),
        ))
        .await
        .unwrap();
    let twin_ip = twin.spec.and_then(|s| s.cluster_ip).unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("vinspect"))
        .args(["--kubeconfig", &kc(&sb), "dns", "--listen", "127.0.0.1:0"])
        .env_remove("KUBECONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (child, answer, code) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let line = wait_for_line(&mut lines, "serving udp://");
        let addr = line
            .split("udp://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap();
        let addr: std::net::SocketAddr = addr.parse().unwrap();
        let name = "kubernetes.default.svc.cluster.local.";
        let answer = hickory_proto::op::Message::from_vec(&dns_query(addr, name)).unwrap();
        let tcp_answer = hickory_proto::op::Message::from_vec(&dns_query_tcp(addr, name)).unwrap();
        let web = hickory_proto::op::Message::from_vec(&dns_query_tcp(
            addr,
            "web.default.svc.cluster.local.",
        ))
        .unwrap();
        sigterm(&child);
        let code = wait_exit(&mut child);
        (child, (answer, tcp_answer, web), code)
    })
    .await
    .unwrap();
    drop(child);
    for answer in [&answer.0, &answer.1] {
        assert_eq!(answer.metadata.id, 4242);
        let ips: Vec<String> = answer.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(ips, vec!["10.96.0.10".to_string()], "{answer:?}");
    }
    let web: Vec<String> = answer
        .2
        .answers
        .iter()
        .map(|r| r.data.to_string())
        .collect();
    assert_eq!(web, vec![twin_ip], "{:?}", answer.2);
    assert_eq!(code, 0);
    sb.shutdown().await;
}

#[test]
fn sandbox_command_serves_until_sigterm() {
    // A fresh install is entirely in line (exit 0); the incident scenario has problems (exit 1).
    for (args, code) in [(&["--empty"][..], 0), (&["--scenario", "incident"][..], 1)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("vinspect"))
            .arg("sandbox")
            .args(args)
            .arg("--kubeconfig")
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = wait_for_line(&mut lines, "ready: KUBECONFIG=");
        assert!(ready.ends_with(&path.display().to_string()), "{ready}");
        let out = bin()
            .arg("--kubeconfig")
            .arg(&path)
            .arg("check")
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        sigterm(&child);
        assert_eq!(wait_exit(&mut child), 0, "{args:?}");
    }
}

#[test]
fn sandbox_command_rejects_what_it_cannot_do() {
    let out = bin().args(["sandbox", "--churn", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(one_error_line(&err).contains("--churn"), "{err}");

    let out = bin()
        .args(["sandbox", "--scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(one_error_line(&err).contains("no-such-scenario"), "{err}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn expect_setup_error(args: &[&str], kubeconfig: &Path, needle: &str) {
    for cmd in [
        &["check"][..],
        &["fix", "--all"],
        &["dns", "--listen", "127.0.0.1:0"],
        &[],
    ] {
        let out = bin()
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .args(cmd)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
        let line = one_error_line(&err);
        assert!(line.contains(needle), "{cmd:?}: {line}");
    }
}

#[test]
fn bad_kubeconfigs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty", "\n");
    expect_setup_error(&[], &empty, "is empty");
    let malformed = write(
        dir.path(),
        "malformed",
        "apiVersion: v1\nclusters: [\n  - {",
    );
    expect_setup_error(&[], &malformed, "not a valid kubeconfig");
    // A directory is as unreadable as a file without permission, and stays so under root.
    expect_setup_error(&[], dir.path(), "cannot read it");
    expect_setup_error(&[], &dir.path().join("missing"), "file not found");
}

const TWO_CONTEXTS: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: host
  cluster: {server: "http://127.0.0.1:PORT"}
- name: virt
  cluster: {server: "http://127.0.0.1:PORT"}
users:
- name: u
  user: {token: t}
contexts:
- name: host-ctx
  context: {cluster: host, user: u}
- name: vcluster_web_team-a_host-ctx
  context: {cluster: virt, user: u}
current-context: vcluster_web_team-a_host-ctx
"#;

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn unknown_context_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "kc", &TWO_CONTEXTS.replace("PORT", "1"));
    expect_setup_error(
        &["--context", "nope"],
        &path,
        r#"context "nope" not found in kubeconfig (available: host-ctx, vcluster_web_team-a_host-ctx)"#,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_names_context_and_url() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let port = dead_port();
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: host
  cluster: {{server: "{host}"}}
- name: virt
  cluster: {{server: "http://127.0.0.1:{port}"}}
users:
- name: admin
  user: {{token: {token}}}
contexts:
- name: sandbox-host
  context: {{cluster: host, user: admin}}
- name: vcluster_demo_vcluster-demo_sandbox-host
  context: {{cluster: virt, user: admin}}
current-context: vcluster_demo_vcluster-demo_sandbox-host
"#,
        host = sb.host().url(),
        token = sb.host().token(),
    );
    let path = write(dir.path(), "kc", &text);
    let started = Instant::now();
    let mut c = bin();
    c.arg("--kubeconfig").arg(&path).arg("check");
    let r = run(c).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let line = one_error_line(&r.stderr);
    assert!(
        line.contains("vcluster_demo_vcluster-demo_sandbox-host"),
        "{line}"
    );
    assert!(line.contains(&format!("http://127.0.0.1:{port}")), "{line}");
    assert!(started.elapsed() < Duration::from_secs(30));
    sb.shutdown().await;
}

#[test]
fn the_tui_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "kc", &TWO_CONTEXTS.replace("PORT", "1"));
    let out = bin().arg("--kubeconfig").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(one_error_line(&err).contains("needs a terminal"), "{err}");
}
