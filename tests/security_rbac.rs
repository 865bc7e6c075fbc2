//! The RBAC roles shipped in deploy/ (read-only, fix, sync), tested against sandbox users bound
//! to exactly those rules: everything vinspect needs in that mode works without one denied
//! request, and writes outside the role get 403.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use vinspect::cluster::session::ConnectOptions;
use vinspect::engine::controller::{SyncOptions, Tuning, run_sync_tuned};
use vinspect::inspect::check_cmd::{CheckOptions, OutputFormat, run_check_to};
use vinspect::inspect::fix_cmd::{FixOptions, run_fix_to};
use vinspect::sandbox::authz::parse_manifests;
use vinspect::sandbox::{Rbac, Sandbox, SandboxOptions};

const READER: &str = "reader";
const FIXER: &str = "fixer";
const SYNC_SA: &str = "system:serviceaccount:vcluster-demo:vinspect-sync";

/// A shipped manifest with the placeholders set to the sandbox's vCluster `demo`.
fn shipped(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace("vcluster-my-vcluster", "vcluster-demo")
        .replace("my-vcluster", "demo");
    parse_manifests(&text).unwrap()
}

fn role_binding(user: &str, role_kind: &str, role: &str, ns: Option<&str>) -> Value {
    let mut b = json!({
        "kind": if ns.is_some() { "RoleBinding" } else { "ClusterRoleBinding" },
        "metadata": {"name": format!("{user}-{role}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "User", "name": user}]
    });
    if let Some(ns) = ns {
        b["metadata"]["namespace"] = json!(ns);
    }
    b
}

async fn sandbox() -> Sandbox {
    let hns = Some("vcluster-demo");
    let mut host = shipped("rbac/host-read-only.yaml");
    host.extend(shipped("rbac/host-fix.yaml"));
    // sync.yaml brings its own ServiceAccount bindings.
    host.extend(shipped("sync.yaml"));
    host.extend([
        role_binding(READER, "Role", "vinspect-read", hns),
        role_binding(READER, "ClusterRole", "vinspect-read-cluster", None),
        role_binding(FIXER, "Role", "vinspect-fix", hns),
        role_binding(FIXER, "ClusterRole", "vinspect-read-cluster", None),
    ]);
    // The other host namespaces the sandbox's vcluster.yaml names (replicateServices fromHost,
    // resolveDNS), bound as the comments in the shipped files say.
    for ns in ["shared", "legacy-host"] {
        host.push(role_binding(
            READER,
            "ClusterRole",
            "vinspect-read-services",
            Some(ns),
        ));
        host.push(role_binding(
            FIXER,
            "ClusterRole",
            "vinspect-read-services",
            Some(ns),
        ));
        let mut sa = role_binding(
            SYNC_SA,
            "ClusterRole",
            "vinspect-sync-replicate-source",
            Some(ns),
        );
        sa["subjects"] = json!([{"kind": "ServiceAccount", "name": "vinspect-sync", "namespace": "vcluster-demo"}]);
        host.push(sa);
    }
    let mut virt = shipped("rbac/virtual-read-only.yaml");
    virt.extend(shipped("rbac/virtual-fix.yaml"));
    virt.extend([
        role_binding(READER, "ClusterRole", "vinspect-read", None),
        role_binding(FIXER, "ClusterRole", "vinspect-fix", None),
    ]);
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        rbac: Some(Rbac {
            users: vec![READER.into(), FIXER.into(), SYNC_SA.into()],
            host,
            virtual_: virt,
        }),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    // Work for fix and sync: a Service and a Pod without twins.
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(sb.virtual_client(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    sb
}

fn kubeconfig(sb: &Sandbox, dir: &Path, host: Option<&str>, virt: Option<&str>) -> PathBuf {
    let path = dir.join(format!(
        "{}-{}",
        host.unwrap_or("admin"),
        virt.unwrap_or("admin")
    ));
    sb.write_rbac_kubeconfig(host, virt, &path).unwrap();
    path
}

fn connect(sb: &Sandbox, kubeconfig: &Path) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: None,
    }
}

async fn fix_all(sb: &Sandbox, kc: &Path, audit: &Path) -> (i32, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input: &[u8] = b"";
    let code = run_fix_to(
        FixOptions {
            connect: connect(sb, kc),
            all: true,
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
    let text = String::from_utf8(out).unwrap() + &String::from_utf8(err).unwrap();
    (code, text)
}

fn no_denials(sb: &Sandbox, user: &str) {
    let host: Vec<_> = sb
        .host()
        .denials()
        .into_iter()
        .filter(|d| d.user == user)
        .collect();
    let virt: Vec<_> = sb
        .virtual_()
        .denials()
        .into_iter()
        .filter(|d| d.user == user)
        .collect();
    assert!(host.is_empty(), "host denied {user}: {host:#?}");
    assert!(virt.is_empty(), "virtual denied {user}: {virt:#?}");
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>, what: &str) {
    match r {
        Err(kube::Error::Api(s)) if s.code == 403 => {}
        other => panic!("{what}: expected 403, got {other:?}"),
    }
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

/// Writes no role shipped here allows on the host.
async fn writes_outside_every_role_are_refused(client: kube::Client, who: &str) {
    let hns = "vcluster-demo";
    let pp = PostParams::default();
    forbidden(
        Api::<ConfigMap>::namespaced(client.clone(), hns)
            .create(&pp, &cm("x"))
            .await,
        &format!("{who}: configmap in HNS"),
    );
    forbidden(
        Api::<Service>::namespaced(client.clone(), "default")
            .create(
                &pp,
                &serde_json::from_value(json!({"metadata": {"name": "x"},
                    "spec": {"ports": [{"port": 80}]}}))
                .unwrap(),
            )
            .await,
        &format!("{who}: service outside HNS"),
    );
    forbidden(
        Api::<Secret>::namespaced(client.clone(), hns)
            .patch(
                "vc-config-demo",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
            )
            .await,
        &format!("{who}: the config secret"),
    );
    forbidden(
        Api::<Secret>::namespaced(client.clone(), hns)
            .get("some-other-secret")
            .await,
        &format!("{who}: reading another secret"),
    );
    forbidden(
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .delete(hns, &DeleteParams::default())
            .await,
        &format!("{who}: deleting HNS"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_roles_cover_check_and_the_tui_and_refuse_every_write() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(&sb, dir.path(), Some(READER), Some(READER));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_check_to(
        CheckOptions {
            connect: connect(&sb, &kc),
            output: OutputFormat::Json,
            ..Default::default()
        },
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 1, "drift found, no error: {err}");
    assert!(
        !err.contains("vc-config"),
        "the config secret was readable: {err}"
    );
    no_denials(&sb, READER);

    // The TUI's live backend: watches of both sides go live as the reader.
    let (backend, mut rx) = vinspect::live::LiveBackend::connect(vinspect::live::LiveOptions {
        kubeconfig: Some(kc.clone()),
        selection: vinspect::vcluster::context::ContextSelection {
            context: Some(sb.virtual_context()),
            ..Default::default()
        },
        read_only: true,
        audit_log: Some(dir.path().join("audit.log")),
        ..Default::default()
    })
    .await
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        rx.wait_for(|d| d.host_conn.is_live() && d.virtual_conn.is_live() && !d.rows.is_empty()),
    )
    .await
    .expect("both sides live as the reader")
    .unwrap();
    drop(rx);
    drop(backend);
    no_denials(&sb, READER);

    // Without --read-only, fix as the reader is refused by the server, change by change.
    let (code, text) = fix_all(&sb, &kc, &dir.path().join("audit.log")).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("forbidden"), "{text}");
    let denied = sb.host().denials();
    assert!(
        !denied.is_empty() && denied.iter().all(|d| d.verb == "create"),
        "{denied:#?}"
    );

    let reader = sb.rbac_client(READER, true).unwrap();
    writes_outside_every_role_are_refused(reader.clone(), READER).await;
    forbidden(
        Api::<Service>::namespaced(reader, "vcluster-demo")
            .delete("demo", &DeleteParams::default())
            .await,
        "reader: deleting a host service",
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fix_roles_let_fix_converge_and_nothing_else() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(&sb, dir.path(), Some(FIXER), Some(FIXER));
    let (code, text) = fix_all(&sb, &kc, &dir.path().join("audit.log")).await;
    assert_eq!(code, 0, "{text}");
    no_denials(&sb, FIXER);
    let fixer = sb.rbac_client(FIXER, true).unwrap();
    writes_outside_every_role_are_refused(fixer.clone(), FIXER).await;
    forbidden(
        Api::<Lease>::namespaced(fixer, "vcluster-demo")
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap(),
            )
            .await,
        "fixer: a lease (only sync elects a leader)",
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_role_lets_sync_elect_and_converge_and_nothing_else() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    // The virtual side runs with the kubeconfig vCluster exports (admin), as deploy/sync.yaml says.
    let kc = kubeconfig(&sb, dir.path(), Some(SYNC_SA), None);
    let opts = SyncOptions {
        kubeconfig: Some(kc),
        context: Some(sb.virtual_context()),
        host_context: Some(sb.host_context().to_string()),
        vcluster: Some(sb.vcluster().to_string()),
        host_namespace: Some(sb.host_namespace().to_string()),
        once: true,
        audit_log: Some(dir.path().join("audit.log")),
        ..SyncOptions::default()
    };
    let tuning = Tuning {
        lease: Some(vinspect::engine::lease::LeaseOptions::scaled(
            "rbac-sync",
            Duration::from_secs(3),
        )),
        no_signals: true,
        ..Tuning::default()
    };
    let code = run_sync_tuned(opts, tuning).await.unwrap();
    assert_eq!(code, 0);
    no_denials(&sb, SYNC_SA);
    let sa = sb.rbac_client(SYNC_SA, true).unwrap();
    writes_outside_every_role_are_refused(sa.clone(), SYNC_SA).await;
    forbidden(
        Api::<Lease>::namespaced(sa, "vcluster-demo")
            .replace(
                "someone-elses-lease",
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "someone-elses-lease"}}))
                    .unwrap(),
            )
            .await,
        "sync: another lease",
    );
    sb.shutdown().await;
}
