//! Request body checks: names, kind/apiVersion, unknown fields (typed round trip) and a few
//! required fields the apiserver insists on.

use serde_json::Value;

use super::error::ApiError;
use super::registry::KindInfo;
use crate::vcluster::naming::{is_dns1123_label, is_dns1123_subdomain};

/// `fieldValidation` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "" | "Warn" => Ok(Self::Warn),
            "Ignore" => Ok(Self::Ignore),
            "Strict" => Ok(Self::Strict),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\" or \"Strict\", got {other:?}"
            ))),
        }
    }
}

/// Checks apiVersion/kind when present (missing ones are filled in).
pub fn check_type(kind: &KindInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    };
    let want = kind.api_version();
    match m.get("apiVersion") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if *v == want => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({want})",
                v.as_str().unwrap_or("?")
            )));
        }
    }
    match m.get("kind") {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == kind.kind => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                v.as_str().unwrap_or("?"),
                kind.kind
            )));
        }
    }
    m.insert("apiVersion".into(), Value::String(want));
    m.insert("kind".into(), Value::String(kind.kind.to_string()));
    if !m.get("metadata").is_some_and(Value::is_object) {
        if m.get("metadata").is_some_and(|v| !v.is_null()) {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        m.insert("metadata".into(), Value::Object(Default::default()));
    }
    Ok(())
}

/// The name rule per kind: namespaces and services are DNS labels, the rest DNS subdomains.
pub fn check_name(kind: &KindInfo, name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::invalid(
            kind,
            name,
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    }
    let (ok, rule) = match kind.id {
        "namespaces" => (is_dns1123_label(name), "RFC 1123 label"),
        "services" => (
            is_dns1123_label(name) && name.as_bytes()[0].is_ascii_lowercase(),
            "RFC 1035 label",
        ),
        _ => (is_dns1123_subdomain(name), "RFC 1123 subdomain"),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            kind,
            name,
            "metadata.name",
            &format!(
                "Invalid value: {name:?}: a lowercase {rule} must consist of lower case alphanumeric characters or '-'"
            ),
        ))
    }
}

/// Round-trips a body through its typed form. Returns the normalised body and the unknown
/// fields (as `spec.foo` paths) that the typed form dropped.
pub fn roundtrip(kind: &KindInfo, obj: Value) -> Result<(Value, Vec<String>), ApiError> {
    let out = (kind.roundtrip)(&obj).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            kind.kind, kind.version, kind.kind
        ))
    })?;
    let mut unknown = Vec::new();
    diff_unknown(&obj, &out, &mut String::new(), &mut unknown);
    Ok((out, unknown))
}

/// Paths present in `input` but dropped by the typed round trip. `path` is one buffer grown
/// and cut back while descending (a pod with thousands of env vars would otherwise format a
/// path string per field of every create).
fn diff_unknown(input: &Value, output: &Value, path: &mut String, out: &mut Vec<String>) {
    use std::fmt::Write as _;
    let len = path.len();
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                if v.is_null() {
                    continue;
                }
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                match o.get(k) {
                    None => out.push(path.clone()),
                    Some(ov) => diff_unknown(v, ov, path, out),
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (idx, (iv, ov)) in i.iter().zip(o).enumerate() {
                let _ = write!(path, "[{idx}]");
                diff_unknown(iv, ov, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Unknown fields under the chosen validation mode: an error, warnings, or nothing.
pub fn unknown_fields(mode: FieldValidation, unknown: &[String]) -> Result<Vec<String>, ApiError> {
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    let msgs: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match mode {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(msgs),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            msgs.join(", ")
        ))),
    }
}

/// Label keys and values, and annotation keys, as the apiserver validates them.
fn check_metadata(kind: &KindInfo, name: &str, obj: &Value) -> Result<(), ApiError> {
    use super::selectors::{valid_label_key, valid_label_value};
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if !valid_label_key(k) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "metadata.labels",
                    &format!(
                        "Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
                    ),
                ));
            }
            let v = v.as_str().unwrap_or("");
            if !valid_label_value(v) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "metadata.labels",
                    &format!(
                        "Invalid value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)"
                    ),
                ));
            }
        }
    }
    if let Some(ann) = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        let mut total = 0usize;
        for (k, v) in ann {
            if !valid_label_key(&k.to_ascii_lowercase()) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "metadata.annotations",
                    &format!(
                        "Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"
                    ),
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            return Err(ApiError::invalid(
                kind,
                name,
                "metadata.annotations",
                "Too long: must have at most 262144 bytes",
            ));
        }
    }
    Ok(())
}

/// The handful of required fields clients most often get wrong.
pub fn check_required(kind: &KindInfo, obj: &Value) -> Result<(), ApiError> {
    let name = super::store::meta_str(obj, "name");
    check_metadata(kind, name, obj)?;
    match kind.id {
        "pods" => {
            let cs = obj.pointer("/spec/containers").and_then(Value::as_array);
            if cs.is_none_or(|c| c.is_empty()) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "spec.containers",
                    "Required value",
                ));
            }
            for (i, c) in cs.into_iter().flatten().enumerate() {
                let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                if !is_dns1123_label(cname) {
                    return Err(ApiError::invalid(
                        kind,
                        name,
                        &format!("spec.containers[{i}].name"),
                        &format!(
                            "Invalid value: {cname:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
                        ),
                    ));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(ApiError::invalid(
                        kind,
                        name,
                        &format!("spec.containers[{i}].image"),
                        "Required value",
                    ));
                }
            }
        }
        "services" => {
            let ty = obj
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
            if ty != "ExternalName" && !headless && ports.is_none_or(|p| p.is_empty()) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "spec.ports",
                    "Required value",
                ));
            }
            for (i, p) in ports.into_iter().flatten().enumerate() {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&port) {
                    return Err(ApiError::invalid(
                        kind,
                        name,
                        &format!("spec.ports[{i}].port"),
                        &format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
                    ));
                }
            }
            if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&ty) {
                return Err(ApiError::invalid(
                    kind,
                    name,
                    "spec.type",
                    &format!(
                        "Unsupported value: {ty:?}: supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
                    ),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::registry::by_id;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_with_paths() {
        let pods = by_id("pods").unwrap();
        let (_, unknown) = roundtrip(
            pods,
            json!({"metadata": {"name": "a"}, "spec": {"foo": 1, "containers": [{"name": "c", "image": "i", "bar": 2}]}}),
        )
        .unwrap();
        assert_eq!(unknown, vec!["spec.containers[0].bar", "spec.foo"]);
        let e = unknown_fields(FieldValidation::Strict, &unknown).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message
                .starts_with("strict decoding error: unknown field")
        );
    }

    #[test]
    fn type_errors_are_400_and_names_are_checked() {
        let pods = by_id("pods").unwrap();
        assert_eq!(roundtrip(pods, json!({"spec": 5})).unwrap_err().code, 400);
        assert_eq!(check_name(pods, "Bad_Name").unwrap_err().code, 422);
        assert!(check_name(pods, "a.b-c").is_ok());
        assert!(check_name(by_id("services").unwrap(), "1abc").is_err());
        let cms = by_id("configmaps").unwrap();
        let bad = json!({"metadata": {"name": "a", "labels": {"bad key!": "v"}}});
        assert_eq!(check_required(cms, &bad).unwrap_err().code, 422);
        let bad = json!({"metadata": {"name": "a", "labels": {"k": "x".repeat(64)}}});
        assert_eq!(check_required(cms, &bad).unwrap_err().code, 422);
        let ok = json!({"metadata": {"name": "a", "labels": {"vcluster.loft.sh/managed-by": "demo", "e": ""}, "annotations": {"Some/Key_x": "v"}}});
        assert!(check_required(cms, &ok).is_ok());
        let mut wrong = json!({"kind": "Service"});
        assert_eq!(check_type(pods, &mut wrong).unwrap_err().code, 400);
    }
}
