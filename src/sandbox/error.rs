//! Kubernetes `Status` errors. Every error carries both the HTTP code and the `reason`, because
//! kube's `is_not_found()` and friends match on the reason only.

use serde_json::{Value, json};

use super::registry::KindInfo;

/// One failed API request, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    fn with_details(mut self, kind: &KindInfo, name: &str) -> Self {
        let mut d = json!({"name": name, "kind": kind.resource});
        if !kind.group.is_empty() {
            d["group"] = json!(kind.group);
        }
        self.details = d;
        self
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", msg)
    }

    pub fn not_found(kind: &KindInfo, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", kind.qualified(), name),
        )
        .with_details(kind, name)
    }

    pub fn namespace_not_found(ns: &str) -> Self {
        Self::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
            .with_details_raw(json!({"name": ns, "kind": "namespaces"}))
    }

    pub fn unknown_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(kind: &KindInfo, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", kind.qualified(), name),
        )
        .with_details(kind, name)
    }

    pub fn conflict(kind: &KindInfo, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                kind.qualified(),
                name,
                why
            ),
        )
        .with_details(kind, name)
    }

    pub fn modified(kind: &KindInfo, name: &str) -> Self {
        Self::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one field cause, worded like the apiserver: `Pod "x" is invalid: spec.foo: msg`.
    pub fn invalid(kind: &KindInfo, name: &str, field: &str, msg: &str) -> Self {
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{} \"{}\" is invalid: {}: {}", kind.kind, name, field, msg),
        )
        .with_details(kind, name);
        e.details["kind"] = json!(kind.kind);
        e.details["causes"] =
            json!([{"reason": "FieldValueInvalid", "message": msg, "field": field}]);
        e
    }

    pub fn expired(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", msg)
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new(500, "InternalError", msg)
    }

    pub fn with_details_raw(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A `Status` of kind Success, as returned for deletes of most kinds.
pub fn success_status(kind: &KindInfo, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": kind.resource, "uid": uid});
    if !kind.group.is_empty() {
        details["group"] = json!(kind.group);
    }
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success", "details": details
    })
}
