//! Scenarios: compiled-in YAML worlds (virtual objects, host objects, vcluster.yaml) that the
//! sandbox pair and `vinspect demo` load.
//!
//! A scenario file lives in `src/sandbox/scenarios/<name>.yaml`:
//!
//! ```yaml
//! description: one line shown by `vinspect demo --list-scenarios`
//! vcluster: my-vcluster                 # optional, this is the default
//! hostNamespace: vcluster-my-vcluster   # optional, default vcluster-<vcluster>
//! config: { sync: { toHost: { ingresses: { enabled: true } } } }   # optional vcluster.yaml
//! virtual: [ full Kubernetes objects ]
//! host:    [ full Kubernetes objects ]
//! hostQuota: { name: vc-my-vcluster, hard: { services.nodeports: 0 } }   # optional
//! ```
//!
//! `hostQuota` is a host ResourceQuota that `vinspect demo` enforces on its own writes (the
//! controller's and the TUI's), because the sandbox has no quota admission: a write it exceeds
//! is refused with the API server's message, as the real host would refuse vCluster's syncer.
//!
//! Objects are written the way the API servers would hold them (status included). UIDs written
//! in the file are stand-ins: when a scenario is loaded into live API servers every object gets
//! a server UID, and every occurrence of a stand-in in objects loaded later (the
//! `vcluster.loft.sh/object-uid` annotation of a host twin, an owner reference) is replaced by the
//! real UID. A stand-in that names no object (a twin left by an older virtual pod) stays as is.
//!
//! Adding a scenario needs no Rust code beyond one line in [`FILES`]; a test checks that every
//! file of the directory is listed and parses.

use crate::cluster::snapshot::{ConnState, Side, Snapshot, SnapshotError};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Every scenario, compiled in: `(name, file text)`. The first one is the default.
pub const FILES: &[(&str, &str)] = &[
    ("incident", include_str!("scenarios/incident.yaml")),
    ("healthy", include_str!("scenarios/healthy.yaml")),
    ("dns-wait", include_str!("scenarios/dns-wait.yaml")),
];

/// The scenario `vinspect demo` loads when none is named.
pub const DEFAULT: &str = "incident";

/// What went wrong reading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "unknown scenario {name:?} (available: {available}); see `vinspect demo --list-scenarios`"
    )]
    Unknown { name: String, available: String },
    #[error("scenario {name}: not valid YAML: {message}")]
    Yaml { name: String, message: String },
    #[error("scenario {name}: {side} object #{index} ({what}): {message}")]
    Object {
        name: String,
        side: &'static str,
        index: usize,
        what: String,
        message: String,
    },
    #[error("scenario {name}: config is not a valid vcluster.yaml: {message}")]
    Config { name: String, message: String },
    #[error("scenario {name}: {message}")]
    Quota { name: String, message: String },
    #[error("scenario {name}: loading {what} into the {side} API server failed: {message}")]
    Apply {
        name: String,
        side: &'static str,
        what: String,
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScenarioFile {
    description: String,
    #[serde(default)]
    vcluster: Option<String>,
    #[serde(default)]
    host_namespace: Option<String>,
    #[serde(default)]
    config: Option<serde_yaml::Value>,
    #[serde(default)]
    r#virtual: Vec<serde_yaml::Value>,
    #[serde(default)]
    host: Vec<serde_yaml::Value>,
    #[serde(default)]
    host_quota: Option<HostQuota>,
}

/// Quota resources `hostQuota.hard` may name.
pub const QUOTA_RESOURCES: [&str; 2] = ["services.nodeports", "services.loadbalancers"];

/// A host ResourceQuota with zero limits on service types (vCluster's own
/// `policies.resourceQuota` sets `services.nodeports: 0` by default).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostQuota {
    pub name: String,
    /// Resource → limit; only the [`QUOTA_RESOURCES`], and only limits of 0.
    pub hard: BTreeMap<String, u32>,
}

impl HostQuota {
    fn check(&self) -> Result<(), String> {
        for (resource, limit) in &self.hard {
            if !QUOTA_RESOURCES.contains(&resource.as_str()) {
                return Err(format!(
                    "hostQuota.hard.{resource}: not supported (supported: {})",
                    QUOTA_RESOURCES.join(", ")
                ));
            }
            if *limit != 0 {
                return Err(format!(
                    "hostQuota.hard.{resource}: only a limit of 0 is supported, not {limit}"
                ));
            }
        }
        Ok(())
    }

    /// The quota admission's answer to creating `object` in the host namespace: `Some(message)`
    /// when it needs a resource whose limit is 0. A NodePort Service uses a node port, a
    /// LoadBalancer uses a load balancer and (unless told otherwise) node ports.
    pub fn refusal(&self, object: &Value) -> Option<String> {
        if object.get("kind").and_then(Value::as_str) != Some("Service") {
            return None;
        }
        let spec = object.get("spec");
        let ty = spec
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let lb_node_ports = spec
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let needs: Vec<&str> = match ty {
            "NodePort" => vec!["services.nodeports"],
            "LoadBalancer" if lb_node_ports => {
                vec!["services.loadbalancers", "services.nodeports"]
            }
            "LoadBalancer" => vec!["services.loadbalancers"],
            _ => Vec::new(),
        };
        let over: Vec<&str> = needs
            .into_iter()
            .filter(|r| self.hard.contains_key(*r))
            .collect();
        if over.is_empty() {
            return None;
        }
        let list =
            |f: &dyn Fn(&str) -> String| over.iter().map(|r| f(r)).collect::<Vec<_>>().join(",");
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        Some(format!(
            "services \"{name}\" is forbidden: exceeded quota: {}, requested: {}, used: {}, limited: {}",
            self.name,
            list(&|r| format!("{r}=1")),
            list(&|r| format!("{r}=0")),
            list(&|r| format!("{r}=0")),
        ))
    }
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub vcluster: String,
    pub host_namespace: String,
    /// The vcluster.yaml of this vCluster (defaults where the file says nothing).
    pub config: VClusterConfig,
    /// The vcluster.yaml text, as stored in the host Secret `vc-config-<vcluster>`.
    pub config_yaml: String,
    pub virtual_objects: Vec<Value>,
    pub host_objects: Vec<Value>,
    /// The host quota `vinspect demo` enforces on its writes, if any.
    pub host_quota: Option<HostQuota>,
}

/// Which cluster an object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioSide {
    Virtual,
    Host,
}

impl ScenarioSide {
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioSide::Virtual => "virtual",
            ScenarioSide::Host => "host",
        }
    }
}

/// Names and one-line descriptions of every compiled-in scenario, in [`FILES`] order.
pub fn list() -> Vec<(&'static str, String)> {
    FILES
        .iter()
        .map(|(name, text)| {
            let description = parse(name, text)
                .map(|s| s.description)
                .unwrap_or_else(|e| format!("(does not parse: {e})"));
            (*name, description)
        })
        .collect()
}

/// The compiled-in scenario called `name`.
pub fn load(name: &str) -> Result<Scenario, ScenarioError> {
    let Some((_, text)) = FILES.iter().find(|(n, _)| *n == name) else {
        return Err(ScenarioError::Unknown {
            name: name.to_string(),
            available: FILES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        });
    };
    parse(name, text)
}

/// Parse and check one scenario file.
pub fn parse(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let file: ScenarioFile = serde_yaml::from_str(text).map_err(|e| ScenarioError::Yaml {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let vcluster = file.vcluster.unwrap_or_else(|| "my-vcluster".to_string());
    let host_namespace = file
        .host_namespace
        .unwrap_or_else(|| naming::default_host_namespace(&vcluster));
    let config_value = file
        .config
        .unwrap_or(serde_yaml::Value::Mapping(Default::default()));
    let config: VClusterConfig =
        serde_yaml::from_value(config_value.clone()).map_err(|e| ScenarioError::Config {
            name: name.to_string(),
            message: e.to_string(),
        })?;
    let config_yaml = serde_yaml::to_string(&config_value).map_err(|e| ScenarioError::Config {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let objects = |side: ScenarioSide, list: Vec<serde_yaml::Value>| {
        list.into_iter()
            .enumerate()
            .map(|(index, y)| check_object(name, side, index, y))
            .collect::<Result<Vec<_>, _>>()
    };
    if let Some(q) = &file.host_quota {
        q.check().map_err(|message| ScenarioError::Quota {
            name: name.to_string(),
            message,
        })?;
    }
    Ok(Scenario {
        host_quota: file.host_quota.clone(),
        name: name.to_string(),
        description: file.description.trim().to_string(),
        vcluster,
        host_namespace,
        config,
        config_yaml,
        virtual_objects: objects(ScenarioSide::Virtual, file.r#virtual)?,
        host_objects: objects(ScenarioSide::Host, file.host)?,
    })
}

/// How vinspect addresses a kind: `(group, version, plural, namespaced)`.
pub fn kind_info(kind: &str) -> Option<(&'static str, &'static str, &'static str, bool)> {
    Some(match kind {
        "Namespace" => ("", "v1", "namespaces", false),
        "Node" => ("", "v1", "nodes", false),
        "Pod" => ("", "v1", "pods", true),
        "Service" => ("", "v1", "services", true),
        "Endpoints" => ("", "v1", "endpoints", true),
        "EndpointSlice" => ("discovery.k8s.io", "v1", "endpointslices", true),
        "Secret" => ("", "v1", "secrets", true),
        "ConfigMap" => ("", "v1", "configmaps", true),
        "Event" => ("", "v1", "events", true),
        "Ingress" => ("networking.k8s.io", "v1", "ingresses", true),
        "IngressClass" => ("networking.k8s.io", "v1", "ingressclasses", false),
        _ => return None,
    })
}

/// `Kind ns/name` for messages.
pub fn describe(obj: &Value) -> String {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
    let ns = s("/metadata/namespace");
    if ns.is_empty() {
        format!("{} {}", s("/kind"), s("/metadata/name"))
    } else {
        format!("{} {}/{}", s("/kind"), ns, s("/metadata/name"))
    }
}

fn check_object(
    name: &str,
    side: ScenarioSide,
    index: usize,
    y: serde_yaml::Value,
) -> Result<Value, ScenarioError> {
    let err = |what: String, message: String| ScenarioError::Object {
        name: name.to_string(),
        side: side.as_str(),
        index: index + 1,
        what,
        message,
    };
    let v: Value = serde_json::to_value(&y)
        .map_err(|e| err("?".to_string(), format!("not an object: {e}")))?;
    let what = describe(&v);
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some((group, version, _, namespaced)) = kind_info(kind) else {
        return Err(err(
            what,
            format!("kind {kind:?} is not one a scenario can hold"),
        ));
    };
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let want = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    if api_version != want {
        return Err(err(
            what,
            format!("apiVersion must be {want:?}, not {api_version:?}"),
        ));
    }
    let name_ok = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !name_ok {
        return Err(err(what, "metadata.name is missing".to_string()));
    }
    let has_ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if namespaced != has_ns {
        let message = if namespaced {
            "metadata.namespace is missing"
        } else {
            "a cluster-scoped object has no metadata.namespace"
        };
        return Err(err(what, message.to_string()));
    }
    // The typed round trip catches misspelt fields' types (a string where a list belongs).
    let mut side_probe = Side::default();
    if let Err(e) = side_probe.insert_json(v.clone())
        && !matches!(e, SnapshotError::UnknownKind(_))
    {
        return Err(err(what, e.to_string()));
    }
    Ok(v)
}

impl Scenario {
    /// The host Secret `vc-config-<vcluster>` holding this scenario's vcluster.yaml, as a vCluster
    /// install has it. Not written in scenario files: it is always derived from `config`.
    pub fn config_secret(&self) -> Value {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(self.config_yaml.as_bytes());
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": naming::config_secret_name(&self.vcluster),
                "namespace": self.host_namespace,
                "labels": {"app": "vcluster", "release": self.vcluster},
            },
            "type": "Opaque",
            "data": {"config.yaml": data},
        })
    }

    /// Host objects including the config Secret (unless the file brings its own).
    pub fn host_objects_with_config(&self) -> Vec<Value> {
        let secret = self.config_secret();
        let mut out = self.host_objects.clone();
        let secret_name = describe(&secret);
        if !out.iter().any(|o| describe(o) == secret_name) {
            out.push(secret);
        }
        out
    }

    /// Both sides as vinspect would cache them right after loading, without any API server.
    /// Screenshots and the status tests read the scenario through this.
    pub fn snapshot(&self) -> Result<Snapshot, ScenarioError> {
        let mut snap = Snapshot::new(&self.vcluster, &self.host_namespace);
        snap.version = 1;
        snap.virtual_side.context = "vcluster".to_string();
        snap.host.context = "host".to_string();
        snap.virtual_side.conn = ConnState::Live;
        snap.host.conn = ConnState::Live;
        let fill = |side: ScenarioSide, objs: &[Value], into: &mut Side| {
            for (index, o) in objs.iter().enumerate() {
                match into.insert_json(o.clone()) {
                    Ok(()) | Err(SnapshotError::UnknownKind(_)) => {}
                    Err(e) => {
                        return Err(ScenarioError::Object {
                            name: self.name.clone(),
                            side: side.as_str(),
                            index: index + 1,
                            what: describe(o),
                            message: e.to_string(),
                        });
                    }
                }
            }
            Ok(())
        };
        fill(
            ScenarioSide::Virtual,
            &self.virtual_objects,
            &mut snap.virtual_side,
        )?;
        fill(
            ScenarioSide::Host,
            &self.host_objects_with_config(),
            &mut snap.host,
        )?;
        Ok(snap)
    }

    /// Every stand-in UID the file declares, with the object that declares it.
    pub fn declared_uids(&self) -> BTreeMap<String, String> {
        self.virtual_objects
            .iter()
            .chain(&self.host_objects)
            .filter_map(|o| {
                let uid = o.pointer("/metadata/uid")?.as_str()?;
                Some((uid.to_string(), describe(o)))
            })
            .collect()
    }
}

/// The sandbox options a scenario needs: its vCluster name and host namespace, and no install
/// layout (the scenario brings its own, exactly as written).
pub fn sandbox_options(scenario: &Scenario) -> crate::sandbox::SandboxOptions {
    crate::sandbox::SandboxOptions {
        vcluster: scenario.vcluster.clone(),
        host_namespace: Some(scenario.host_namespace.clone()),
        empty_layout: false,
        ..Default::default()
    }
}

/// Load a scenario into a running sandbox pair: virtual objects first (so their server UIDs are
/// known), then host objects with stand-in UIDs replaced, each through the API server's write
/// path with its status. Existing objects (the seeded namespaces) are replaced.
pub fn load_into(
    sandbox: &crate::sandbox::Sandbox,
    scenario: &Scenario,
) -> Result<(), ScenarioError> {
    let mut uids: BTreeMap<String, String> = BTreeMap::new();
    let host_objects = scenario.host_objects_with_config();
    let sides = [
        (
            ScenarioSide::Virtual,
            sandbox.virtual_(),
            &scenario.virtual_objects,
        ),
        (ScenarioSide::Host, sandbox.host(), &host_objects),
    ];
    for (side, server, objects) in sides {
        for obj in load_order(objects) {
            let mut obj = obj.clone();
            let declared = obj
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .map(str::to_string);
            substitute_uids(&mut obj, &uids);
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("uid");
                meta.remove("resourceVersion");
                meta.remove("creationTimestamp");
            }
            let what = describe(&obj);
            let fail = |message: String| ScenarioError::Apply {
                name: scenario.name.clone(),
                side: side.as_str(),
                what: what.clone(),
                message,
            };
            let kind = obj.get("kind").and_then(Value::as_str);
            if side == ScenarioSide::Host && kind == Some("Pod") {
                // Written whole, status included, so the simulated kubelet sees a pod that is
                // already scheduled and has its IP, and leaves it as the scenario describes it.
                server
                    .cluster()
                    .put_raw(crate::sandbox::cluster::kind("pods"), obj.clone());
            } else if kind == Some("Endpoints") || kind == Some("EndpointSlice") {
                // The endpoints controller (or the layout, for `default/kubernetes`) may
                // already have written this object for the Service loaded just before (a race
                // that shows under load): the scenario's copy replaces it instead of failing
                // with AlreadyExists.
                let id = if kind == Some("Endpoints") {
                    "endpoints"
                } else {
                    "endpointslices.discovery.k8s.io"
                };
                server
                    .cluster()
                    .put_raw(crate::sandbox::cluster::kind(id), obj.clone());
            } else {
                server
                    .apply_objects(std::slice::from_ref(&obj))
                    .map_err(|e| fail(e.to_string()))?;
            }
            if let Some(declared) = declared {
                let real = stored_uid(server.cluster(), &obj)
                    .ok_or_else(|| fail("the object is not there after writing it".to_string()))?;
                uids.insert(declared, real);
            }
        }
    }
    Ok(())
}

fn stored_uid(cluster: &crate::sandbox::Cluster, obj: &Value) -> Option<String> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
    let info = crate::sandbox::registry::kinds()
        .iter()
        .find(|k| k.api_version() == s("/apiVersion") && k.kind == s("/kind"))?;
    let stored = cluster
        .get(info, s("/metadata/namespace"), s("/metadata/name"))
        .ok()?;
    stored
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Replace every string equal to a key of `uids` by its value, anywhere in `v`.
pub fn substitute_uids(v: &mut Value, uids: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(real) = uids.get(s.as_str()) {
                *s = real.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute_uids(i, uids)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute_uids(i, uids)),
        _ => {}
    }
}

/// Order in which objects are created on one side: namespaces and nodes first (everything else
/// lives in them), then services before endpoints and pods (a real install's order), then the rest.
pub fn load_order(objs: &[Value]) -> Vec<&Value> {
    let rank = |o: &Value| match o.get("kind").and_then(Value::as_str).unwrap_or("") {
        "Namespace" | "Node" | "IngressClass" => 0,
        "Secret" | "ConfigMap" => 1,
        "Service" => 2,
        "Endpoints" | "EndpointSlice" => 3,
        "Pod" => 4,
        "Ingress" => 5,
        _ => 6,
    };
    let mut out: Vec<&Value> = objs.iter().collect();
    out.sort_by_key(|o| rank(o));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_quota_refuses_node_ports_like_the_quota_admission() {
        let q = HostQuota {
            name: "vc-my-vcluster".into(),
            hard: BTreeMap::from([("services.nodeports".to_string(), 0)]),
        };
        let svc = |ty: &str| {
            json!({"kind": "Service", "metadata": {"name": "admin-x-shop-x-my-vcluster"},
                   "spec": {"type": ty}})
        };
        assert_eq!(
            q.refusal(&svc("NodePort")).as_deref(),
            Some(
                "services \"admin-x-shop-x-my-vcluster\" is forbidden: exceeded quota: \
                 vc-my-vcluster, requested: services.nodeports=1, used: services.nodeports=0, \
                 limited: services.nodeports=0"
            )
        );
        assert!(q.refusal(&svc("LoadBalancer")).is_some());
        assert_eq!(q.refusal(&svc("ClusterIP")), None);
        assert_eq!(q.refusal(&json!({"kind": "Pod", "spec": {}})), None);
    }

    #[test]
    fn host_quota_rejects_what_it_cannot_enforce() {
        let text =
            |hard: &str| format!("description: x\nhostQuota: {{name: q, hard: {{{hard}}}}}\n");
        assert!(parse("q", &text("services.nodeports: 0")).is_ok());
        let e = parse("q", &text("services.nodeports: 2")).unwrap_err();
        assert!(e.to_string().contains("only a limit of 0"), "{e}");
        let e = parse("q", &text("pods: 0")).unwrap_err();
        assert!(e.to_string().contains("hostQuota.hard.pods"), "{e}");
    }

    #[test]
    fn every_listed_scenario_parses_and_the_default_is_listed() {
        for (name, text) in FILES {
            let s = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.description.is_empty(), "{name} has no description");
            assert!(s.snapshot().is_ok(), "{name} does not build a snapshot");
        }
        assert!(load(DEFAULT).is_ok());
    }

    #[test]
    fn every_file_in_the_directory_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/scenarios");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        // vcluster.yaml is the sandbox install's config, not a scenario.
        on_disk.retain(|f| f != "vcluster.yaml");
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(n, _)| format!("{n}.yaml")).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "add new scenario files to scenario::FILES");
    }

    #[test]
    fn unknown_scenario_names_the_available_ones() {
        let e = load("nope").unwrap_err().to_string();
        assert!(e.contains("unknown scenario \"nope\""), "{e}");
        assert!(e.contains("incident"), "{e}");
    }

    #[test]
    fn bad_objects_are_reported_with_their_position() {
        let text = "description: x\nvirtual:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: a}\n";
        let e = parse("t", text).unwrap_err().to_string();
        assert_eq!(
            e,
            "scenario t: virtual object #1 (Pod a): metadata.namespace is missing"
        );
        let text = "description: x\nhost:\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: a, namespace: b}\n";
        let e = parse("t", text).unwrap_err().to_string();
        assert!(e.contains("host object #1 (Deployment b/a)"), "{e}");
        let text = "description: x\nvirtual:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: a, namespace: b}\n    spec: {ports: 3}\n";
        let e = parse("t", text).unwrap_err().to_string();
        assert!(e.contains("virtual object #1 (Service b/a)"), "{e}");
        let e = parse("t", "description: [").unwrap_err().to_string();
        assert!(e.starts_with("scenario t: not valid YAML"), "{e}");
        let e = parse("t", "description: x\nsurprise: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("surprise"), "{e}");
    }

    #[test]
    fn uids_are_substituted_everywhere() {
        let mut v = json!({"metadata": {"annotations": {"a": "old"}, "ownerReferences": [{"uid": "old"}]}, "x": "keep"});
        let uids = BTreeMap::from([("old".to_string(), "new".to_string())]);
        substitute_uids(&mut v, &uids);
        assert_eq!(v["metadata"]["annotations"]["a"], "new");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "new");
        assert_eq!(v["x"], "keep");
    }

    #[test]
    fn config_secret_carries_the_config() {
        let s = load(DEFAULT).unwrap();
        let secret = s.config_secret();
        assert_eq!(secret["metadata"]["name"], "vc-config-my-vcluster");
        let snap = s.snapshot().unwrap();
        let stored = snap
            .host
            .secrets
            .values()
            .find(|s| s.metadata.name.as_deref() == Some("vc-config-my-vcluster"))
            .unwrap();
        let text = &stored.data.as_ref().unwrap()["config.yaml"].0;
        let back: VClusterConfig = serde_yaml::from_slice(text).unwrap();
        assert_eq!(back, s.config);
    }
}
