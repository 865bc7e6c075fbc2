//! `engine::apply` against a sandbox pair: create, dry-run, conflicts, audit log, convergence.

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use vinspect::cluster::snapshot::{Obj, ObjKey, ObjMap, Side, Snapshot};
use vinspect::engine::apply::{
    ApplyError, ApplyOptions, AuditEntry, AuditLog, Clients, apply, apply_with_retry,
};
use vinspect::engine::{
    Action, Change, Ctx, ObjKind, Pair, PairKind, Plan, SideName, Target, pairs, plan,
};
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::config::VClusterConfig;

async fn list<K>(client: &kube::Client) -> ObjMap<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| (ObjKey::of(&o), Obj::new(o)))
        .collect()
}

async fn side(client: &kube::Client) -> Side {
    let nss: Api<Namespace> = Api::all(client.clone());
    Side {
        namespaces: nss
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|o| (ObjKey::of(&o), Obj::new(o)))
            .collect(),
        pods: list::<Pod>(client).await,
        services: list::<Service>(client).await,
        endpoints: list::<Endpoints>(client).await,
        ingresses: list::<Ingress>(client).await,
        ..Side::default()
    }
}

async fn snapshot(sb: &Sandbox) -> Snapshot {
    Snapshot {
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        virtual_side: side(&sb.virtual_client()).await,
        host: side(&sb.host_client()).await,
        ..Snapshot::default()
    }
}

fn nginx_pair(ctx: &Ctx) -> Pair {
    pairs(ctx)
        .into_iter()
        .find(|p| {
            p.kind == PairKind::Service && p.virtual_key == Some(ObjKey::new("default", "nginx"))
        })
        .unwrap()
}

fn clients(sb: &Sandbox) -> Clients {
    Clients {
        virtual_client: sb.virtual_client(),
        host_client: sb.host_client(),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_converges_detects_conflicts_and_audits() {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let cfg = VClusterConfig::default();
    let cl = clients(&sb);
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.log"));
    let hns = sb.host_namespace().to_string();
    let twin = vinspect::vcluster::naming::host_name("nginx", "default", sb.vcluster());

    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let obj: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
        "spec": {"selector": {"app": "nginx"}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    vsvc.create(&PostParams::default(), &obj).await.unwrap();

    // Dry run: validated by the server, nothing persisted, still audited.
    let snap = snapshot(&sb).await;
    let ctx = Ctx::new(&snap, &cfg);
    let pair = nginx_pair(&ctx);
    let p = plan(&ctx, &pair, None);
    assert!(matches!(p.changes[0].action, Action::Create { .. }));
    let dry = ApplyOptions {
        dry_run: true,
        audit: Some(log.clone()),
    };
    apply(&cl, &p, &dry).await.unwrap();
    let hsvc: Api<Service> = Api::namespaced(sb.host_client(), &hns);
    assert!(hsvc.get_opt(&twin).await.unwrap().is_none());

    // For real, re-reading and re-planning until in line (create, then the virtual re-create
    // with the host's ClusterIP).
    let opts = ApplyOptions {
        dry_run: false,
        audit: Some(log.clone()),
    };
    for _ in 0..4 {
        let snap = snapshot(&sb).await;
        let ctx = Ctx::new(&snap, &cfg);
        let p = plan(&ctx, &nginx_pair(&ctx), None);
        if p.changes.is_empty() {
            break;
        }
        apply(&cl, &p, &opts).await.unwrap();
    }
    let host = hsvc.get(&twin).await.unwrap();
    let virt = vsvc.get("nginx").await.unwrap();
    assert_eq!(
        host.spec.as_ref().unwrap().cluster_ip,
        virt.spec.as_ref().unwrap().cluster_ip
    );
    let sel = host.spec.as_ref().unwrap().selector.clone().unwrap();
    assert_eq!(
        sel.get("vcluster.loft.sh/managed-by").map(String::as_str),
        Some(sb.vcluster())
    );
    assert_eq!(
        host.metadata.owner_references.as_ref().unwrap()[0].name,
        sb.vcluster()
    );

    // Drift planned from a snapshot that is then overtaken: the server answers 409.
    hsvc.patch(
        &twin,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"selector": {"app": "other"}}})),
    )
    .await
    .unwrap();
    let stale = snapshot(&sb).await;
    hsvc.patch(
        &twin,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"touched": "yes"}}})),
    )
    .await
    .unwrap();
    let ctx = Ctx::new(&stale, &cfg);
    let p = plan(&ctx, &nginx_pair(&ctx), None);
    assert!(p.changes.iter().any(|c| c.target.side == SideName::Host));
    match apply(&cl, &p, &opts).await {
        Err(ApplyError::Conflict { .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    // apply_with_retry re-reads and re-plans.
    let sbr = &sb;
    let cfgr = &cfg;
    let done = apply_with_retry(&cl, &opts, || async move {
        let snap = snapshot(sbr).await;
        let ctx = Ctx::new(&snap, cfgr);
        plan(&ctx, &nginx_pair(&ctx), None)
    })
    .await
    .unwrap();
    assert!(!done.is_empty());
    let host = hsvc.get(&twin).await.unwrap();
    assert_eq!(
        host.spec
            .unwrap()
            .selector
            .unwrap()
            .get("app")
            .map(String::as_str),
        Some("nginx")
    );
    let snap = snapshot(&sb).await;
    let ctx = Ctx::new(&snap, &cfg);
    assert_eq!(plan(&ctx, &nginx_pair(&ctx), None), Plan::default());

    // Every attempt is one JSON line; the dry run says so.
    let text = std::fs::read_to_string(log.path()).unwrap();
    let entries: Vec<AuditEntry> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.len() >= 4, "{entries:#?}");
    assert!(entries[0].dry_run && entries[0].action == "create");
    assert!(
        entries
            .iter()
            .any(|e| e.outcome.starts_with("error:") && e.outcome.contains("409"))
    );
    assert!(entries.iter().all(|e| e.host_context == sb.host_context()));
    sb.shutdown().await;
}

fn recreate_web(uid: Option<String>, ip: &str) -> Plan {
    Plan {
        changes: vec![Change {
            target: Target {
                side: SideName::Virtual,
                kind: ObjKind::Service,
                namespace: "default".into(),
                name: "web".into(),
            },
            action: Action::Recreate {
                object: serde_json::json!({
                    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                    "spec": {"clusterIP": ip, "clusterIPs": [ip], "selector": {"app": "web"},
                             "ports": [{"port": 80}]}
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
async fn a_recreate_whose_create_fails_is_never_left_deleted() {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let cl = clients(&sb);
    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let first: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    let first = vsvc.create(&PostParams::default(), &first).await.unwrap();
    let planned_ip = "10.96.123.45";

    // The create with the planned IP fails after the delete went through: the object comes
    // back with an IP the server picks, and the new resourceVersion is reported.
    sb.virtual_().fail_next(1, "create", "services", 422);
    let done = apply(
        &cl,
        &recreate_web(first.metadata.uid.clone(), planned_ip),
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(done[0].outcome, "recreated");
    let now = vsvc.get("web").await.unwrap();
    assert_ne!(now.metadata.uid, first.metadata.uid, "a new object");
    assert_eq!(now.metadata.resource_version, done[0].resource_version);
    let ip = now.spec.as_ref().and_then(|s| s.cluster_ip.clone());
    assert!(
        ip.as_deref()
            .is_some_and(|ip| ip != planned_ip && !ip.is_empty()),
        "{ip:?}"
    );

    // Without a fault the planned IP is taken as given.
    let done = apply(
        &cl,
        &recreate_web(now.metadata.uid.clone(), planned_ip),
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    let now = vsvc.get("web").await.unwrap();
    assert_eq!(now.metadata.resource_version, done[0].resource_version);
    assert_eq!(
        now.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        Some(planned_ip)
    );

    // Both creates fail: the error says the object is gone and what to do about it.
    sb.virtual_().fail_next(2, "create", "services", 422);
    let err = apply(
        &cl,
        &recreate_web(now.metadata.uid.clone(), planned_ip),
        &ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ApplyError::Lost { .. }), "{err:?}");
    assert!(err.to_string().contains("re-apply it"), "{err}");
    assert!(vsvc.get_opt("web").await.unwrap().is_none());
    sb.shutdown().await;
}
