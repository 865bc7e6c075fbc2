//! Fault matrix, `vinspect fix`: under 500 bursts, 409 storms, 403 on host writes and a side
//! that is down, fix says for every change whether it was applied, failed or not sent, the
//! audit log agrees, a second run converges, and a re-creation is never left half done.

use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use vinspect::cluster::session::ConnectOptions;
use vinspect::engine::apply::{ApplyOptions, AuditEntry, Clients, apply};
use vinspect::engine::{Action, Change, ObjKind, Plan, SideName, Target};
use vinspect::inspect::fix_cmd::{FixOptions, run_fix_to};
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn connect(sb: &Sandbox) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: None,
    }
}

async fn fix(sb: &Sandbox, refs: &[&str], audit: &std::path::Path) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut input: &[u8] = b"";
    let code = run_fix_to(
        FixOptions {
            connect: connect(sb),
            all: refs.is_empty(),
            refs: refs.iter().map(|r| r.to_string()).collect(),
            yes: true,
            audit_log: Some(audit.to_path_buf()),
            interactive: Some(false),
            ..Default::default()
        },
        &mut out,
        &mut err,
        &mut input,
    )
    .await
    .unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

async fn service(sb: &Sandbox, name: &str) -> Service {
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap()
}

fn twin(name: &str) -> String {
    format!("{name}-x-default-x-demo")
}

async fn host_has(sb: &Sandbox, name: &str) -> bool {
    Api::<Service>::namespaced(sb.host_client(), sb.host_namespace())
        .get_opt(&twin(name))
        .await
        .unwrap()
        .is_some()
}

fn audit(path: &std::path::Path) -> Vec<AuditEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The line of `out` about one change's target.
fn line_for<'a>(out: &'a str, verb: &str, name: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.starts_with("  ") && l.contains(verb) && l.contains(&twin(name)))
        .filter(|l| !l.trim_start().starts_with("- "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_burst_is_reported_change_by_change_and_a_second_run_converges() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    service(&sb, "alpha").await;
    service(&sb, "beta").await;
    sb.host().fail_next(1, "create", "services", 500);
    let (code, out, _) = fix(
        &sb,
        &["service/default/alpha", "service/default/beta"],
        &log,
    )
    .await;
    assert_eq!(code, 1, "a pair left unfixed: {out}");
    // Exactly one of the two creates failed, the other was applied; both say so.
    let lines: Vec<&str> = ["alpha", "beta"]
        .iter()
        .flat_map(|n| line_for(&out, "create host service", n))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines.iter().filter(|l| l.contains(": failed: ")).count(),
        1,
        "{out}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.ends_with(": created")).count(),
        1,
        "{out}"
    );
    let failed = if lines[0].contains("failed") {
        "alpha"
    } else {
        "beta"
    };
    let ok = if failed == "alpha" { "beta" } else { "alpha" };
    assert!(out.contains("500") || out.contains("nternal"), "{out}");
    assert!(!host_has(&sb, failed).await && host_has(&sb, ok).await);
    assert!(
        out.lines()
            .any(|l| l.contains(&format!("default/{failed}")) && l.contains("failed:")),
        "the outcome names the failed pair: {out}"
    );
    // The audit log agrees with the screen.
    let entries = audit(&log);
    let about = |n: &str| {
        entries
            .iter()
            .filter(|e| e.target.name == twin(n))
            .map(|e| e.outcome.clone())
            .collect::<Vec<_>>()
    };
    // The twin that went through was created first; later rounds may patch it (the virtual
    // re-create with the host's ClusterIP changes the UID its annotation records), never fail.
    let ok_outcomes = about(ok);
    assert_eq!(
        ok_outcomes.first().map(String::as_str),
        Some("created"),
        "{ok_outcomes:?}"
    );
    assert!(
        ok_outcomes.iter().all(|o| o == "created" || o == "patched"),
        "{ok_outcomes:?}"
    );
    assert!(
        about(failed).iter().all(|o| o != "created"),
        "{:?}",
        about(failed)
    );

    // Once the burst is over fix gets there. (Two services whose IPs collide across the sides
    // can need more than one run's rounds: each virtual re-create changes the UID the host
    // twin's annotations carry.)
    let mut last = String::new();
    let mut converged = false;
    for _ in 0..3 {
        let (code, out, _) = fix(&sb, &[], &log).await;
        last = out;
        if code == 0 {
            converged = true;
            break;
        }
    }
    assert!(converged, "{last}");
    assert!(host_has(&sb, failed).await);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_and_conflicting_writes_are_named_and_nothing_is_half_written() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    service(&sb, "gamma").await;
    sb.host().fail_next(1, "create", "services", 403);
    let (code, out, _) = fix(&sb, &["service/default/gamma"], &log).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("forbidden"), "{out}");
    assert!(!host_has(&sb, "gamma").await);

    // A 409 storm shorter than the rounds: fix re-reads and re-plans, and gets there.
    let (code, _, _) = fix(&sb, &["service/default/gamma"], &log).await;
    assert_eq!(code, 0);
    let host: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    host.patch(
        &twin("gamma"),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"selector": {"edited": "x"}}})),
    )
    .await
    .unwrap();
    sb.host().fail_next(2, "patch", "services", 409);
    let (code, out, _) = fix(&sb, &["service/default/gamma"], &log).await;
    assert!(out.contains("conflict, re-planning"), "{out}");
    assert_eq!(code, 0, "{out}");
    let now = host.get(&twin("gamma")).await.unwrap();
    assert!(!now.spec.unwrap().selector.unwrap().contains_key("edited"));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_that_is_down_is_an_error_and_a_slow_one_only_a_wait() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    service(&sb, "delta").await;
    sb.host().stop().await;
    let (code, out, err) = fix(&sb, &[], &log).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("host") && err.lines().count() <= 2, "{err}");
    assert!(!log.exists(), "nothing was attempted");
    sb.host().restart(true).await.unwrap();
    // Slow (every request 2 s late on the virtual side, which holds no write here) is not down.
    sb.virtual_().set_latency(Duration::from_secs(2));
    let (code, out, _) = fix(&sb, &["service/default/delta"], &log).await;
    sb.virtual_().set_latency(Duration::ZERO);
    assert_eq!(code, 0, "{out}");
    assert!(host_has(&sb, "delta").await);
    sb.shutdown().await;
}

fn recreate(uid: Option<String>) -> Plan {
    Plan {
        changes: vec![Change {
            target: Target {
                side: SideName::Virtual,
                kind: ObjKind::Service,
                namespace: "default".into(),
                name: "web".into(),
            },
            action: Action::Recreate {
                object: json!({
                    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                    "spec": {"clusterIP": "10.96.77.77", "clusterIPs": ["10.96.77.77"],
                             "selector": {"app": "web"}, "ports": [{"port": 80}]}
                }),
                uid,
            },
            reason: "test: move to the planned IP".into(),
            fields: vec![],
        }],
        blocked: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreation_rides_out_a_burst_of_500s_on_its_create() {
    let sb = sandbox().await;
    let first = service(&sb, "web").await;
    let cl = Clients {
        virtual_client: sb.virtual_client(),
        host_client: sb.host_client(),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
    };
    // The delete goes through, then the server fails three creates in a row.
    sb.virtual_().fail_next(3, "create", "services", 500);
    let done = apply(
        &cl,
        &recreate(first.metadata.uid.clone()),
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(done[0].outcome, "recreated");
    let now = Api::<Service>::namespaced(sb.virtual_client(), "default")
        .get("web")
        .await
        .unwrap();
    let ip: Value = json!(now.spec.unwrap().cluster_ip);
    assert_eq!(
        ip,
        json!("10.96.77.77"),
        "re-created as planned, not left deleted"
    );
    sb.shutdown().await;
}
