//! Shared builders for the engine tests: a snapshot of a small vCluster, objects from YAML.
#![allow(dead_code)]

pub mod sim;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use serde::de::DeserializeOwned;
use vinspect::cluster::snapshot::{Obj, ObjKey, ObjMap, Snapshot};
use vinspect::engine::{Change, Plan};
use vinspect::vcluster::config::VClusterConfig;

pub const VC: &str = "my-vcluster";
pub const HNS: &str = "vcluster-my-vcluster";
pub const VC_SVC_UID: &str = "11111111-2222-3333-4444-555555555555";
pub const KUBE_IP: &str = "10.96.0.10";
pub const DNS_IP: &str = "10.96.0.53";

pub fn yaml<T: DeserializeOwned>(s: &str) -> T {
    serde_yaml::from_str(s).unwrap()
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/engine/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap()
}

pub fn put<K: kube::Resource>(map: &mut ObjMap<K>, obj: K) {
    map.insert(ObjKey::of(&obj), Obj::new(obj));
}

/// The host side a fresh vCluster install has: its own Service and the kube-dns twin.
pub fn base() -> Snapshot {
    let mut s = Snapshot {
        vcluster: VC.into(),
        host_namespace: HNS.into(),
        ..Snapshot::default()
    };
    put(
        &mut s.host.services,
        yaml::<Service>(&format!(
            r#"
metadata: {{name: {VC}, namespace: {HNS}, uid: {VC_SVC_UID}, resourceVersion: "1"}}
spec:
  type: ClusterIP
  clusterIP: {KUBE_IP}
  clusterIPs: [{KUBE_IP}]
  ports:
  - {{name: https, port: 443, targetPort: 8443, protocol: TCP}}
  - {{name: kubelet, port: 10250, targetPort: 8443, protocol: TCP}}
"#
        )),
    );
    put(
        &mut s.virtual_side.services,
        yaml::<Service>(
            r#"
metadata: {name: kube-dns, namespace: kube-system, uid: dns-uid, resourceVersion: "5", labels: {k8s-app: vcluster-kube-dns}}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.53
  selector: {k8s-app: vcluster-kube-dns}
  ports:
  - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
"#,
        ),
    );
    let cfg = VClusterConfig::default();
    let ctx = vinspect::engine::Ctx::new(&s, &cfg);
    let dns = s
        .virtual_side
        .services
        .get(&ObjKey::new("kube-system", "kube-dns"))
        .unwrap()
        .clone();
    let mut twin = vinspect::engine::translate::service::to_host(&ctx, &dns);
    twin.metadata.resource_version = Some("7".into());
    twin.metadata.uid = Some("dns-twin-uid".into());
    twin.spec.as_mut().unwrap().cluster_ip = Some(DNS_IP.into());
    put(&mut s.host.services, twin);
    for ns in ["default", "kube-system"] {
        put(
            &mut s.virtual_side.namespaces,
            yaml::<Namespace>(&format!(
                "metadata: {{name: {ns}, labels: {{kubernetes.io/metadata.name: {ns}}}}}"
            )),
        );
    }
    s
}

pub fn add_virtual_service(s: &mut Snapshot, y: &str) -> ObjKey {
    let o: Service = yaml(y);
    let k = ObjKey::of(&o);
    put(&mut s.virtual_side.services, o);
    k
}
pub fn add_virtual_pod(s: &mut Snapshot, y: &str) -> ObjKey {
    let o: Pod = yaml(y);
    let k = ObjKey::of(&o);
    put(&mut s.virtual_side.pods, o);
    k
}
pub fn add_virtual_ingress(s: &mut Snapshot, y: &str) -> ObjKey {
    let o: Ingress = yaml(y);
    let k = ObjKey::of(&o);
    put(&mut s.virtual_side.ingresses, o);
    k
}
pub fn add_virtual_endpoints(s: &mut Snapshot, y: &str) -> ObjKey {
    let o: Endpoints = yaml(y);
    let k = ObjKey::of(&o);
    put(&mut s.virtual_side.endpoints, o);
    k
}

pub fn only_change(p: &Plan) -> &Change {
    assert_eq!(
        p.changes.len(),
        1,
        "expected one change, got {:#?}",
        p.changes
    );
    &p.changes[0]
}

pub fn to_yaml(v: &serde_json::Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// Compare whole objects; on mismatch show both as YAML.
pub fn assert_same(actual: &serde_json::Value, expected: &serde_json::Value) {
    if actual != expected {
        panic!(
            "objects differ\n--- actual ---\n{}\n--- expected ---\n{}",
            to_yaml(actual),
            to_yaml(expected)
        );
    }
}

/// Run plan → apply over all pairs until nothing changes (at most `rounds`), remembering what
/// was seen after each round like the controller does. Returns the memory and rounds used.
pub fn converge(
    s: &mut Snapshot,
    cfg: &VClusterConfig,
    memory: &mut vinspect::engine::Memory,
    rounds: usize,
) -> usize {
    let mut simu = sim::Sim::default();
    for round in 0..rounds {
        let snap = s.clone();
        let ctx = vinspect::engine::Ctx::new(&snap, cfg);
        let all = vinspect::engine::pairs(&ctx);
        let mut any = false;
        for p in &all {
            let plan = vinspect::engine::plan(&ctx, p, memory.get(p));
            if !plan.changes.is_empty() {
                any = true;
                simu.apply(s, &plan);
            }
        }
        assert!(simu.errors.is_empty(), "apply errors: {:?}", simu.errors);
        let snap = s.clone();
        let ctx = vinspect::engine::Ctx::new(&snap, cfg);
        for p in vinspect::engine::pairs(&ctx) {
            memory.observe(&ctx, &p);
        }
        if !any {
            return round;
        }
    }
    rounds
}
