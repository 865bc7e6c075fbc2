//! Server-side apply, minimal form: the applied configuration is merged like a strategic patch
//! without directives, and fields this manager applied last time but no longer applies are
//! removed. Ownership conflicts between managers are not modelled.

use serde_json::{Map, Value};

use super::strategic::{ListStrategy, strategy};

/// Merges `applied` into `live`, first pruning what `previous` (this manager's last applied
/// configuration) had and `applied` no longer has.
pub fn apply(live: &mut Value, previous: Option<&Value>, applied: &Value) {
    if let (Some(prev), Value::Object(l), Value::Object(a)) = (previous, &mut *live, applied)
        && let Value::Object(p) = prev
    {
        prune_map(l, p, a, "");
    }
    merge(live, applied, "");
}

fn prune_map(
    live: &mut Map<String, Value>,
    prev: &Map<String, Value>,
    new: &Map<String, Value>,
    field: &str,
) {
    for (k, pv) in prev {
        if matches!(k.as_str(), "apiVersion" | "kind") {
            continue;
        }
        match new.get(k) {
            None => {
                live.remove(k);
            }
            Some(nv) => match (live.get_mut(k), pv, nv) {
                (Some(Value::Object(l)), Value::Object(p), Value::Object(n)) => {
                    prune_map(l, p, n, k)
                }
                (Some(Value::Array(l)), Value::Array(p), Value::Array(n)) => {
                    if let ListStrategy::Key(key) = strategy(field, k) {
                        prune_list(l, p, n, k, key);
                    }
                }
                _ => {}
            },
        }
    }
}

fn prune_list(live: &mut Vec<Value>, prev: &[Value], new: &[Value], field: &str, key: &str) {
    for p in prev {
        let Some(id) = p.get(key) else { continue };
        let in_new = new.iter().find(|n| n.get(key) == Some(id));
        match in_new {
            None => live.retain(|l| l.get(key) != Some(id)),
            Some(n) => {
                if let (Some(Value::Object(l)), Value::Object(pm), Value::Object(nm)) =
                    (live.iter_mut().find(|l| l.get(key) == Some(id)), p, n)
                {
                    prune_map(l, pm, nm, field);
                }
            }
        }
    }
}

fn merge(live: &mut Value, applied: &Value, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                if av.is_null() {
                    l.remove(k);
                    continue;
                }
                match l.get_mut(k) {
                    Some(lv @ Value::Object(_)) if av.is_object() => merge(lv, av, k),
                    Some(Value::Array(ll)) if av.is_array() => merge_list(ll, av, field, k),
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn merge_list(live: &mut Vec<Value>, applied: &Value, parent: &str, field: &str) {
    let Value::Array(items) = applied else { return };
    match strategy(parent, field) {
        ListStrategy::Key(key) => {
            let mut out = Vec::with_capacity(items.len());
            // Applied order first, then items other managers own, in their old order.
            for a in items {
                let id = a.get(key);
                match live.iter().position(|l| id.is_some() && l.get(key) == id) {
                    Some(i) => {
                        let mut l = live.remove(i);
                        merge(&mut l, a, field);
                        out.push(l);
                    }
                    None => out.push(a.clone()),
                }
            }
            out.append(live);
            *live = out;
        }
        ListStrategy::Set => {
            for a in items {
                if !live.contains(a) {
                    live.push(a.clone());
                }
            }
        }
        ListStrategy::Replace => *live = items.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dropped_fields_of_the_same_manager_are_removed() {
        let first = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "c", "image": "i", "env": [{"name": "X", "value": "1"}]}]}});
        let mut live = json!({"metadata": {"name": "p", "labels": {"other": "keep"}}, "spec": {}});
        apply(&mut live, None, &first);
        assert_eq!(
            live["metadata"]["labels"],
            json!({"other": "keep", "a": "1", "b": "2"})
        );
        let second = json!({"metadata": {"labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "j"}]}});
        apply(&mut live, Some(&first), &second);
        assert_eq!(
            live["metadata"]["labels"],
            json!({"other": "keep", "a": "1"})
        );
        assert_eq!(
            live["spec"]["containers"],
            json!([{"name": "c", "image": "j"}])
        );
    }
}
