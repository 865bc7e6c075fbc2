//! Executes one engine [`Change`] against the API server it targets, and records it in the
//! audit log. The fix command's writer; conflict handling is the caller's re-plan loop.

use crate::cluster::clients::Clients;
use crate::cluster::fetch::one_line;
use crate::engine::{Action, Change, ObjKind, SideName};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions,
};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Field manager vinspect writes as.
pub const FIELD_MANAGER: &str = "vinspect";

/// How a change went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applied,
    /// Sent with dryRun=All; the server accepted it.
    DryRun,
    /// 409: the object changed since it was planned; re-plan.
    Conflict(String),
    Failed(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::DryRun)
    }
    pub fn word(&self) -> String {
        match self {
            Outcome::Applied => "applied".into(),
            Outcome::DryRun => "dry-run ok".into(),
            Outcome::Conflict(m) => format!("conflict: {m}"),
            Outcome::Failed(m) => format!("failed: {m}"),
        }
    }
}

/// The default audit log: `$XDG_STATE_HOME/vinspect/audit.log` (`~/.local/state/…`).
pub fn default_audit_path() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))
        .map(|d| d.join("vinspect").join("audit.log"))
}

/// Appends one JSON line per applied change.
pub struct Audit {
    path: Option<PathBuf>,
}

impl Audit {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path: path.or_else(default_audit_path),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Write the line; a log that cannot be written is reported, not fatal to the fix.
    pub fn record(
        &self,
        clients: &Clients,
        change: &Change,
        outcome: &Outcome,
    ) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339(),
            "virtualContext": clients.virtual_.context,
            "hostContext": clients.host.context,
            "target": change.target,
            "action": change.action.verb(),
            "patch": crate::inspect::report::change_body(&change.action),
            "reason": change.reason,
            "outcome": outcome.word(),
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open audit log {}: {e}", path.display()))?;
        writeln!(f, "{line}").map_err(|e| format!("cannot write audit log {}: {e}", path.display()))
    }
}

fn resource(kind: ObjKind) -> Option<ApiResource> {
    Some(match kind {
        ObjKind::Pod => ApiResource::erase::<Pod>(&()),
        ObjKind::Service => ApiResource::erase::<Service>(&()),
        ObjKind::Endpoints => ApiResource::erase::<Endpoints>(&()),
        ObjKind::Ingress => ApiResource::erase::<Ingress>(&()),
        ObjKind::Namespace => ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
    })
}

fn outcome_of(e: kube::Error) -> Outcome {
    let msg = one_line(&e.to_string());
    match &e {
        kube::Error::Api(s) if s.code == 409 && s.reason != "AlreadyExists" => {
            Outcome::Conflict(msg)
        }
        _ => Outcome::Failed(msg),
    }
}

/// Apply one change (with `dry_run` = the server's dryRun=All).
pub async fn apply_change(clients: &Clients, change: &Change, dry_run: bool) -> Outcome {
    let t = &change.target;
    let client = match t.side {
        SideName::Virtual => clients.virtual_.client.clone(),
        SideName::Host => clients.host.client.clone(),
    };
    let Some(ar) = resource(t.kind) else {
        return Outcome::Failed(format!("cannot write kind {}", t.kind));
    };
    let api: Api<DynamicObject> = if t.kind == ObjKind::Namespace {
        Api::all_with(client, &ar)
    } else {
        Api::namespaced_with(client, &t.namespace, &ar)
    };
    let pp = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_string()),
    };
    let done = if dry_run {
        Outcome::DryRun
    } else {
        Outcome::Applied
    };
    match &change.action {
        Action::Create { object } => match create(&api, object, &pp).await {
            Ok(()) => done,
            Err(e) => outcome_of(e),
        },
        Action::Patch {
            patch,
            subresource,
            resource_version,
        } => {
            let mut body = patch.clone();
            // Optimistic concurrency: the server answers 409 if the object moved on.
            if let (Some(rv), Some(obj)) = (resource_version, body.as_object_mut()) {
                let meta = obj.entry("metadata").or_insert_with(|| json!({}));
                if let Some(m) = meta.as_object_mut() {
                    m.insert("resourceVersion".into(), json!(rv));
                }
            }
            let params = PatchParams {
                dry_run,
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..Default::default()
            };
            let res = match subresource.as_deref() {
                Some("status") => {
                    api.patch_status(&t.name, &params, &Patch::Merge(&body))
                        .await
                }
                _ => api.patch(&t.name, &params, &Patch::Merge(&body)).await,
            };
            match res {
                Ok(_) => done,
                Err(e) => outcome_of(e),
            }
        }
        Action::Delete { uid } => match delete(&api, &t.name, uid.clone(), dry_run).await {
            Ok(()) => done,
            Err(e) => outcome_of(e),
        },
        Action::Recreate { object, uid } => {
            if let Err(e) = delete(&api, &t.name, uid.clone(), dry_run).await {
                return outcome_of(e);
            }
            if !dry_run {
                // Graceful deletion (pods) keeps the name taken for a while.
                for _ in 0..100 {
                    match api.get_opt(&t.name).await {
                        Ok(None) => break,
                        Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                        Err(e) => return outcome_of(e),
                    }
                }
            }
            let mut object = object.clone();
            if let Some(m) = object.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                m.remove("resourceVersion");
                m.remove("uid");
            }
            match create(&api, &object, &pp).await {
                Ok(()) => done,
                Err(e) => outcome_of(e),
            }
        }
        Action::Bind { node } => {
            let body = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": t.name, "namespace": t.namespace},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            let res: Result<Value, _> =
                api.create_subresource("binding", &t.name, &pp, &body).await;
            match res {
                Ok(_) => done,
                Err(e) => outcome_of(e),
            }
        }
    }
}

async fn create(
    api: &Api<DynamicObject>,
    object: &Value,
    pp: &PostParams,
) -> Result<(), kube::Error> {
    let obj: DynamicObject =
        serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
    api.create(pp, &obj).await.map(|_| ())
}

async fn delete(
    api: &Api<DynamicObject>,
    name: &str,
    uid: Option<String>,
    dry_run: bool,
) -> Result<(), kube::Error> {
    let dp = DeleteParams {
        dry_run,
        preconditions: uid.map(|u| Preconditions {
            uid: Some(u),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        // Already gone is what we wanted.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
