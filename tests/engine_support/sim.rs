//! An in-memory stand-in for two API servers: applies a Plan to a Snapshot the way the servers
//! would (IP and nodePort allocation, uids, resourceVersions, merge patches, recreate).

use super::put;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::Value;
use std::collections::BTreeMap;
use vinspect::cluster::snapshot::{Obj, ObjKey, ObjMap, Side, Snapshot};
use vinspect::engine::diff::apply_merge_patch;
use vinspect::engine::{Action, ObjKind, Plan, SideName};

#[derive(Debug, Default)]
pub struct Sim {
    pub counter: u64,
    pub errors: Vec<String>,
}

fn side_mut(s: &mut Snapshot, side: SideName) -> &mut Side {
    match side {
        SideName::Virtual => &mut s.virtual_side,
        SideName::Host => &mut s.host,
    }
}

impl Sim {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn free_ip(&mut self, side: &Side) -> String {
        loop {
            let n = self.next();
            let ip = format!("10.96.{}.{}", 100 + n / 250, n % 250 + 1);
            if !side
                .services
                .values()
                .any(|s| s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some(ip.as_str()))
            {
                return ip;
            }
        }
    }

    /// Apply every change in order; errors are recorded, not fatal (like a real apply).
    pub fn apply(&mut self, s: &mut Snapshot, plan: &Plan) {
        // Later patches of the same object carry the version the earlier write produced, as
        // `engine::apply` sends them.
        let mut chain = vinspect::engine::apply::RvChain::default();
        for planned in &plan.changes {
            let c = chain.next(planned);
            let c = c.as_ref();
            let errors = self.errors.len();
            let key = ObjKey::new(c.target.namespace.clone(), c.target.name.clone());
            match &c.action {
                Action::Create { object } => {
                    self.create(s, c.target.side, c.target.kind, object.clone())
                }
                Action::Patch {
                    patch,
                    resource_version,
                    ..
                } => self.patch(
                    s,
                    c.target.side,
                    c.target.kind,
                    &key,
                    patch,
                    resource_version.as_deref(),
                ),
                Action::Delete { uid, .. } => {
                    self.delete(s, c.target.side, c.target.kind, &key, uid.as_deref())
                }
                Action::Recreate { object, uid } => {
                    self.delete(s, c.target.side, c.target.kind, &key, uid.as_deref());
                    self.create(s, c.target.side, c.target.kind, object.clone());
                }
                Action::Bind { node } => {
                    let side = side_mut(s, c.target.side);
                    if let Some(p) = side.pods.get(&key) {
                        let mut p = p.as_ref().clone();
                        p.spec.get_or_insert_with(Default::default).node_name = Some(node.clone());
                        put(&mut side.pods, p);
                    }
                }
            }
            if self.errors.len() == errors
                && let Action::Patch { .. } = &c.action
            {
                let rv = rv_of(s, c.target.side, c.target.kind, &key);
                chain.record(planned, rv.as_deref());
            }
        }
        s.version += 1;
    }

    fn stamp(&mut self, v: &mut Value, new: bool) {
        let n = self.next();
        let meta = v
            .as_object_mut()
            .and_then(|o| o.get_mut("metadata"))
            .and_then(Value::as_object_mut);
        if let Some(m) = meta {
            if new {
                m.insert("uid".into(), Value::String(format!("sim-uid-{n}")));
            }
            m.insert("resourceVersion".into(), Value::String(format!("{n}")));
        }
    }

    fn create(&mut self, s: &mut Snapshot, side: SideName, kind: ObjKind, mut obj: Value) {
        self.stamp(&mut obj, true);
        let side = side_mut(s, side);
        match kind {
            ObjKind::Service => {
                let mut svc: Service = serde_json::from_value(obj).unwrap();
                let key = ObjKey::of(&svc);
                if side.services.contains_key(&key) {
                    self.errors.push(format!("create {key}: AlreadyExists"));
                    return;
                }
                let spec = svc.spec.get_or_insert_with(Default::default);
                let ty = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
                spec.type_ = Some(ty.clone());
                if ty != "ExternalName" {
                    match spec.cluster_ip.clone() {
                        Some(ip) if ip == "None" => {}
                        Some(ip) if !ip.is_empty() => {
                            let taken = side.services.values().any(|o| {
                                o.spec.as_ref().and_then(|s| s.cluster_ip.as_deref())
                                    == Some(ip.as_str())
                            });
                            if taken {
                                self.errors.push(format!(
                                    "create {key}: ClusterIP {ip} already allocated"
                                ));
                                return;
                            }
                        }
                        _ => spec.cluster_ip = Some(self.free_ip(side)),
                    }
                    spec.cluster_ips = spec.cluster_ip.clone().map(|ip| vec![ip]);
                }
                if ty == "NodePort" || ty == "LoadBalancer" {
                    for p in spec.ports.iter_mut().flatten() {
                        if p.node_port.is_none() {
                            p.node_port = Some(30000 + (self.counter % 2000) as i32);
                            self.counter += 1;
                        }
                    }
                }
                put(&mut side.services, svc);
            }
            ObjKind::Pod => ins::<Pod>(&mut side.pods, obj, &mut self.errors),
            ObjKind::Endpoints => ins::<Endpoints>(&mut side.endpoints, obj, &mut self.errors),
            ObjKind::EndpointSlice => {
                ins::<EndpointSlice>(&mut side.endpoint_slices, obj, &mut self.errors)
            }
            ObjKind::Ingress => ins::<Ingress>(&mut side.ingresses, obj, &mut self.errors),
            ObjKind::Namespace => ins::<Namespace>(&mut side.namespaces, obj, &mut self.errors),
        }
    }

    fn patch(
        &mut self,
        s: &mut Snapshot,
        side: SideName,
        kind: ObjKind,
        key: &ObjKey,
        patch: &Value,
        rv: Option<&str>,
    ) {
        let side = side_mut(s, side);
        let n = self.next();
        let r = match kind {
            ObjKind::Service => pat(&mut side.services, key, patch, rv, n),
            ObjKind::Pod => pat(&mut side.pods, key, patch, rv, n),
            ObjKind::Endpoints => pat(&mut side.endpoints, key, patch, rv, n),
            ObjKind::EndpointSlice => pat(&mut side.endpoint_slices, key, patch, rv, n),
            ObjKind::Ingress => pat(&mut side.ingresses, key, patch, rv, n),
            ObjKind::Namespace => pat(&mut side.namespaces, key, patch, rv, n),
        };
        if let Err(e) = r {
            self.errors.push(e);
        }
    }

    fn delete(
        &mut self,
        s: &mut Snapshot,
        side: SideName,
        kind: ObjKind,
        key: &ObjKey,
        uid: Option<&str>,
    ) {
        let side = side_mut(s, side);
        let r = match kind {
            ObjKind::Service => del(&mut side.services, key, uid),
            ObjKind::Pod => del(&mut side.pods, key, uid),
            ObjKind::Endpoints => del(&mut side.endpoints, key, uid),
            ObjKind::EndpointSlice => del(&mut side.endpoint_slices, key, uid),
            ObjKind::Ingress => del(&mut side.ingresses, key, uid),
            ObjKind::Namespace => del(&mut side.namespaces, key, uid),
        };
        if let Err(e) = r {
            self.errors.push(e);
        }
    }
}

fn rv_of(s: &mut Snapshot, side: SideName, kind: ObjKind, key: &ObjKey) -> Option<String> {
    let side = side_mut(s, side);
    let rv = |m: &kube::api::ObjectMeta| m.resource_version.clone();
    match kind {
        ObjKind::Service => side.services.get(key).and_then(|o| rv(&o.metadata)),
        ObjKind::Pod => side.pods.get(key).and_then(|o| rv(&o.metadata)),
        ObjKind::Endpoints => side.endpoints.get(key).and_then(|o| rv(&o.metadata)),
        ObjKind::EndpointSlice => side.endpoint_slices.get(key).and_then(|o| rv(&o.metadata)),
        ObjKind::Ingress => side.ingresses.get(key).and_then(|o| rv(&o.metadata)),
        ObjKind::Namespace => side.namespaces.get(key).and_then(|o| rv(&o.metadata)),
    }
}

fn ins<K: kube::Resource + serde::de::DeserializeOwned + serde::Serialize + Default>(
    m: &mut ObjMap<K>,
    obj: Value,
    errors: &mut Vec<String>,
) {
    let o: K = serde_json::from_value(obj).unwrap();
    let key = ObjKey::of(&o);
    if m.contains_key(&key) {
        errors.push(format!("create {key}: AlreadyExists"));
        return;
    }
    m.insert(key, Obj::new(o));
}

fn pat<K>(
    m: &mut ObjMap<K>,
    key: &ObjKey,
    patch: &Value,
    rv: Option<&str>,
    n: u64,
) -> Result<(), String>
where
    K: kube::Resource + serde::Serialize + serde::de::DeserializeOwned + Default,
{
    let Some(cur) = m.get(key) else {
        return Err(format!("patch {key}: NotFound"));
    };
    if let Some(rv) = rv
        && cur.meta().resource_version.as_deref() != Some(rv)
    {
        return Err(format!("patch {key}: Conflict"));
    }
    let mut v = serde_json::to_value(cur.as_ref()).unwrap();
    apply_merge_patch(&mut v, patch);
    v["metadata"]["resourceVersion"] = Value::String(n.to_string());
    let o: K = serde_json::from_value(v).map_err(|e| format!("patch {key}: {e}"))?;
    m.insert(key.clone(), Obj::new(o));
    Ok(())
}

fn del<K: kube::Resource + serde::Serialize + serde::de::DeserializeOwned + Default>(
    m: &mut ObjMap<K>,
    key: &ObjKey,
    uid: Option<&str>,
) -> Result<(), String> {
    match m.get(key) {
        None => Err(format!("delete {key}: NotFound")),
        Some(o) if uid.is_some() && o.meta().uid.as_deref() != uid => {
            Err(format!("delete {key}: uid precondition failed"))
        }
        Some(_) => {
            m.remove(key);
            Ok(())
        }
    }
}

/// Labels helper for tests.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
