//! The controller's [`Writer`] over kube-rs: one [`Change`] → one (or, for Recreate, two)
//! API calls on the right cluster.
//!
//! Optimistic concurrency is the server's: merge patches carry the resourceVersion they were
//! planned from, deletes carry a UID precondition, so a write planned from a stale snapshot
//! fails with 409 instead of clobbering someone else's change. The controller answers a
//! conflict by planning the pair again from a fresher snapshot.

use crate::engine::apply::{AuditEntry, AuditLog, patch_with_precondition};
use crate::engine::change::{Action, Change, ObjKind, SideName};
use crate::engine::controller::{WriteError, Writer, Written};
use k8s_openapi::api::core::v1::{Binding, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
    Preconditions,
};
use serde_json::Value;

/// What an API server answers for a path it does not serve.
const MISSING_ROUTE: &str = "the server could not find the requested resource";

/// Field manager name on every write (shows up in managedFields).
pub const FIELD_MANAGER: &str = "vinspect-syncer";

/// Writes to the virtual and host clusters.
#[derive(Clone)]
pub struct KubeWriter {
    pub virtual_client: kube::Client,
    pub host_client: kube::Client,
    /// `dryRun=All` on every request: the server validates, nothing is persisted.
    pub dry_run: bool,
    /// One JSON line per write attempt, in `engine::apply`'s format.
    pub audit: Option<Audit>,
}

/// Where audit lines go and the context names they carry.
#[derive(Debug, Clone)]
pub struct Audit {
    pub log: AuditLog,
    pub virtual_context: String,
    pub host_context: String,
}

impl Audit {
    fn record(&self, c: &Change, dry_run: bool, outcome: &str) {
        let entry = AuditEntry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            virtual_context: self.virtual_context.clone(),
            host_context: self.host_context.clone(),
            target: c.target.clone(),
            action: c.action.verb().to_string(),
            patch: match &c.action {
                Action::Patch { patch, .. } => Some(patch.clone()),
                _ => None,
            },
            reason: c.reason.clone(),
            dry_run,
            outcome: outcome.to_string(),
        };
        // The write itself already happened; losing its audit line is bad but must not
        // stop the sync. Say so loudly.
        if let Err(e) = self.log.write(&entry) {
            tracing::error!("{e}");
        }
    }
}

fn resource(kind: ObjKind) -> ApiResource {
    let gvk = match kind {
        ObjKind::Pod => GroupVersionKind::gvk("", "v1", "Pod"),
        ObjKind::Service => GroupVersionKind::gvk("", "v1", "Service"),
        ObjKind::Endpoints => GroupVersionKind::gvk("", "v1", "Endpoints"),
        ObjKind::Namespace => GroupVersionKind::gvk("", "v1", "Namespace"),
        ObjKind::Ingress => GroupVersionKind::gvk("networking.k8s.io", "v1", "Ingress"),
    };
    let plural = match kind {
        ObjKind::Pod => "pods",
        ObjKind::Service => "services",
        ObjKind::Endpoints => "endpoints",
        ObjKind::Namespace => "namespaces",
        ObjKind::Ingress => "ingresses",
    };
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

fn classify(verb: &str, e: kube::Error) -> WriteError {
    match e {
        kube::Error::Api(s) if s.code == 409 => WriteError::Conflict(s.message),
        kube::Error::Api(s) => WriteError::Failed(format!("{verb}: {} ({})", s.message, s.code)),
        other => WriteError::Failed(format!("{verb}: {}", one_line(&other.to_string()))),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A body the server accepts on create: server-owned fields dropped, kind/apiVersion set.
fn creatable(object: &Value, ar: &ApiResource) -> Result<DynamicObject, WriteError> {
    let mut v = object.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
            "generation",
        ] {
            meta.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        o.insert("kind".into(), Value::String(ar.kind.clone()));
    }
    serde_json::from_value(v)
        .map_err(|e| WriteError::Failed(format!("planned object is not valid: {e}")))
}

impl KubeWriter {
    fn api(&self, side: SideName, kind: ObjKind, namespace: &str) -> Api<DynamicObject> {
        let client = match side {
            SideName::Virtual => self.virtual_client.clone(),
            SideName::Host => self.host_client.clone(),
        };
        let ar = resource(kind);
        if kind == ObjKind::Namespace || namespace.is_empty() {
            Api::all_with(client, &ar)
        } else {
            Api::namespaced_with(client, namespace, &ar)
        }
    }

    fn post(&self) -> PostParams {
        PostParams {
            dry_run: self.dry_run,
            field_manager: Some(FIELD_MANAGER.to_string()),
        }
    }

    async fn delete(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        uid: Option<&str>,
    ) -> Result<(), WriteError> {
        let dp = DeleteParams {
            dry_run: self.dry_run,
            preconditions: uid.map(|u| Preconditions {
                uid: Some(u.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => Ok(()),
            // Already gone is what we wanted.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(classify("delete", e)),
        }
    }

    async fn run(&self, change: &Change) -> Result<Written, WriteError> {
        let t = &change.target;
        let ar = resource(t.kind);
        let api = self.api(t.side, t.kind, &t.namespace);
        let rv_of = |o: &DynamicObject| o.metadata.resource_version.clone();
        match &change.action {
            Action::Create { object } => {
                let body = creatable(object, &ar)?;
                let made = api
                    .create(&self.post(), &body)
                    .await
                    .map_err(|e| classify("create", e))?;
                Ok(Written {
                    resource_version: rv_of(&made),
                })
            }
            Action::Patch {
                patch,
                subresource,
                resource_version,
            } => {
                let patch = patch_with_precondition(patch, resource_version.as_deref());
                let pp = PatchParams {
                    dry_run: self.dry_run,
                    field_manager: Some(FIELD_MANAGER.to_string()),
                    ..PatchParams::default()
                };
                let done = match subresource.as_deref() {
                    Some("status") => api.patch_status(&t.name, &pp, &Patch::Merge(&patch)).await,
                    Some(other) => {
                        return Err(WriteError::Failed(format!(
                            "cannot patch subresource {other:?}"
                        )));
                    }
                    None => api.patch(&t.name, &pp, &Patch::Merge(&patch)).await,
                }
                .map_err(|e| classify("patch", e))?;
                Ok(Written {
                    resource_version: rv_of(&done),
                })
            }
            Action::Delete { uid } => {
                self.delete(&api, &t.name, uid.as_deref()).await?;
                Ok(Written::default())
            }
            Action::Recreate { object, uid } => {
                self.delete(&api, &t.name, uid.as_deref()).await?;
                let body = creatable(object, &ar)?;
                // The delete may still be finishing (finalizers, grace): a few short tries.
                let mut last = None;
                for attempt in 0..10u64 {
                    match api.create(&self.post(), &body).await {
                        Ok(made) => {
                            return Ok(Written {
                                resource_version: rv_of(&made),
                            });
                        }
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            last = Some(s.message);
                            tokio::time::sleep(std::time::Duration::from_millis(
                                20 * (attempt + 1),
                            ))
                            .await;
                        }
                        Err(e) => {
                            // Never leave the object deleted: the planned IP may have been
                            // taken meanwhile (two services swapping IPs, a parallel worker),
                            // so bring it back with whatever IP the server hands out and let
                            // the next plan deal with the IP.
                            let first = classify("create", e);
                            let mut fallback = body.clone();
                            if let Some(spec) =
                                fallback.data.get_mut("spec").and_then(Value::as_object_mut)
                            {
                                for k in ["clusterIP", "clusterIPs"] {
                                    spec.remove(k);
                                }
                            }
                            return match api.create(&self.post(), &fallback).await {
                                Ok(made) => {
                                    tracing::warn!(
                                        "re-created {} without its planned IP after: {first}",
                                        t
                                    );
                                    Ok(Written {
                                        resource_version: rv_of(&made),
                                    })
                                }
                                Err(e) => Err(WriteError::Failed(format!(
                                    "{t} was deleted for re-creation and could not be created again ({first}; then {}); re-apply it from your manifests",
                                    classify("create", e)
                                ))),
                            };
                        }
                    }
                }
                Err(WriteError::Conflict(last.unwrap_or_default()))
            }
            Action::Bind { node } => {
                let pods: Api<k8s_openapi::api::core::v1::Pod> = match t.side {
                    SideName::Virtual => Api::namespaced(self.virtual_client.clone(), &t.namespace),
                    SideName::Host => Api::namespaced(self.host_client.clone(), &t.namespace),
                };
                let binding = Binding {
                    metadata: ObjectMeta {
                        name: Some(t.name.clone()),
                        namespace: Some(t.namespace.clone()),
                        ..Default::default()
                    },
                    target: ObjectReference {
                        kind: Some("Node".into()),
                        api_version: Some("v1".into()),
                        name: Some(node.clone()),
                        ..Default::default()
                    },
                };
                match pods
                    .create_subresource::<Binding, Value>(
                        "binding",
                        &t.name,
                        &self.post(),
                        &binding,
                    )
                    .await
                {
                    Ok(_) => Ok(Written::default()),
                    // A server without the binding subresource (a missing route, not a missing
                    // pod): setting spec.nodeName of the unscheduled pod is the same assignment.
                    Err(kube::Error::Api(s)) if s.code == 404 && s.message == MISSING_ROUTE => {
                        let pp = PatchParams {
                            dry_run: self.dry_run,
                            field_manager: Some(FIELD_MANAGER.to_string()),
                            ..PatchParams::default()
                        };
                        let patch = serde_json::json!({"spec": {"nodeName": node}});
                        let done = pods
                            .patch(&t.name, &pp, &Patch::Merge(&patch))
                            .await
                            .map_err(|e| classify("bind", e))?;
                        Ok(Written {
                            resource_version: done.metadata.resource_version,
                        })
                    }
                    Err(e) => Err(classify("bind", e)),
                }
            }
        }
    }
}

impl Writer for KubeWriter {
    async fn write(&self, change: &Change) -> Result<Written, WriteError> {
        let r = self.run(change).await;
        if let Some(a) = &self.audit {
            let outcome = match &r {
                Ok(_) => format!("{}: ok", change.action.verb()),
                Err(e) => format!("error: {e}"),
            };
            a.record(change, self.dry_run, &outcome);
        }
        r
    }
}
