//! Secret values and bearer tokens never show in clear: not in the TUI's YAML and diff views,
//! not in the logs at the most verbose level (the binary's `check`, `fix` and `sync` with
//! RUST_LOG=trace, and the TUI's live backend traced into a buffer), not in the audit log.
//! (The traced `check` used to hang: it held the stderr lock while log lines waited for it.)

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use vinspect::live::{LiveBackend, LiveOptions};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::tui::backend::Backend;
use vinspect::tui::types::FixRequest;
use vinspect::vcluster::context::ContextSelection;

const CLEAR: &str = "hunter2-very-secret-value";
const CLEAR_STRING_DATA: &str = "another-secret-in-stringdata";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every form a secret or token could leak in.
fn leaks(text: &str, sb: &Sandbox) -> Vec<String> {
    let mut needles = vec![
        CLEAR.to_string(),
        b64(CLEAR),
        CLEAR_STRING_DATA.to_string(),
        b64(CLEAR_STRING_DATA),
        sb.host().token().to_string(),
        sb.virtual_().token().to_string(),
    ];
    needles.retain(|n| !n.is_empty());
    needles.into_iter().filter(|n| text.contains(n)).collect()
}

fn secret_json(ns: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": ns, "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration":
                format!("{{\"stringData\":{{\"password\":\"{CLEAR_STRING_DATA}\"}}}}")
        }},
        "data": {"password": b64(CLEAR)},
        "stringData": {"other": CLEAR_STRING_DATA}
    })
}

/// Secrets on both sides and a pod that uses one, with a missing twin so fix and sync write.
async fn sandbox() -> Sandbox {
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let secret: Secret = serde_json::from_value(secret_json("default")).unwrap();
    Api::<Secret>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let host_secret: Secret = serde_json::from_value(secret_json(sb.host_namespace())).unwrap();
    Api::<Secret>::namespaced(sb.host_client(), sb.host_namespace())
        .create(&PostParams::default(), &host_secret)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "app", "labels": {"app": "app"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
            "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    sb
}

#[test]
fn yaml_and_diff_views_redact_secret_values() {
    let secret = secret_json("default");
    let text = vinspect::tui::yaml::object_lines(&secret).join("\n");
    assert!(text.contains("password"), "keys stay visible: {text}");
    assert!(text.contains("<redacted"), "{text}");
    for needle in [CLEAR.to_string(), b64(CLEAR), CLEAR_STRING_DATA.to_string()] {
        assert!(
            !text.contains(&needle),
            "{needle} in the YAML view:\n{text}"
        );
    }
    let mut desired = Some(secret.clone());
    let mut actual = Some(secret);
    vinspect::tui::diff::normalise(&mut desired, &mut actual);
    let both = format!("{desired:?}{actual:?}");
    for needle in [CLEAR.to_string(), b64(CLEAR), CLEAR_STRING_DATA.to_string()] {
        assert!(!both.contains(&needle), "{needle} in the diff view");
    }
}

async fn traced_run(sb: &Sandbox, state: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("vinspect"));
    cmd.arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(["--context", &sb.virtual_context()])
        .args(args)
        .env("RUST_LOG", "trace")
        .env("XDG_STATE_HOME", state)
        .env("XDG_CONFIG_HOME", state)
        .env_remove("VINSPECT_LOG")
        .env_remove("KUBECONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_and_the_audit_log_of_check_fix_and_sync_hold_no_secret_and_no_token() {
    let sb = sandbox().await;
    let state = tempfile::tempdir().unwrap();
    let mut all = String::new();
    let (_, log) = traced_run(&sb, state.path(), &["check"]).await;
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "tracing was on"
    );
    all.push_str(&log);
    let (code, log) = traced_run(&sb, state.path(), &["fix", "--all", "--yes"]).await;
    assert_eq!(code, 0, "{log}");
    all.push_str(&log);
    let (_, log) = traced_run(&sb, state.path(), &["sync", "--once"]).await;
    all.push_str(&log);
    assert!(all.len() > 10_000, "a trace-level log: {} bytes", all.len());
    let found = leaks(&all, &sb);
    assert!(found.is_empty(), "leaked into the logs: {found:?}");

    let audit = std::fs::read_to_string(state.path().join("vinspect").join("audit.log")).unwrap();
    assert!(audit.lines().count() >= 2, "fix and sync wrote: {audit}");
    let found = leaks(&audit, &sb);
    assert!(found.is_empty(), "leaked into the audit log: {found:?}");
    sb.shutdown().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_backend_traced_at_every_level_logs_no_secret_and_no_token() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let (backend, mut rx) = LiveBackend::connect(LiveOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        selection: ContextSelection {
            context: Some(sb.virtual_context()),
            ..ContextSelection::default()
        },
        config_file: None,
        read_only: false,
        audit_log: Some(audit.clone()),
    })
    .await
    .unwrap();
    let d = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|d| {
            d.rows
                .iter()
                .any(|r| r.name == "app" && !r.plan.changes.is_empty())
        }),
    )
    .await
    .expect("the pairs show")
    .unwrap()
    .clone();
    let requests: Vec<FixRequest> = d
        .rows
        .iter()
        .filter(|r| r.name == "app" && !r.plan.changes.is_empty())
        .map(|r| FixRequest {
            key: vinspect::tui::types::RowKey {
                kind: r.kind,
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            },
            plan: r.plan.clone(),
        })
        .collect();
    let outcomes = backend.apply_fixes(requests).await;
    assert!(outcomes.iter().any(|o| o.result.is_ok()), "{outcomes:#?}");
    drop(rx);
    drop(backend);
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(log.len() > 1_000, "tracing was on: {} bytes", log.len());
    let found = leaks(&log, &sb);
    assert!(found.is_empty(), "leaked into the TUI's log: {found:?}");
    let audit = std::fs::read_to_string(&audit).unwrap();
    let found = leaks(&audit, &sb);
    assert!(found.is_empty(), "leaked into the audit log: {found:?}");
    sb.shutdown().await;
}
