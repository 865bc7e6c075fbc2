//! Smaller API behaviours: status subresource, delete-collection, metadata-only clients,
//! generateName, events.k8s.io, periodic bookmarks and the `vinspect sandbox` command.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxCommandOptions, SandboxOptions, run_sandbox_command};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::default()).await.unwrap()
}

#[tokio::test]
async fn status_subresource_separates_spec_and_status() {
    let sb = sandbox().await;
    let pods: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"}}),
    )
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    // Create resets status, as the apiserver does.
    assert_eq!(
        created.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    let spec = created.spec.as_ref().unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(
        spec.containers[0].image_pull_policy.as_deref(),
        Some("Always")
    );
    // A main-resource patch cannot change status; a status patch changes only status.
    let out = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"a": "b"}}, "status": {"phase": "Failed"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        out.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    let out = pods.patch_status("p", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}, "status": {"phase": "Running", "podIP": "10.244.9.9"}}))).await.unwrap();
    assert_eq!(
        out.status.as_ref().unwrap().pod_ip.as_deref(),
        Some("10.244.9.9")
    );
    assert!(!out.metadata.labels.unwrap().contains_key("x"));
    // Pod spec updates are limited like on a real apiserver.
    let e = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"restartPolicy": "Never"}})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, kube::Error::Api(s) if s.code == 422 && s.message.contains("pod updates may not change fields"))
    );
    pods.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"containers": [{"name": "c", "image": "j"}]}})),
    )
    .await
    .unwrap();
    sb.shutdown().await;
}

#[tokio::test]
async fn delete_collection_metadata_clients_and_generate_name() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    for _ in 0..3 {
        let c: ConfigMap = serde_json::from_value(
            json!({"metadata": {"generateName": "gen-", "labels": {"g": "1"}}}),
        )
        .unwrap();
        let out = cms.create(&PostParams::default(), &c).await.unwrap();
        let name = out.metadata.name.unwrap();
        assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    }
    let meta = cms
        .list_metadata(&ListParams::default().labels("g=1"))
        .await
        .unwrap();
    assert_eq!(meta.items.len(), 3);
    let mut w = cms
        .watch_metadata(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(w.next().await, Some(Ok(WatchEvent::Added(_)))));
    let deleted = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("g=1"),
        )
        .await
        .unwrap();
    assert_eq!(deleted.left().map(|l| l.items.len()), Some(3));
    assert!(
        cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn events_recorder_publishes() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let sb = sandbox().await;
    let client = sb.host_client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "vcluster-demo");
    let pod = pods.get("demo-0").await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "vinspect".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Tested".into(),
                note: Some("hello".into()),
                action: "Test".into(),
                secondary: None,
            },
            &kube::Resource::object_ref(&pod, &()),
        )
        .await
        .unwrap();
    let evs: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, "vcluster-demo");
    let l = evs.list(&ListParams::default()).await.unwrap();
    assert_eq!(l.items[0].reason.as_deref(), Some("Tested"));
    sb.shutdown().await;
}

#[tokio::test]
async fn periodic_bookmarks() {
    let sb = sandbox().await;
    sb.virtual_()
        .set_bookmark_interval(Duration::from_millis(200));
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut w = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let ev = tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .unwrap();
    assert!(matches!(ev, Some(Ok(WatchEvent::Bookmark(_)))), "{ev:?}");
    sb.shutdown().await;
}

#[tokio::test]
async fn sandbox_command_writes_the_kubeconfig_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kc");
    let task = tokio::spawn(run_sandbox_command(SandboxCommandOptions {
        kubeconfig: Some(path.clone()),
        scale: 150,
        ..SandboxCommandOptions::default()
    }));
    for _ in 0..200 {
        if path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    // The scale generator: the virtual objects of 150 pairs, 100 apps per namespace.
    let (_, objs) = vinspect::sandbox::scale::virtual_objects(150);
    let want_svcs = objs.iter().filter(|o| o.kind == "services").count();
    let want_pods = objs
        .iter()
        .filter(|o| o.kind == "pods" && o.namespace == "scale-1")
        .count();
    let svcs: Api<k8s_openapi::api::core::v1::Service> = Api::all(client.clone());
    let mut n = 0;
    for _ in 0..100 {
        n = svcs
            .list(&ListParams::default().labels("app"))
            .await
            .unwrap()
            .items
            .len();
        if n == want_svcs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(n, want_svcs);
    let pods: Api<Pod> = Api::namespaced(client, "scale-1");
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        want_pods
    );
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(std::process::id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let rc = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(rc, 0);
}

#[tokio::test]
async fn unknown_scenarios_are_an_error() {
    let err = run_sandbox_command(SandboxCommandOptions {
        scenario: Some("nope".into()),
        ..SandboxCommandOptions::default()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown scenario \"nope\""),
        "{err}"
    );
}

#[tokio::test]
async fn kube_discovery_legacy_and_aggregated() {
    let sb = sandbox().await;
    for aggregated in [false, true] {
        let d = kube::discovery::Discovery::new(sb.virtual_client());
        let d = if aggregated {
            d.run_aggregated().await.unwrap()
        } else {
            d.run().await.unwrap()
        };
        let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
        assert!(
            groups.contains(&"".to_string()) && groups.contains(&"networking.k8s.io".to_string()),
            "{aggregated}: {groups:?}"
        );
        let (ing, _) = d
            .resolve_gvk(&kube::core::GroupVersionKind::gvk(
                "networking.k8s.io",
                "v1",
                "Ingress",
            ))
            .unwrap();
        assert_eq!(ing.plural, "ingresses");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn pods_are_bound_through_the_binding_subresource() {
    let sb = sandbox().await;
    let client = sb.virtual_client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap()).await.unwrap();
    let e = pods
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"nodeName": "n1"}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, kube::Error::Api(s) if s.code == 422));
    let bind = |node: &str| {
        let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": node}})).unwrap();
        http::Request::post("/api/v1/namespaces/default/pods/b/binding")
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    client.request_text(bind("n1")).await.unwrap();
    assert_eq!(
        pods.get("b")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .as_deref(),
        Some("n1")
    );
    match client.request_text(bind("n2")).await {
        Err(kube::Error::Api(s)) => assert!(s.is_conflict()),
        other => panic!("expected a conflict, got {other:?}"),
    }
    sb.shutdown().await;
}

#[test]
fn sandbox_handles_can_be_shared_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<vinspect::sandbox::SandboxServer>();
    let o = SandboxOptions::default();
    assert_eq!(
        (o.vcluster.as_str(), o.nodes, o.tls, o.kubelet_delay),
        ("demo", 3, false, Duration::from_millis(200))
    );
    assert!(o.empty_layout && o.host_namespace.is_none() && o.kubeconfig_path.is_none());
}
