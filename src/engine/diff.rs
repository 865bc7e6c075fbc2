//! Minimal JSON merge patches (RFC 7386) and the field paths they touch.

use serde_json::{Map, Value};

/// The smallest merge patch turning `from` into `to`; `None` when they are equal.
///
/// Arrays are replaced whole (merge patch has no array operations); a key missing in `to`
/// becomes `null`. Callers pass objects that differ only in fields the engine owns, so the
/// patch never touches server-set fields.
pub fn merge_patch(from: &Value, to: &Value) -> Option<Value> {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = Map::new();
            for (k, bv) in b {
                match a.get(k) {
                    Some(av) => {
                        if let Some(p) = merge_patch(av, bv) {
                            out.insert(k.clone(), p);
                        }
                    }
                    None => {
                        if !bv.is_null() {
                            out.insert(k.clone(), strip_nulls(bv));
                        }
                    }
                }
            }
            for (k, av) in a {
                if !b.contains_key(k) && !av.is_null() {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ if from == to => None,
        // A null in `to` would mean "delete" in a merge patch: that is what we want.
        _ => Some(strip_nulls(to)),
    }
}

/// Nulls inside a newly added object would be read as deletions of nothing; drop them.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Apply a merge patch (RFC 7386) in place: what the API server does with it.
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        if let Value::Object(t) = target {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Dotted paths a patch touches, down to `depth` levels (`spec.selector`, `metadata.labels`).
pub fn patch_paths(patch: &Value, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    collect(patch, "", depth, &mut out);
    out
}

fn collect(v: &Value, prefix: &str, depth: usize, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if depth > 0 && !m.is_empty() => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect(v, &p, depth - 1, out);
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.push(prefix.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_is_minimal_and_round_trips() {
        let a =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": [1, 2], "y": 1}});
        let b = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"x": [1], "y": 1}});
        let p = merge_patch(&a, &b).unwrap();
        assert_eq!(
            p,
            json!({"metadata": {"labels": {"b": null, "c": "3"}}, "spec": {"x": [1]}})
        );
        let mut c = a.clone();
        apply_merge_patch(&mut c, &p);
        assert_eq!(c, b);
        assert_eq!(merge_patch(&a, &a), None);
        assert_eq!(patch_paths(&p, 2), vec!["metadata.labels", "spec.x"]);
    }
}
