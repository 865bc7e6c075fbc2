//! Shared by the `sync_*` tests: a sandbox pair, a controller against it, and polling helpers.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vinspect::engine::controller::{ControllerOptions, SyncOptions, Tuning, run_sync_tuned};
use vinspect::engine::lease::LeaseOptions;
use vinspect::engine::queue::Backoff;
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::naming;

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=vinspect=debug`).
pub fn logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub async fn sandbox() -> Sandbox {
    logs();
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

pub fn options(sb: &Sandbox, once: bool) -> SyncOptions {
    SyncOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        context: Some(sb.virtual_context()),
        host_context: Some(sb.host_context().to_string()),
        vcluster: Some(sb.vcluster().to_string()),
        host_namespace: Some(sb.host_namespace().to_string()),
        once,
        // Tests never write into the user's state directory, nor leave files in /tmp
        // (Cargo gives integration tests a scratch directory under target/).
        audit_log: Some(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("vinspect-sync-test-{}.log", std::process::id())),
        ),
        ..SyncOptions::default()
    }
}

/// Timings for tests: fast retries, a 1.5 s lease.
pub fn tuning(identity: &str, stop: Option<watch::Receiver<bool>>) -> Tuning {
    Tuning {
        controller: ControllerOptions {
            workers: 4,
            backoff: Backoff {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(500),
            },
            retry_rate: 100.0,
            expectation_ttl: Duration::from_secs(2),
            start_timeout: Duration::from_secs(10),
            round_timeout: Duration::from_secs(5),
            ..ControllerOptions::default()
        },
        lease: Some(LeaseOptions::scaled(identity, Duration::from_millis(1500))),
        stop,
        no_signals: true,
    }
}

/// A continuously running controller; stop it with `stop()`.
pub struct Running {
    pub stop: watch::Sender<bool>,
    pub task: JoinHandle<anyhow::Result<i32>>,
}

impl Running {
    pub async fn stop(self) -> i32 {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("controller stops within 10 s")
            .expect("controller task did not panic")
            .expect("controller ran without setup error")
    }
}

pub fn start(sb: &Sandbox, identity: &str) -> Running {
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(run_sync_tuned(
        options(sb, false),
        tuning(identity, Some(rx)),
    ));
    Running { stop, task }
}

pub async fn once(sb: &Sandbox) -> i32 {
    run_sync_tuned(options(sb, true), tuning("once", None))
        .await
        .expect("sync --once runs")
}

/// Poll `f` until it yields `Some`, failing the test after 10 s with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn host_name(sb: &Sandbox, ns: &str, name: &str) -> String {
    naming::host_name(name, ns, sb.vcluster())
}

pub fn vsvcs(sb: &Sandbox, ns: &str) -> Api<Service> {
    Api::namespaced(sb.virtual_client(), ns)
}
pub fn hsvcs(sb: &Sandbox) -> Api<Service> {
    Api::namespaced(sb.host_client(), sb.host_namespace())
}
pub fn vpods(sb: &Sandbox, ns: &str) -> Api<Pod> {
    Api::namespaced(sb.virtual_client(), ns)
}
pub fn hpods(sb: &Sandbox) -> Api<Pod> {
    Api::namespaced(sb.host_client(), sb.host_namespace())
}
pub fn vings(sb: &Sandbox, ns: &str) -> Api<Ingress> {
    Api::namespaced(sb.virtual_client(), ns)
}
pub fn hings(sb: &Sandbox) -> Api<Ingress> {
    Api::namespaced(sb.host_client(), sb.host_namespace())
}

pub async fn create<K>(api: &Api<K>, v: Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v).expect("test object parses");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create succeeds")
}

pub fn service(name: &str, app: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": app, "tier": "web"}, "annotations": {"team": "blue"}},
        "spec": {"selector": {"app": app},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    })
}

pub fn pod(name: &str, app: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 8080}]}]}
    })
}

pub fn ingress(name: &str, svc: &str) -> Value {
    json!({
        "metadata": {"name": name, "annotations": {"nginx.ingress.kubernetes.io/auth-tls-secret": "default/ca"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": [{"host": "web.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}}]
        }
    })
}

/// SyncWarning/SyncError events from vinspect on one virtual object.
pub async fn sync_events(sb: &Sandbox, ns: &str, name: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(sb.virtual_client(), ns);
    api.list(&ListParams::default())
        .await
        .expect("events list")
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name)
                && e.reporting_component.as_deref() == Some("vinspect-syncer")
        })
        .collect()
}

pub fn cluster_ip(s: &Service) -> Option<String> {
    s.spec.as_ref()?.cluster_ip.clone()
}
