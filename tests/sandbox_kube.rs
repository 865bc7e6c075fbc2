//! kube-rs against the sandbox: the kube items of the conformance checklist.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap()
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

/// A reflector over `api` with `cfg`, once its first list is in; the task feeding it is returned
/// so the caller can stop it.
async fn reflected<K>(
    api: &Api<K>,
    cfg: watcher::Config,
) -> (reflector::Store<K>, tokio::task::JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector(writer, watcher(api.clone(), cfg))
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
    (reader, task)
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
        let (reader, task) = reflected(&cms, cfg).await;
        assert_eq!(reader.len(), 3);
        task.abort();
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn too_old_resource_version_is_an_in_stream_410_and_the_watcher_relists() {
    let sb = sandbox().await;
    let client = sb.virtual_client();
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    sb.virtual_().cluster().set_ring_capacity(4);
    for i in 0..10 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    // Raw watch from a compacted RV: 200, then one ERROR event with 410 Expired.
    let mut stream = cms
        .watch(&WatchParams::default(), "2")
        .await
        .unwrap()
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(e))) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected an in-stream 410, got {other:?}"),
    }

    // The watcher: stop the server, write more than the ring holds, restart: the re-watch from
    // the old RV gets 410 and the watcher relists (a second Init).
    let events = watcher(cms.clone(), watcher::Config::default()).default_backoff();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        futures::pin_mut!(events);
        while let Some(e) = events.next().await {
            if let Ok(e) = e {
                let tag = match e {
                    watcher::Event::Init => "init".to_string(),
                    watcher::Event::InitDone => "initdone".to_string(),
                    watcher::Event::Apply(o) => {
                        format!("apply:{}", o.metadata.name.unwrap_or_default())
                    }
                    watcher::Event::Delete(o) => {
                        format!("delete:{}", o.metadata.name.unwrap_or_default())
                    }
                    watcher::Event::InitApply(_) => continue,
                };
                let _ = tx.send(tag);
            }
        }
    });
    assert_eq!(next(&mut rx).await, "init");
    assert_eq!(next(&mut rx).await, "initdone");
    sb.virtual_().stop().await;
    let c = sb.virtual_().cluster();
    for i in 0..10 {
        c.create(
            vinspect::sandbox::cluster::kind("configmaps"),
            Some("default"),
            json!({"metadata": {"name": format!("late{i}")}}),
            &Default::default(),
        )
        .unwrap();
    }
    sb.virtual_().restart(true).await.unwrap();
    loop {
        let e = next(&mut rx).await;
        if e == "init" {
            break;
        }
        assert!(
            !e.starts_with("apply:late"),
            "events should not be replayed past the ring: {e}"
        );
    }
    assert_eq!(next(&mut rx).await, "initdone");
    task.abort();
    sb.shutdown().await;
}

#[tokio::test]
async fn bookmarks_and_timeouts() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let started = std::time::Instant::now();
    let events: Vec<_> = cms
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(events.last(), Some(Ok(WatchEvent::Bookmark(b))) if b.metadata.resource_version == rv),
        "{events:?}"
    );
    // A watcher whose watches time out resumes without relisting.
    let stream = watcher(cms.clone(), watcher::Config::default().timeout(1)).default_backoff();
    let inits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = inits.clone();
    let task = tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(e) = stream.next().await {
            if matches!(e, Ok(watcher::Event::Init)) {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(inits.load(std::sync::atomic::Ordering::SeqCst), 1);
    task.abort();
    sb.shutdown().await;
}

#[tokio::test]
async fn patches_merge_json_strategic_and_apply() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    cms.create(&PostParams::default(), &cm("p", json!({"a": "1"})))
        .await
        .unwrap();
    let pp = PatchParams::default();
    let out = cms
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"b": "2", "a": null}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        out.metadata.labels.unwrap(),
        [("b".to_string(), "2".to_string())].into()
    );
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/k", "value": "nope"}]))
            .unwrap();
    let e = api_err(
        cms.patch("p", &pp, &Patch::Json::<()>(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 422);
    let ok: json_patch::Patch = serde_json::from_value(json!([{"op": "test", "path": "/data/k", "value": "v"}, {"op": "replace", "path": "/data/k", "value": "w"}])).unwrap();
    let out = cms.patch("p", &pp, &Patch::Json::<()>(ok)).await.unwrap();
    assert_eq!(out.data.unwrap()["k"], "w");
    let e = api_err(
        cms.patch("nope", &pp, &Patch::Merge(json!({})))
            .await
            .unwrap_err(),
    );
    assert!(e.is_not_found());

    // Strategic: containers merge by name, env by name; $patch: delete removes.
    let pods: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    sb.virtual_().cluster().set_pod_spec_immutable(false);
    pods.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "sp"}, "spec": {"containers": [
        {"name": "a", "image": "x", "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}]},
        {"name": "b", "image": "y"}]}})).unwrap()).await.unwrap();
    let out = pods
        .patch("sp", &pp, &Patch::Strategic(json!({"spec": {"containers": [{"name": "a", "env": [{"name": "E1", "$patch": "delete"}, {"name": "E3", "value": "3"}]}]}})))
        .await
        .unwrap();
    let cs = out.spec.unwrap().containers;
    assert_eq!(cs.len(), 2);
    let env: Vec<String> = cs[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(env, ["E2", "E3"]);

    // Server-side apply: creates, needs a field manager, removes dropped fields.
    let apply = PatchParams::apply("tester");
    let out = cms
        .patch("ssa", &apply, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"x": "1", "y": "2"}})))
        .await
        .unwrap();
    assert!(out.metadata.uid.is_some());
    let out = cms
        .patch("ssa", &apply, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"x": "1"}})))
        .await
        .unwrap();
    assert_eq!(out.data.unwrap().len(), 1);
    let e = api_err(
        cms.patch(
            "ssa",
            &PatchParams::default(),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert!(e.is_invalid(), "{e:?}");
    assert!(e.message.contains("fieldManager: Required value"));
    sb.shutdown().await;
}

#[tokio::test]
async fn paging_with_page_size_one() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    for i in 0..3 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(1);
    loop {
        let page = cms.list(&lp).await.unwrap();
        assert!(page.items.len() <= 1);
        names.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names, ["c0", "c1", "c2"]);
    let e = api_err(
        cms.list(&ListParams::default().continue_token("garbage!"))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn label_and_field_selectors() {
    let sb = sandbox().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.virtual_client(), "default");
    cms.create(
        &PostParams::default(),
        &cm("a", json!({"app": "a", "x": "1"})),
    )
    .await
    .unwrap();
    cms.create(&PostParams::default(), &cm("b", json!({"app": "b"})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("c", json!({"app": "c"})))
        .await
        .unwrap();
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            cms.list(&ListParams::default().labels("app in (a,b)"))
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    assert_eq!(
        names(cms.list(&ListParams::default().labels("!x")).await.unwrap()),
        ["b", "c"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().fields("metadata.name=c"))
                .await
                .unwrap()
        ),
        ["c"]
    );
    assert_eq!(
        names(
            cms.list(&ListParams::default().fields("metadata.name!=c"))
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    let e = api_err(
        cms.list(&ListParams::default().fields("data.k=v"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "field label not supported: data.k")
    );
    let e = api_err(
        cms.list(&ListParams::default().labels("app in ("))
            .await
            .unwrap_err(),
    );
    assert_eq!(e.code, 400);

    // Selector transitions in a watch: leaving the selection is a DELETED event.
    let mut w = cms
        .watch(&WatchParams::default().labels("app=a"), "0")
        .await
        .unwrap()
        .boxed();
    assert!(matches!(w.next().await, Some(Ok(WatchEvent::Added(_)))));
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "z"}}})),
    )
    .await
    .unwrap();
    match w.next().await {
        Some(Ok(WatchEvent::Deleted(o))) => assert_eq!(o.metadata.name.as_deref(), Some("a")),
        other => panic!("expected DELETED, got {other:?}"),
    }
    cms.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "a"}}})),
    )
    .await
    .unwrap();
    match w.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    sb.shutdown().await;
}

fn pod_with_env(name: &str, vars: usize) -> Pod {
    let env: Vec<_> = (0..vars)
        .map(|i| json!({"name": format!("SVC_{i}_SERVICE_HOST"), "value": format!("10.96.{}.{}", i / 250, i % 250)}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "nginx", "env": env}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn large_objects_listed_and_watched_come_back_whole() {
    // The store keeps large objects as JSON text and plain lists and watches send that text
    // as it is: what a client reads must still be the whole object, in every read path.
    let sb = sandbox().await;
    let pods: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    for (name, vars) in [("big-a", 900), ("small", 2), ("big-b", 1200)] {
        pods.create(&PostParams::default(), &pod_with_env(name, vars))
            .await
            .unwrap();
    }
    let env_len = |p: &Pod| {
        p.spec.as_ref().unwrap().containers[0]
            .env
            .as_ref()
            .map_or(0, Vec::len)
    };
    let want = |name: &str| match name {
        "big-a" => 900,
        "big-b" => 1200,
        _ => 2,
    };
    for lp in [ListParams::default(), ListParams::default().limit(1)] {
        let mut seen = Vec::new();
        let mut lp = lp;
        loop {
            let page = pods.list(&lp).await.unwrap();
            for p in &page.items {
                let name = p.metadata.name.clone().unwrap();
                assert_eq!(env_len(p), want(&name), "{name} in a list");
                // The spec only: the kubelet may move the status on in between.
                let got = pods.get(&name).await.unwrap();
                assert_eq!(p.spec, got.spec, "{name}: list == get");
                seen.push(name);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => lp = lp.continue_token(&c),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, ["big-a", "big-b", "small"]);
    }
    for cfg in [
        watcher::Config::default().page_size(1),
        watcher::Config::default().streaming_lists(),
    ] {
        let (reader, task) = reflected(&pods, cfg).await;
        assert_eq!(reader.len(), 3);
        for p in reader.state() {
            let name = p.metadata.name.clone().unwrap();
            assert_eq!(env_len(&p), want(&name), "{name} in a watch");
        }
        task.abort();
    }
    sb.shutdown().await;
}
