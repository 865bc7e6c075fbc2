//! `check` and `fix` against a sandbox pair, end to end through kube-rs.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use vinspect::cluster::session::ConnectOptions;
use vinspect::inspect::check_cmd::{CheckOptions, OutputFormat, run_check_to};
use vinspect::inspect::fix_cmd::{FixOptions, run_fix_to};
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

/// Ingress sync off (so ingresses are Disabled), nothing else: vCluster's defaults.
const CONFIG: &str = "sync:\n  toHost:\n    ingresses:\n      enabled: false\n";

fn connect(sb: &Sandbox, config: &std::path::Path) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: Some(config.to_path_buf()),
    }
}

async fn check_json(c: &ConnectOptions) -> (i32, Value, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_check_to(
        CheckOptions {
            connect: c.clone(),
            output: OutputFormat::Json,
            ..Default::default()
        },
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    let err = String::from_utf8(err).unwrap();
    let v = serde_json::from_slice(&out).unwrap_or(Value::Null);
    (code, v, err)
}

async fn fix_all(c: &ConnectOptions, audit: &std::path::Path) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut input: &[u8] = b"";
    let code = run_fix_to(
        FixOptions {
            connect: c.clone(),
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
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn statuses(v: &Value) -> BTreeMap<String, String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!(
                    "{} {}/{}",
                    i["kind"].as_str().unwrap(),
                    i["namespace"].as_str().unwrap(),
                    i["name"].as_str().unwrap()
                ),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn svc(name: &str, selector: Option<&str>) -> Service {
    let mut spec = json!({"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]});
    if let Some(app) = selector {
        spec["selector"] = json!({"app": app});
    }
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": spec}),
    )
    .unwrap()
}

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_then_fix_all_leaves_only_synced_disabled_and_the_untouched_squatter() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vcluster.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let audit = dir.path().join("audit.log");
    let c = connect(&sb, &cfg);
    let hns = sb.host_namespace().to_string();
    let vc = sb.vcluster().to_string();
    let twin = |n: &str| format!("{n}-x-default-x-{vc}");

    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let vpod: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    let hsvc: Api<Service> = Api::namespaced(sb.host_client(), &hns);
    let pp = PostParams::default();
    for s in ["web", "api", "db"] {
        vsvc.create(&pp, &svc(s, Some(s))).await.unwrap();
    }
    vpod.create(&pp, &pod("web-1", "web")).await.unwrap();
    let ing: Ingress = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}))
    .unwrap();
    Api::<Ingress>::namespaced(sb.virtual_client(), "default")
        .create(&pp, &ing)
        .await
        .unwrap();

    // Converge first through fix itself (a first sync of several services can need more than
    // one run: virtual ClusterIPs are swapped into place one recreate at a time).
    let mut first = String::new();
    for _ in 0..3 {
        let (code, out, err) = fix_all(&c, &audit).await;
        first.push_str(&out);
        first.push_str(&err);
        if code == 0 {
            break;
        }
    }
    let (code, v, err) = check_json(&c).await;
    let st = statuses(&v);
    assert!(
        st.values().all(|s| s == "Synced" || s == "Disabled"),
        "after the first fix: {st:#?}\n{err}\n{first}"
    );
    assert_eq!(code, 0);

    // Break one thing per status.
    hsvc.patch(
        &twin("web"),
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"ports": [{"name": "http", "port": 81, "protocol": "TCP"}]}}),
        ),
    )
    .await
    .unwrap();
    hsvc.delete(&twin("api"), &DeleteParams::default())
        .await
        .unwrap();
    vsvc.delete("db", &DeleteParams::default()).await.unwrap();
    vsvc.create(&pp, &svc("squat", Some("squat")))
        .await
        .unwrap();
    let squatter: Service = serde_json::from_value(json!({
        "metadata": {"name": twin("squat"), "labels": {"team": "platform"}},
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}))
    .unwrap();
    hsvc.create(&pp, &squatter).await.unwrap();
    let dns_twin = vinspect::vcluster::naming::kube_dns_host_name(&vc);
    hsvc.delete(&dns_twin, &DeleteParams::default())
        .await
        .unwrap();
    vpod.create(&pp, &pod("late", "web")).await.unwrap();

    let squat_before = serde_json::to_string(&hsvc.get(&twin("squat")).await.unwrap()).unwrap();

    let (code, v, err) = check_json(&c).await;
    let st = statuses(&v);
    let want = [
        ("service default/web", "Drift"),
        ("service default/api", "Missing"),
        ("service default/db", "Orphan"),
        ("service default/squat", "Squatter"),
        ("ingress default/web", "Disabled"),
        ("pod default/late", "Waiting"),
        ("service kube-system/kube-dns", "Missing"),
        ("pod default/web-1", "Synced"),
    ];
    for (k, s) in want {
        assert_eq!(
            st.get(k).map(String::as_str),
            Some(s),
            "{k}: {st:#?}\n{err}"
        );
    }
    assert_eq!(code, 1);

    let before_lines = std::fs::read_to_string(&audit)
        .unwrap_or_default()
        .lines()
        .count();
    let (code, out, err) = fix_all(&c, &audit).await;
    assert_eq!(code, 0, "second fix\n{out}\n{err}");
    assert!(out.contains("will not act"), "{out}");
    let verbs = [
        "  create ",
        "  patch ",
        "  delete ",
        "  recreate ",
        "  bind ",
    ];
    let applied = out
        .lines()
        .filter(|l| verbs.iter().any(|v| l.starts_with(v)))
        .filter(|l| !l.contains(": failed") && !l.contains(": conflict"))
        .count();
    assert!(applied >= 6, "{out}");
    let log = std::fs::read_to_string(&audit).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .skip(before_lines)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok: Vec<&Value> = entries
        .iter()
        .filter(|e| !e["outcome"].as_str().unwrap().starts_with("error"))
        .collect();
    assert_eq!(
        ok.len(),
        applied,
        "one audit line per applied change\n{out}\n{log}"
    );
    for e in &ok {
        assert_eq!(e["host_context"], sb.host_context());
        assert_eq!(e["virtual_context"], sb.virtual_context());
        assert!(e["target"]["name"].is_string());
    }

    let (_, v, err) = check_json(&c).await;
    let st = statuses(&v);
    assert!(
        st.values()
            .all(|s| ["Synced", "Disabled", "Squatter"].contains(&s.as_str())),
        "after fix --all: {st:#?}\n{err}"
    );
    assert_eq!(
        st.get("service default/squat").map(String::as_str),
        Some("Squatter")
    );
    let squat_after = serde_json::to_string(&hsvc.get(&twin("squat")).await.unwrap()).unwrap();
    assert_eq!(squat_before, squat_after, "the squatter is never touched");
    sb.shutdown().await;
}

#[tokio::test]
async fn unreachable_virtual_side_exits_2_naming_the_context_and_server() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vcluster.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let c = connect(&sb, &cfg);
    let url = sb.virtual_().url();
    sb.virtual_().stop().await;
    let (code, _, err) = check_json(&c).await;
    assert_eq!(code, 2, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: cannot reach the virtual cluster"),
        "{err}"
    );
    assert!(lines[0].contains(&sb.virtual_context()), "{err}");
    assert!(lines[0].contains(url.trim_end_matches('/')), "{err}");
    sb.shutdown().await;
}

async fn fix_with(
    c: &ConnectOptions,
    f: impl FnOnce(&mut FixOptions),
    input: &[u8],
) -> (i32, String, String) {
    let mut o = FixOptions {
        connect: c.clone(),
        interactive: Some(false),
        ..Default::default()
    };
    f(&mut o);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut input = input;
    let code = run_fix_to(o, &mut out, &mut err, &mut input).await.unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_asks_refuses_without_a_terminal_and_honours_dry_run_read_only_and_refs() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vcluster.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let audit = dir.path().join("audit.log");
    let c = connect(&sb, &cfg);
    let hns = sb.host_namespace().to_string();
    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let hsvc: Api<Service> = Api::namespaced(sb.host_client(), &hns);
    let pp = PostParams::default();
    vsvc.create(&pp, &svc("web", Some("web"))).await.unwrap();
    vsvc.create(&pp, &svc("api", Some("api"))).await.unwrap();
    let twin = |n: &str| format!("{n}-x-default-x-{}", sb.vcluster());
    let exists = |n: String| {
        let hsvc = hsvc.clone();
        async move { hsvc.get_opt(&n).await.unwrap().is_some() }
    };

    let (code, out, err) = fix_with(&c, |o| o.all = true, b"").await;
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("not a terminal and --yes not given: nothing applied"),
        "{err}"
    );
    assert!(
        out.contains("- create host service"),
        "the plan is shown: {out}"
    );
    assert!(!exists(twin("web")).await);

    let (code, out, _) = fix_with(
        &c,
        |o| {
            o.all = true;
            o.interactive = Some(true);
        },
        b"n\n",
    )
    .await;
    assert_eq!(code, 1);
    assert!(out.contains("[y/N]") && out.contains("Declined"), "{out}");
    assert!(!exists(twin("web")).await);

    let (code, out, _) = fix_with(
        &c,
        |o| {
            o.all = true;
            o.read_only = true;
            o.yes = true;
        },
        b"",
    )
    .await;
    assert_eq!(code, 1);
    assert!(out.contains("read-only"), "{out}");
    assert!(!exists(twin("web")).await);

    let (code, out, err) = fix_with(
        &c,
        |o| {
            o.all = true;
            o.dry_run = true;
            o.audit_log = Some(audit.clone());
        },
        b"",
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Dry run"), "{out}");
    assert!(!exists(twin("web")).await);
    assert!(!audit.exists(), "a dry run writes no audit lines");

    let (code, out, err) = fix_with(
        &c,
        |o| {
            o.refs = vec!["svc/default/web".into()];
            o.interactive = Some(true);
            o.audit_log = Some(audit.clone());
        },
        b"y\n",
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("service default/web: fixed (Synced)"), "{out}");
    assert!(exists(twin("web")).await);
    assert!(!exists(twin("api")).await, "only the named pair is fixed");

    let (code, _, err) = fix_with(&c, |o| o.refs = vec!["svc/default/nope".into()], b"").await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: no pair matches default/nope"),
        "{err}"
    );
    sb.shutdown().await;
}

/// The caches keep a pod's container env pooled, not in the pod; a `fix` whose patch carries
/// the container lists (a merge patch replaces them whole) must still write every variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fix_of_an_image_and_a_resize_keeps_the_host_pods_env() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vcluster.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let audit = dir.path().join("audit.log");
    let c = connect(&sb, &cfg);
    let hns = sb.host_namespace().to_string();
    let twin = format!("app-x-default-x-{}", sb.vcluster());
    let vsvc: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let vpod: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    let hpod: Api<Pod> = Api::namespaced(sb.host_client(), &hns);
    let pp = PostParams::default();
    for s in ["web", "api", "db"] {
        vsvc.create(&pp, &svc(s, Some(s))).await.unwrap();
    }
    let own_env = json!([{"name": "OWN", "value": "1"},
                         {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]);
    let p: Pod = serde_json::from_value(json!({
    "metadata": {"name": "app", "labels": {"app": "web"}},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox:1.36", "env": own_env.clone()}],
        "containers": [
            {"name": "c", "image": "nginx:1.27", "env": own_env,
             "resources": {"requests": {"cpu": "100m"}}},
            {"name": "side", "image": "envoy:1.30"}
        ]}}))
    .unwrap();
    vpod.create(&pp, &p).await.unwrap();
    for _ in 0..3 {
        if fix_all(&c, &audit).await.0 == 0 {
            break;
        }
    }
    let before = hpod.get(&twin).await.unwrap();
    let env_of = |p: &Pod| -> Vec<Value> {
        let s = p.spec.as_ref().unwrap();
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .map(|c| serde_json::to_value(&c.env).unwrap())
            .collect()
    };
    let names: Vec<String> = before.spec.as_ref().unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect();
    for want in ["OWN", "POD", "KUBERNETES_SERVICE_HOST", "API_SERVICE_HOST"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }

    // An image change (main patch) and a resize (subresource), both carrying the containers.
    let mut changed = vpod.get("app").await.unwrap();
    let spec = changed.spec.as_mut().unwrap();
    spec.containers[0].image = Some("nginx:1.28".into());
    spec.containers[1].image = Some("envoy:1.31".into());
    vpod.replace("app", &pp, &changed).await.unwrap();
    vpod.patch_subresource(
        "resize",
        "app",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": "250m"}}}]}})),
    )
    .await
    .unwrap();
    let (code, out, err) = fix_all(&c, &audit).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let after = hpod.get(&twin).await.unwrap();
    let s = after.spec.as_ref().unwrap();
    assert_eq!(
        s.containers[0].image.as_deref(),
        Some("nginx:1.28"),
        "{out}"
    );
    assert_eq!(
        s.containers[1].image.as_deref(),
        Some("envoy:1.31"),
        "{out}"
    );
    let cpu = &s.containers[0]
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["cpu"];
    assert_eq!(cpu.0, "250m", "{out}");
    assert_eq!(after.metadata.uid, before.metadata.uid, "patched in place");
    assert_eq!(env_of(&after), env_of(&before));
    sb.shutdown().await;
}
