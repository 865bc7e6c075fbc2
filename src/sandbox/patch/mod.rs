//! PATCH bodies: the four media types the apiserver accepts.

pub mod apply;
pub mod strategic;

use serde_json::Value;

/// The patch media types; anything else is answered with 415.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Parses a body as JSON, falling back to YAML (apply bodies may be either).
pub fn parse_json_or_yaml(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(je) => {
            let text = std::str::from_utf8(body).map_err(|_| je.to_string())?;
            serde_yaml::from_str::<Value>(text).map_err(|ye| format!("{je}; as YAML: {ye}"))
        }
    }
}

/// Why a patch could not be applied: a malformed patch (400) or a failed `test` or
/// inapplicable operation (422).
#[derive(Debug, Clone, PartialEq)]
pub enum PatchFailure {
    Malformed(String),
    Unprocessable(String),
}

/// Applies a JSON, merge or strategic patch to `target`.
pub fn apply_patch(ptype: PatchType, target: &mut Value, body: &[u8]) -> Result<(), PatchFailure> {
    match ptype {
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| PatchFailure::Malformed(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(target, &p).map_err(|e| PatchFailure::Unprocessable(e.to_string()))
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| PatchFailure::Malformed(format!("invalid merge patch: {e}")))?;
            if !p.is_object() {
                return Err(PatchFailure::Malformed(
                    "merge patch must be a JSON object".into(),
                ));
            }
            json_patch::merge(target, &p);
            Ok(())
        }
        PatchType::Strategic => {
            let p: Value = serde_json::from_slice(body).map_err(|e| {
                PatchFailure::Malformed(format!("invalid strategic merge patch: {e}"))
            })?;
            strategic::apply(target, &p).map_err(|e| PatchFailure::Malformed(e.0))
        }
        PatchType::Apply => Err(PatchFailure::Malformed(
            "apply patches are handled by server-side apply".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(PatchType::from_content_type("text/plain"), None);
    }

    #[test]
    fn json_patch_test_failure_is_unprocessable() {
        let mut v = json!({"metadata": {"finalizers": ["a"]}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":["b"]}]"#;
        assert!(matches!(
            apply_patch(PatchType::Json, &mut v, body),
            Err(PatchFailure::Unprocessable(_))
        ));
        assert!(matches!(
            apply_patch(PatchType::Json, &mut v, b"{"),
            Err(PatchFailure::Malformed(_))
        ));
    }

    #[test]
    fn yaml_fallback() {
        assert_eq!(parse_json_or_yaml(b"a: 1").unwrap(), json!({"a": 1}));
        assert!(parse_json_or_yaml(b"\xff\xfe").is_err());
    }
}
