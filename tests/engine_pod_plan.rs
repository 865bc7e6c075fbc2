//! Whole plans for the pod behaviours of §3.2/§8.4 (updates, grace-period deletions) and the
//! networking holds (ingress-class selector, block-deletion window). Pure: snapshots in, plans
//! out.

mod engine_support;
use engine_support::*;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::json;
use vinspect::cluster::snapshot::{ObjKey, Snapshot};
use vinspect::engine::{
    Action, Blocked, Change, Ctx, Memory, ObjKind, Pair, PairKind, Plan, SideName, Target, pairs,
    plan,
};
use vinspect::vcluster::config::VClusterConfig;

const POD: &str = r#"
metadata: {name: web-0, namespace: default, uid: web-uid, resourceVersion: "11", labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 12
  containers:
  - name: app
    image: "nginx:1.27"
    resources: {requests: {cpu: 100m}}
  tolerations: [{key: gpu, operator: Exists}]
  schedulingGates: [{name: wait-for-quota}]
status: {phase: Pending, qosClass: Burstable}
"#;
const TWIN: &str = "web-0-x-default-x-my-vcluster";

fn synced() -> (Snapshot, Memory) {
    let mut s = base();
    add_virtual_pod(&mut s, POD);
    let mut mem = Memory::default();
    assert!(converge(&mut s, &VClusterConfig::default(), &mut mem, 6) < 6);
    (s, mem)
}

fn pod_pair(ctx: &Ctx) -> Pair {
    pairs(ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::Pod)
        .expect("the pod pair")
}

fn vpod(s: &Snapshot) -> Pod {
    s.virtual_side.pods[&ObjKey::new("default", "web-0")]
        .as_ref()
        .clone()
}
fn hpod(s: &Snapshot) -> Pod {
    s.host.pods[&ObjKey::new(HNS, TWIN)].as_ref().clone()
}

fn the_plan(s: &Snapshot, mem: &Memory) -> Plan {
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(s, &cfg);
    let pair = pod_pair(&ctx);
    plan(&ctx, &pair, mem.get(&pair))
}

fn tgt(side: SideName, ns: &str, name: &str) -> Target {
    Target {
        side,
        kind: ObjKind::Pod,
        namespace: ns.into(),
        name: name.into(),
    }
}

#[test]
fn a_terminating_virtual_pod_deletes_its_twin_with_the_same_grace_period() {
    let (mut s, mem) = synced();
    let mut v = vpod(&s);
    v.metadata.deletion_timestamp = Some(yaml("\"2026-11-26T10:00:17Z\""));
    v.metadata.deletion_grace_period_seconds = Some(17);
    put(&mut s.virtual_side.pods, v);
    let host_uid = hpod(&s).metadata.uid;
    assert_eq!(
        the_plan(&s, &mem),
        Plan {
            changes: vec![Change {
                target: tgt(SideName::Host, HNS, TWIN),
                action: Action::Delete {
                    uid: host_uid,
                    grace_period_seconds: Some(17),
                },
                reason: "virtual pod is being deleted (grace period 17s)".into(),
                fields: vec![],
            }],
            blocked: None,
        }
    );
}

#[test]
fn a_terminating_host_pod_deletes_the_virtual_pod_with_its_termination_grace() {
    let (mut s, mem) = synced();
    let mut h = hpod(&s);
    h.metadata.deletion_timestamp = Some(yaml("\"2026-11-26T10:00:05Z\""));
    h.metadata.deletion_grace_period_seconds = Some(5);
    put(&mut s.host.pods, h);
    assert_eq!(
        the_plan(&s, &mem),
        Plan {
            changes: vec![Change {
                target: tgt(SideName::Virtual, "default", "web-0"),
                action: Action::Delete {
                    uid: Some("web-uid".into()),
                    grace_period_seconds: Some(12),
                },
                reason: "host pod is being deleted: delete the virtual pod (grace period 12s)"
                    .into(),
                fields: vec![],
            }],
            blocked: None,
        }
    );
    // Once the virtual pod terminates with 12 s, the host's 5 s is sent once more, then
    // nothing: equal grace periods are in line.
    let mut v = vpod(&s);
    v.metadata.deletion_timestamp = Some(yaml("\"2026-11-26T10:00:12Z\""));
    v.metadata.deletion_grace_period_seconds = Some(12);
    put(&mut s.virtual_side.pods, v.clone());
    let p = the_plan(&s, &mem);
    assert!(
        matches!(
            &only_change(&p).action,
            Action::Delete {
                grace_period_seconds: Some(5),
                ..
            }
        ),
        "{p:#?}"
    );
    v.metadata.deletion_grace_period_seconds = Some(5);
    put(&mut s.virtual_side.pods, v);
    assert_eq!(the_plan(&s, &mem), Plan::default());
}

#[test]
fn the_updatable_fields_reach_the_host_and_the_rest_does_not() {
    let (mut s, mem) = synced();
    let before = hpod(&s);
    let mut v = vpod(&s);
    let spec = v.spec.as_mut().unwrap();
    spec.containers[0].image = Some("nginx:1.28".into());
    spec.containers[0].resources = Some(yaml("{requests: {cpu: 250m}}"));
    spec.tolerations = Some(yaml(
        "[{key: gpu, operator: Exists}, {key: spot, operator: Exists}]",
    ));
    spec.scheduling_gates = None;
    spec.active_deadline_seconds = Some(600);
    // Immutable on a running pod: never patched.
    spec.hostname = Some("renamed".into());
    spec.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
    spec.ephemeral_containers = Some(yaml(
        "[{name: debugger, image: 'busybox:1.36', targetContainerName: app}]",
    ));
    put(&mut s.virtual_side.pods, v);
    let p = the_plan(&s, &mem);
    let rv = before.metadata.resource_version.clone();
    let mut app = serde_json::to_value(&before.spec.as_ref().unwrap().containers[0]).unwrap();
    app["image"] = json!("nginx:1.28");
    let mut resized = serde_json::to_value(&before.spec.as_ref().unwrap().containers[0]).unwrap();
    resized["resources"] = json!({"requests": {"cpu": "250m"}});
    // The resize goes after the main patch, so it carries the image that patch wrote (the
    // API server refuses a resize that changes anything but resources).
    resized["image"] = json!("nginx:1.28");
    let patches: Vec<(Option<String>, Option<String>, serde_json::Value)> = p
        .changes
        .iter()
        .map(|c| match &c.action {
            Action::Patch {
                patch,
                subresource,
                resource_version,
            } => {
                assert_eq!(c.target, tgt(SideName::Host, HNS, TWIN));
                (subresource.clone(), resource_version.clone(), patch.clone())
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let debugger = &patches[1].2["spec"]["ephemeralContainers"][0];
    assert_eq!(debugger["name"], "debugger");
    assert_eq!(debugger["targetContainerName"], "app");
    assert_eq!(
        debugger["env"][0]["name"], "KUBERNETES_PORT",
        "env injected"
    );
    assert_eq!(
        patches,
        vec![
            (
                None,
                rv,
                json!({"spec": {
                    "activeDeadlineSeconds": 600,
                    "containers": [app],
                    "schedulingGates": null,
                    "tolerations": [{"key": "gpu", "operator": "Exists"}, {"key": "spot", "operator": "Exists"}],
                }})
            ),
            (
                Some("ephemeralcontainers".into()),
                None,
                patches[1].2.clone()
            ),
            (
                Some("resize".into()),
                None,
                json!({"spec": {"containers": [resized]}})
            ),
        ]
    );
}

#[test]
fn an_ingress_whose_host_class_does_not_match_the_selector_waits_with_upstreams_message() {
    let mut s = base();
    add_virtual_ingress(
        &mut s,
        "metadata: {name: web, namespace: default, uid: ing-uid}\nspec: {ingressClassName: internal}",
    );
    s.host
        .insert_json(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "internal", "labels": {"exposure": "private"}}}),
        )
        .unwrap();
    let cfg: VClusterConfig = serde_json::from_value(json!({"sync": {
        "toHost": {"ingresses": {"enabled": true}},
        "fromHost": {"ingressClasses": {"enabled": true, "selector": {"matchLabels": {"exposure": "public"}}}}
    }}))
    .unwrap();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pairs(&ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::Ingress)
        .unwrap();
    assert_eq!(
        plan(&ctx, &pair, None),
        Plan {
            changes: vec![],
            blocked: Some(Blocked::Waiting {
                message: "did not sync ingress \"web\" to host because the ingress class \"internal\" in the host does not match the selector under 'sync.fromHost.ingressClasses.selector'".into()
            }),
        }
    );
}

#[test]
fn a_host_service_in_its_block_deletion_window_is_not_deleted() {
    let orphan = |age_seconds: i64| {
        let mut s = base();
        let created = k8s_openapi::jiff::Timestamp::now().as_second() - age_seconds;
        let ts = k8s_openapi::jiff::Timestamp::from_second(created).unwrap();
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "api-x-default-x-my-vcluster", "namespace": HNS, "uid": "h-uid",
                "creationTimestamp": ts.to_string(),
                "labels": {"vcluster.loft.sh/managed-by": VC, "vcluster.loft.sh/namespace": "default"},
                "annotations": {"vcluster.loft.sh/object-name": "api", "vcluster.loft.sh/object-namespace": "default",
                    "vcluster.loft.sh/object-kind": "/v1, Kind=Service",
                    "vcluster.loft.sh/object-host-name": "api-x-default-x-my-vcluster",
                    "vcluster.loft.sh/object-host-namespace": HNS,
                    "vcluster.loft.sh/block-deletion": "true"}},
            "spec": {"ports": [{"port": 80}]}
        }))
        .unwrap();
        put(&mut s.host.services, svc);
        let cfg = VClusterConfig::default();
        let ctx = Ctx::new(&s, &cfg);
        let pair = pairs(&ctx)
            .into_iter()
            .find(|p| {
                p.host_key
                    .as_ref()
                    .is_some_and(|k| k.name.starts_with("api-x"))
            })
            .unwrap();
        plan(&ctx, &pair, None)
    };
    let young = orphan(10);
    assert!(young.changes.is_empty());
    assert!(
        matches!(&young.blocked, Some(Blocked::Waiting { message }) if message.contains("vcluster.loft.sh/block-deletion")),
        "{young:#?}"
    );
    let old = orphan(300);
    assert!(
        matches!(&only_change(&old).action, Action::Delete { uid: Some(u), .. } if u == "h-uid"),
        "{old:#?}"
    );
}
