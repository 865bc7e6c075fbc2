//! Snapshots from YAML files and an in-memory "API server" that applies plans to a snapshot.
//!
//! Used by the inspector's pure tests, the benches and anyone who needs a converged world
//! without a sandbox: load virtual objects, let the engine create the twins ([`converge`]),
//! then break one thing and look at the rows. The in-memory apply does what a server would do
//! with each change (assign uid, resourceVersion, ClusterIP, run pods) and nothing more.
//!
//! Fixture format (one YAML document):
//! ```yaml
//! vcluster: my-vcluster            # default my-vcluster
//! hostNamespace: vcluster-my-vcluster
//! config: {}                       # vcluster.yaml subset (optional)
//! converge: true                   # let the engine create twins before `then` (default true)
//! virtual: [ <objects> ]           # apiVersion/kind decide the collection
//! host: [ <objects> ]
//! then:                            # applied after converging
//!   virtual: [ <objects to upsert> ]
//!   host: [ <objects to upsert> ]
//!   deleteVirtual: ["Service default/web"]
//!   deleteHost: ["Pod vcluster-my-vcluster/web-x-default-x-my-vcluster"]
//!   patchHost: [{ref: "Service ns/name", patch: {<merge patch>}}]
//!   hostConn: {error: "connection refused"}
//! expect:                          # read by tests
//!   - {kind: service, namespace: default, name: web, status: Synced, reason: "substring"}
//! ```

use crate::cluster::snapshot::{ConnState, ObjKey, Side, Snapshot};
use crate::engine::ctx::Ctx;
use crate::engine::diff::apply_merge_patch;
use crate::engine::pair::pairs;
use crate::engine::plan::plan;
use crate::engine::{Action, Change, ObjKind, SideName};
use crate::vcluster::config::VClusterConfig;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fixture {
    #[serde(default = "default_vc")]
    pub vcluster: String,
    #[serde(default)]
    pub host_namespace: Option<String>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    #[serde(default = "yes")]
    pub converge: bool,
    #[serde(default)]
    pub r#virtual: Vec<Value>,
    #[serde(default)]
    pub host: Vec<Value>,
    #[serde(default)]
    pub then: Then,
    #[serde(default)]
    pub expect: Vec<Expect>,
}

fn default_vc() -> String {
    "my-vcluster".to_string()
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Then {
    #[serde(default)]
    pub r#virtual: Vec<Value>,
    #[serde(default)]
    pub host: Vec<Value>,
    #[serde(default)]
    pub delete_virtual: Vec<String>,
    #[serde(default)]
    pub delete_host: Vec<String>,
    #[serde(default)]
    pub patch_host: Vec<PatchRef>,
    #[serde(default)]
    pub patch_virtual: Vec<PatchRef>,
    #[serde(default)]
    pub host_conn: Option<ConnFixture>,
    #[serde(default)]
    pub virtual_conn: Option<ConnFixture>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PatchRef {
    pub r#ref: String,
    pub patch: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnFixture {
    pub error: String,
}

/// One expected row.
#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixture does not parse: {0}")]
    Yaml(String),
    #[error("fixture object: {0}")]
    Object(#[from] crate::cluster::snapshot::SnapshotError),
    #[error("fixture ref {0:?}: expected \"Kind namespace/name\"")]
    Ref(String),
}

/// Load a fixture: the snapshot after `converge` and `then`, the config, and the expectations.
pub fn load(text: &str) -> Result<(Snapshot, VClusterConfig, Vec<Expect>), FixtureError> {
    let fx: Fixture = serde_yaml::from_str(text).map_err(|e| FixtureError::Yaml(e.to_string()))?;
    let config: VClusterConfig = match &fx.config {
        Some(v) => {
            serde_yaml::from_value(v.clone()).map_err(|e| FixtureError::Yaml(e.to_string()))?
        }
        None => VClusterConfig::default(),
    };
    let hns = fx
        .host_namespace
        .clone()
        .unwrap_or_else(|| crate::vcluster::naming::default_host_namespace(&fx.vcluster));
    let mut snap = Snapshot::new(&fx.vcluster, hns);
    snap.virtual_side.context = "fixture-virtual".into();
    snap.host.context = "fixture-host".into();
    snap.virtual_side.conn = ConnState::Live;
    snap.host.conn = ConnState::Live;
    let mut server = MemServer::default();
    for o in &fx.r#virtual {
        server.insert(&mut snap.virtual_side, o.clone())?;
    }
    for o in &fx.host {
        server.insert(&mut snap.host, o.clone())?;
    }
    if fx.converge {
        server.converge(&mut snap, &config, 6);
    }
    let t = &fx.then;
    for o in &t.r#virtual {
        server.insert(&mut snap.virtual_side, o.clone())?;
    }
    for o in &t.host {
        server.insert(&mut snap.host, o.clone())?;
    }
    for r in &t.delete_virtual {
        let (kind, key) = parse_ref(r)?;
        remove(&mut snap.virtual_side, kind, &key);
    }
    for r in &t.delete_host {
        let (kind, key) = parse_ref(r)?;
        remove(&mut snap.host, kind, &key);
    }
    for p in &t.patch_host {
        let (kind, key) = parse_ref(&p.r#ref)?;
        patch(&mut snap.host, kind, &key, &p.patch)?;
    }
    for p in &t.patch_virtual {
        let (kind, key) = parse_ref(&p.r#ref)?;
        patch(&mut snap.virtual_side, kind, &key, &p.patch)?;
    }
    if let Some(c) = &t.host_conn {
        snap.host.conn = ConnState::Error {
            message: c.error.clone(),
        };
    }
    if let Some(c) = &t.virtual_conn {
        snap.virtual_side.conn = ConnState::Error {
            message: c.error.clone(),
        };
    }
    snap.version = 1;
    Ok((snap, config, fx.expect))
}

fn parse_ref(r: &str) -> Result<(String, ObjKey), FixtureError> {
    let (kind, rest) = r
        .split_once(' ')
        .ok_or_else(|| FixtureError::Ref(r.into()))?;
    let (ns, name) = rest
        .split_once('/')
        .ok_or_else(|| FixtureError::Ref(r.into()))?;
    Ok((kind.to_string(), ObjKey::new(ns, name)))
}

fn remove(side: &mut Side, kind: String, key: &ObjKey) {
    match kind.as_str() {
        "Pod" => crate::cluster::kinds::remove::<k8s_openapi::api::core::v1::Pod>(side, key),
        "Service" => {
            side.services.remove(key);
        }
        "Endpoints" => {
            side.endpoints.remove(key);
        }
        "Ingress" => {
            side.ingresses.remove(key);
        }
        _ => {}
    }
}

fn get_json(side: &Side, kind: &str, key: &ObjKey) -> Option<Value> {
    let v = match kind {
        "Pod" => serde_json::to_value(side.full_pod(key)?.as_ref()),
        "Service" => serde_json::to_value(side.services.get(key)?.as_ref()),
        "Endpoints" => serde_json::to_value(side.endpoints.get(key)?.as_ref()),
        "Ingress" => serde_json::to_value(side.ingresses.get(key)?.as_ref()),
        _ => return None,
    };
    v.ok()
}

fn patch(side: &mut Side, kind: String, key: &ObjKey, p: &Value) -> Result<(), FixtureError> {
    let Some(mut cur) = get_json(side, &kind, key) else {
        return Err(FixtureError::Ref(format!("{kind} {key} (not found)")));
    };
    apply_merge_patch(&mut cur, p);
    side.insert_json(cur)?;
    Ok(())
}

fn kind_name(k: ObjKind) -> &'static str {
    k.kind_name()
}

/// A tiny API server over a snapshot: assigns uids, resourceVersions, ClusterIPs and pod IPs,
/// and runs every host pod it creates.
#[derive(Debug, Default)]
pub struct MemServer {
    next: u64,
}

impl MemServer {
    fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Insert an object as a server would store it (uid, resourceVersion, creationTimestamp).
    pub fn insert(&mut self, side: &mut Side, mut v: Value) -> Result<(), FixtureError> {
        let n = self.bump();
        if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.entry("uid")
                .or_insert_with(|| json!(format!("00000000-0000-0000-0000-{n:012}")));
            meta.insert("resourceVersion".into(), json!(n.to_string()));
            meta.entry("creationTimestamp")
                .or_insert_with(|| json!("2026-01-01T00:00:00Z"));
        }
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        if kind == "Service" {
            let spec = v
                .as_object_mut()
                .map(|o| o.entry("spec").or_insert_with(|| json!({})));
            if let Some(spec) = spec.and_then(|s| s.as_object_mut()) {
                let blank = spec
                    .get("clusterIP")
                    .and_then(|c| c.as_str())
                    .is_none_or(|c| c.is_empty());
                let external = spec.get("type").and_then(|t| t.as_str()) == Some("ExternalName");
                if blank && !external {
                    let ip = format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1);
                    spec.insert("clusterIP".into(), json!(ip));
                    spec.insert("clusterIPs".into(), json!([ip]));
                }
            }
        }
        side.insert_json(v)?;
        Ok(())
    }

    /// Apply one change as the API server would.
    pub fn apply(&mut self, snap: &mut Snapshot, c: &Change) -> Result<(), FixtureError> {
        let kind = kind_name(c.target.kind);
        let key = ObjKey::new(&c.target.namespace, &c.target.name);
        let is_host = c.target.side == SideName::Host;
        let side = match c.target.side {
            SideName::Host => &mut snap.host,
            SideName::Virtual => &mut snap.virtual_side,
        };
        match &c.action {
            Action::Create { object } => {
                let mut o = object.clone();
                if is_host && kind == "Pod" {
                    run_pod(&mut o, self.next);
                }
                self.insert(side, o)?;
            }
            Action::Recreate { object, .. } => {
                remove(side, kind.to_string(), &key);
                let mut o = object.clone();
                if let Some(meta) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    meta.remove("uid");
                }
                if is_host && kind == "Pod" {
                    run_pod(&mut o, self.next);
                }
                self.insert(side, o)?;
            }
            Action::Delete { .. } => remove(side, kind.to_string(), &key),
            Action::Patch { patch: p, .. } => {
                if let Some(mut cur) = get_json(side, kind, &key) {
                    apply_merge_patch(&mut cur, p);
                    let n = self.bump();
                    if let Some(meta) = cur.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                        meta.insert("resourceVersion".into(), json!(n.to_string()));
                    }
                    side.insert_json(cur)?;
                }
            }
            Action::Bind { node } => {
                if let Some(mut cur) = get_json(side, kind, &key) {
                    apply_merge_patch(&mut cur, &json!({"spec": {"nodeName": node}}));
                    side.insert_json(cur)?;
                }
            }
        }
        Ok(())
    }

    /// Plan and apply every pair until nothing changes (or `rounds` is reached). Blocked pairs
    /// stay as they are, exactly as the engine leaves them.
    pub fn converge(&mut self, snap: &mut Snapshot, config: &VClusterConfig, rounds: usize) {
        for _ in 0..rounds {
            let changes: Vec<Change> = {
                let ctx = Ctx::new(snap, config);
                pairs(&ctx)
                    .iter()
                    .flat_map(|p| plan(&ctx, p, None).changes)
                    .collect()
            };
            if changes.is_empty() {
                return;
            }
            for c in &changes {
                // A change that does not apply in memory is left for the rows to show.
                let _ = self.apply(snap, c);
            }
        }
    }
}

/// A created host pod gets scheduled and runs: node, IP, Running, Ready.
fn run_pod(o: &mut Value, n: u64) {
    let ip = format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 1);
    if let Some(obj) = o.as_object_mut() {
        let spec = obj.entry("spec").or_insert_with(|| json!({}));
        if let Some(spec) = spec.as_object_mut() {
            spec.entry("nodeName").or_insert_with(|| json!("node-1"));
        }
        let containers: Vec<Value> = obj
            .get("spec")
            .and_then(|s| s.get("containers"))
            .and_then(|c| c.as_array())
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!({"name": c.get("name").cloned().unwrap_or(json!("c")),
                               "image": c.get("image").cloned().unwrap_or(json!("img")),
                               "imageID": "", "ready": true, "restartCount": 0,
                               "state": {"running": {}}})
                    })
                    .collect()
            })
            .unwrap_or_default();
        obj.insert(
            "status".into(),
            json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.2",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": containers}),
        );
    }
}

/// A converged synthetic world for scale tests and benches: `services` virtual Services with a
/// selector, spread over `namespaces` namespaces, each with three pods, plus kube-dns and the
/// vCluster's own host Service; the engine itself makes every twin (`MemServer::converge`).
pub fn synthetic_world(
    services: usize,
    namespaces: usize,
) -> Result<(Snapshot, VClusterConfig), FixtureError> {
    let (vc, hns) = ("my-vcluster", "vcluster-my-vcluster");
    let config = VClusterConfig::default();
    let mut snap = Snapshot::new(vc, hns);
    snap.virtual_side.conn = ConnState::Live;
    snap.host.conn = ConnState::Live;
    let mut server = MemServer::default();
    let host_vc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": hns, "name": vc},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}});
    server.insert(&mut snap.host, host_vc)?;
    let dns = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": "kube-system", "name": "kube-dns"},
        "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.96.0.10",
                 "ports": [{"port": 53, "protocol": "UDP"}]}});
    server.insert(&mut snap.virtual_side, dns)?;
    for i in 0..services {
        let ns = format!("team-{}", i % namespaces.max(1));
        let app = format!("app-{i}");
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": ns, "name": app, "labels": {"app": app}},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "protocol": "TCP"}]}});
        server.insert(&mut snap.virtual_side, svc)?;
        for j in 0..3 {
            let pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": ns, "name": format!("{app}-{j}"), "labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
            server.insert(&mut snap.virtual_side, pod)?;
        }
    }
    server.converge(&mut snap, &config, 6);
    Ok((snap, config))
}
