//! Execute a [`Plan`] through kube-rs: the engine's only I/O.
//!
//! Merge patches carry the resourceVersion they were planned from, so a concurrent writer makes
//! the server answer 409 and the caller re-reads and re-plans ([`apply_with_retry`]). Deletes
//! carry a UID precondition. `dry_run` uses the server's `dryRun=All`. Every change attempted is
//! one JSON line in the audit log, with its outcome.
//!
//! [`apply_change`] is the one place a [`Change`] becomes API calls; `fix`, the TUI backends
//! and the controller (through `engine::kube_writer`) all go through it.

use crate::engine::change::{Action, Change, ObjKind, Plan, SideName, Target};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use kube::core::ApiResource;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often [`apply_with_retry`] re-plans after a conflict before giving up.
pub const MAX_ATTEMPTS: usize = 5;
/// Field manager of `fix` and TUI writes (shows up in managedFields).
pub const FIELD_MANAGER: &str = "vinspect";
/// Field manager of the sync controller's writes.
pub const SYNCER_FIELD_MANAGER: &str = "vinspect-syncer";
/// How often a re-creation's create is tried while the server still reports the deleted object
/// (finalizers, grace period).
const RECREATE_TRIES: u64 = 10;
/// What an API server answers for a path it does not serve (as opposed to a missing object).
const MISSING_ROUTE: &str = "the server could not find the requested resource";

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{target}: changed since it was read (409 {reason}); re-read both sides and plan again"
    )]
    Conflict {
        target: Target,
        reason: String,
        /// The server's message, for logs.
        message: String,
    },
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
    #[error(
        "{target} was deleted for re-creation and could not be created again ({first}; then {then}); re-apply it from your manifests"
    )]
    Lost {
        target: Target,
        first: String,
        then: String,
    },
    #[error("cannot write audit log {path}: {source}; pass --audit-log PATH to write it elsewhere")]
    Audit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{target}: cannot mint the service-account token its projected volume reads: {source}")]
    Token {
        target: Target,
        #[source]
        source: Box<crate::engine::tokens::TokenError>,
    },
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        attempts: usize,
        last: Box<ApplyError>,
    },
}

impl ApplyError {
    /// The error without its target, on one line: for callers that name the target themselves.
    pub fn detail(&self) -> String {
        match self {
            ApplyError::Conflict { message, .. } => message.clone(),
            ApplyError::Api { verb, source, .. } => match source.as_ref() {
                kube::Error::Api(s) => format!("{verb}: {} ({})", s.message, s.code),
                other => format!("{verb}: {}", one_line(&other.to_string())),
            },
            other => one_line(&other.to_string()),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
    /// resourceVersion of the object after the write (`None` for deletes, bindings, dry runs
    /// of a re-creation, or when the server did not say).
    pub resource_version: Option<String>,
}

/// What one change did on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// For people and the audit log: `created`, `patched`, `bound to n1`, ...
    pub outcome: String,
    /// See [`Applied::resource_version`]; the controller waits for its watch to show it.
    pub resource_version: Option<String>,
}

/// How one change is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOptions {
    /// `dryRun=All`: the server validates, nothing is persisted.
    pub dry_run: bool,
    pub field_manager: &'static str,
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
        ObjKind::EndpointSlice => ApiResource::erase::<EndpointSlice>(&()),
        ObjKind::Ingress => ApiResource::erase::<Ingress>(&()),
        ObjKind::Namespace => ApiResource::erase::<Namespace>(&()),
    }
}

fn api_for(clients: &Clients, t: &Target) -> Api<DynamicObject> {
    let client = clients.for_side(t.side).clone();
    let ar = api_resource(t.kind);
    if t.kind == ObjKind::Namespace || t.namespace.is_empty() {
        Api::all_with(client, &ar)
    } else {
        Api::namespaced_with(client, &t.namespace, &ar)
    }
}

/// The part of a create's answer the engine reads.
#[derive(serde::Deserialize)]
struct Created {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// `Api::create` without turning the answer into a tree: only its metadata is read (the
/// resourceVersion for the plan's next change), and a pod twin's answer carries hundreds of
/// service-link env vars.
async fn create_meta(
    clients: &Clients,
    t: &Target,
    pp: &PostParams,
    body: &DynamicObject,
) -> Result<ObjectMeta, kube::Error> {
    let ar = api_resource(t.kind);
    let ns =
        (t.kind != ObjKind::Namespace && !t.namespace.is_empty()).then_some(t.namespace.as_str());
    let url = <DynamicObject as kube::Resource>::url_path(&ar, ns);
    let bytes = serde_json::to_vec(body).map_err(kube::Error::SerdeError)?;
    let mut req = kube::core::Request::new(url)
        .create(pp, bytes)
        .map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("create");
    let made: Created = clients.for_side(t.side).request(req).await?;
    Ok(made.metadata)
}

/// The resourceVersions our own writes produced, for the later changes of the same plan.
///
/// A plan may patch one object twice (spec and metadata, then `/status`), both planned from the
/// same read and so carrying the same resourceVersion. The first write moves it on, so the
/// second, sent as planned, would meet a 409 every time. It carries the version the first
/// write returned instead: a concurrent writer in between still moves it on and still gets a
/// 409.
#[derive(Debug, Default, Clone)]
pub struct RvChain {
    last: Vec<(Target, String, String)>,
}

impl RvChain {
    /// `c` as it should be sent after the writes recorded so far.
    pub fn next<'c>(&self, c: &'c Change) -> std::borrow::Cow<'c, Change> {
        if let Action::Patch {
            resource_version: Some(planned),
            ..
        } = &c.action
            && let Some((_, _, now)) = self
                .last
                .iter()
                .find(|(t, from, _)| t == &c.target && from == planned)
        {
            let mut c = c.clone();
            if let Action::Patch {
                resource_version, ..
            } = &mut c.action
            {
                *resource_version = Some(now.clone());
            }
            return std::borrow::Cow::Owned(c);
        }
        std::borrow::Cow::Borrowed(c)
    }

    /// Record that `planned` (as planned, before [`RvChain::next`]) was written and left the
    /// object at `new_rv`.
    pub fn record(&mut self, planned: &Change, new_rv: Option<&str>) {
        let (
            Action::Patch {
                resource_version: Some(from),
                ..
            },
            Some(now),
        ) = (&planned.action, new_rv)
        else {
            return;
        };
        self.last.retain(|(t, _, _)| t != &planned.target);
        self.last
            .push((planned.target.clone(), from.clone(), now.to_string()));
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
            message: status.message.clone(),
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

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// A failure that says nothing about the request itself (server overloaded or restarting, the
/// connection dropped): worth trying again when the object must not stay deleted.
fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// A body the server accepts on create: server-owned fields dropped, kind/apiVersion set.
///
/// Built by hand rather than through `serde_json::from_value::<DynamicObject>`: its flattened
/// `data` buffers the whole object once more, and a pod twin carrying the service-link env of
/// a large namespace is hundreds of kilobytes.
fn creatable(target: &Target, object: &Value) -> Result<DynamicObject, ApplyError> {
    let ar = api_resource(target.kind);
    let bad = |source| ApplyError::BadObject {
        target: target.clone(),
        source,
    };
    let Value::Object(mut fields) = object.clone() else {
        return Err(bad(serde_json::from_value::<DynamicObject>(object.clone())
            .err()
            .unwrap_or_else(|| {
                serde::de::Error::custom("the object is not a JSON object")
            })));
    };
    let mut meta = fields
        .remove("metadata")
        .unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(m) = meta.as_object_mut() {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
            "generation",
        ] {
            m.remove(k);
        }
    }
    let metadata = serde_json::from_value(meta).map_err(bad)?;
    fields.remove("apiVersion");
    fields.remove("kind");
    Ok(DynamicObject {
        types: Some(kube::core::TypeMeta {
            api_version: ar.api_version,
            kind: ar.kind,
        }),
        metadata,
        data: Value::Object(fields),
    })
}

async fn delete(
    api: &Api<DynamicObject>,
    t: &Target,
    uid: Option<&str>,
    dry_run: bool,
) -> Result<String, ApplyError> {
    delete_graceful(api, t, uid, None, dry_run).await
}

async fn delete_graceful(
    api: &Api<DynamicObject>,
    t: &Target,
    uid: Option<&str>,
    grace_period_seconds: Option<i64>,
    dry_run: bool,
) -> Result<String, ApplyError> {
    let dp = DeleteParams {
        dry_run,
        grace_period_seconds: grace_period_seconds.map(|g| g.clamp(0, i64::from(u32::MAX)) as u32),
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

/// The create half of a re-creation, after the delete went through: the object must not be
/// left deleted.
async fn create_again(
    clients: &Clients,
    t: &Target,
    pp: &PostParams,
    body: &DynamicObject,
) -> Result<ObjectMeta, ApplyError> {
    let mut last = None;
    for attempt in 0..RECREATE_TRIES {
        match create_meta(clients, t, pp, body).await {
            Ok(made) => return Ok(made),
            // The delete may still be finishing (finalizers, grace), or the server may be
            // briefly failing: a few short tries before anything else.
            Err(e) if is_conflict(&e) || (is_transient(&e) && attempt + 1 < RECREATE_TRIES) => {
                let step = if is_conflict(&e) { 20 } else { 100 };
                last = Some(classify(t, "create", e));
                tokio::time::sleep(Duration::from_millis(step * (attempt + 1))).await;
            }
            Err(e) => {
                // The planned IP may have been taken meanwhile (two services swapping IPs, a
                // parallel worker): bring the object back with whatever IP the server hands
                // out and let the next plan deal with the IP.
                let first = classify(t, "create", e);
                let mut fallback = body.clone();
                if let Some(spec) = fallback.data.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("clusterIP");
                    spec.remove("clusterIPs");
                }
                return match create_meta(clients, t, pp, &fallback).await {
                    Ok(made) => {
                        tracing::warn!("re-created {t} without its planned IP after: {first}");
                        Ok(made)
                    }
                    Err(e) => Err(ApplyError::Lost {
                        target: t.clone(),
                        first: first.detail(),
                        then: classify(t, "create", e).detail(),
                    }),
                };
            }
        }
    }
    Err(last.unwrap_or_else(|| ApplyError::Conflict {
        target: t.clone(),
        reason: "AlreadyExists".into(),
        message: "the deleted object was still there".into(),
    }))
}

/// Bind a pod to a node through pods/binding; on a server that does not serve that subresource,
/// set spec.nodeName of the unscheduled pod instead (the same assignment).
async fn bind(
    pods: &Api<Pod>,
    t: &Target,
    node: &str,
    send: SendOptions,
) -> Result<Option<String>, ApplyError> {
    let pp = PostParams {
        dry_run: send.dry_run,
        field_manager: Some(send.field_manager.into()),
    };
    let binding = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": t.name, "namespace": t.namespace},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    match pods
        .create_subresource::<Value, Value>("binding", &t.name, &pp, &binding)
        .await
    {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 && s.message == MISSING_ROUTE => {
            let params = PatchParams {
                dry_run: send.dry_run,
                field_manager: Some(send.field_manager.into()),
                ..PatchParams::default()
            };
            let patch = serde_json::json!({"spec": {"nodeName": node}});
            let done = pods
                .patch(&t.name, &params, &Patch::Merge(&patch))
                .await
                .map_err(|e| classify(t, "bind", e))?;
            Ok(done.metadata.resource_version)
        }
        Err(e) => Err(classify(t, "bind", e)),
    }
}

/// A host pod body with the projected service-account tokens it reads minted in the virtual
/// cluster (`None`: nothing to add). Dry runs mint nothing.
async fn with_tokens(
    clients: &Clients,
    t: &Target,
    object: &Value,
    send: SendOptions,
) -> Result<Option<Value>, ApplyError> {
    if send.dry_run || t.side != SideName::Host || t.kind != ObjKind::Pod {
        return Ok(None);
    }
    crate::engine::tokens::fill_host_pod(&clients.virtual_client, object)
        .await
        .map_err(|source| ApplyError::Token {
            target: t.clone(),
            source: Box::new(source),
        })
}

/// Send one change: one API call, or for a re-creation a delete and a create.
pub async fn apply_change(
    clients: &Clients,
    c: &Change,
    send: SendOptions,
) -> Result<Done, ApplyError> {
    let t = &c.target;
    let api = api_for(clients, t);
    let pp = PostParams {
        dry_run: send.dry_run,
        field_manager: Some(send.field_manager.into()),
    };
    let done = |outcome: &str, rv: Option<String>| Done {
        outcome: outcome.to_string(),
        resource_version: rv,
    };
    match &c.action {
        Action::Create { object } => {
            let filled = with_tokens(clients, t, object, send).await?;
            let obj = creatable(t, filled.as_ref().unwrap_or(object))?;
            let made = create_meta(clients, t, &pp, &obj)
                .await
                .map_err(|e| classify(t, "create", e))?;
            Ok(done("created", made.resource_version))
        }
        Action::Patch {
            patch,
            subresource,
            resource_version,
        } => {
            let body = patch_with_precondition(patch, resource_version.as_deref());
            let params = PatchParams {
                dry_run: send.dry_run,
                field_manager: Some(send.field_manager.into()),
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
            // Hosts older than in-place resize have no pods/resize: the pod keeps its
            // resources, as upstream does there (it gates resize on the host version).
            if let Err(kube::Error::Api(st)) = &r
                && st.code == 404
                && st.message == MISSING_ROUTE
                && subresource.as_deref() == Some("resize")
            {
                tracing::warn!(
                    "{t}: the host API server does not serve pods/resize; resources not resized"
                );
                return Ok(done(
                    "skipped: the host API server does not serve pods/resize (in-place resize)",
                    None,
                ));
            }
            let patched = r.map_err(|e| classify(t, "patch", e))?;
            Ok(done("patched", patched.metadata.resource_version))
        }
        Action::Delete {
            uid,
            grace_period_seconds,
        } => {
            let outcome =
                delete_graceful(&api, t, uid.as_deref(), *grace_period_seconds, send.dry_run)
                    .await?;
            Ok(done(&outcome, None))
        }
        Action::Recreate { object, uid } => {
            // Checked before the delete, so a bad body never leaves the object deleted.
            let filled = with_tokens(clients, t, object, send).await?;
            let obj = creatable(t, filled.as_ref().unwrap_or(object))?;
            delete(&api, t, uid.as_deref(), send.dry_run).await?;
            if send.dry_run {
                // The object still exists under dryRun, so a dry-run create would only report
                // AlreadyExists; the body was validated locally instead.
                return Ok(done("recreated (dry run: create not sent)", None));
            }
            let made = create_again(clients, t, &pp, &obj).await?;
            Ok(done("recreated", made.resource_version))
        }
        Action::Bind { node } => {
            let pods: Api<Pod> = Api::namespaced(clients.for_side(t.side).clone(), &t.namespace);
            let rv = bind(&pods, t, node, send).await?;
            Ok(done(&format!("bound to {node}"), rv))
        }
    }
}

/// Whether `t` exists on its server right now (a metadata-only GET, so a pod's env is not
/// transferred).
pub async fn exists(clients: &Clients, t: &Target) -> Result<bool, ApplyError> {
    let api = api_for(clients, t);
    api.get_metadata_opt(&t.name)
        .await
        .map(|o| o.is_some())
        .map_err(|e| classify(t, "get", e))
}

/// The audit line for one attempted change.
pub fn audit_entry(clients: &Clients, c: &Change, dry_run: bool, outcome: &str) -> AuditEntry {
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
    let send = SendOptions {
        dry_run: opts.dry_run,
        field_manager: FIELD_MANAGER,
    };
    let mut chain = RvChain::default();
    for planned in &plan.changes {
        let c = chain.next(planned);
        let c = c.as_ref();
        let r = apply_change(clients, c, send).await;
        let outcome = match &r {
            Ok(d) => d.outcome.clone(),
            Err(e) => format!("error: {e}"),
        };
        if let Some(log) = &opts.audit {
            log.write(&audit_entry(clients, c, opts.dry_run, &outcome))?;
        }
        let d = r?;
        chain.record(planned, d.resource_version.as_deref());
        done.push(Applied {
            change: c.clone(),
            outcome,
            resource_version: d.resource_version,
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
    fn errors_map_to_one_line_details_for_the_controller() {
        let t = Target {
            side: SideName::Host,
            kind: ObjKind::Service,
            namespace: "ns".into(),
            name: "n".into(),
        };
        let status = |code, reason: &str, message: &str| {
            let mut s = kube::core::Status::failure(message, reason);
            s.code = code;
            kube::Error::Api(s.boxed())
        };
        let e = classify(&t, "patch", status(409, "Conflict", "object was modified"));
        assert!(matches!(&e, ApplyError::Conflict { reason, .. } if reason == "Conflict"));
        assert_eq!(e.detail(), "object was modified");
        assert!(e.to_string().contains("409 Conflict"), "{e}");
        let e = classify(
            &t,
            "create",
            status(422, "Invalid", "spec.clusterIP: taken"),
        );
        assert_eq!(e.detail(), "create: spec.clusterIP: taken (422)");
        let lost = ApplyError::Lost {
            target: t.clone(),
            first: e.detail(),
            then: "create: down (500)".into(),
        };
        assert_eq!(
            lost.detail(),
            "host service ns/n was deleted for re-creation and could not be created again \
             (create: spec.clusterIP: taken (422); then create: down (500)); re-apply it from your manifests"
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
