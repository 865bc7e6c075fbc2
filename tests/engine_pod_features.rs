//! Pod behaviours against a sandbox pair through kube-rs: projected service-account tokens
//! minted in the virtual cluster, pod updates that reach the host, and deletions with grace
//! periods both ways.

mod sync_support;

use base64::Engine;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use sync_support::*;
use vinspect::engine::translate::token;

fn claims(token: &str) -> Value {
    let mid = token.split('.').nth(1).expect("sandbox token has three parts");
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
