//! The TUI's live backend against a sandbox: data on the channel, diffs and YAML from the watch
//! caches, fixes through the engine, read-only enforced in the backend, context switching.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::watch;
use vinspect::engine::SideName;
use vinspect::inspect::{RowKind, Status};
use vinspect::live::{LiveBackend, LiveOptions, READ_ONLY_REFUSAL};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::tui::backend::Backend;
use vinspect::tui::types::{DataUpdate, FixRequest, RowKey};
use vinspect::vcluster::context::ContextSelection;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn options(sb: &Sandbox, read_only: bool, audit: &std::path::Path) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        selection: ContextSelection {
            context: Some(sb.virtual_context()),
            ..ContextSelection::default()
        },
        config_file: None,
        read_only,
        audit_log: Some(audit.to_path_buf()),
    }
}

async fn service(sb: &Sandbox, name: &str) {
    let api: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
}

/// Wait for a data update satisfying `pred`.
async fn wait_data(
    rx: &mut watch::Receiver<DataUpdate>,
    what: &str,
    pred: impl Fn(&DataUpdate) -> bool,
) -> DataUpdate {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        {
            let d = rx.borrow_and_update().clone();
            if pred(&d) {
                return d;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("timed out waiting for {what}: {:#?}", rx.borrow().rows),
        }
    }
}

fn key(name: &str) -> RowKey {
    RowKey {
        kind: RowKind::Service,
        namespace: "default".into(),
        name: name.into(),
    }
}

fn status(d: &DataUpdate, name: &str) -> Option<Status> {
    d.rows
        .iter()
        .find(|r| key(name).matches(r))
        .map(|r| r.status.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_and_dns_lines_arrive_and_follow_changes() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (backend, mut rx) = LiveBackend::connect(options(&sb, false, &dir.path().join("a")))
        .await
        .unwrap();
    let d = wait_data(&mut rx, "live rows", |d| {
        d.virtual_conn.is_live() && d.host_conn.is_live() && status(d, "kubernetes").is_some()
    })
    .await;
    assert_eq!(d.vcluster, "demo");
    assert_eq!(d.virtual_context, sb.virtual_context());
    assert_eq!(status(&d, "kubernetes"), Some(Status::Synced));
    assert!(
        d.dns
            .iter()
            .any(|l| l.name.starts_with("kubernetes.default.svc.")),
        "{:#?}",
        d.dns
    );
    let first_version = d.version;

    service(&sb, "late").await;
    let d = wait_data(&mut rx, "the new service", |d| {
        status(d, "late") == Some(Status::Missing)
    })
    .await;
    assert!(d.version > first_version);
    // The DNS tab may be held back under churn, but follows within its gap.
    wait_data(&mut rx, "the new service's DNS line", |d| {
        d.dns.iter().any(|l| l.name.starts_with("late."))
    })
    .await;

    // YAML and diff come from the caches; a missing twin is no object, not an error.
    let virt = backend
        .load_object(SideName::Virtual, key("late"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(virt["kind"], "Service");
    assert_eq!(virt["metadata"]["name"], "late");
    assert_eq!(
        backend
            .load_object(SideName::Host, key("late"))
            .await
            .unwrap(),
        None
    );
    let diff = backend.load_diff(key("late")).await.unwrap();
    assert!(diff.actual.is_none());
    assert_eq!(
        diff.desired.unwrap()["metadata"]["name"],
        "late-x-default-x-demo"
    );
    let gone = backend.load_diff(key("never-existed")).await.unwrap_err();
    assert!(gone.0.contains("never-existed"), "{gone}");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixes_apply_through_the_engine_and_read_only_writes_nothing() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    service(&sb, "web").await;

    // Read-only: refused in the backend, whatever the UI sends.
    let (ro, mut ro_rx) = LiveBackend::connect(options(&sb, true, &audit))
        .await
        .unwrap();
    let d = wait_data(&mut ro_rx, "the missing twin", |d| {
        status(d, "web") == Some(Status::Missing)
    })
    .await;
    let row = d.rows.iter().find(|r| key("web").matches(r)).unwrap();
    let request = FixRequest {
        key: key("web"),
        plan: row.plan.clone(),
    };
    assert!(!request.plan.changes.is_empty());
    let outcomes = ro.apply_fixes(vec![request.clone()]).await;
    assert_eq!(outcomes.len(), request.plan.changes.len());
    assert!(
        outcomes
            .iter()
            .all(|o| o.result == Err(READ_ONLY_REFUSAL.to_string()))
    );
    let host: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    assert!(
        host.get_opt("web-x-default-x-demo")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!audit.exists(), "a read-only backend wrote the audit log");
    drop(ro);

    // Writable: the confirmed plan, then re-plans until the pair is in line.
    let (rw, mut rx) = LiveBackend::connect(options(&sb, false, &audit))
        .await
        .unwrap();
    wait_data(&mut rx, "the missing twin", |d| {
        status(d, "web") == Some(Status::Missing)
    })
    .await;
    let outcomes = rw.apply_fixes(vec![request]).await;
    assert!(!outcomes.is_empty());
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:#?}");
    wait_data(&mut rx, "the fixed pair", |d| {
        status(d, "web") == Some(Status::Synced)
    })
    .await;
    assert!(
        host.get_opt("web-x-default-x-demo")
            .await
            .unwrap()
            .is_some()
    );
    let lines = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(lines.lines().count(), outcomes.len(), "{lines}");

    // Drift on the host twin shows in the diff and is fixed the same way.
    host.patch(
        "web-x-default-x-demo",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"selector": {"edited-by": "someone"}}})),
    )
    .await
    .unwrap();
    let d = wait_data(&mut rx, "drift", |d| {
        matches!(status(d, "web"), Some(Status::Drift { .. }))
    })
    .await;
    let diff = rw.load_diff(key("web")).await.unwrap();
    let sel = |v: &Option<Value>| v.as_ref().unwrap()["spec"]["selector"].clone();
    assert_eq!(sel(&diff.actual)["edited-by"], "someone");
    assert!(sel(&diff.desired).get("edited-by").is_none());
    let row = d.rows.iter().find(|r| key("web").matches(r)).unwrap();
    let outcomes = rw
        .apply_fixes(vec![FixRequest {
            key: key("web"),
            plan: row.plan.clone(),
        }])
        .await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:#?}");
    wait_data(&mut rx, "the fixed drift", |d| {
        status(d, "web") == Some(Status::Synced)
    })
    .await;
    sb.shutdown().await;
}

/// The sandbox's kubeconfig plus a second vCluster context on the same servers.
fn with_second_vcluster(sb: &Sandbox, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(sb.kubeconfig_path()).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let contexts = kc["contexts"].as_sequence_mut().unwrap();
    let mut other = contexts
        .iter()
        .find(|c| c["name"].as_str() == Some(sb.virtual_context().as_str()))
        .unwrap()
        .clone();
    other["name"] = serde_yaml::Value::from("vcluster_other_vcluster-other_sandbox-host");
    contexts.push(other);
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_lists_vcluster_contexts_and_switches() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&sb, false, &dir.path().join("audit"));
    opts.kubeconfig = Some(with_second_vcluster(&sb, dir.path()));
    let (backend, mut rx) = LiveBackend::connect(opts).await.unwrap();
    wait_data(&mut rx, "first rows", |d| status(d, "kubernetes").is_some()).await;

    let contexts = backend.list_contexts().await.unwrap();
    assert_eq!(
        contexts,
        vec![
            sb.virtual_context(),
            "vcluster_other_vcluster-other_sandbox-host".to_string()
        ]
    );

    let err = backend
        .switch_context("vcluster_nope_x_sandbox-host".into())
        .await
        .unwrap_err();
    assert!(err.0.contains("not found in kubeconfig"), "{err}");
    assert!(!err.0.contains('\n'));
    assert_eq!(backend.virtual_context(), sb.virtual_context());

    backend
        .switch_context("vcluster_other_vcluster-other_sandbox-host".into())
        .await
        .unwrap();
    let d = wait_data(&mut rx, "the other vCluster", |d| {
        d.vcluster == "other" && d.virtual_conn.is_live()
    })
    .await;
    assert_eq!(d.host_namespace, "vcluster-other");
    assert_eq!(
        d.virtual_context,
        "vcluster_other_vcluster-other_sandbox-host"
    );
    // The twins of the first vCluster do not count for the other one.
    let kube_dns = RowKey {
        kind: RowKind::Service,
        namespace: "kube-system".into(),
        name: "kube-dns".into(),
    };
    let row = d.rows.iter().find(|r| kube_dns.matches(r)).unwrap();
    assert_eq!(row.status, Status::Missing, "{row:#?}");
    assert!(row.host.name.ends_with("-x-other"), "{:?}", row.host.name);
    assert_eq!(backend.latest().snapshot.vcluster, "other");
    sb.shutdown().await;
}
