//! Fault knobs, authentication, RBAC and restarts.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::default()).await.unwrap()
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn fail_next_answers_the_chosen_codes_then_recovers() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    sb.virtual_().fail_next(1, "create", "configmaps", 500);
    sb.virtual_().fail_next(1, "create", "configmaps", 409);
    sb.virtual_().fail_next(1, "create", "configmaps", 403);
    let e = api_err(
        cms.create(&PostParams::default(), &cm("a"))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
    let e = api_err(
        cms.create(&PostParams::default(), &cm("a"))
            .await
            .unwrap_err(),
    );
    assert!(e.is_conflict());
    let e = api_err(
        cms.create(&PostParams::default(), &cm("a"))
            .await
            .unwrap_err(),
    );
    assert!(e.is_forbidden());
    cms.create(&PostParams::default(), &cm("a")).await.unwrap();
    // Other verbs and resources were never affected.
    sb.virtual_().fail_next(2, "*", "pods", 500);
    cms.get("a").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    assert_eq!(
        api_err(pods.list(&ListParams::default()).await.unwrap_err()).code,
        500
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn latency_and_dropped_watches() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    sb.virtual_().set_latency(Duration::from_millis(300));
    let t = Instant::now();
    cms.list(&ListParams::default()).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    sb.virtual_().set_latency(Duration::ZERO);
    let mut w = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    sb.virtual_().drop_watches();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut v = Vec::new();
        while let Some(e) = w.next().await {
            v.push(e);
        }
        v
    })
    .await
    .expect("the watch stream must end when watches are dropped");
    assert!(rest.iter().all(|e| !matches!(e, Ok(WatchEvent::Error(_)))));
    sb.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_or_loses_state_on_the_same_port() {
    let sb = sandbox().await;
    let url = sb.virtual_().url();
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    cms.create(&PostParams::default(), &cm("kept"))
        .await
        .unwrap();
    sb.virtual_().stop().await;
    assert!(!sb.virtual_().is_running());
    assert!(cms.list(&ListParams::default()).await.is_err());
    sb.virtual_().restart(true).await.unwrap();
    assert_eq!(sb.virtual_().url(), url);
    assert!(cms.get_opt("kept").await.unwrap().is_some());
    sb.virtual_().restart(false).await.unwrap();
    assert!(cms.get_opt("kept").await.unwrap().is_none());
    // A fresh install again: the layout is back.
    let svcs: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(sb.virtual_client(), "kube-system");
    assert!(svcs.get_opt("kube-dns").await.unwrap().is_some());
    sb.host().restart(false).await.unwrap();
    let host_svcs: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(sb.host_client(), "vcluster-demo");
    assert!(host_svcs.get_opt("demo").await.unwrap().is_some());
    sb.shutdown().await;
}

fn client_with_token(url: &str, token: Option<&str>) -> kube::Client {
    let mut cfg = kube::Config::new(url.parse().unwrap());
    cfg.auth_info.token = token.map(|t| t.to_string().into());
    kube::Client::try_from(cfg).unwrap()
}

#[tokio::test]
async fn tokens_and_the_readonly_user() {
    let sb = sandbox().await;
    let url = sb.host().url();
    let bad: Api<ConfigMap> = Api::namespaced(client_with_token(&url, Some("wrong")), "default");
    let e = api_err(bad.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (401, "Unauthorized"));
    let ro: Api<ConfigMap> = Api::namespaced(sb.readonly_client().unwrap(), "default");
    ro.list(&ListParams::default()).await.unwrap();
    let e = api_err(
        ro.create(&PostParams::default(), &cm("x"))
            .await
            .unwrap_err(),
    );
    assert!(e.is_forbidden());
    assert_eq!(
        e.message,
        "configmaps is forbidden: User \"sandbox-readonly\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\""
    );
    // The kubeconfig's read-only context reaches the same rules through kube's config loader.
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let opts = kube::config::KubeConfigOptions {
        context: Some(sb.readonly_context().to_string()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    let ro2: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(cfg).unwrap(), "default");
    assert!(
        api_err(
            ro2.create(&PostParams::default(), &cm("x"))
                .await
                .unwrap_err()
        )
        .is_forbidden()
    );
    sb.shutdown().await;
}
