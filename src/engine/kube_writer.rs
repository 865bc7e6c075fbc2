//! The controller's [`Writer`] over kube-rs: a thin adapter over [`apply::apply_change`], so
//! the controller, `fix` and the TUI send changes through the same code.
//!
//! Optimistic concurrency is the server's (see `engine::apply`): a write planned from a stale
//! snapshot fails with 409, which becomes [`WriteError::Conflict`], and the controller plans
//! the pair again from a fresher snapshot.

use crate::engine::apply::{
    self, ApplyError, AuditLog, Clients, SYNCER_FIELD_MANAGER, SendOptions, audit_entry,
};
use crate::engine::change::{Change, Target};
use crate::engine::controller::{WriteError, Writer, Written};

/// Field manager name on every write (shows up in managedFields).
pub const FIELD_MANAGER: &str = SYNCER_FIELD_MANAGER;

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

impl KubeWriter {
    fn clients(&self) -> Clients {
        let (virtual_context, host_context) = self
            .audit
            .as_ref()
            .map(|a| (a.virtual_context.clone(), a.host_context.clone()))
            .unwrap_or_default();
        Clients {
            virtual_client: self.virtual_client.clone(),
            host_client: self.host_client.clone(),
            virtual_context,
            host_context,
        }
    }
}

fn write_error(e: ApplyError) -> WriteError {
    match e {
        ApplyError::Conflict { message, .. } => WriteError::Conflict(message),
        ApplyError::Api { ref source, .. } if matches!(source.as_ref(), kube::Error::Api(s) if s.code == 400 || s.code == 422) => {
            WriteError::Rejected(e.detail())
        }
        other => WriteError::Failed(other.detail()),
    }
}

impl Writer for KubeWriter {
    async fn write(&self, change: &Change) -> Result<Written, WriteError> {
        let clients = self.clients();
        let send = SendOptions {
            dry_run: self.dry_run,
            field_manager: FIELD_MANAGER,
        };
        let r = apply::apply_change(&clients, change, send).await;
        if let Some(a) = &self.audit {
            let outcome = match &r {
                Ok(done) => done.outcome.clone(),
                Err(e) => format!("error: {e}"),
            };
            // The write itself already happened; losing its audit line is bad but must not
            // stop the sync. Say so loudly.
            if let Err(e) = a
                .log
                .write(&audit_entry(&clients, change, self.dry_run, &outcome))
            {
                tracing::error!("{e}");
            }
        }
        r.map(|done| Written {
            resource_version: done.resource_version,
        })
        .map_err(write_error)
    }

    async fn exists(&self, target: &Target) -> Result<bool, WriteError> {
        apply::exists(&self.clients(), target)
            .await
            .map_err(write_error)
    }
}
