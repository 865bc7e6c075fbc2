//! The holds the demo puts on the scenario's incident, released as the operator fixes it from
//! the TUI (whose backend is [`crate::live::LiveBackend`]).

use crate::cluster::snapshot::Snapshot;
use crate::engine::{SideName, Target};
use crate::inspect::status::obj_kind;
use crate::inspect::{Status, pair_rows};
use crate::vcluster::config::VClusterConfig;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

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
/// A Waiting row whose twin already exists is held too: once what it waits for is fixed, the
/// problem behind it (an older incarnation's twin) is the operator's to see and fix.
pub fn incident_targets(snapshot: &Snapshot, config: &VClusterConfig) -> Vec<Target> {
    pair_rows(snapshot, config)
        .into_iter()
        .filter(|(_, r)| r.status.is_problem())
        .flat_map(|(_, r)| {
            let waiting_twin =
                (matches!(r.status, Status::Waiting { .. }) && r.host.exists).then(|| Target {
                    side: SideName::Host,
                    kind: obj_kind(r.kind),
                    namespace: r.host.namespace.clone(),
                    name: r.host.name.clone(),
                });
            r.plan
                .changes
                .into_iter()
                .map(|c| c.target)
                .chain(waiting_twin)
        })
        .collect()
}
