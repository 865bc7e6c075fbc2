//! Strategic merge patch (the `kubectl apply` wire format) over plain JSON.
//!
//! Merge keys come from the Kubernetes OpenAPI `x-kubernetes-patch-merge-key` declarations for
//! the kinds the sandbox serves; a list without a strategy is replaced whole.

use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Merge items by this key.
    Key(&'static str),
    /// A set of primitives (finalizers).
    Set,
    Replace,
}

/// The strategy of the list at `field`, whose parent field is `parent` (`""` at the top).
pub fn strategy(parent: &str, field: &str) -> ListStrategy {
    use ListStrategy::*;
    match (parent, field) {
        (_, "containers" | "initContainers" | "ephemeralContainers") => Key("name"),
        ("containers" | "initContainers" | "ephemeralContainers", "ports") => Key("containerPort"),
        ("spec", "ports") => Key("port"),
        (_, "env") => Key("name"),
        (_, "volumes") => Key("name"),
        (_, "volumeMounts") => Key("mountPath"),
        (_, "volumeDevices") => Key("devicePath"),
        (_, "imagePullSecrets") => Key("name"),
        (_, "hostAliases") => Key("ip"),
        (_, "topologySpreadConstraints") => Key("topologyKey"),
        (_, "resourceClaims" | "schedulingGates") => Key("name"),
        ("status", "conditions") => Key("type"),
        ("metadata", "finalizers") => Set,
        ("metadata", "ownerReferences") => Key("uid"),
        _ => Replace,
    }
}

/// An error in the patch document itself (400).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError(pub String);

/// Applies a strategic merge patch to `target` in place.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError(
            "strategic merge patch must be a JSON object".into(),
        ));
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        merge_map(t, p, "")?;
    }
    Ok(())
}

fn strip(v: &Value, parent: &str) -> Result<Value, PatchError> {
    // A patch value for a field the target lacks: merge it into nothing, which drops directives.
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            merge_map(&mut out, m, parent)?;
            Ok(Value::Object(out))
        }
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(|i| strip(i, parent))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other.clone()),
    }
}

fn merge_map(
    t: &mut Map<String, Value>,
    p: &Map<String, Value>,
    field: &str,
) -> Result<(), PatchError> {
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            t.clear();
            for (k, v) in p {
                if !k.starts_with('$') {
                    t.insert(k.clone(), strip(v, k)?);
                }
            }
            return Ok(());
        }
        Some("delete") => {
            t.clear();
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(PatchError(format!("unknown patch type: {other}"))),
    }
    if let Some(keys) = p.get("$retainKeys") {
        let keys: Vec<&str> = keys
            .as_array()
            .ok_or_else(|| PatchError("$retainKeys must be a list".into()))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        t.retain(|k, _| keys.contains(&k.as_str()));
    }
    for (k, v) in p {
        if let Some(f) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = t.get_mut(f) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (t.get_mut(k), v) {
            (Some(Value::Object(tm)), Value::Object(pm)) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    t.remove(k);
                } else {
                    merge_map(tm, pm, k)?;
                }
            }
            (Some(Value::Array(tl)), Value::Array(pl)) => {
                merge_list(tl, pl, field, k)?;
            }
            (_, Value::Object(pm))
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") =>
            {
                t.remove(k);
            }
            _ => {
                t.insert(k.clone(), strip(v, k)?);
            }
        }
    }
    for (k, order) in p {
        if let Some(f) = k.strip_prefix("$setElementOrder/")
            && let (Some(Value::Array(items)), Some(order)) = (t.get_mut(f), order.as_array())
        {
            let key = match strategy(field, f) {
                ListStrategy::Key(key) => Some(key),
                _ => None,
            };
            reorder(items, order, key);
        }
    }
    Ok(())
}

fn item_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key)
}

fn merge_list(
    t: &mut Vec<Value>,
    p: &[Value],
    parent: &str,
    field: &str,
) -> Result<(), PatchError> {
    let strategy = strategy(parent, field);
    if p.iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *t = p
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(|i| strip(i, field))
            .collect::<Result<_, _>>()?;
        return Ok(());
    }
    match strategy {
        ListStrategy::Replace => {
            *t = p
                .iter()
                .map(|i| strip(i, field))
                .collect::<Result<_, _>>()?;
        }
        ListStrategy::Set => {
            for i in p {
                if !t.contains(i) {
                    t.push(i.clone());
                }
            }
        }
        ListStrategy::Key(key) => {
            for item in p {
                let Some(k) = item_key(item, key) else {
                    // An item without its merge key cannot be matched; the apiserver rejects it.
                    return Err(PatchError(format!(
                        "map: {item} does not contain declared merge key: {key}"
                    )));
                };
                let directive = item.get("$patch").and_then(Value::as_str);
                let pos = t.iter().position(|x| item_key(x, key) == Some(k));
                match (directive, pos) {
                    (Some("delete"), Some(i)) => {
                        t.remove(i);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(i)) => {
                        if let (Value::Object(tm), Value::Object(pm)) = (&mut t[i], item) {
                            merge_map(tm, pm, field)?;
                        }
                    }
                    (_, None) => t.push(strip(item, field)?),
                }
            }
        }
    }
    Ok(())
}

fn reorder(items: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let mut rest: Vec<Value> = std::mem::take(items);
    for o in order {
        let want = id(o);
        if let Some(i) = rest.iter().position(|x| id(x) == want) {
            items.push(rest.remove(i));
        }
    }
    items.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubectl_apply_shape() {
        let mut live = json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
            "spec": {"containers": [
                {"name": "web", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 81, "protocol": "TCP"}]},
                {"name": "side", "image": "busybox"}]}});
        let patch = json!({
            "metadata": {"labels": {"b": null}, "$deleteFromPrimitiveList/finalizers": ["x"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                "containers": [{"name": "web",
                    "$setElementOrder/env": [{"name": "B"}],
                    "env": [{"$patch": "delete", "name": "A"}],
                    "ports": [{"$patch": "delete", "containerPort": 80}],
                    "image": "nginx:2"}]}});
        apply(&mut live, &patch).unwrap();
        assert_eq!(live["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(live["metadata"]["finalizers"], json!([]));
        assert_eq!(live["spec"]["containers"][0]["name"], "side");
        let web = &live["spec"]["containers"][1];
        assert_eq!(web["image"], "nginx:2");
        assert_eq!(web["env"], json!([{"name": "B", "value": "2"}]));
        assert_eq!(
            web["ports"],
            json!([{"containerPort": 81, "protocol": "TCP"}])
        );
        assert!(!live.to_string().contains('$'));
    }

    #[test]
    fn replace_and_new_fields_drop_directives() {
        let mut live = json!({"spec": {"tolerations": [{"key": "a"}]}});
        let patch = json!({"spec": {"tolerations": [{"key": "b"}],
            "volumes": [{"name": "v", "$retainKeys": ["name"]}],
            "containers": [{"name": "c", "$setElementOrder/env": [{"name": "x"}], "env": [{"name": "x"}]}]}});
        apply(&mut live, &patch).unwrap();
        assert_eq!(live["spec"]["tolerations"], json!([{"key": "b"}]));
        assert!(!live.to_string().contains('$'), "{live}");
        assert!(apply(&mut live, &json!([1])).is_err());
        assert!(
            apply(
                &mut live,
                &json!({"spec": {"containers": [{"image": "x"}]}})
            )
            .is_err()
        );
    }
}
