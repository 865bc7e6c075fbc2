//! `POST serviceaccounts/{name}/token` (TokenRequest, authentication.k8s.io/v1) and the
//! `default` ServiceAccount every namespace gets.
//!
//! The token is opaque and deterministic (a digest of what it is bound to), not a signed JWT:
//! nothing in the sandbox verifies tokens, and a stable value keeps tests reproducible. The
//! response is shaped like the apiserver's: the spec echoed with its defaults filled in, and
//! `status.token` plus `status.expirationTimestamp`.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::cluster::{Cluster, kind};
use super::error::ApiError;
use super::store::meta_str;

/// What the apiserver issues when a request names no audience (its own issuer).
pub const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
/// `spec.expirationSeconds` when a request leaves it out (the apiserver's default).
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// The apiserver refuses shorter lifetimes.
const MIN_EXPIRATION_SECONDS: i64 = 600;

impl Cluster {
    /// Mints a token for ServiceAccount `ns/name`, bound to the object the request names.
    pub fn token_request(
        &self,
        ns: &str,
        name: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let sa_kind = kind("serviceaccounts");
        let sa = self.get(sa_kind, ns, name)?;
        if !body.is_object() {
            return Err(ApiError::bad_request("TokenRequest must be a JSON object"));
        }
        let invalid = |field: &str, msg: &str| {
            let mut e = ApiError::new(
                422,
                "Invalid",
                format!("TokenRequest.authentication.k8s.io \"{name}\" is invalid: {field}: {msg}"),
            );
            e.details = json!({"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                "causes": [{"reason": "FieldValueInvalid", "message": msg, "field": field}]});
            e
        };
        let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
        let audiences: Vec<String> = match spec.get("audiences") {
            None | Some(Value::Null) => vec![DEFAULT_AUDIENCE.to_string()],
            Some(Value::Array(a)) if a.is_empty() => vec![DEFAULT_AUDIENCE.to_string()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid("spec.audiences", "must be a list of strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("spec.audiences", "must be a list of strings")),
        };
        let expiration = match spec.get("expirationSeconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| invalid("spec.expirationSeconds", "must be an integer"))?,
        };
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid(
                "spec.expirationSeconds",
                "may not specify a duration less than 10 minutes",
            ));
        }
        let bound = spec.get("boundObjectRef").filter(|b| !b.is_null()).cloned();
        if let Some(b) = &bound {
            let bkind = b.get("kind").and_then(Value::as_str).unwrap_or("");
            let bname = b.get("name").and_then(Value::as_str).unwrap_or("");
            let buid = b.get("uid").and_then(Value::as_str).unwrap_or("");
            let info = match bkind {
                "Pod" => kind("pods"),
                "Secret" => kind("secrets"),
                other => {
                    return Err(invalid(
                        "spec.boundObjectRef.kind",
                        &format!(
                            "Unsupported value: {other:?}: supported values: \"Pod\", \"Secret\""
                        ),
                    ));
                }
            };
            let obj = self.get(info, ns, bname)?;
            if !buid.is_empty() && buid != meta_str(&obj, "uid") {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!(
                        "the UID in the bound object reference ({buid}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        let expires = chrono::Utc::now() + chrono::Duration::seconds(expiration);
        let token = opaque_token(ns, name, meta_str(&sa, "uid"), &audiences, bound.as_ref());
        let mut out_spec = json!({"audiences": audiences, "expirationSeconds": expiration});
        if let Some(b) = bound {
            out_spec["boundObjectRef"] = b;
        }
        let _ = dry_run; // nothing is stored either way
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
            "spec": out_spec,
            "status": {
                "token": token,
                "expirationTimestamp": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            },
        }))
    }

    /// Creates ServiceAccount `default` in `ns` unless it exists (the service-account
    /// controller's job on a real cluster).
    pub fn ensure_default_service_account(&self, ns: &str) {
        let sa = kind("serviceaccounts");
        if self.get(sa, ns, "default").is_err() {
            self.put_raw(
                sa,
                json!({"metadata": {"name": "default", "namespace": ns}}),
            );
        }
    }
}

/// `sandbox.<claims>.<digest>`: readable claims, stable for the same request.
fn opaque_token(
    ns: &str,
    sa: &str,
    sa_uid: &str,
    audiences: &[String],
    bound: Option<&Value>,
) -> String {
    let claims = json!({
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
        "aud": audiences,
        "bound": bound.and_then(|b| b.get("name")).cloned().unwrap_or(Value::Null),
    });
    let text = claims.to_string();
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update(sa_uid.as_bytes());
    let digest = hex::encode(&h.finalize()[..12]);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.as_bytes());
    format!("sandbox.{b64}.{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::cluster::{Role, WriteOpts};

    fn cluster() -> Cluster {
        let c = Cluster::new(Role::Virtual);
        c.seed_namespaces();
        c.ensure_default_service_account("default");
        c
    }

    #[test]
    fn a_token_request_echoes_its_spec_and_returns_a_token() {
        let c = cluster();
        let out = c
            .token_request(
                "default",
                "default",
                &json!({"spec": {"audiences": ["vault"], "expirationSeconds": 7200}}),
                false,
            )
            .unwrap();
        assert_eq!(out["kind"], "TokenRequest");
        assert_eq!(out["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(out["spec"]["audiences"], json!(["vault"]));
        assert_eq!(out["spec"]["expirationSeconds"], 7200);
        let token = out["status"]["token"].as_str().unwrap();
        assert!(token.starts_with("sandbox."), "{token}");
        assert!(out["status"]["expirationTimestamp"].is_string());
        let again = c
            .token_request(
                "default",
                "default",
                &json!({"spec": {"audiences": ["vault"], "expirationSeconds": 7200}}),
                false,
            )
            .unwrap();
        assert_eq!(again["status"]["token"], out["status"]["token"], "stable");
    }

    #[test]
    fn defaults_missing_accounts_short_lifetimes_and_stale_bindings() {
        let c = cluster();
        let out = c
            .token_request("default", "default", &json!({}), false)
            .unwrap();
        assert_eq!(out["spec"]["audiences"], json!([DEFAULT_AUDIENCE]));
        assert_eq!(out["spec"]["expirationSeconds"], DEFAULT_EXPIRATION_SECONDS);
        let e = c
            .token_request("default", "nobody", &json!({}), false)
            .unwrap_err();
        assert_eq!(e.code, 404);
        let e = c
            .token_request(
                "default",
                "default",
                &json!({"spec": {"expirationSeconds": 60}}),
                false,
            )
            .unwrap_err();
        assert_eq!(e.code, 422);
        c.create(
            kind("pods"),
            Some("default"),
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            &WriteOpts::default(),
        )
        .unwrap();
        let bound = |uid: &str| json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": uid}}});
        let e = c
            .token_request("default", "default", &bound("not-the-uid"), false)
            .unwrap_err();
        assert_eq!(e.code, 409);
        let pod = c.get(kind("pods"), "default", "p").unwrap();
        let ok = c
            .token_request("default", "default", &bound(meta_str(&pod, "uid")), false)
            .unwrap();
        assert_eq!(ok["spec"]["boundObjectRef"]["name"], "p");
    }
}
