//! The TUI's backend over live clients: diffs and objects from the current snapshot, fixes
//! through the same writer `vinspect fix` uses (audited), and the holds the demo puts on the
//! scenario's incident released as the operator fixes it.

use crate::cluster::clients::Clients;
use crate::cluster::snapshot::Snapshot;
use crate::engine::Plan;
use crate::engine::apply::{self as engine_apply, ApplyError, ApplyOptions, AuditLog};
use crate::engine::{Ctx, Pair, SideName, Target, desired_host};
use crate::inspect::pair_rows;
use crate::tui::backend::{Backend, BackendError};
use crate::tui::types::{DiffSource, FixOutcome, FixRequest, RowKey};
use crate::vcluster::config::VClusterConfig;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Objects the demo's controller must leave alone (the incident, until the operator fixes it).
#[derive(Debug, Clone, Default)]
pub struct Holds(Arc<Mutex<HashSet<Target>>>);

impl Holds {
    pub fn new(targets: impl IntoIterator<Item = Target>) -> Self {
        Holds(Arc::new(Mutex::new(targets.into_iter().collect())))
    }

    pub fn is_held(&self, t: &Target) -> bool {
        self.0.lock().map(|h| h.contains(t)).unwrap_or(false)
    }

    pub fn release(&self, t: &Target) {
        if let Ok(mut h) = self.0.lock() {
            h.remove(t);
        }
    }

    pub fn len(&self) -> usize {
        self.0.lock().map(|h| h.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every write the engine would make for the problem rows of `snapshot`: what the demo holds.
pub fn incident_targets(snapshot: &Snapshot, config: &VClusterConfig) -> Vec<Target> {
    pair_rows(snapshot, config)
        .into_iter()
        .filter(|(_, r)| r.status.is_problem())
        .flat_map(|(_, r)| r.plan.changes.into_iter().map(|c| c.target))
        .collect()
}

pub struct LiveBackend {
    pub clients: Clients,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub config: VClusterConfig,
    pub audit: Option<AuditLog>,
    pub holds: Holds,
}

impl LiveBackend {
    fn find(&self, key: &RowKey) -> Result<(Arc<Snapshot>, Pair), BackendError> {
        let snap = self.snapshots.borrow().clone();
        let pair = pair_rows(&snap, &self.config)
            .into_iter()
            .find(|(_, r)| key.matches(r))
            .map(|(p, _)| p)
            .ok_or_else(|| BackendError(format!("{key} is no longer listed")))?;
        Ok((snap, pair))
    }
}

fn object_json(snap: &Snapshot, pair: &Pair, side: SideName) -> Option<Value> {
    use crate::engine::ObjKind;
    let s = match side {
        SideName::Virtual => &snap.virtual_side,
        SideName::Host => &snap.host,
    };
    let key = match side {
        SideName::Virtual => pair.virtual_key.as_ref(),
        SideName::Host => pair.host_key.as_ref(),
    }?;
    let v = match pair.obj_kind() {
        ObjKind::Pod => serde_json::to_value(s.pods.get(key)?.as_ref()),
        ObjKind::Service => serde_json::to_value(s.services.get(key)?.as_ref()),
        ObjKind::Endpoints => serde_json::to_value(s.endpoints.get(key)?.as_ref()),
        ObjKind::Ingress => serde_json::to_value(s.ingresses.get(key)?.as_ref()),
        ObjKind::Namespace => serde_json::to_value(s.namespaces.get(key)?.as_ref()),
    };
    v.ok()
}

impl Backend for LiveBackend {
    async fn load_diff(&self, key: RowKey) -> Result<DiffSource, BackendError> {
        let (snap, pair) = self.find(&key)?;
        let ctx = Ctx::new(&snap, &self.config);
        Ok(DiffSource {
            desired: desired_host(&ctx, &pair),
            actual: object_json(&snap, &pair, SideName::Host),
        })
    }

    async fn load_object(
        &self,
        side: SideName,
        key: RowKey,
    ) -> Result<Option<Value>, BackendError> {
        let (snap, pair) = self.find(&key)?;
        Ok(object_json(&snap, &pair, side))
    }

    async fn apply_fixes(&self, fixes: Vec<FixRequest>) -> Vec<FixOutcome> {
        let mut out = Vec::new();
        for fix in fixes {
            for change in &fix.plan.changes {
                let writer = engine_apply::Clients {
                    virtual_client: self.clients.virtual_.client.clone(),
                    host_client: self.clients.host.client.clone(),
                    virtual_context: self.clients.virtual_.context.clone(),
                    host_context: self.clients.host.context.clone(),
                };
                let single = Plan {
                    changes: vec![change.clone()],
                    blocked: None,
                };
                let opts = ApplyOptions {
                    dry_run: false,
                    audit: self.audit.clone(),
                };
                // The audit log is best effort here: the demo's log sits next to its kubeconfig.
                let result = match engine_apply::apply(&writer, &single, &opts).await {
                    Ok(_) | Err(ApplyError::Audit { .. }) => Ok(()),
                    Err(e) => Err(e.to_string()),
                };
                if result.is_ok() {
                    self.holds.release(&change.target);
                }
                let failed = result.is_err();
                out.push(FixOutcome {
                    key: fix.key.clone(),
                    target: change.target.clone(),
                    verb: change.action.verb().to_string(),
                    result,
                });
                if failed {
                    break;
                }
            }
        }
        out
    }

    async fn list_contexts(&self) -> Result<Vec<String>, BackendError> {
        Ok(vec![self.clients.virtual_.context.clone()])
    }

    async fn switch_context(&self, context: String) -> Result<(), BackendError> {
        if context == self.clients.virtual_.context {
            return Ok(());
        }
        Err(BackendError(
            "the demo runs one vCluster; quit and run `vinspect --context …` for another".into(),
        ))
    }
}
