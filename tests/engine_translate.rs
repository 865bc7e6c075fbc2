//! Whole-object translation tests: the §10 worked examples and the special shapes.

mod engine_support;
use engine_support::*;
use serde_json::json;
use vinspect::cluster::snapshot::{ObjKey, Snapshot};
use vinspect::engine::{Action, Ctx, Pair, PairKind, SideName, desired_host, pairs, plan};
use vinspect::vcluster::config::{ServiceMapping, VClusterConfig};

fn created(ctx: &Ctx, pair: &Pair) -> serde_json::Value {
    let p = plan(ctx, pair, None);
    match &only_change(&p).action {
        Action::Create { object } => object.clone(),
        other => panic!("expected create, got {other:?}"),
    }
}

fn pair_of(ctx: &Ctx, kind: PairKind, ns: &str, name: &str) -> Pair {
    pairs(ctx)
        .into_iter()
        .find(|p| p.kind == kind && p.virtual_key == Some(ObjKey::new(ns, name)))
        .unwrap_or_else(|| panic!("no {kind:?} pair for {ns}/{name}"))
}

const NGINX_SVC: &str = r#"
metadata: {name: nginx, namespace: default, uid: nginx-uid, resourceVersion: "10", labels: {app: nginx}}
spec:
  type: ClusterIP
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  selector: {app: nginx}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
"#;

fn with_nginx() -> Snapshot {
    let mut s = base();
    add_virtual_service(&mut s, NGINX_SVC);
    s
}

#[test]
fn service_worked_example() {
    let s = with_nginx();
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Service, "default", "nginx");
    assert_eq!(
        pair.host_key,
        Some(ObjKey::new(HNS, "nginx-x-default-x-my-vcluster"))
    );
    let obj = created(&ctx, &pair);
    assert_same(&obj, &fixture("service-nginx.yaml"));
    assert_eq!(desired_host(&ctx, &pair), Some(obj));
}

#[test]
fn pod_worked_example() {
    let mut s = with_nginx();
    add_virtual_pod(
        &mut s,
        r#"
metadata:
  name: nginx-7d9f-abcde
  namespace: default
  uid: pod-uid
  labels: {app: nginx, pod-template-hash: 7d9f}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: nginx-7d9f, uid: rs-uid, controller: true, blockOwnerDeletion: true}
spec:
  serviceAccountName: default
  dnsPolicy: ClusterFirst
  containers:
  - name: nginx
    image: nginx:1.27
    env:
    - {name: MODE, value: production}
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts: [{name: ca, mountPath: /etc/ca}]
  volumes:
  - name: ca
    configMap: {name: kube-root-ca.crt}
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Pod, "default", "nginx-7d9f-abcde");
    assert_same(&created(&ctx, &pair), &fixture("pod-nginx.yaml"));
}

#[test]
fn pod_with_subdomain_gets_the_hosts_rewrite() {
    let mut s = base();
    add_virtual_pod(
        &mut s,
        r#"
metadata: {name: web-0, namespace: default, uid: web-0-uid, labels: {app: web}}
spec:
  subdomain: web
  enableServiceLinks: false
  containers: [{name: app, image: "busybox:1.36"}]
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Pod, "default", "web-0");
    assert_same(&created(&ctx, &pair), &fixture("pod-subdomain.yaml"));

    // rewriteHosts off: subdomain still dropped, no init container.
    let mut cfg = VClusterConfig::default();
    cfg.sync.to_host.pods.rewrite_hosts.enabled = false;
    let ctx = Ctx::new(&s, &cfg);
    let obj = created(&ctx, &pair);
    assert!(obj["spec"].get("subdomain").is_none());
    assert!(obj["spec"].get("initContainers").is_none());
    assert_eq!(obj["spec"]["hostname"], "web-0");
}

#[test]
fn pod_hostname_is_truncated_and_dotless() {
    let name = format!("{}.b", "a".repeat(62));
    assert_eq!(
        vinspect::engine::translate::pod::pod_hostname(&name),
        "a".repeat(62)
    );
    assert_eq!(
        vinspect::engine::translate::pod::pod_hostname("x.y.z"),
        "x-y-z"
    );
}

#[test]
fn ingress_worked_example() {
    let mut s = with_nginx();
    add_virtual_ingress(
        &mut s,
        r#"
metadata:
  name: web
  namespace: default
  uid: web-uid
  annotations: {nginx.ingress.kubernetes.io/auth-secret: basic}
spec:
  ingressClassName: nginx
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: nginx, port: {number: 80}}}
"#,
    );
    let mut cfg = VClusterConfig::default();
    cfg.sync.to_host.ingresses.enabled = true;
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Ingress, "default", "web");
    assert_same(&created(&ctx, &pair), &fixture("ingress-web.yaml"));
}

#[test]
fn ingress_alb_and_nginx_namespaced_secret_annotations() {
    let mut s = base();
    add_virtual_ingress(
        &mut s,
        r#"
metadata:
  name: alb
  namespace: shop
  uid: alb-uid
  annotations:
    alb.ingress.kubernetes.io/actions.blue-green: '{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue","servicePort":"80","weight":50},{"serviceName":"green","servicePort":"80","weight":50}]}}'
    alb.ingress.kubernetes.io/conditions.blue-green: '[{"field":"host-header"}]'
    nginx.ingress.kubernetes.io/auth-tls-secret: other/ca
    nginx.ingress.kubernetes.io/auth-url: http://auth.example.com
spec:
  defaultBackend: {service: {name: fallback, port: {number: 8080}}}
"#,
    );
    let mut cfg = VClusterConfig::default();
    cfg.sync.to_host.ingresses.enabled = true;
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Ingress, "shop", "alb");
    let obj = created(&ctx, &pair);
    let ann = &obj["metadata"]["annotations"];
    assert_eq!(
        ann["alb.ingress.kubernetes.io/actions.blue-green-x-shop-x-my-vcluster"],
        r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue-x-shop-x-my-vcluster","servicePort":"80","weight":50},{"serviceName":"green-x-shop-x-my-vcluster","servicePort":"80","weight":50}],"targetGroupStickinessConfig":null}}"#
    );
    assert_eq!(
        ann["alb.ingress.kubernetes.io/conditions.blue-green-x-shop-x-my-vcluster"],
        r#"[{"field":"host-header"}]"#
    );
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/auth-tls-secret"],
        "vcluster-my-vcluster/ca-x-other-x-my-vcluster"
    );
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/auth-url"],
        "http://auth.example.com"
    );
    assert_eq!(
        obj["spec"]["defaultBackend"]["service"]["name"],
        "fallback-x-shop-x-my-vcluster"
    );
}

#[test]
fn hashed_names_and_legacy_label_keys() {
    let mut s = base();
    add_virtual_service(
        &mut s,
        r#"
metadata:
  name: my-very-long-service-name-for-the-payments-backend
  namespace: production
  uid: long-uid
  labels: {release: stable, app: pay}
spec:
  selector: {release: stable}
  ports: [{port: 443}]
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(
        &ctx,
        PairKind::Service,
        "production",
        "my-very-long-service-name-for-the-payments-backend",
    );
    let host = "my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4";
    assert_eq!(pair.host_key, Some(ObjKey::new(HNS, host)));
    let obj = created(&ctx, &pair);
    assert_eq!(obj["metadata"]["name"], host);
    assert_eq!(
        obj["metadata"]["annotations"]["vcluster.loft.sh/object-host-name"],
        host
    );
    let hashed = "vcluster.loft.sh/label-my-vcluster-x-a4d451ec23";
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"app": "pay", hashed: "stable", "vcluster.loft.sh/managed-by": VC, "vcluster.loft.sh/namespace": "production"})
    );
    assert_eq!(
        obj["spec"]["selector"],
        json!({hashed: "stable", "vcluster.loft.sh/managed-by": VC, "vcluster.loft.sh/namespace": "production"})
    );
}

#[test]
fn headless_nodeport_loadbalancer_externalname() {
    let mut s = base();
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: db, namespace: default, uid: db-uid}
spec: {clusterIP: None, clusterIPs: [None], selector: {app: db}, ports: [{port: 5432}]}
"#,
    );
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: np, namespace: default, uid: np-uid}
spec:
  type: NodePort
  clusterIP: 10.96.1.1
  clusterIPs: [10.96.1.1]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  selector: {app: np}
  ports: [{port: 80, nodePort: 30080, protocol: TCP}]
"#,
    );
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: lb, namespace: default, uid: lb-uid}
spec:
  type: LoadBalancer
  selector: {app: lb}
  externalTrafficPolicy: Local
  healthCheckNodePort: 31999
  ports: [{port: 443, nodePort: 30443}]
"#,
    );
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: ext, namespace: default, uid: ext-uid}
spec: {type: ExternalName, externalName: db.example.com}
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let db = created(&ctx, &pair_of(&ctx, PairKind::Service, "default", "db"));
    assert_eq!(db["spec"]["clusterIP"], "None");
    assert!(db["spec"].get("clusterIPs").is_none());

    let np = created(&ctx, &pair_of(&ctx, PairKind::Service, "default", "np"));
    assert_eq!(
        np["spec"],
        json!({"type": "NodePort", "selector": {"app": "np", "vcluster.loft.sh/managed-by": VC, "vcluster.loft.sh/namespace": "default"}, "ports": [{"port": 80, "protocol": "TCP"}]})
    );

    let lb = created(&ctx, &pair_of(&ctx, PairKind::Service, "default", "lb"));
    assert_eq!(lb["spec"]["type"], "LoadBalancer");
    assert_eq!(lb["spec"]["ports"], json!([{"port": 443}]));
    assert_eq!(lb["spec"]["healthCheckNodePort"], 31999);
    assert_eq!(lb["spec"]["externalTrafficPolicy"], "Local");

    let ext = created(&ctx, &pair_of(&ctx, PairKind::Service, "default", "ext"));
    assert_eq!(
        ext["spec"],
        json!({"type": "ExternalName", "externalName": "db.example.com"})
    );
}

#[test]
fn default_kubernetes_follows_the_vcluster_service() {
    let mut s = base();
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: kubernetes, namespace: default, uid: k-uid, resourceVersion: "3", labels: {component: apiserver, provider: kubernetes}}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.1
  clusterIPs: [10.96.0.1]
  sessionAffinity: None
  ports: [{name: https, port: 443, targetPort: 6443, protocol: TCP}]
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pair_of(&ctx, PairKind::Service, "default", "kubernetes");
    assert_eq!(pair.host_key, Some(ObjKey::new(HNS, VC)));
    let p = plan(&ctx, &pair, None);
    let c = only_change(&p);
    assert_eq!(c.target.side, SideName::Virtual);
    match &c.action {
        Action::Recreate { object, uid } => {
            assert_eq!(uid.as_deref(), Some("k-uid"));
            assert_same(object, &fixture("kubernetes-recreate.yaml"));
        }
        other => panic!("expected recreate, got {other:?}"),
    }
    // The host `<vc>` service is never a write target.
    assert!(p.changes.iter().all(|c| c.target.side == SideName::Virtual));
}

#[test]
fn selectorless_service_endpoints_are_synced_with_pod_refs_renamed() {
    let mut s = base();
    add_virtual_service(
        &mut s,
        r#"
metadata: {name: manual, namespace: default, uid: m-uid}
spec: {clusterIP: 10.96.3.3, ports: [{port: 80}]}
"#,
    );
    add_virtual_endpoints(
        &mut s,
        r#"
metadata: {name: manual, namespace: default, uid: ep-uid, annotations: {control-plane.alpha.kubernetes.io/leader: x}}
subsets:
- addresses:
  - ip: 10.244.1.7
    targetRef: {kind: Pod, name: worker-1, namespace: default, uid: p-uid, resourceVersion: "9"}
  ports: [{port: 80, protocol: TCP}]
"#,
    );
    // A selector service's endpoints are the host controller's business: no pair.
    add_virtual_endpoints(
        &mut s,
        r#"
metadata: {name: kube-dns, namespace: kube-system, uid: kd-ep}
subsets: [{addresses: [{ip: 10.244.0.5}]}]
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    assert!(!pairs(&ctx).iter().any(|p| p.kind == PairKind::Endpoints
        && p.virtual_key == Some(ObjKey::new("kube-system", "kube-dns"))));
    let pair = pair_of(&ctx, PairKind::Endpoints, "default", "manual");
    let obj = created(&ctx, &pair);
    assert_same(
        &obj,
        &json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": "manual-x-default-x-my-vcluster",
                "namespace": HNS,
                "labels": {"vcluster.loft.sh/managed-by": VC, "vcluster.loft.sh/namespace": "default"},
                "annotations": {
                    "vcluster.loft.sh/object-name": "manual",
                    "vcluster.loft.sh/object-namespace": "default",
                    "vcluster.loft.sh/object-uid": "ep-uid",
                    "vcluster.loft.sh/object-kind": "/v1, Kind=Endpoints",
                    "vcluster.loft.sh/object-host-name": "manual-x-default-x-my-vcluster",
                    "vcluster.loft.sh/object-host-namespace": HNS
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": VC, "uid": VC_SVC_UID, "controller": false}]
            },
            "subsets": [{
                "addresses": [{"ip": "10.244.1.7", "targetRef": {"kind": "Pod", "name": "worker-1-x-default-x-my-vcluster", "namespace": HNS}}],
                "ports": [{"port": 80, "protocol": "TCP"}]
            }]
        }),
    );
}

fn replicate_cfg() -> VClusterConfig {
    let mut cfg = VClusterConfig::default();
    cfg.networking.replicate_services.from_host = vec![ServiceMapping {
        from: "db-ns/postgres".into(),
        to: "apps/postgres".into(),
    }];
    cfg.networking.replicate_services.to_host = vec![ServiceMapping {
        from: "default/nginx".into(),
        to: "nginx-shared".into(),
    }];
    cfg
}

#[test]
fn replicate_from_host_worked_example() {
    let mut s = base();
    put(
        &mut s.host.services,
        yaml(
            r#"
metadata: {name: postgres, namespace: db-ns, uid: pg-uid}
spec:
  type: ClusterIP
  clusterIP: 10.96.50.5
  selector: {app: postgres}
  ports: [{name: postgres, port: 5432, targetPort: 5432, protocol: TCP}]
"#,
        ),
    );
    let cfg = replicate_cfg();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pairs(&ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::ReplicatedFromHost)
        .unwrap();
    assert_eq!(pair.virtual_key, Some(ObjKey::new("apps", "postgres")));
    assert_eq!(pair.host_key, Some(ObjKey::new("db-ns", "postgres")));
    let p = plan(&ctx, &pair, None);
    let objs: Vec<_> = p
        .changes
        .iter()
        .map(|c| {
            assert_eq!(c.target.side, SideName::Virtual);
            match &c.action {
                Action::Create { object } => object.clone(),
                other => panic!("expected creates, got {other:?}"),
            }
        })
        .collect();
    let want = fixture("fromhost-postgres.yaml");
    assert_eq!(objs.len(), 3);
    assert_same(&objs[0], &want["namespace"]);
    assert_same(&objs[1], &want["service"]);
    assert_same(&objs[2], &want["endpoints"]);
}

#[test]
fn replicate_to_host_worked_example() {
    let s = with_nginx();
    let cfg = replicate_cfg();
    let ctx = Ctx::new(&s, &cfg);
    let pair = pairs(&ctx)
        .into_iter()
        .find(|p| p.kind == PairKind::ReplicatedToHost)
        .unwrap();
    assert_eq!(pair.host_key, Some(ObjKey::new(HNS, "nginx-shared")));
    assert_same(&created(&ctx, &pair), &fixture("tohost-nginx-shared.yaml"));
}

#[test]
fn replicate_mapping_parse_rules() {
    use vinspect::engine::replicate::{MAPPING_ERROR, parse_from_host, parse_to_host};
    assert_eq!(
        parse_from_host("postgres", "apps/pg", HNS).unwrap().from,
        ObjKey::new(HNS, "postgres")
    );
    assert_eq!(parse_from_host("db/pg", "pg", HNS), Err(MAPPING_ERROR));
    assert_eq!(
        parse_to_host("default/nginx", "x/y", HNS),
        Err(MAPPING_ERROR)
    );
    assert_eq!(parse_to_host("nginx", "y", HNS), Err(MAPPING_ERROR));
    assert_eq!(parse_from_host("a/b/c", "x/y", HNS), Err(MAPPING_ERROR));
}

#[test]
fn daemonset_pods_and_user_set_eviction() {
    let mut s = base();
    add_virtual_pod(
        &mut s,
        r#"
metadata:
  name: agent-x1
  namespace: default
  uid: a-uid
  ownerReferences:
  - {apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: ds-uid, controller: true}
spec: {containers: [{name: a, image: agent}]}
"#,
    );
    add_virtual_pod(
        &mut s,
        r#"
metadata:
  name: pinned
  namespace: default
  uid: p-uid
  annotations: {cluster-autoscaler.kubernetes.io/safe-to-evict: "true"}
spec: {containers: [{name: a, image: app}]}
"#,
    );
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(&s, &cfg);
    let ds = created(&ctx, &pair_of(&ctx, PairKind::Pod, "default", "agent-x1"));
    let ann = &ds["metadata"]["annotations"];
    assert_eq!(
        ann["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "true"
    );
    assert_eq!(
        ann["cluster-autoscaler.kubernetes.io/daemonset-pod"],
        "true"
    );
    assert_eq!(ann["vcluster.loft.sh/owner-set-kind"], "DaemonSet");
    let pinned = created(&ctx, &pair_of(&ctx, PairKind::Pod, "default", "pinned"));
    let ann = &pinned["metadata"]["annotations"];
    assert_eq!(
        ann["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "true"
    );
    assert_eq!(
        ann["vcluster.loft.sh/managed-annotations"],
        "cluster-autoscaler.kubernetes.io/safe-to-evict"
    );
    assert!(ann.get("vcluster.loft.sh/owner-references").is_none());
}
