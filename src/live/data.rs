//! What the TUI is fed, computed from one snapshot. Pure: no tokio, no client.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::cluster::snapshot::{ObjKey, ObjMap, Side, Snapshot};
pub use crate::demo::data::dns_rows;
use crate::dns::dns_tab;
use crate::engine::ctx::Ctx;
use crate::engine::pair::Pair;
use crate::engine::plan::desired_host;
use crate::engine::{ObjKind, SideName};
use crate::inspect::rows::pair_rows;
use crate::tui::types::{DataUpdate, DiffSource, RowKey};
use crate::vcluster::config::VClusterConfig;

/// The snapshot the TUI shows now, with the engine pair behind each row (diffs, YAML and fixes
/// look pairs up here instead of re-pairing the whole snapshot).
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub snapshot: Arc<Snapshot>,
    pub config: Arc<VClusterConfig>,
    pub pairs: HashMap<RowKey, Pair>,
}

impl Latest {
    pub fn pair(&self, key: &RowKey) -> Option<&Pair> {
        self.pairs.get(key)
    }
}

/// Rows, DNS lines and connection states of one snapshot, plus the pair index.
pub fn data_update(
    snapshot: Arc<Snapshot>,
    config: Arc<VClusterConfig>,
    note: Option<String>,
    version: u64,
) -> (DataUpdate, Latest) {
    let with_pairs = pair_rows(&snapshot, &config);
    let mut pairs = HashMap::with_capacity(with_pairs.len());
    let mut rows = Vec::with_capacity(with_pairs.len());
    for (pair, row) in with_pairs {
        pairs.insert(RowKey::of(&row), pair);
        rows.push(row);
    }
    let update = DataUpdate {
        rows: Arc::new(rows),
        dns: Arc::new(dns_rows(&dns_tab(&snapshot, &config))),
        virtual_conn: snapshot.virtual_side.conn.clone(),
        host_conn: snapshot.host.conn.clone(),
        virtual_context: snapshot.virtual_side.context.clone(),
        host_context: snapshot.host.context.clone(),
        vcluster: snapshot.vcluster.clone(),
        host_namespace: snapshot.host_namespace.clone(),
        note,
        version,
        loading: false,
    };
    (
        update,
        Latest {
            snapshot,
            config,
            pairs,
        },
    )
}

fn to_json<K: Serialize>(map: &ObjMap<K>, key: &ObjKey) -> Option<Value> {
    map.get(key).and_then(|o| serde_json::to_value(&**o).ok())
}

fn side_object(side: &Side, kind: ObjKind, key: &ObjKey) -> Option<Value> {
    match kind {
        // Whole (env lists included): the YAML view and the diff show the pod as it is.
        ObjKind::Pod => side
            .full_pod(key)
            .and_then(|p| serde_json::to_value(&*p).ok()),
        ObjKind::Service => to_json(&side.services, key),
        ObjKind::Endpoints => to_json(&side.endpoints, key),
        ObjKind::EndpointSlice => to_json(&side.endpoint_slices, key),
        ObjKind::Ingress => to_json(&side.ingresses, key),
        ObjKind::Namespace => to_json(&side.namespaces, key),
    }
}

/// One side's object of a pair as the watch cache holds it; `None` when it does not exist.
pub fn object_json(snapshot: &Snapshot, pair: &Pair, side: SideName) -> Option<Value> {
    let (s, key) = match side {
        SideName::Virtual => (&snapshot.virtual_side, pair.virtual_key.as_ref()?),
        SideName::Host => (&snapshot.host, pair.host_key.as_ref()?),
    };
    side_object(s, pair.obj_kind(), key)
}

/// What the engine would write to the host for this pair next to what is there.
pub fn diff_source(snapshot: &Snapshot, config: &VClusterConfig, pair: &Pair) -> DiffSource {
    let ctx = Ctx::new(snapshot, config);
    DiffSource {
        desired: desired_host(&ctx, pair),
        actual: object_json(snapshot, pair, SideName::Host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{RowKind, Status};
    use serde_json::json;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new("demo", "vcluster-demo");
        s.virtual_side
            .insert_json(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], "clusterIP": "10.96.0.20"}
            }))
            .unwrap();
        s
    }

    fn key() -> RowKey {
        RowKey {
            kind: RowKind::Service,
            namespace: "shop".into(),
            name: "web".into(),
        }
    }

    #[test]
    fn every_row_has_its_pair_and_the_version_given() {
        let snap = Arc::new(snapshot());
        let (update, latest) = data_update(
            snap,
            Arc::new(VClusterConfig::default()),
            Some("note".into()),
            7,
        );
        assert_eq!(update.version, 7);
        assert_eq!(update.note.as_deref(), Some("note"));
        assert_eq!(update.rows.len(), latest.pairs.len());
        let row = update.rows.iter().find(|r| key().matches(r)).unwrap();
        assert_eq!(row.status, Status::Missing);
        let pair = latest.pair(&key()).unwrap();
        assert_eq!(
            pair.virtual_key,
            Some(ObjKey::new("shop", "web")),
            "{pair:?}"
        );
    }

    #[test]
    fn objects_and_diffs_come_from_the_snapshot() {
        let snap = snapshot();
        let config = VClusterConfig::default();
        let (_, latest) = data_update(Arc::new(snap.clone()), Arc::new(config.clone()), None, 1);
        let pair = latest.pair(&key()).unwrap();
        let virt = object_json(&snap, pair, SideName::Virtual).unwrap();
        assert_eq!(virt["kind"], "Service");
        assert_eq!(virt["spec"]["clusterIP"], "10.96.0.20");
        assert_eq!(object_json(&snap, pair, SideName::Host), None);
        let diff = diff_source(&snap, &config, pair);
        assert!(diff.actual.is_none());
        let desired = diff.desired.unwrap();
        assert_eq!(desired["metadata"]["name"], "web-x-shop-x-demo");
        assert_eq!(desired["metadata"]["namespace"], "vcluster-demo");
    }

    /// A converged pod pair: its twin carries the service-link env, held pooled by the cache.
    /// The YAML view shows it whole, and the diff view finds nothing to change.
    #[test]
    fn pooled_pod_env_shows_in_yaml_and_makes_no_diff() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/inspect/base.yaml"
        ))
        .unwrap();
        let (snap, config, _) = crate::inspect::fixture::load(&text).unwrap();
        let (_, latest) = data_update(Arc::new(snap.clone()), Arc::new(config.clone()), None, 1);
        let key = RowKey {
            kind: RowKind::Pod,
            namespace: "default".into(),
            name: "web-1".into(),
        };
        let pair = latest.pair(&key).unwrap();
        let hkey = pair.host_key.clone().unwrap();
        let cached = &snap.host.pods[&hkey];
        assert!(
            cached.spec.as_ref().unwrap().containers[0].env.is_none(),
            "the cache holds the twin's env pooled"
        );
        let host = object_json(&snap, pair, SideName::Host).unwrap();
        let env = host["spec"]["containers"][0]["env"].as_array().unwrap();
        assert!(
            env.iter().any(|e| e["name"] == "WEB_SERVICE_HOST"),
            "{env:?}"
        );
        let diff = diff_source(&snap, &config, pair);
        assert_eq!(diff.desired, diff.actual);
    }
}
