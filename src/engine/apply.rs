//! Execute a [`Plan`] through kube-rs: the engine's only I/O.
//!
//! Merge patches carry the resourceVersion they were planned from, so a concurrent writer makes
//! the server answer 409 and the caller re-reads and re-plans ([`apply_with_retry`]). Deletes
//! carry a UID precondition. `dry_run` uses the server's `dryRun=All`. Every change attempted is
//! one JSON line in the audit log, with its outcome.

use crate::engine::change::{Action, Change, ObjKind, Plan, SideName, Target};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::core::ApiResource;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How often [`apply_with_retry`] re-plans after a conflict before giving up.
pub const MAX_ATTEMPTS: usize = 5;
/// Field manager of every write (shows up in managedFields).
pub const FIELD_MANAGER: &str = "vinspect";

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{target}: changed since it was read (409 {reason}); re-read both sides and plan again"
    )]
    Conflict { target: Target, reason: String },
    #[error("{target}: {verb} failed: {source}")]
    Api {
        target: Target,
        verb: &'static str,
        #[source]
        source: Box<kube::Error>,
    },
    #[error(
        "{target}: the planned body is not a valid object ({source}); this is a vinspect bug, please report it"
    )]
    BadObject {
        target: Target,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write audit log {path}: {source}; pass --audit-log PATH to write it elsewhere")]
    Audit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        attempts: usize,
        last: Box<ApplyError>,
    },
}

/// Both clusters, with the context names written to the audit log.
#[derive(Clone)]
pub struct Clients {
    pub virtual_client: Client,
    pub host_client: Client,
    pub virtual_context: String,
    pub host_context: String,
}

impl Clients {
    fn for_side(&self, side: SideName) -> &Client {
        match side {
            SideName::Virtual => &self.virtual_client,
            SideName::Host => &self.host_client,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Send every write with `dryRun=All`: the server validates, nothing is persisted.
    pub dry_run: bool,
    pub audit: Option<AuditLog>,
}

/// One change as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub change: Change,
    pub outcome: String,
}

/// Append-only JSON-lines audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    path: PathBuf,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AuditEntry {
    pub time: String,
    pub virtual_context: String,
    pub host_context: String,
    pub target: Target,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    pub reason: String,
    pub dry_run: bool,
    pub outcome: String,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$XDG_STATE_HOME/vinspect/audit.log` (`~/.local/state/...` when unset).
    pub fn default_path() -> Option<PathBuf> {
        dirs::state_dir().map(|d| d.join("vinspect").join("audit.log"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, entry: &AuditEntry) -> Result<(), ApplyError> {
        let err = |source| ApplyError::Audit {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut line = serde_json::to_string(entry).map_err(|e| err(std::io::Error::other(e)))?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        f.write_all(line.as_bytes()).map_err(err)
    }
}

fn api_resource(kind: ObjKind) -> ApiResource {
    match kind {
        ObjKind::Pod => ApiResource::erase::<Pod>(&()),
        ObjKind::Service => ApiResource::erase::<Service>(&()),
        ObjKind::Endpoints => ApiResource::erase::<Endpoints>(&()),
        ObjKind::Ingress => ApiResource::erase::<Ingress>(&()),
        ObjKind::Namespace => ApiResource::erase::<Namespace>(&()),
    }
}

fn api_for(clients: &Clients, t: &Target) -> Api<DynamicObject> {
    let client = clients.for_side(t.side).clone();
    let ar = api_resource(t.kind);
    if t.kind == ObjKind::Namespace {
        Api::all_with(client, &ar)
    } else {
        Api::namespaced_with(client, &t.namespace, &ar)
    }
}

/// A merge patch with the optimistic-lock precondition folded in: a `metadata.resourceVersion`
/// in a patch body must match the stored object or the server answers 409.
pub fn patch_with_precondition(patch: &Value, resource_version: Option<&str>) -> Value {
    let mut p = patch.clone();
    if let (Some(rv), Value::Object(m)) = (resource_version, &mut p) {
        let meta = m
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(meta) = meta {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }
    p
}

fn classify(target: &Target, verb: &'static str, e: kube::Error) -> ApplyError {
    if let kube::Error::Api(status) = &e
        && status.code == 409
    {
        return ApplyError::Conflict {
            target: target.clone(),
            reason: status.reason.clone(),
        };
    }
    ApplyError::Api {
        target: target.clone(),
        verb,
        source: Box::new(e),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn dynamic(target: &Target, object: &Value) -> Result<DynamicObject, ApplyError> {
    serde_json::from_value(object.clone()).map_err(|source| ApplyError::BadObject {
        target: target.clone(),
        source,
    })
}

async fn delete(
    api: &Api<DynamicObject>,
    t: &Target,
    uid: Option<&str>,
    dry_run: bool,
) -> Result<String, ApplyError> {
    let dp = DeleteParams {
        dry_run,
        preconditions: uid.map(|u| Preconditions {
            uid: Some(u.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&t.name, &dp).await {
        Ok(_) => Ok("deleted".into()),
        Err(e) if is_not_found(&e) => Ok("already gone".into()),
        Err(e) => Err(classify(t, "delete", e)),
    }
}

async fn apply_one(clients: &Clients, c: &Change, dry_run: bool) -> Result<String, ApplyError> {
    let t = &c.target;
    let api = api_for(clients, t);
    let pp = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.into()),
    };
    match &c.action {
        Action::Create { object } => {
            let obj = dynamic(t, object)?;
            api.create(&pp, &obj)
                .await
                .map_err(|e| classify(t, "create", e))?;
            Ok("created".into())
        }
        Action::Patch {
            patch,
            subresource,
            resource_version,
        } => {
            let body = patch_with_precondition(patch, resource_version.as_deref());
            let params = PatchParams {
                dry_run,
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            };
            let r = match subresource.as_deref() {
                Some("status") => {
                    api.patch_status(&t.name, &params, &Patch::Merge(&body))
                        .await
                }
                Some(other) => {
                    api.patch_subresource(other, &t.name, &params, &Patch::Merge(&body))
                        .await
                }
                None => api.patch(&t.name, &params, &Patch::Merge(&body)).await,
            };
            r.map_err(|e| classify(t, "patch", e))?;
            Ok("patched".into())
        }
        Action::Delete { uid } => delete(&api, t, uid.as_deref(), dry_run).await,
        Action::Recreate { object, uid } => {
            delete(&api, t, uid.as_deref(), dry_run).await?;
            if dry_run {
                // The object still exists under dryRun, so a dry-run create would only report
                // AlreadyExists; validate the body locally instead.
                dynamic(t, object)?;
                return Ok("recreated (dry run: create not sent)".into());
            }
            let obj = dynamic(t, object)?;
            api.create(&pp, &obj)
                .await
                .map_err(|e| classify(t, "create", e))?;
            Ok("recreated".into())
        }
        Action::Bind { node } => {
            let pods: Api<Pod> = Api::namespaced(clients.for_side(t.side).clone(), &t.namespace);
            let binding = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": t.name, "namespace": t.namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            pods.create_subresource::<Value, Value>("binding", &t.name, &pp, &binding)
                .await
                .map_err(|e| classify(t, "bind", e))?;
            Ok(format!("bound to {node}"))
        }
    }
}

fn entry(clients: &Clients, c: &Change, dry_run: bool, outcome: &str) -> AuditEntry {
    AuditEntry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        virtual_context: clients.virtual_context.clone(),
        host_context: clients.host_context.clone(),
        target: c.target.clone(),
        action: c.action.verb().to_string(),
        patch: match &c.action {
            Action::Patch { patch, .. } => Some(patch.clone()),
            _ => None,
        },
        reason: c.reason.clone(),
        dry_run,
        outcome: outcome.to_string(),
    }
}

/// Apply the changes in order, stopping at the first failure (later changes may depend on it).
pub async fn apply(
    clients: &Clients,
    plan: &Plan,
    opts: &ApplyOptions,
) -> Result<Vec<Applied>, ApplyError> {
    let mut done = Vec::with_capacity(plan.changes.len());
    for c in &plan.changes {
        let r = apply_one(clients, c, opts.dry_run).await;
        let outcome = match &r {
            Ok(o) => o.clone(),
            Err(e) => format!("error: {e}"),
        };
        if let Some(log) = &opts.audit {
            log.write(&entry(clients, c, opts.dry_run, &outcome))?;
        }
        r?;
        done.push(Applied {
            change: c.clone(),
            outcome,
        });
    }
    Ok(done)
}

/// Plan, apply, and on a 409 re-read and re-plan (through `replan`), at most [`MAX_ATTEMPTS`] times.
pub async fn apply_with_retry<F, Fut>(
    clients: &Clients,
    opts: &ApplyOptions,
    mut replan: F,
) -> Result<Vec<Applied>, ApplyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Plan>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let plan = replan().await;
        match apply(clients, &plan, opts).await {
            Err(e @ ApplyError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                tracing::debug!("conflict, re-planning: {e}");
            }
            Err(e @ ApplyError::Conflict { .. }) => {
                return Err(ApplyError::Exhausted {
                    attempts: attempt,
                    last: Box::new(e),
                });
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_version_goes_into_the_patch() {
        let p = patch_with_precondition(&json!({"spec": {"x": 1}}), Some("42"));
        assert_eq!(
            p,
            json!({"spec": {"x": 1}, "metadata": {"resourceVersion": "42"}})
        );
        let p = patch_with_precondition(&json!({"metadata": {"labels": {"a": null}}}), Some("7"));
        assert_eq!(
            p,
            json!({"metadata": {"labels": {"a": null}, "resourceVersion": "7"}})
        );
        assert_eq!(
            patch_with_precondition(&json!({"a": 1}), None),
            json!({"a": 1})
        );
    }

    #[test]
    fn audit_lines_append_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("nested/audit.log"));
        let e = AuditEntry {
            time: "2026-01-01T00:00:00.000Z".into(),
            virtual_context: "v".into(),
            host_context: "h".into(),
            target: Target {
                side: SideName::Host,
                kind: ObjKind::Service,
                namespace: "ns".into(),
                name: "n".into(),
            },
            action: "patch".into(),
            patch: Some(json!({"a": 1})),
            reason: "r".into(),
            dry_run: false,
            outcome: "patched".into(),
        };
        log.write(&e).unwrap();
        log.write(&e).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<AuditEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![e.clone(), e]);
    }
}
