//! `--read-only` sends zero write requests: the sandbox counts every create, update, patch and
//! delete it receives, for `check`, `fix --read-only`, `sync --once --read-only` (the binary)
//! and the TUI's live backend — with drift present, so each of them had something to write.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vinspect::live::{LiveBackend, LiveOptions, READ_ONLY_REFUSAL};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::tui::backend::Backend;
use vinspect::tui::types::FixRequest;
use vinspect::vcluster::context::ContextSelection;

/// A pair with a missing twin and a pair whose twin drifted.
async fn drifted_sandbox() -> Sandbox {
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    for name in ["drifted", "missing"] {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
        }))
        .unwrap();
        vsvc.create(&PostParams::default(), &svc).await.unwrap();
        if name == "drifted" {
            let (code, _, err) =
                vinspect_bin(&sb, &["fix", "--yes", "service/default/drifted"]).await;
            assert_eq!(code, 0, "{err}");
            Api::<Service>::namespaced(sb.host_client(), sb.host_namespace())
                .patch(
                    "drifted-x-default-x-demo",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"selector": {"edited": "x"}}})),
                )
                .await
                .unwrap();
        }
    }
    sb
}

/// Runs the binary with the sandbox's contexts (off the runtime's threads).
async fn vinspect_bin(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("vinspect"));
    cmd.arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .args(["--context", &sb.virtual_context()])
        .args(args)
        .env("XDG_STATE_HOME", state.path())
        .env("XDG_CONFIG_HOME", state.path())
        .env_remove("KUBECONFIG");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn writes(sb: &Sandbox) -> usize {
    sb.host().write_count() + sb.virtual_().write_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fix_and_sync_under_read_only_send_no_write() {
    let sb = drifted_sandbox().await;
    let before = writes(&sb);

    let (code, out, err) = vinspect_bin(&sb, &["--read-only", "check"]).await;
    assert_eq!(code, 1, "drift is found: {out}{err}");
    let (code, out, err) = vinspect_bin(&sb, &["check", "-o", "json"]).await;
    assert_eq!(code, 1, "{out}{err}");

    let (code, out, err) = vinspect_bin(&sb, &["--read-only", "fix", "--all", "--yes"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("read-only: ") && out.contains("not applied"),
        "{out}"
    );

    let (code, _, err) = vinspect_bin(&sb, &["--read-only", "sync", "--once"]).await;
    assert_eq!(code, 1, "unsynced pairs are reported: {err}");

    assert_eq!(writes(&sb) - before, 0, "{:#?}", sb.host().writes());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_backend_under_read_only_sends_no_write() {
    let sb = drifted_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let before = writes(&sb);
    let (backend, mut rx) = LiveBackend::connect(LiveOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        selection: ContextSelection {
            context: Some(sb.virtual_context()),
            ..ContextSelection::default()
        },
        config_file: None,
        read_only: true,
        audit_log: Some(dir.path().join("audit.log")),
    })
    .await
    .unwrap();
    let d = tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|d| d.rows.iter().filter(|r| r.status.is_problem()).count() >= 2),
    )
    .await
    .expect("the drift shows")
    .unwrap()
    .clone();
    // The UI asks for every fix there is; the backend refuses each change.
    let requests: Vec<FixRequest> = d
        .rows
        .iter()
        .filter(|r| !r.plan.changes.is_empty())
        .map(|r| FixRequest {
            key: vinspect::tui::types::RowKey {
                kind: r.kind,
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            },
            plan: r.plan.clone(),
        })
        .collect();
    assert!(requests.len() >= 2);
    let outcomes = backend.apply_fixes(requests).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.result == Err(READ_ONLY_REFUSAL.to_string()))
    );
    for r in d.rows.iter().filter(|r| r.status.is_problem()) {
        let key = vinspect::tui::types::RowKey {
            kind: r.kind,
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        };
        let _ = backend.load_diff(key).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(rx);
    drop(backend);
    assert_eq!(writes(&sb) - before, 0, "{:#?}", sb.host().writes());
    assert!(!dir.path().join("audit.log").exists());
    sb.shutdown().await;
}
