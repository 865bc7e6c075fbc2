//! kube-rs against the sandbox: the kube items of the conformance checklist.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Pod, Secret, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_carry_code_and_reason() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    assert!(cms.get_opt("nope").await.unwrap().is_none());
    let e = api_err(cms.get("nope").await.unwrap_err());
    assert!(e.is_not_found());
    assert_eq!(e.message, "configmaps \"nope\" not found");
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let e = api_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert!(e.is_already_exists());
    let missing: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "missing");
    let e = api_err(
        missing
            .create(&PostParams::default(), &cm("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert!(e.is_not_found());
    assert_eq!(e.message, "namespaces \"missing\" not found");
    sb.shutdown().await;
}

#[tokio::test]
async fn crud_sets_server_fields_and_detects_conflicts() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", json!({"x": "1"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    let rv2: u64 = replaced
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    // The first copy carries a stale resourceVersion now.
    let e = api_err(
        cms.replace("a", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    assert!(e.is_conflict(), "{e:?}");
    let e = api_err(
        cms.delete(
            "a",
            &DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    resource_version: Some("1".into()),
                    uid: None,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.code, 409);
    // A list's resourceVersion is the global one, not the newest item's.
    let other: Api<Secret> = Api::namespaced(sb.virtual_client(), "default");
    other
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}))
                .unwrap(),
        )
        .await
        .unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(list_rv > rv2);
    let s = other.get("s").await.unwrap();
    assert_eq!(s.data.unwrap()["a"].0, b"b");
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("a").await.unwrap().is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    let before = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let pp = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let out = cms.create(&pp, &cm("dry", json!({}))).await.unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("dry"));
    assert!(cms.get_opt("dry").await.unwrap().is_none());
    let after = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    assert_eq!(before, after);
    sb.shutdown().await;
}

#[tokio::test]
async fn reflector_becomes_ready_with_and_without_streaming_lists() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    for i in 0..3 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    for cfg in [
        watcher::Config::default().page_size(1),
        watcher::Config::default().streaming_lists(),
    ] {
        let (reader, writer) = reflector::store::<ConfigMap>();
        let stream = reflector(writer, watcher(cms.clone(), cfg))
            .default_backoff()
            .applied_objects();
        let task = tokio::spawn(async move {
            futures::pin_mut!(stream);
            while stream.next().await.is_some() {}
        });
        tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reader.len(), 3);
        task.abort();
    }
    sb.shutdown().await;
}
