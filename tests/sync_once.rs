//! `vinspect sync --once` against a sandbox pair: twins appear as vCluster would write them.

mod sync_support;

use sync_support::*;
use vinspect::vcluster::naming;

#[tokio::test]
async fn once_converges_services_pods_and_ingresses() {
    let sb = sandbox().await;
    create(&vsvcs(&sb, "default"), service("shop", "shop")).await;
    create(&vpods(&sb, "default"), pod("shop-0", "shop")).await;
    create(&vings(&sb, "default"), ingress("shop", "shop")).await;
    // A virtual ClusterIP the host will not hand out: the virtual service must be re-created
    // with the host's IP.
    let mut pinned = service("pinned", "pinned");
    pinned["spec"]["clusterIP"] = serde_json::json!("10.111.222.33");
    create(&vsvcs(&sb, "default"), pinned).await;

    let code = once(&sb).await;
    assert_eq!(code, 0, "sync --once converges");

    // Service twin: name, labels, annotations, selector, owner.
    let twin_name = host_name(&sb, "default", "shop");
    let twin = hsvcs(&sb).get(&twin_name).await.expect("host service twin");
    let labels = twin.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get(naming::LABEL_MANAGED_BY).map(String::as_str),
        Some(sb.vcluster())
    );
    assert_eq!(
        labels.get(naming::LABEL_NAMESPACE).map(String::as_str),
        Some("default")
    );
    assert_eq!(labels.get("app").map(String::as_str), Some("shop"));
    let ann = twin.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get(naming::ANNOTATION_OBJECT_NAME).map(String::as_str),
        Some("shop")
    );
    assert_eq!(
        ann.get(naming::ANNOTATION_OBJECT_NAMESPACE)
            .map(String::as_str),
        Some("default")
    );
    assert_eq!(ann.get("team").map(String::as_str), Some("blue"));
    let sel = twin
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    assert_eq!(sel.get("app").map(String::as_str), Some("shop"));
    assert_eq!(
        sel.get(naming::LABEL_MANAGED_BY).map(String::as_str),
        Some(sb.vcluster())
    );
    assert_eq!(
        sel.get(naming::LABEL_NAMESPACE).map(String::as_str),
        Some("default")
    );
    let vc_svc = hsvcs(&sb).get(sb.vcluster()).await.unwrap();
    let owners = twin.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "Service");
    assert_eq!(owners[0].name, sb.vcluster());
    assert_eq!(Some(owners[0].uid.clone()), vc_svc.metadata.uid);

    // The virtual ClusterIP is the host's.
    let vsvc = vsvcs(&sb, "default").get("shop").await.unwrap();
    assert!(cluster_ip(&twin).is_some_and(|ip| !ip.is_empty()));
    assert_eq!(cluster_ip(&vsvc), cluster_ip(&twin));

    let ptwin = hsvcs(&sb)
        .get(&host_name(&sb, "default", "pinned"))
        .await
        .unwrap();
    let pv = vsvcs(&sb, "default").get("pinned").await.unwrap();
    assert_ne!(cluster_ip(&pv).as_deref(), Some("10.111.222.33"));
    assert_eq!(
        cluster_ip(&pv),
        cluster_ip(&ptwin),
        "re-created with the host ClusterIP"
    );

    // The pod runs on the host; the virtual pod shows the host pod's IP and node.
    let hpod = hpods(&sb)
        .get(&host_name(&sb, "default", "shop-0"))
        .await
        .expect("host pod twin");
    let vpod = eventually("virtual pod Running with the host pod IP", || async {
        let p = vpods(&sb, "default").get("shop-0").await.ok()?;
        let st = p.status.clone()?;
        (st.phase.as_deref() == Some("Running") && st.pod_ip.is_some()).then_some(p)
    })
    .await;
    let hpod_now = hpods(&sb)
        .get(&host_name(&sb, "default", "shop-0"))
        .await
        .unwrap();
    assert_eq!(
        vpod.status.as_ref().unwrap().pod_ip,
        hpod_now.status.as_ref().unwrap().pod_ip
    );
    assert_eq!(
        hpod.spec.as_ref().unwrap().service_account_name.as_deref(),
        Some(naming::workload_service_account(sb.vcluster()).as_str())
    );

    // Ingress twin points at the service twin and the renamed TLS secret.
    let hing = hings(&sb)
        .get(&host_name(&sb, "default", "shop"))
        .await
        .expect("host ingress twin");
    let spec = hing.spec.clone().unwrap();
    let backend = spec.rules.unwrap()[0].http.clone().unwrap().paths[0]
        .backend
        .clone();
    assert_eq!(backend.service.unwrap().name, twin_name);
    assert_eq!(
        spec.tls.unwrap()[0].secret_name.as_deref(),
        Some(host_name(&sb, "default", "web-tls").as_str())
    );
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
}

#[tokio::test]
async fn read_only_once_writes_nothing_and_reports_what_is_unsynced() {
    let sb = sandbox().await;
    create(&vsvcs(&sb, "default"), service("quiet", "quiet")).await;
    let mut opts = options(&sb, true);
    opts.read_only = true;
    let code = vinspect::engine::controller::run_sync_tuned(opts, tuning("ro", None))
        .await
        .unwrap();
    assert_eq!(code, 1, "something is left unsynced");
    let twin = host_name(&sb, "default", "quiet");
    assert!(hsvcs(&sb).get_opt(&twin).await.unwrap().is_none());
    assert!(sync_events(&sb, "default", "quiet").await.is_empty());
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(sb.host_client(), sb.host_namespace());
    assert!(
        leases
            .get_opt(&format!("vinspect-sync-{}", sb.vcluster()))
            .await
            .unwrap()
            .is_none(),
        "a read-only syncer does not take the lease"
    );
}
