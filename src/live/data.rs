//! What the TUI is fed, computed from one snapshot. Pure: no tokio, no client.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::cluster::obj::Cold;
use crate::cluster::snapshot::{ObjKey, ObjMap, Side, Snapshot};
pub use crate::demo::data::dns_rows;
use crate::dns::resolver::Resolver;
use crate::dns::tab::dns_tab_with;
use crate::engine::ctx::Ctx;
use crate::engine::pair::Pair;
use crate::engine::plan::desired_host;
use crate::engine::{ObjKind, SideName};
use crate::live::incremental::{IncrementalRows, UpdateKind};
use crate::tui::types::{DataUpdate, DiffSource, DnsRow, RowKey, Rows};
use crate::vcluster::config::VClusterConfig;
use std::time::{Duration, Instant};

/// The snapshot the TUI shows now, with the engine pair behind each row (diffs, YAML and fixes
/// look pairs up here instead of re-pairing the whole snapshot).
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub snapshot: Arc<Snapshot>,
    pub config: Arc<VClusterConfig>,
    /// The pair of each row of `rows`, at the same index.
    pub pairs: Arc<Vec<Pair>>,
    pub rows: Rows,
}

impl Latest {
    /// The pair behind the row `key` names. A scan: asked once per diff, YAML view or fix,
    /// while an index would be rebuilt for every snapshot.
    pub fn pair(&self, key: &RowKey) -> Option<&Pair> {
        let i = self.rows.iter().position(|r| key.matches(r))?;
        self.pairs.get(i)
    }
}

/// Rows, DNS lines and connection states of one snapshot, plus the pair index.
pub fn data_update(
    snapshot: Arc<Snapshot>,
    config: Arc<VClusterConfig>,
    note: Option<String>,
    version: u64,
) -> (DataUpdate, Latest) {
    LiveRows::default().update(snapshot, config, note, version)
}

/// The DNS tab, the snapshot it was made from, and whether a newer snapshot changed what it
/// reads.
struct DnsCache {
    snapshot: Arc<Snapshot>,
    config: Arc<VClusterConfig>,
    rows: Arc<Vec<DnsRow>>,
    /// The snapshot `rows` were made from is older than the one shown.
    stale: bool,
    made_at: Instant,
    /// What making it cost, which spaces out the next one under churn.
    cost: Duration,
}

/// Under churn the DNS tab is made again at most this often, or ten times its own cost apart
/// if that is longer: it reads every service, and a DNS answer moving a second late matters
/// less than the rows' lag.
const DNS_MIN_GAP: Duration = Duration::from_secs(2);

/// What the TUI is fed, kept from snapshot to snapshot: rows come from
/// [`IncrementalRows`] (only namespaces whose inputs changed are computed again) and the
/// DNS tab is made again only when something it reads changed.
#[derive(Default)]
pub struct LiveRows {
    rows: IncrementalRows,
    dns: Option<DnsCache>,
    /// The pairs of the last update, shared by the next one while they stay the same.
    pairs: Option<Arc<Vec<Pair>>>,
}

impl LiveRows {
    /// [`data_update`] of `snapshot`, reusing what the previous snapshot's update computed.
    pub fn update(
        &mut self,
        snapshot: Arc<Snapshot>,
        config: Arc<VClusterConfig>,
        note: Option<String>,
        version: u64,
    ) -> (DataUpdate, Latest) {
        self.rows.update(snapshot.clone(), config.clone());
        let with_pairs = self.rows.rows();
        let rows: Rows = Arc::new(with_pairs.iter().map(|(_, r)| Arc::clone(r)).collect());
        let pairs = match &self.pairs {
            Some(p) if self.rows.same_pairs() => p.clone(),
            _ => Arc::new(with_pairs.iter().map(|(p, _)| p.clone()).collect()),
        };
        self.pairs = Some(pairs.clone());
        let update = DataUpdate {
            rows: rows.clone(),
            dns: self.dns_rows(&snapshot, &config),
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
                rows,
            },
        )
    }

    /// What the last update recomputed (for traces and tests).
    pub fn last(&self) -> UpdateKind {
        self.rows.last()
    }

    /// Unix seconds at which the rows may change with no new snapshot (a block-deletion
    /// window ends): the pump updates again then.
    pub fn next_deadline(&self) -> Option<i64> {
        self.rows.next_deadline()
    }

    /// When the DNS tab, held back under churn, is due to be made from the newest snapshot.
    pub fn dns_due(&self) -> Option<Instant> {
        let c = self.dns.as_ref().filter(|c| c.stale)?;
        Some(c.made_at + dns_gap(c.cost))
    }

    fn dns_rows(
        &mut self,
        snapshot: &Arc<Snapshot>,
        config: &Arc<VClusterConfig>,
    ) -> Arc<Vec<DnsRow>> {
        let now = Instant::now();
        if let Some(c) = self.dns.as_mut() {
            if dns_inputs_differ(&c.snapshot, snapshot, &c.config, config) {
                c.stale = true;
            }
            // Compared against the snapshot the rows stand for, so a change is never lost.
            if !c.stale || now < c.made_at + dns_gap(c.cost) {
                if !c.stale {
                    c.snapshot = snapshot.clone();
                    c.config = config.clone();
                }
                return c.rows.clone();
            }
        }
        let resolver = Resolver::new(snapshot.clone(), config);
        let rows = Arc::new(dns_rows(&dns_tab_with(&resolver, config)));
        self.dns = Some(DnsCache {
            snapshot: snapshot.clone(),
            config: config.clone(),
            rows: rows.clone(),
            stale: false,
            made_at: now,
            cost: now.elapsed(),
        });
        rows
    }
}

fn dns_gap(cost: Duration) -> Duration {
    DNS_MIN_GAP.max(cost * 10)
}

/// Whether anything the DNS tab reads differs. It reads names, specs, service statuses, pod
/// IPs, endpoint addresses, namespaces, nodes and the config; never labels, annotations,
/// events, ingresses or connection states, so the label, annotation and pod-condition churn of
/// a busy cluster costs no DNS tab.
fn dns_inputs_differ(
    a: &Snapshot,
    b: &Snapshot,
    ca: &Arc<VClusterConfig>,
    cb: &Arc<VClusterConfig>,
) -> bool {
    fn side(a: &Side, b: &Side) -> bool {
        changed(&a.services, &b.services, |x, y| {
            x.spec == y.spec && x.status == y.status
        }) || changed(&a.pods, &b.pods, |x, y| {
            // Of a pod's status only its IPs are read: the kubelet's condition and probe
            // writes cost no DNS tab.
            let ips = |p: &Pod| {
                p.status
                    .as_ref()
                    .map(|s| (s.pod_ip.clone(), s.pod_ips.clone()))
            };
            x.spec == y.spec && ips(x) == ips(y)
        }) || changed(&a.endpoints, &b.endpoints, |x, y| x.subsets == y.subsets)
            || changed(&a.endpoint_slices, &b.endpoint_slices, |x, y| {
                x.endpoints == y.endpoints
                    && x.ports == y.ports
                    && x.address_type == y.address_type
                    && x.metadata.labels == y.metadata.labels
            })
            || changed(&a.namespaces, &b.namespaces, |_, _| false)
            || changed(&a.nodes, &b.nodes, |_, _| false)
    }
    !(Arc::ptr_eq(ca, cb) || **ca == **cb)
        || a.vcluster != b.vcluster
        || a.host_namespace != b.host_namespace
        || side(&a.virtual_side, &b.virtual_side)
        || side(&a.host, &b.host)
}

/// Whether a key was added or removed, or an object replaced by one `same` does not accept.
fn changed<V: PartialEq + Cold>(
    a: &ObjMap<V>,
    b: &ObjMap<V>,
    same: impl Fn(&V, &V) -> bool,
) -> bool {
    let mut any = false;
    crate::live::incremental::diff(a, b, |_, x, y| {
        any |= match (x, y) {
            (Some(x), Some(y)) => !same(x, y),
            _ => true,
        };
    });
    any
}

fn to_json<K: crate::cluster::obj::Cold>(map: &ObjMap<K>, key: &ObjKey) -> Option<Value> {
    map.get(key).and_then(|o| serde_json::to_value(o).ok())
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
    use crate::cluster::snapshot::Obj;
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
        assert!(Arc::ptr_eq(&update.rows, &latest.rows));
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

    fn edit_service(
        snap: &Snapshot,
        f: impl FnOnce(&mut k8s_openapi::api::core::v1::Service),
    ) -> Snapshot {
        let mut s = snap.clone();
        let k = ObjKey::new("shop", "web");
        let mut svc = (*s.virtual_side.services[&k]).clone();
        f(&mut svc);
        s.virtual_side.services.insert(k, Obj::new(svc));
        s
    }

    /// Label churn keeps the DNS tab; a change it reads within the gap holds it back until
    /// it is due, and the rows still follow at once.
    #[test]
    fn dns_tab_is_kept_across_label_churn_and_due_after_a_real_change() {
        let snap = snapshot();
        let config = Arc::new(VClusterConfig::default());
        let mut live = LiveRows::default();
        let (first, _) = live.update(Arc::new(snap.clone()), config.clone(), None, 1);
        let labelled = edit_service(&snap, |s| {
            s.metadata.labels = Some([("churn".to_string(), "a".to_string())].into());
        });
        let (second, _) = live.update(Arc::new(labelled.clone()), config.clone(), None, 2);
        assert!(Arc::ptr_eq(&first.dns, &second.dns));
        assert_eq!(live.dns_due(), None);
        let moved = edit_service(&labelled, |s| {
            s.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.99".into());
        });
        let (third, _) = live.update(Arc::new(moved), config.clone(), None, 3);
        assert!(
            Arc::ptr_eq(&first.dns, &third.dns),
            "held back within the gap"
        );
        assert!(live.dns_due().is_some());
        let row = third.rows.iter().find(|r| key().matches(r)).unwrap();
        assert_eq!(row.virtual_side.ip.as_deref(), Some("10.96.0.99"));
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
