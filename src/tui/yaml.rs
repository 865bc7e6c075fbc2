//! YAML text of an object for the YAML view, with Secret data redacted before it is rendered.

use serde_json::Value;

/// Annotations that may carry a full copy of a Secret.
const COPY_ANNOTATIONS: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];

/// Replace Secret values (`data`, `stringData`) and annotation copies with a placeholder that
/// keeps the key and the size, so the operator sees which keys exist and nothing else.
pub fn redact(obj: &mut Value) {
    let is_secret = obj.get("kind").and_then(Value::as_str) == Some("Secret");
    if !is_secret {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                let len = v.as_str().map_or(0, str::len);
                *v = Value::String(format!("<redacted, {len} bytes>"));
            }
        }
    }
    if let Some(Value::Object(ann)) = obj.pointer_mut("/metadata/annotations") {
        for key in COPY_ANNOTATIONS {
            if let Some(v) = ann.get_mut(key) {
                *v = Value::String("<redacted>".to_string());
            }
        }
    }
}

/// The object as YAML lines, redacted. `managedFields` is dropped: it is noise for a human.
pub fn object_lines(obj: &Value) -> Vec<String> {
    let mut obj = obj.clone();
    redact(&mut obj);
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.remove("managedFields");
    }
    to_yaml_lines(&obj)
}

/// YAML lines of any JSON value; falls back to pretty JSON if YAML rendering fails.
pub fn to_yaml_lines(v: &Value) -> Vec<String> {
    let text = serde_yaml::to_string(v)
        .or_else(|_| serde_json::to_string_pretty(v))
        .unwrap_or_default();
    text.lines().map(str::to_string).collect()
}
