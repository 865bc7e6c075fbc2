//! Scenario files: YAML lists of objects per side, compiled into the binary. This issue ships
//! none yet; [`SCENARIOS`] is where later work registers them (`include_str!`).

use serde_json::Value;

use super::cluster::{Cluster, Sub, WriteOpts};
use super::error::ApiError;
use super::registry;
use super::store::meta_str;

/// One scenario: objects for the host and for the virtual cluster.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    /// YAML: a list of objects (or a multi-document stream).
    pub host: &'static str,
    pub virtual_: &'static str,
}

/// Registered scenarios, selectable with `vinspect sandbox --scenario NAME`.
pub const SCENARIOS: &[Scenario] = &[];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Parses a scenario side: a YAML list of objects, or `---`-separated documents.
pub fn parse(yaml: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = Value::deserialize(doc).map_err(|e| e.to_string())?;
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn kind_of(obj: &Value) -> Result<&'static registry::KindInfo, ApiError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    registry::kinds()
        .iter()
        .find(|k| k.api_version() == api_version && k.kind == kind)
        .ok_or_else(|| ApiError::bad_request(format!("no resource serves {api_version} {kind}")))
}

/// Creates each object, or replaces it when it exists; a `status` in the object is written too.
pub fn apply(cluster: &Cluster, objects: &[Value]) -> Result<(), ApiError> {
    let o = WriteOpts::default();
    for obj in objects {
        let kind = kind_of(obj)?;
        let ns = meta_str(obj, "namespace").to_string();
        let ns = if ns.is_empty() && kind.namespaced {
            "default".to_string()
        } else {
            ns
        };
        let name = meta_str(obj, "name").to_string();
        let url_ns = kind.namespaced.then_some(ns.as_str());
        let replace = || {
            let mut body = obj.clone();
            if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            cluster.update(kind, &ns, &name, body, Sub::Main, &o)
        };
        let written = match cluster.get(kind, &ns, &name) {
            Ok(_) => replace()?,
            // A controller (endpoints for a new Service) may create it between the look and
            // the create: then it is replaced like one that was there.
            Err(_) => match cluster.create(kind, url_ns, obj.clone(), &o) {
                Err(e) if e.code == 409 => replace()?,
                other => other?,
            },
        };
        if kind.status && obj.get("status").is_some() {
            let mut st = written.object.clone();
            st["status"] = obj["status"].clone();
            if let Some(m) = st.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            cluster.update(kind, &ns, &name, st, Sub::Status, &o)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_list_and_stream() {
        let a = parse("- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n").unwrap();
        assert_eq!(a.len(), 2);
        let b = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n").unwrap();
        assert_eq!(b.len(), 2);
        assert!(parse(": : :").is_err());
    }
}
