//! The seam between the TUI and the clusters. The live implementation (clients, engine apply)
//! satisfies [`Backend`]; tests and benches use [`FakeBackend`]. The UI loop polls these futures
//! next to input, so a slow cluster never freezes the screen.

use super::types::{DiffSource, FixOutcome, FixRequest, RowKey};
use crate::engine::SideName;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// One line saying what failed and, where known, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// What the TUI asks of the outside world. Every call may take a network round trip.
pub trait Backend {
    /// The host object the engine would write for this pair, and the host object as it is.
    fn load_diff(
        &self,
        key: RowKey,
    ) -> impl Future<Output = Result<DiffSource, BackendError>> + Send;

    /// The object on one side of a pair as the API server returns it; `None` when it does not
    /// exist. The TUI redacts Secret data itself.
    fn load_object(
        &self,
        side: SideName,
        key: RowKey,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, BackendError>> + Send;

    /// Apply confirmed plans through the engine; one outcome per change attempted.
    fn apply_fixes(&self, fixes: Vec<FixRequest>) -> impl Future<Output = Vec<FixOutcome>> + Send;

    /// The `vcluster_*` contexts of the kubeconfig.
    fn list_contexts(&self) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// Point the watch side at another virtual context; new data then arrives on the data channel.
    fn switch_context(
        &self,
        context: String,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// An in-memory backend: canned diffs and objects, fixes that always succeed (or fail for keys
/// listed in `failing`), and a record of every call for assertions.
#[derive(Debug, Default)]
pub struct FakeBackend {
    pub diffs: BTreeMap<RowKey, DiffSource>,
    pub objects: BTreeMap<(RowKey, bool), serde_json::Value>,
    pub contexts: Vec<String>,
    /// Keys whose fixes fail with this message.
    pub failing: BTreeMap<RowKey, String>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeBackend {
    fn record(&self, call: String) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }

    /// Calls made so far, in order (`"diff ns/name"`, `"fix ns/name"`, …).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn with_object(mut self, side: SideName, key: RowKey, obj: serde_json::Value) -> Self {
        self.objects
            .insert((key, matches!(side, SideName::Host)), obj);
        self
    }
}

impl Backend for FakeBackend {
    async fn load_diff(&self, key: RowKey) -> Result<DiffSource, BackendError> {
        self.record(format!("diff {key}"));
        self.diffs
            .get(&key)
            .cloned()
            .ok_or_else(|| BackendError(format!("no diff for {key} in the fake backend")))
    }

    async fn load_object(
        &self,
        side: SideName,
        key: RowKey,
    ) -> Result<Option<serde_json::Value>, BackendError> {
        self.record(format!("object {side} {key}"));
        Ok(self
            .objects
            .get(&(key, matches!(side, SideName::Host)))
            .cloned())
    }

    async fn apply_fixes(&self, fixes: Vec<FixRequest>) -> Vec<FixOutcome> {
        let mut out = Vec::new();
        for fix in fixes {
            self.record(format!("fix {}", fix.key));
            for change in &fix.plan.changes {
                out.push(FixOutcome {
                    key: fix.key.clone(),
                    target: change.target.clone(),
                    verb: change.action.verb().to_string(),
                    result: match self.failing.get(&fix.key) {
                        Some(msg) => Err(msg.clone()),
                        None => Ok(()),
                    },
                });
            }
        }
        out
    }

    async fn list_contexts(&self) -> Result<Vec<String>, BackendError> {
        self.record("contexts".to_string());
        Ok(self.contexts.clone())
    }

    async fn switch_context(&self, context: String) -> Result<(), BackendError> {
        self.record(format!("switch {context}"));
        if self.contexts.contains(&context) {
            Ok(())
        } else {
            Err(BackendError(format!(
                "context \"{context}\" not found in kubeconfig (available: {})",
                self.contexts.join(", ")
            )))
        }
    }
}
