//! `vinspect sync` running continuously against a sandbox pair: changes, deletions both ways,
//! status flowing back, squatters, replicateServices (including a config change), and leader
//! election between two controllers.

mod sync_support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use sync_support::*;
use vinspect::vcluster::naming;

#[tokio::test]
async fn virtual_changes_and_deletions_reach_the_host_and_back() {
    let sb = sandbox().await;
    let ctl = start(&sb, "a");
    let twin = host_name(&sb, "default", "cart");

    // Create.
    create(&vsvcs(&sb, "default"), service("cart", "cart")).await;
    let first = eventually("host twin of cart", || async {
        hsvcs(&sb).get_opt(&twin).await.ok()?
    })
    .await;
    eventually("virtual ClusterIP equals host ClusterIP", || async {
        let v = vsvcs(&sb, "default").get("cart").await.ok()?;
        let h = hsvcs(&sb).get(&twin).await.ok()?;
        (cluster_ip(&v).is_some() && cluster_ip(&v) == cluster_ip(&h)).then_some(())
    })
    .await;

    // Update: a label and the selector change on the virtual side.
    vsvcs(&sb, "default")
        .patch(
            "cart",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "api"}}, "spec": {"selector": {"app": "cart-v2"}}})),
        )
        .await
        .unwrap();
    eventually("label and selector on the twin", || async {
        let h = hsvcs(&sb).get(&twin).await.ok()?;
        let l = h.metadata.labels.clone()?;
        let sel = h.spec.as_ref()?.selector.clone()?;
        (l.get("tier").map(String::as_str) == Some("api")
            && sel.get("app").map(String::as_str) == Some("cart-v2"))
        .then_some(())
    })
    .await;
    let after = hsvcs(&sb).get(&twin).await.unwrap();
    assert_eq!(
        after.metadata.uid, first.metadata.uid,
        "patched in place, not recreated"
    );

    // Virtual deleted → host twin deleted.
    vsvcs(&sb, "default")
        .delete("cart", &DeleteParams::default())
        .await
        .unwrap();
    eventually("host twin deleted", || async {
        hsvcs(&sb)
            .get_opt(&twin)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;

    // Host twin deleted after it was seen → the virtual object goes too (§8.4).
    create(&vsvcs(&sb, "default"), service("till", "till")).await;
    let till = host_name(&sb, "default", "till");
    eventually("host twin of till in line", || async {
        let v = vsvcs(&sb, "default").get("till").await.ok()?;
        let h = hsvcs(&sb).get_opt(&till).await.ok()??;
        (cluster_ip(&v) == cluster_ip(&h)).then_some(())
    })
    .await;
    // The controller must have seen the twin (one watch publish) for §8.4 to apply; a twin it
    // never saw is re-created instead, as vCluster does after a restart.
    tokio::time::sleep(Duration::from_millis(300)).await;
    hsvcs(&sb)
        .delete(&till, &DeleteParams::default())
        .await
        .unwrap();
    eventually("virtual service deleted after its twin was", || async {
        vsvcs(&sb, "default")
            .get_opt("till")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;

    assert_eq!(ctl.stop().await, 0, "stop drains and exits 0");
}

#[tokio::test]
async fn pods_run_and_ingress_status_flows_back() {
    let sb = sandbox().await;
    let ctl = start(&sb, "a");
    create(&vsvcs(&sb, "default"), service("blog", "blog")).await;
    create(&vpods(&sb, "default"), pod("blog-0", "blog")).await;
    create(&vings(&sb, "default"), ingress("blog", "blog")).await;

    let hpod_name = host_name(&sb, "default", "blog-0");
    let (vip, node) = eventually("virtual pod Running with the host pod's IP", || async {
        let v = vpods(&sb, "default").get("blog-0").await.ok()?;
        let h = hpods(&sb).get_opt(&hpod_name).await.ok()??;
        let (vs, hs) = (v.status.clone()?, h.status.clone()?);
        let node = v.spec.clone()?.node_name?;
        (vs.phase.as_deref() == Some("Running") && vs.pod_ip.is_some() && vs.pod_ip == hs.pod_ip)
            .then(|| (vs.pod_ip.clone(), node))
    })
    .await;
    assert!(vip.is_some());
    let h = hpods(&sb).get(&hpod_name).await.unwrap();
    assert_eq!(
        Some(node),
        h.spec.unwrap().node_name,
        "virtual pod bound to the host node"
    );

    // An ingress controller on the host publishes an address; it appears on the virtual side.
    let hing_name = host_name(&sb, "default", "blog");
    eventually("host ingress twin", || async {
        hings(&sb).get_opt(&hing_name).await.ok()?
    })
    .await;
    hings(&sb)
        .patch_status(
            &hing_name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}),
            ),
        )
        .await
        .unwrap();
    eventually("ingress status on the virtual ingress", || async {
        let v = vings(&sb, "default").get("blog").await.ok()?;
        let ip = v.status?.load_balancer?.ingress?.first()?.ip.clone()?;
        (ip == "203.0.113.7").then_some(())
    })
    .await;

    // Virtual pod deleted → host pod deleted.
    vpods(&sb, "default")
        .delete("blog-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    eventually("host pod deleted", || async {
        hpods(&sb)
            .get_opt(&hpod_name)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(ctl.stop().await, 0);
}

#[tokio::test]
async fn a_squatter_is_never_touched_and_the_virtual_object_gets_a_warning() {
    let sb = sandbox().await;
    let twin = host_name(&sb, "default", "mail");
    // Someone else's Service at the twin's name.
    let squatter: Service = create(
        &hsvcs(&sb),
        json!({"metadata": {"name": twin, "labels": {"owner": "someone-else"}},
               "spec": {"selector": {"app": "other"}, "ports": [{"port": 25}]}}),
    )
    .await;
    create(&vsvcs(&sb, "default"), service("mail", "mail")).await;
    let ctl = start(&sb, "a");

    let events = eventually("a SyncWarning event on the virtual service", || async {
        let ev = sync_events(&sb, "default", "mail").await;
        (!ev.is_empty()).then_some(ev)
    })
    .await;
    assert_eq!(events[0].reason.as_deref(), Some("SyncWarning"));
    assert!(
        events[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("squatter"),
        "{:?}",
        events[0].message
    );
    // Give the controller time to do anything wrong, then check nothing was written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = hsvcs(&sb).get(&twin).await.unwrap();
    assert_eq!(
        now.metadata.resource_version,
        squatter.metadata.resource_version
    );
    assert_eq!(now.metadata.uid, squatter.metadata.uid);
    assert_eq!(ctl.stop().await, 0);

    // `--once` counts it as left unsynced.
    assert_eq!(once(&sb).await, 1);
    let again = hsvcs(&sb).get(&twin).await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        squatter.metadata.resource_version
    );
    // Repeats bump the count of the one event instead of adding events.
    let after = sync_events(&sb, "default", "mail").await;
    assert_eq!(after.len(), 1, "{after:?}");
}

#[tokio::test]
async fn replicate_services_both_ways_and_follow_a_config_change() {
    let sb = sandbox().await;
    let host = sb.host_client();
    let nss: Api<Namespace> = Api::all(host.clone());
    create(&nss, json!({"metadata": {"name": "shared"}})).await;
    let shared: Api<Service> = Api::namespaced(host.clone(), "shared");
    let pg = create(
        &shared,
        json!({"metadata": {"name": "postgres"},
               "spec": {"selector": {"app": "pg"}, "ports": [{"name": "pg", "port": 5432}]}}),
    )
    .await;
    let ctl = start(&sb, "a");

    // fromHost (sandbox config: shared/postgres → default/postgres).
    let pg_ip = cluster_ip(&pg).unwrap();
    eventually(
        "virtual default/postgres pointing at the host ClusterIP",
        || async {
            let v = vsvcs(&sb, "default").get_opt("postgres").await.ok()??;
            let l = v.metadata.labels.clone()?;
            let eps: Api<Endpoints> = Api::namespaced(sb.virtual_client(), "default");
            let ep = eps.get_opt("postgres").await.ok()??;
            let ip = ep.subsets?.first()?.addresses.clone()?.first()?.ip.clone();
            (l.get(naming::LABEL_CONTROLLED_BY).map(String::as_str) == Some("vcluster")
                && ip == pg_ip)
                .then_some(())
        },
    )
    .await;

    // toHost (sandbox config: default/web → web-from-vcluster in HNS).
    create(&vsvcs(&sb, "default"), service("web", "web")).await;
    eventually("host web-from-vcluster", || async {
        let h = hsvcs(&sb).get_opt("web-from-vcluster").await.ok()??;
        let l = h.metadata.labels.clone()?;
        (l.get(naming::LABEL_CONTROLLED_BY).map(String::as_str) == Some("vcluster")).then_some(())
    })
    .await;

    // Config change without restart: a new fromHost rule from a namespace not watched before.
    create(&nss, json!({"metadata": {"name": "cache"}})).await;
    let cache: Api<Service> = Api::namespaced(host.clone(), "cache");
    create(
        &cache,
        json!({"metadata": {"name": "redis"},
               "spec": {"selector": {"app": "redis"}, "ports": [{"name": "redis", "port": 6379}]}}),
    )
    .await;
    let secrets: Api<Secret> = Api::namespaced(host.clone(), sb.host_namespace());
    let name = naming::config_secret_name(sb.vcluster());
    let yaml = r#"
sync:
  toHost:
    ingresses:
      enabled: true
networking:
  replicateServices:
    toHost:
      - from: default/web
        to: web-from-vcluster
    fromHost:
      - from: shared/postgres
        to: default/postgres
      - from: cache/redis
        to: default/redis
"#;
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": null, "data": {"config.yaml": b64(yaml)}})),
        )
        .await
        .unwrap();
    eventually("virtual default/redis after the config change", || async {
        vsvcs(&sb, "default").get_opt("redis").await.ok()?
    })
    .await;

    // Source deleted → target deleted.
    shared
        .delete("postgres", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "virtual default/postgres deleted with its source",
        || async {
            vsvcs(&sb, "default")
                .get_opt("postgres")
                .await
                .ok()?
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert_eq!(ctl.stop().await, 0);
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over_when_it_dies() {
    let sb = sandbox().await;
    let a = start(&sb, "ctl-a");
    let leases: Api<Lease> = Api::namespaced(sb.host_client(), sb.host_namespace());
    let lease_name = format!("vinspect-sync-{}", sb.vcluster());
    eventually("a holds the lease", || async {
        let l = leases.get_opt(&lease_name).await.ok()??;
        (l.spec?.holder_identity.as_deref() == Some("ctl-a")).then_some(())
    })
    .await;
    let b = start(&sb, "ctl-b");
    create(&vsvcs(&sb, "default"), service("one", "one")).await;
    eventually("synced by the leader", || async {
        hsvcs(&sb)
            .get_opt(&host_name(&sb, "default", "one"))
            .await
            .ok()?
    })
    .await;
    let l = leases.get(&lease_name).await.unwrap();
    assert_eq!(
        l.spec.unwrap().holder_identity.as_deref(),
        Some("ctl-a"),
        "b did not steal a live lease"
    );

    // SIGKILL-like: a is aborted and cannot release its lease.
    a.task.abort();
    let killed = tokio::time::Instant::now();
    eventually("b takes over", || async {
        let l = leases.get_opt(&lease_name).await.ok()??;
        (l.spec?.holder_identity.as_deref() == Some("ctl-b")).then_some(())
    })
    .await;
    eprintln!(
        "takeover after the leader died: {:?} (1.5 s lease)",
        killed.elapsed()
    );
    create(&vsvcs(&sb, "default"), service("two", "two")).await;
    eventually("synced by the new leader", || async {
        hsvcs(&sb)
            .get_opt(&host_name(&sb, "default", "two"))
            .await
            .ok()?
    })
    .await;

    // A graceful stop releases the lease at once.
    assert_eq!(b.stop().await, 0);
    let l = leases.get(&lease_name).await.unwrap();
    assert_eq!(l.spec.unwrap().holder_identity, None, "released on stop");
    drop(a.stop);
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
