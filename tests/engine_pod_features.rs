//! Pod behaviours against a sandbox pair through kube-rs: projected service-account tokens
//! minted in the virtual cluster, pod updates that reach the host, and deletions with grace
//! periods both ways.

mod sync_support;

use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use sync_support::*;
use vinspect::engine::translate::token;

fn claims(token: &str) -> Value {
    let mid = token
        .split('.')
        .nth(1)
        .expect("sandbox token has three parts");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(mid)
        .expect("claims are base64url");
    serde_json::from_slice(&raw).expect("claims are JSON")
}

fn annotation(p: &Pod, key: &str) -> Option<String> {
    p.metadata.annotations.as_ref()?.get(key).cloned()
}

#[tokio::test]
async fn projected_service_account_tokens_are_minted_into_the_host_pod() {
    let sb = sandbox().await;
    let p = json!({
        "metadata": {"name": "api-0", "labels": {"app": "api"}},
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.27",
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                                 {"name": "vault", "mountPath": "/vault"}]}],
            "volumes": [
                {"name": "kube-api-access", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
                ]}},
                {"name": "vault", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "vault-token", "audience": "vault"}}
                ]}}
            ]
        }
    });
    let vpod: Pod = create(&vpods(&sb, "default"), p).await;
    assert_eq!(once(&sb).await, 0, "sync --once converges");

    let hname = host_name(&sb, "default", "api-0");
    let host = hpods(&sb).get(&hname).await.unwrap();
    let api_key = token::annotation_key("api-0", "default", "kube-api-access", 0);
    let vault_key = token::annotation_key("api-0", "default", "vault", 0);

    // The projected sources read the annotations (mode 0644), as upstream rewrites them.
    let vols = host.spec.as_ref().unwrap().volumes.clone().unwrap();
    let item = |vol: &str| {
        let v = vols.iter().find(|v| v.name == vol).unwrap();
        let src = &v.projected.as_ref().unwrap().sources.as_ref().unwrap()[0];
        assert!(src.service_account_token.is_none());
        serde_json::to_value(&src.downward_api.as_ref().unwrap().items.as_ref().unwrap()[0])
            .unwrap()
    };
    assert_eq!(
        item("kube-api-access"),
        json!({"path": "token", "mode": 420,
               "fieldRef": {"apiVersion": "v1", "fieldPath": format!("metadata.annotations['{api_key}']")}})
    );
    assert_eq!(
        item("vault"),
        json!({"path": "vault-token", "mode": 420,
               "fieldRef": {"apiVersion": "v1", "fieldPath": format!("metadata.annotations['{vault_key}']")}})
    );

    // The annotations hold tokens minted by the VIRTUAL cluster for the virtual service
    // account, bound to the virtual pod, with the source's audience or the default three.
    let api_token = annotation(&host, &api_key).expect("token annotation written");
    let c = claims(&api_token);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(
        c["aud"],
        json!([
            "https://kubernetes.default.svc.cluster.local",
            "https://kubernetes.default.svc",
            "https://kubernetes.default"
        ])
    );
    assert_eq!(c["bound"], json!(vpod.metadata.name));
    let vault = claims(&annotation(&host, &vault_key).expect("vault token written"));
    assert_eq!(vault["aud"], json!(["vault"]));

    // Later syncs keep the tokens: nothing flaps.
    assert_eq!(once(&sb).await, 0);
    let again = hpods(&sb).get(&hname).await.unwrap();
    assert_eq!(annotation(&again, &api_key), Some(api_token));
    assert_eq!(
        again.metadata.resource_version, host.metadata.resource_version,
        "an in-line pod is not written again"
    );
}

#[tokio::test]
async fn a_pod_of_a_missing_service_account_is_reported_not_created_half_done() {
    let sb = sandbox().await;
    let p = json!({
        "metadata": {"name": "ghost"},
        "spec": {
            "serviceAccountName": "nobody",
            "containers": [{"name": "app", "image": "nginx:1.27"}],
            "volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
        }
    });
    let ctl = start(&sb, "a");
    create(&vpods(&sb, "default"), p).await;
    let events = eventually("a SyncError event on the virtual pod", || async {
        let ev = sync_events(&sb, "default", "ghost").await;
        (!ev.is_empty()).then_some(ev)
    })
    .await;
    let msg = events[0].message.clone().unwrap_or_default();
    assert!(msg.contains("service account default/nobody"), "{msg}");
    let hname = host_name(&sb, "default", "ghost");
    assert!(
        hpods(&sb).get_opt(&hname).await.unwrap().is_none(),
        "no host pod with an empty token file"
    );
    // Once the service account exists, the pod syncs with its token.
    let sas: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(sb.virtual_client(), "default");
    create(&sas, json!({"metadata": {"name": "nobody"}})).await;
    let key = token::annotation_key("ghost", "default", "t", 0);
    let tok = eventually("host pod with its token", || async {
        let h = hpods(&sb).get_opt(&hname).await.ok()??;
        annotation(&h, &key)
    })
    .await;
    assert_eq!(claims(&tok)["sub"], "system:serviceaccount:default:nobody");
    assert_eq!(ctl.stop().await, 0);
}

async fn running_twin(sb: &vinspect::sandbox::Sandbox, name: &str) -> Pod {
    let hname = host_name(sb, "default", name);
    eventually("virtual pod bound and Running", || async {
        let v = vpods(sb, "default").get(name).await.ok()?;
        hpods(sb).get_opt(&hname).await.ok()??;
        let running = v.status.as_ref()?.phase.as_deref() == Some("Running");
        (running && v.spec.as_ref()?.node_name.is_some()).then_some(v)
    })
    .await
}

#[tokio::test]
async fn running_pod_updates_reach_the_host_and_nothing_else_does() {
    let sb = sandbox().await;
    let ctl = start(&sb, "a");
    let p = json!({
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
        }
    });
    create(&vpods(&sb, "default"), p).await;
    running_twin(&sb, "web-0").await;
    let hname = host_name(&sb, "default", "web-0");
    let before = hpods(&sb).get(&hname).await.unwrap();

    // What Kubernetes lets change on a running pod, changed in the virtual cluster.
    let pp = PatchParams::default();
    vpods(&sb, "default")
        .patch("web-0", &pp, &Patch::Merge(json!({"spec": {
            "containers": [{"name": "app", "image": "nginx:1.28",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
            "activeDeadlineSeconds": 3600,
            "tolerations": [{"key": "gpu", "operator": "Exists"},
                            {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        }})))
        .await
        .unwrap();
    vpods(&sb, "default")
        .patch_subresource("resize", "web-0", &pp, &Patch::Merge(json!({"spec": {
            "containers": [{"name": "app", "image": "nginx:1.28",
                            "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]
        }})))
        .await
        .unwrap();
    vpods(&sb, "default")
        .patch_subresource("ephemeralcontainers", "web-0", &pp, &Patch::Merge(json!({"spec": {
            "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36", "targetContainerName": "app"}]
        }})))
        .await
        .unwrap();

    let host = eventually(
        "image, deadline, tolerations, resources and debugger on the host",
        || async {
            let h = hpods(&sb).get(&hname).await.ok()?;
            let s = h.spec.clone()?;
            let app = &s.containers[0];
            let cpu = app
                .resources
                .as_ref()?
                .requests
                .as_ref()?
                .get("cpu")?
                .0
                .clone();
            let ok = app.image.as_deref() == Some("nginx:1.28")
                && s.active_deadline_seconds == Some(3600)
                && s.tolerations.as_ref()?.len() == 2
                && cpu == "250m"
                && s.ephemeral_containers.as_ref()?.len() == 1;
            ok.then_some(h)
        },
    )
    .await;
    let s = host.spec.clone().unwrap();
    assert_eq!(
        serde_json::to_value(&s.tolerations).unwrap(),
        json!([{"key": "gpu", "operator": "Exists"},
               {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}])
    );
    assert_eq!(
        serde_json::to_value(&s.containers[0].resources).unwrap(),
        json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}})
    );
    let dbg = &s.ephemeral_containers.as_ref().unwrap()[0];
    assert_eq!(dbg.image.as_deref(), Some("busybox:1.36"));
    assert_eq!(dbg.target_container_name.as_deref(), Some("app"));
    let env: Vec<&str> = dbg.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert!(env.contains(&"KUBERNETES_SERVICE_HOST"), "{env:?}");
    // Same pod (patched in place), and the fields vCluster rewrote at creation are untouched.
    assert_eq!(host.metadata.uid, before.metadata.uid);
    let b = before.spec.unwrap();
    assert_eq!(s.service_account_name, b.service_account_name);
    assert_eq!(s.dns_config, b.dns_config);
    assert_eq!(s.hostname, b.hostname);
    assert_eq!(s.containers[0].env, b.containers[0].env);
    assert_eq!(ctl.stop().await, 0);
}

async fn hold(sb: &vinspect::sandbox::Sandbox, hname: &str, on: bool) {
    let f = if on {
        json!(["test.vinspect/hold"])
    } else {
        Value::Null
    };
    hpods(sb)
        .patch(
            hname,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": f}})),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_virtual_delete_reaches_the_host_with_its_grace_period() {
    let sb = sandbox().await;
    sb.set_graceful_pod_deletion(true);
    let ctl = start(&sb, "a");
    let mut p = pod("db-0", "db");
    p["spec"]["terminationGracePeriodSeconds"] = json!(12);
    create(&vpods(&sb, "default"), p).await;
    running_twin(&sb, "db-0").await;
    let hname = host_name(&sb, "default", "db-0");
    // A finalizer holds the host pod so its termination can be looked at.
    hold(&sb, &hname, true).await;

    vpods(&sb, "default")
        .delete("db-0", &DeleteParams::default().grace_period(17))
        .await
        .unwrap();
    let h = eventually(
        "host pod terminating with the virtual grace period",
        || async {
            let h = hpods(&sb).get_opt(&hname).await.ok()??;
            h.metadata.deletion_timestamp.is_some().then_some(h)
        },
    )
    .await;
    assert_eq!(h.metadata.deletion_grace_period_seconds, Some(17));
    // Nothing flaps while both terminate: the virtual pod keeps its own grace period.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let v = vpods(&sb, "default").get("db-0").await.unwrap();
    assert_eq!(v.metadata.deletion_grace_period_seconds, Some(17));

    // The host pod goes; the terminating virtual pod follows at once.
    hold(&sb, &hname, false).await;
    eventually("both pods gone", || async {
        let h = hpods(&sb).get_opt(&hname).await.ok()?;
        let v = vpods(&sb, "default").get_opt("db-0").await.ok()?;
        (h.is_none() && v.is_none()).then_some(())
    })
    .await;
    assert_eq!(ctl.stop().await, 0);
}

#[tokio::test]
async fn a_terminating_host_pod_is_reflected_in_the_virtual_pod() {
    let sb = sandbox().await;
    sb.set_graceful_pod_deletion(true);
    let ctl = start(&sb, "a");
    let mut p = pod("job-0", "job");
    p["spec"]["terminationGracePeriodSeconds"] = json!(12);
    create(&vpods(&sb, "default"), p).await;
    running_twin(&sb, "job-0").await;
    let hname = host_name(&sb, "default", "job-0");
    hold(&sb, &hname, true).await;

    // Evicted on the host with a short grace period.
    hpods(&sb)
        .delete(&hname, &DeleteParams::default().grace_period(5))
        .await
        .unwrap();
    let v = eventually(
        "virtual pod terminating with the host's shorter grace",
        || async {
            let v = vpods(&sb, "default").get("job-0").await.ok()?;
            (v.metadata.deletion_grace_period_seconds == Some(5)).then_some(v)
        },
    )
    .await;
    assert!(v.metadata.deletion_timestamp.is_some());
    hold(&sb, &hname, false).await;
    eventually("virtual pod gone with its twin", || async {
        vpods(&sb, "default")
            .get_opt("job-0")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(ctl.stop().await, 0);
}

#[tokio::test]
async fn a_host_without_pods_resize_skips_the_resize_instead_of_failing() {
    use vinspect::engine::apply::{Clients, SendOptions, apply_change};
    use vinspect::engine::{Action, Change, ObjKind, SideName, Target};
    let sb = sandbox().await;
    let clients = Clients {
        virtual_client: sb.virtual_client(),
        host_client: sb.host_client(),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
    };
    // The sandbox serves pods/resize, so ask a resource it does not serve it for: the server
    // answers exactly as an API server without the subresource does.
    let change = Change {
        target: Target {
            side: SideName::Host,
            kind: ObjKind::Service,
            namespace: sb.host_namespace().to_string(),
            name: sb.vcluster().to_string(),
        },
        action: Action::Patch {
            patch: json!({"spec": {"containers": []}}),
            subresource: Some("resize".into()),
            resource_version: None,
        },
        reason: "test".into(),
        fields: vec![],
    };
    let send = SendOptions {
        dry_run: false,
        field_manager: "test",
    };
    let done = apply_change(&clients, &change, send).await.unwrap();
    assert!(done.outcome.starts_with("skipped"), "{}", done.outcome);
    // Any other missing subresource is still an error.
    let mut other = change.clone();
    if let Action::Patch { subresource, .. } = &mut other.action {
        *subresource = Some("scale".into());
    }
    assert!(apply_change(&clients, &other, send).await.is_err());
}
