//! Plan shapes the inspector derives statuses from, and the sync rules of §8.

mod engine_support;
use engine_support::sim::Sim;
use engine_support::*;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use vinspect::cluster::snapshot::{Obj, ObjKey, Snapshot};
use vinspect::engine::{
    Action, Blocked, Ctx, LastSeen, Memory, ObjKind, Pair, PairKind, Plan, SideName, pairs, plan,
};
use vinspect::vcluster::config::{ServiceMapping, VClusterConfig};

const NGINX_SVC: &str = r#"
metadata: {name: nginx, namespace: default, uid: nginx-uid, resourceVersion: "10", labels: {app: nginx}}
spec:
  type: ClusterIP
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  sessionAffinity: None
  selector: {app: nginx}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
"#;
const NGINX_POD: &str = r#"
metadata: {name: nginx-1, namespace: default, uid: pod-uid, resourceVersion: "11", labels: {app: nginx}}
spec:
  containers: [{name: nginx, image: "nginx:1.27"}]
status: {phase: Pending, qosClass: BestEffort}
"#;

fn host_twin() -> ObjKey {
    ObjKey::new(HNS, "nginx-x-default-x-my-vcluster")
}

fn find(ctx: &Ctx, kind: PairKind, key: Option<ObjKey>) -> Pair {
    pairs(ctx)
        .into_iter()
        .find(|p| p.kind == kind && p.virtual_key == key)
        .unwrap_or_else(|| panic!("no {kind:?} pair {key:?} in {:#?}", pairs(ctx)))
}

fn plan_for(
    s: &Snapshot,
    cfg: &VClusterConfig,
    kind: PairKind,
    ns: &str,
    name: &str,
    mem: Option<&LastSeen>,
) -> Plan {
    let ctx = Ctx::new(s, cfg);
    let pair = find(&ctx, kind, Some(ObjKey::new(ns, name)));
    plan(&ctx, &pair, mem)
}

/// A snapshot where default/nginx (service + pod) is fully synced.
fn synced() -> (Snapshot, Memory) {
    let mut s = base();
    add_virtual_service(&mut s, NGINX_SVC);
    add_virtual_pod(&mut s, NGINX_POD);
    let mut mem = Memory::default();
    let rounds = converge(&mut s, &VClusterConfig::default(), &mut mem, 6);
    assert!(rounds < 6, "did not converge");
    (s, mem)
}

fn host_svc(s: &Snapshot) -> Service {
    s.host.services.get(&host_twin()).unwrap().as_ref().clone()
}

#[test]
fn missing_twin_is_created_then_synced() {
    let mut s = base();
    add_virtual_service(&mut s, NGINX_SVC);
    let cfg = VClusterConfig::default();
    let p = plan_for(&s, &cfg, PairKind::Service, "default", "nginx", None);
    let c = only_change(&p);
    assert!(matches!(c.action, Action::Create { .. }));
    assert_eq!(c.target.side, SideName::Host);
    assert_eq!(c.target.name, host_twin().name);

    let (s, mem) = synced();
    let ctx = Ctx::new(&s, &cfg);
    for pair in pairs(&ctx) {
        let p = plan(&ctx, &pair, mem.get(&pair));
        assert!(
            p.changes.is_empty() && p.blocked.is_none(),
            "{pair:?}: {p:#?}"
        );
        let p = plan(&ctx, &pair, None);
        assert!(p.changes.is_empty(), "stateless {pair:?}: {p:#?}");
    }
    // §11.9: the virtual ClusterIP is the host's.
    let v = s
        .virtual_side
        .services
        .get(&ObjKey::new("default", "nginx"))
        .unwrap();
    assert_eq!(
        v.spec.as_ref().unwrap().cluster_ip,
        host_svc(&s).spec.unwrap().cluster_ip
    );
}

#[test]
fn drift_is_a_minimal_patch_with_fields_and_resource_version() {
    let (mut s, _) = synced();
    let mut h = host_svc(&s);
    h.spec
        .as_mut()
        .unwrap()
        .selector
        .as_mut()
        .unwrap()
        .insert("app".into(), "other".into());
    h.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("extra".into(), "1".into());
    h.metadata.resource_version = Some("77".into());
    put(&mut s.host.services, h);
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Service,
        "default",
        "nginx",
        None,
    );
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    assert_eq!(c.fields, vec!["metadata.labels", "spec.selector"]);
    assert!(c.reason.contains("spec.selector"), "{}", c.reason);
    match &c.action {
        Action::Patch {
            patch,
            subresource,
            resource_version,
        } => {
            assert_eq!(
                patch,
                &serde_json::json!({"metadata": {"labels": {"extra": null}}, "spec": {"selector": {"app": "nginx"}}})
            );
            assert_eq!(subresource, &None);
            assert_eq!(resource_version.as_deref(), Some("77"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn squatter_is_never_touched() {
    let mut s = base();
    add_virtual_service(&mut s, NGINX_SVC);
    put(
        &mut s.host.services,
        yaml::<Service>(&format!(
            "metadata: {{name: nginx-x-default-x-my-vcluster, namespace: {HNS}, uid: sq, labels: {{app: squat}}}}\nspec: {{clusterIP: 10.96.9.9}}"
        )),
    );
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Service,
        "default",
        "nginx",
        None,
    );
    assert!(p.changes.is_empty());
    assert_eq!(
        p.blocked,
        Some(Blocked::Squatter {
            message: format!(
                "squatter: host service {HNS}/nginx-x-default-x-my-vcluster exists and is not managed by vcluster {VC}"
            )
        })
    );
    // A twin of another vCluster is a squatter too.
    let mut h: Service = s.host.services.get(&host_twin()).unwrap().as_ref().clone();
    h.metadata.labels = Some(sim_labels(&[("vcluster.loft.sh/managed-by", "other")]));
    put(&mut s.host.services, h);
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Service,
        "default",
        "nginx",
        None,
    );
    assert!(matches!(p.blocked, Some(Blocked::Squatter { .. })) && p.changes.is_empty());
}

fn sim_labels(l: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    engine_support::sim::labels(l)
}

#[test]
fn orphan_twin_is_deleted_with_uid_precondition() {
    let (mut s, mem) = synced();
    s.virtual_side
        .services
        .remove(&ObjKey::new("default", "nginx"));
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = find(
        &ctx,
        PairKind::Service,
        Some(ObjKey::new("default", "nginx")),
    );
    for m in [mem.get(&pair), None] {
        let p = plan(&ctx, &pair, m);
        let c = only_change(&p);
        assert_eq!(c.target.side, SideName::Host);
        assert_eq!(
            c.action,
            Action::Delete {
                uid: host_svc(&s).metadata.uid.clone(),
                grace_period_seconds: None,
            }
        );
        assert!(c.reason.starts_with("orphan"), "{}", c.reason);
    }
    // skip-backsync keeps it.
    let mut h = host_svc(&s);
    h.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("vcluster.loft.sh/skip-backsync".into(), "true".into());
    put(&mut s.host.services, h);
    let ctx = Ctx::new(&s, &cfg);
    assert!(plan(&ctx, &pair, None).changes.is_empty());
}

#[test]
fn host_twin_deleted_deletes_virtual_only_when_seen_before() {
    let (mut s, mem) = synced();
    let pod_twin = ObjKey::new(HNS, "nginx-1-x-default-x-my-vcluster");
    s.host.pods.remove(&pod_twin);
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = find(&ctx, PairKind::Pod, Some(ObjKey::new("default", "nginx-1")));
    let p = plan(&ctx, &pair, mem.get(&pair));
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    assert_eq!(
        c.action,
        Action::Delete {
            uid: Some("pod-uid".into()),
            // A started pod whose twin vanished goes at once (upstream: grace 0).
            grace_period_seconds: Some(0),
        }
    );
    // After a restart (no memory) the twin is re-created instead.
    let p = plan(&ctx, &pair, None);
    assert!(matches!(only_change(&p).action, Action::Create { .. }));
    assert_eq!(only_change(&p).target.side, SideName::Host);
}

#[test]
fn uid_mismatch_recreates_the_twin_except_for_services() {
    let (mut s, _) = synced();
    let cfg = VClusterConfig::default();
    // Pod: the virtual pod was re-created under the same name.
    let mut v: Pod = s
        .virtual_side
        .pods
        .get(&ObjKey::new("default", "nginx-1"))
        .unwrap()
        .as_ref()
        .clone();
    v.metadata.uid = Some("pod-uid-2".into());
    put(&mut s.virtual_side.pods, v);
    let p = plan_for(&s, &cfg, PairKind::Pod, "default", "nginx-1", None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Host);
    match &c.action {
        Action::Recreate { object, uid } => {
            assert_eq!(
                object["metadata"]["annotations"]["vcluster.loft.sh/object-uid"],
                "pod-uid-2"
            );
            assert!(uid.is_some());
        }
        other => panic!("{other:?}"),
    }
    // Service: just the annotation is patched.
    let mut v: Service = s
        .virtual_side
        .services
        .get(&ObjKey::new("default", "nginx"))
        .unwrap()
        .as_ref()
        .clone();
    v.metadata.uid = Some("nginx-uid-2".into());
    put(&mut s.virtual_side.services, v);
    let p = plan_for(&s, &cfg, PairKind::Service, "default", "nginx", None);
    let c = only_change(&p);
    assert_eq!(c.fields, vec!["metadata.annotations"]);
}

#[test]
fn disabled_ingress_sync() {
    let mut s = base();
    add_virtual_ingress(
        &mut s,
        "metadata: {name: web, namespace: default, uid: w}\nspec: {ingressClassName: nginx}",
    );
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Ingress,
        "default",
        "web",
        None,
    );
    assert!(p.changes.is_empty());
    assert!(
        matches!(&p.blocked, Some(Blocked::Disabled { message }) if message.contains("sync.toHost.ingresses.enabled"))
    );
}

#[test]
fn pod_waits_for_the_kube_dns_twin() {
    let mut s = base();
    add_virtual_pod(&mut s, NGINX_POD);
    s.host
        .services
        .remove(&ObjKey::new(HNS, "kube-dns-x-kube-system-x-my-vcluster"));
    let cfg = VClusterConfig::default();
    let p = plan_for(&s, &cfg, PairKind::Pod, "default", "nginx-1", None);
    assert!(p.changes.is_empty());
    match &p.blocked {
        Some(Blocked::Waiting { message }) => {
            assert!(
                message.starts_with("waiting for DNS service IP"),
                "{message}"
            );
            assert!(message.contains("kube-dns-x-kube-system-x-my-vcluster"));
        }
        other => panic!("{other:?}"),
    }
    // dnsPolicy Default does not need it.
    let mut v: Pod = yaml(NGINX_POD);
    v.spec.as_mut().unwrap().dns_policy = Some("Default".into());
    put(&mut s.virtual_side.pods, v);
    let p = plan_for(&s, &cfg, PairKind::Pod, "default", "nginx-1", None);
    assert!(matches!(only_change(&p).action, Action::Create { .. }));
}

#[test]
fn cluster_ip_mismatch_recreates_the_virtual_service() {
    let (mut s, _) = synced();
    let mut v: Service = s
        .virtual_side
        .services
        .get(&ObjKey::new("default", "nginx"))
        .unwrap()
        .as_ref()
        .clone();
    v.spec.as_mut().unwrap().cluster_ip = Some("10.96.77.77".into());
    put(&mut s.virtual_side.services, v);
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Service,
        "default",
        "nginx",
        None,
    );
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    match &c.action {
        Action::Recreate { object, uid } => {
            let cur = s
                .virtual_side
                .services
                .get(&ObjKey::new("default", "nginx"))
                .unwrap();
            assert_eq!(uid, &cur.metadata.uid);
            assert_eq!(
                object["spec"]["clusterIP"],
                host_svc(&s).spec.unwrap().cluster_ip.unwrap()
            );
            assert!(object["spec"].get("clusterIPs").is_none());
            assert!(object["metadata"].get("uid").is_none());
            assert!(object["metadata"].get("resourceVersion").is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn swapped_cluster_ips_converge() {
    let mut s = base();
    add_virtual_service(&mut s, NGINX_SVC);
    add_virtual_service(
        &mut s,
        "metadata: {name: api, namespace: default, uid: api-uid}\nspec: {clusterIP: 10.96.12.35, selector: {app: api}, ports: [{port: 80}]}",
    );
    let cfg = VClusterConfig::default();
    let mut mem = Memory::default();
    converge(&mut s, &cfg, &mut mem, 8);
    // Now make the two virtual services hold each other's host IPs.
    let ip = |s: &Snapshot, side_host: bool, name: &str| -> String {
        let (side, key) = if side_host {
            (
                &s.host,
                ObjKey::new(HNS, format!("{name}-x-default-x-my-vcluster")),
            )
        } else {
            (&s.virtual_side, ObjKey::new("default", name))
        };
        side.services
            .get(&key)
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .cluster_ip
            .clone()
            .unwrap()
    };
    let (hn, ha) = (ip(&s, true, "nginx"), ip(&s, true, "api"));
    for (name, new) in [("nginx", &ha), ("api", &hn)] {
        let mut v: Service = s
            .virtual_side
            .services
            .get(&ObjKey::new("default", name))
            .unwrap()
            .as_ref()
            .clone();
        v.spec.as_mut().unwrap().cluster_ip = Some(new.clone());
        put(&mut s.virtual_side.services, v);
    }
    let rounds = converge(&mut s, &cfg, &mut mem, 8);
    assert!(rounds < 8, "did not converge");
    assert_eq!(ip(&s, false, "nginx"), hn);
    assert_eq!(ip(&s, false, "api"), ha);
}

#[test]
fn three_way_rule() {
    let (s0, mem) = synced();
    let cfg = VClusterConfig::default();
    // Host-only change of a bidirectional field and a label: flows back with memory.
    let mut s = s0.clone();
    let mut h = host_svc(&s);
    h.spec.as_mut().unwrap().session_affinity = Some("ClientIP".into());
    h.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("team".into(), "web".into());
    put(&mut s.host.services, h);
    let ctx = Ctx::new(&s, &cfg);
    let pair = find(
        &ctx,
        PairKind::Service,
        Some(ObjKey::new("default", "nginx")),
    );
    let p = plan(&ctx, &pair, mem.get(&pair));
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    match &c.action {
        Action::Patch { patch, .. } => assert_eq!(
            patch,
            &serde_json::json!({"metadata": {"labels": {"team": "web"}}, "spec": {"sessionAffinity": "ClientIP"}})
        ),
        other => panic!("{other:?}"),
    }
    // Stateless: the virtual object wins.
    let p = plan(&ctx, &pair, None);
    assert_eq!(only_change(&p).target.side, SideName::Host);

    // Both changed the same field: the virtual change wins; a host-only field still flows back.
    let mut h = host_svc(&s);
    h.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    put(&mut s.host.services, h);
    let mut v: Service = s
        .virtual_side
        .services
        .get(&ObjKey::new("default", "nginx"))
        .unwrap()
        .as_ref()
        .clone();
    v.spec.as_mut().unwrap().publish_not_ready_addresses = Some(false);
    put(&mut s.virtual_side.services, v);
    let ctx = Ctx::new(&s, &cfg);
    let p = plan(&ctx, &pair, mem.get(&pair));
    let patch_of = |side: SideName| -> serde_json::Value {
        match &p
            .changes
            .iter()
            .find(|c| c.target.side == side)
            .unwrap()
            .action
        {
            Action::Patch { patch, .. } => patch.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        patch_of(SideName::Host),
        serde_json::json!({"spec": {"publishNotReadyAddresses": false}})
    );
    assert_eq!(
        patch_of(SideName::Virtual)["spec"]["sessionAffinity"],
        "ClientIP"
    );
}

#[test]
fn pod_status_flows_back_and_the_pod_is_bound() {
    let (mut s, _) = synced();
    let key = ObjKey::new(HNS, "nginx-1-x-default-x-my-vcluster");
    let mut h: Pod = s.host.pods.get(&key).unwrap().as_ref().clone();
    h.spec.as_mut().unwrap().node_name = Some("node-a".into());
    h.status = Some(yaml(
        r#"
phase: Running
podIP: 10.244.1.9
podIPs: [{ip: 10.244.1.9}]
qosClass: Burstable
containerStatuses:
- {name: nginx, ready: true, restartCount: 0, image: "nginx:1.27", imageID: "", started: true}
- {name: istio-proxy, ready: true, restartCount: 0, image: proxy, imageID: ""}
"#,
    ));
    put(&mut s.host.pods, h);
    let p = plan_for(
        &s,
        &VClusterConfig::default(),
        PairKind::Pod,
        "default",
        "nginx-1",
        None,
    );
    let status = p
        .changes
        .iter()
        .find_map(|c| match &c.action {
            Action::Patch {
                patch,
                subresource: Some(sub),
                ..
            } if sub == "status" => Some(patch.clone()),
            _ => None,
        })
        .expect("status patch");
    assert_eq!(status["status"]["podIP"], "10.244.1.9");
    assert_eq!(status["status"]["phase"], "Running");
    assert!(
        status["status"].get("qosClass").is_none(),
        "qosClass stays virtual"
    );
    let names: Vec<_> = status["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, vec!["nginx"]);
    assert!(p.changes.iter().any(|c| c.action
        == Action::Bind {
            node: "node-a".into()
        }));
}

#[test]
fn ingress_status_flows_back() {
    let mut s = base();
    add_virtual_ingress(
        &mut s,
        "metadata: {name: web, namespace: default, uid: w}\nspec: {ingressClassName: nginx}",
    );
    let mut cfg = VClusterConfig::default();
    cfg.sync.to_host.ingresses.enabled = true;
    let mut mem = Memory::default();
    converge(&mut s, &cfg, &mut mem, 4);
    let key = ObjKey::new(HNS, "web-x-default-x-my-vcluster");
    let mut h: Ingress = s.host.ingresses.get(&key).unwrap().as_ref().clone();
    h.status = Some(yaml("loadBalancer: {ingress: [{ip: 203.0.113.7}]}"));
    put(&mut s.host.ingresses, h);
    converge(&mut s, &cfg, &mut mem, 4);
    let v = s
        .virtual_side
        .ingresses
        .get(&ObjKey::new("default", "web"))
        .unwrap();
    let ip = &v
        .status
        .as_ref()
        .unwrap()
        .load_balancer
        .as_ref()
        .unwrap()
        .ingress
        .as_ref()
        .unwrap()[0]
        .ip;
    assert_eq!(ip.as_deref(), Some("203.0.113.7"));
}

#[test]
fn loadbalancer_status_and_node_ports_flow_back() {
    let mut s = base();
    add_virtual_service(
        &mut s,
        "metadata: {name: lb, namespace: default, uid: lb-uid}\nspec: {type: LoadBalancer, selector: {app: lb}, ports: [{port: 443, protocol: TCP}]}",
    );
    let cfg = VClusterConfig::default();
    let mut mem = Memory::default();
    converge(&mut s, &cfg, &mut mem, 6);
    let hk = ObjKey::new(HNS, "lb-x-default-x-my-vcluster");
    let mut h: Service = s.host.services.get(&hk).unwrap().as_ref().clone();
    h.status = Some(yaml("loadBalancer: {ingress: [{ip: 198.51.100.4}]}"));
    put(&mut s.host.services, h);
    let rounds = converge(&mut s, &cfg, &mut mem, 6);
    assert!(rounds < 6);
    let v = s
        .virtual_side
        .services
        .get(&ObjKey::new("default", "lb"))
        .unwrap();
    let h = s.host.services.get(&hk).unwrap();
    assert_eq!(v.status, h.status);
    assert_eq!(
        v.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port,
        h.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port
    );
    assert!(
        h.spec.as_ref().unwrap().ports.as_ref().unwrap()[0]
            .node_port
            .is_some()
    );
}

fn replicate_cfg() -> VClusterConfig {
    let mut cfg = VClusterConfig::default();
    cfg.networking.replicate_services.from_host = vec![ServiceMapping {
        from: "db-ns/postgres".into(),
        to: "apps/postgres".into(),
    }];
    cfg
}

#[test]
fn replicate_from_host_lifecycle() {
    let mut s = base();
    put(
        &mut s.host.services,
        yaml::<Service>(
            "metadata: {name: postgres, namespace: db-ns, uid: pg}\nspec: {clusterIP: 10.96.50.5, ports: [{name: pg, port: 5432, protocol: TCP}]}",
        ),
    );
    let cfg = replicate_cfg();
    let mut mem = Memory::default();
    assert!(converge(&mut s, &cfg, &mut mem, 4) < 4);
    assert!(
        s.virtual_side
            .services
            .contains_key(&ObjKey::new("apps", "postgres"))
    );
    assert!(
        s.virtual_side
            .endpoints
            .contains_key(&ObjKey::new("apps", "postgres"))
    );
    // Config entry removed (no restart): the replicated objects go.
    let mut s2 = s.clone();
    let empty = VClusterConfig::default();
    let mut mem2 = Memory::default();
    converge(&mut s2, &empty, &mut mem2, 4);
    assert!(
        !s2.virtual_side
            .services
            .contains_key(&ObjKey::new("apps", "postgres"))
    );
    // Source deleted: the target goes.
    s.host.services.remove(&ObjKey::new("db-ns", "postgres"));
    converge(&mut s, &cfg, &mut mem, 4);
    assert!(
        !s.virtual_side
            .services
            .contains_key(&ObjKey::new("apps", "postgres"))
    );
    assert!(
        !s.virtual_side
            .endpoints
            .contains_key(&ObjKey::new("apps", "postgres"))
    );
}

#[test]
fn replicate_targets_owned_by_someone_else_are_left_alone() {
    let mut s = base();
    put(
        &mut s.host.services,
        yaml::<Service>(
            "metadata: {name: postgres, namespace: db-ns, uid: pg}\nspec: {clusterIP: 10.96.50.5, ports: [{port: 5432}]}",
        ),
    );
    add_virtual_service(
        &mut s,
        "metadata: {name: postgres, namespace: apps, uid: mine}\nspec: {ports: [{port: 1}]}",
    );
    let cfg = replicate_cfg();
    let ctx = Ctx::new(&s, &cfg);
    let pair = find(
        &ctx,
        PairKind::ReplicatedFromHost,
        Some(ObjKey::new("apps", "postgres")),
    );
    let p = plan(&ctx, &pair, None);
    assert!(p.changes.is_empty());
    assert!(matches!(p.blocked, Some(Blocked::Squatter { .. })));

    let mut cfg = VClusterConfig::default();
    cfg.networking.replicate_services.to_host = vec![ServiceMapping {
        from: "apps/postgres".into(),
        to: "shared".into(),
    }];
    put(
        &mut s.host.services,
        yaml::<Service>(&format!(
            "metadata: {{name: shared, namespace: {HNS}, uid: x}}"
        )),
    );
    let ctx = Ctx::new(&s, &cfg);
    let pair = find(
        &ctx,
        PairKind::ReplicatedToHost,
        Some(ObjKey::new("apps", "postgres")),
    );
    let p = plan(&ctx, &pair, None);
    assert!(p.changes.is_empty());
    assert_eq!(
        p.blocked,
        Some(Blocked::Squatter {
            message: format!(
                "squatter: host service {HNS}/shared exists and is not managed by vcluster {VC}"
            )
        })
    );
}

#[test]
fn every_object_is_in_exactly_one_pair() {
    let (mut s, _) = synced();
    // An orphan twin of a deleted ingress and a legacy-style twin without host-name annotations.
    put(
        &mut s.host.ingresses,
        yaml::<Ingress>(&format!(
            "metadata: {{name: old-x-default-x-my-vcluster, namespace: {HNS}, labels: {{vcluster.loft.sh/managed-by: {VC}}}, annotations: {{vcluster.loft.sh/object-name: old, vcluster.loft.sh/object-namespace: default}}}}"
        )),
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let all = pairs(&ctx);
    let mut seen = std::collections::HashSet::new();
    for p in &all {
        assert!(
            seen.insert((p.kind, p.virtual_key.clone())),
            "duplicate {p:?}"
        );
    }
    let orphan = find(&ctx, PairKind::Ingress, Some(ObjKey::new("default", "old")));
    // Not "clearly synced" (no kind/host-name annotations) and never seen: left alone.
    assert!(plan(&ctx, &orphan, None).changes.is_empty());
    let seen_before = LastSeen {
        virtual_obj: Some(vinspect::engine::memory::Seen::Ingress(Obj::new(yaml(
            "metadata: {name: old, namespace: default}",
        )))),
        host_obj: None,
    };
    let p = plan(&ctx, &orphan, Some(&seen_before));
    assert_eq!(only_change(&p).target.kind, ObjKind::Ingress);
    let _ = Sim::default();
}
