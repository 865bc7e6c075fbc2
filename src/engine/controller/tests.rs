//! The loop driven against an in-memory "cluster": a fake writer applies each change to the
//! snapshot and publishes the next one, the way the watch caches would.

use super::*;
use crate::cluster::snapshot::{ConnState, Obj, Side};
use crate::engine::diff::apply_merge_patch;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

const VC: &str = "vc";
const HNS: &str = "vcluster-vc";

struct World {
    tx: watch::Sender<Arc<Snapshot>>,
    rv: AtomicU64,
    ips: AtomicU64,
    /// Fail this many upcoming writes.
    fail_next: Mutex<u32>,
    writes: Mutex<Vec<Change>>,
    /// Objects the "server" has that the published snapshot does not show yet (a lagging
    /// watch); `Writer::exists` answers from the server.
    unseen: Mutex<Vec<Target>>,
}

impl World {
    fn new(snap: Snapshot) -> Arc<Self> {
        Arc::new(Self {
            tx: watch::channel(Arc::new(snap)).0,
            rv: AtomicU64::new(1000),
            ips: AtomicU64::new(10),
            fail_next: Mutex::new(0),
            writes: Mutex::new(Vec::new()),
            unseen: Mutex::new(Vec::new()),
        })
    }

    fn snap(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    fn writes(&self) -> Vec<Change> {
        self.writes.lock().unwrap().clone()
    }

    fn next_rv(&self) -> String {
        (self.rv.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    }

    /// Change the world from outside the controller (a user, another controller).
    fn edit(&self, f: impl FnOnce(&mut Snapshot)) {
        let mut s = (*self.snap()).clone();
        f(&mut s);
        s.version += 1;
        self.tx.send_replace(Arc::new(s));
    }

    fn apply(&self, c: &Change) -> Option<String> {
        let mut out = None;
        self.edit(|s| {
            let side = match c.target.side {
                SideName::Virtual => &mut s.virtual_side,
                SideName::Host => &mut s.host,
            };
            let key = ObjKey::new(c.target.namespace.clone(), c.target.name.clone());
            let current: Option<Value> = get_json(side, c.target.kind, &key);
            let next = match &c.action {
                Action::Create { object } => Some(object.clone()),
                Action::Recreate { object, .. } => Some(object.clone()),
                Action::Patch { patch, .. } => current.map(|mut cur| {
                    apply_merge_patch(&mut cur, patch);
                    cur
                }),
                Action::Delete { .. } => None,
                Action::Bind { node } => current.map(|mut cur| {
                    cur["spec"]["nodeName"] = json!(node);
                    cur
                }),
            };
            match next {
                None => remove(side, c.target.kind, &key),
                Some(mut obj) => {
                    let rv = self.next_rv();
                    obj["metadata"]["resourceVersion"] = json!(rv);
                    if obj["metadata"]["uid"].is_null() {
                        obj["metadata"]["uid"] = json!(format!("uid-{rv}"));
                    }
                    if c.target.kind == ObjKind::Service
                        && obj["spec"]["clusterIP"].as_str().unwrap_or("").is_empty()
                    {
                        let n = self.ips.fetch_add(1, Ordering::SeqCst);
                        obj["spec"]["clusterIP"] = json!(format!("10.96.0.{n}"));
                    }
                    put(side, c.target.kind, key, obj);
                    out = Some(rv);
                }
            }
        });
        out
    }
}

fn get_json(side: &Side, kind: ObjKind, key: &ObjKey) -> Option<Value> {
    match kind {
        ObjKind::Pod => side
            .pods
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
        ObjKind::Service => side
            .services
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
        ObjKind::Endpoints => side
            .endpoints
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
        ObjKind::EndpointSlice => side
            .endpoint_slices
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
        ObjKind::Ingress => side
            .ingresses
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
        ObjKind::Namespace => side
            .namespaces
            .get(key)
            .map(|o| serde_json::to_value(o.as_ref()).unwrap()),
    }
}

fn remove(side: &mut Side, kind: ObjKind, key: &ObjKey) {
    match kind {
        ObjKind::Pod => drop(side.pods.remove(key)),
        ObjKind::Service => drop(side.services.remove(key)),
        ObjKind::Endpoints => drop(side.endpoints.remove(key)),
        ObjKind::EndpointSlice => drop(side.endpoint_slices.remove(key)),
        ObjKind::Ingress => drop(side.ingresses.remove(key)),
        ObjKind::Namespace => drop(side.namespaces.remove(key)),
    }
}

fn put(side: &mut Side, kind: ObjKind, key: ObjKey, obj: Value) {
    match kind {
        ObjKind::Pod => drop(
            side.pods
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
        ObjKind::Service => drop(
            side.services
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
        ObjKind::Endpoints => drop(
            side.endpoints
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
        ObjKind::EndpointSlice => drop(
            side.endpoint_slices
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
        ObjKind::Ingress => drop(
            side.ingresses
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
        ObjKind::Namespace => drop(
            side.namespaces
                .insert(key, Obj::new(serde_json::from_value(obj).unwrap())),
        ),
    }
}

impl Writer for Arc<World> {
    async fn write(&self, change: &Change) -> Result<Written, WriteError> {
        {
            let mut f = self.fail_next.lock().unwrap();
            if *f > 0 {
                *f -= 1;
                return Err(WriteError::Failed("injected: connection refused".into()));
            }
        }
        self.writes.lock().unwrap().push(change.clone());
        tokio::task::yield_now().await;
        let rv = self.apply(change);
        Ok(Written {
            resource_version: rv,
        })
    }

    async fn exists(&self, target: &Target) -> Result<bool, WriteError> {
        if self.unseen.lock().unwrap().contains(target) {
            return Ok(true);
        }
        Ok(observed(&self.snap(), target).is_some())
    }
}

fn svc(ns: &str, name: &str, ip: &str, uid: &str) -> Obj<Service> {
    Obj::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "1"},
            "spec": {"clusterIP": ip, "type": "ClusterIP",
                     "selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
        }))
        .unwrap(),
    )
}

fn base() -> Snapshot {
    let mut s = Snapshot {
        version: 1,
        vcluster: VC.into(),
        host_namespace: HNS.into(),
        ..Default::default()
    };
    s.virtual_side.conn = ConnState::Live;
    s.host.conn = ConnState::Live;
    s.host.services.insert(
        ObjKey::new(HNS, VC),
        svc(HNS, VC, "10.96.0.1", "vc-svc-uid"),
    );
    let dns = naming::kube_dns_host_name(VC);
    s.host.services.insert(
        ObjKey::new(HNS, &dns),
        svc(HNS, &dns, "10.96.0.2", "dns-uid"),
    );
    for ns in ["default", "kube-system"] {
        s.virtual_side.namespaces.insert(
            ObjKey::new("", ns),
            Obj::new(
                serde_json::from_value(json!({"metadata": {"name": ns, "uid": format!("ns-{ns}"), "resourceVersion": "1"}}))
                    .unwrap(),
            ),
        );
    }
    s
}

fn with_virtual_service(mut s: Snapshot, name: &str) -> Snapshot {
    s.virtual_side.services.insert(
        ObjKey::new("default", name),
        svc("default", name, "10.200.0.5", &format!("v-{name}")),
    );
    s
}

fn fast() -> ControllerOptions {
    ControllerOptions {
        workers: 2,
        backoff: Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        },
        retry_rate: 1000.0,
        expectation_ttl: Duration::from_millis(500),
        start_timeout: Duration::from_secs(2),
        round_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

fn controller(
    world: &Arc<World>,
    leader: bool,
    config: ConfigSource,
) -> (
    Controller<Arc<World>>,
    watch::Sender<bool>,
    watch::Sender<bool>,
) {
    let (leader_tx, leader_rx) = watch::channel(leader);
    let (stop_tx, stop_rx) = watch::channel(false);
    let c = Controller::new(Parts {
        vcluster: VC.into(),
        host_namespace: HNS.into(),
        snapshots: world.tx.subscribe(),
        writer: world.clone(),
        recorder: None,
        config,
        leader: leader_rx,
        stop: stop_rx,
        read_only: false,
        options: fast(),
    });
    (c, leader_tx, stop_tx)
}

fn host_twin_name(name: &str) -> String {
    crate::engine::ownership::twin_name(
        &Ctx {
            snapshot: &Snapshot::default(),
            config: &VClusterConfig::default(),
            vcluster: VC,
            host_namespace: HNS,
            now: crate::engine::ctx::now_seconds(),
        },
        ObjKind::Service,
        "default",
        name,
    )
}

fn all_plans_empty(snap: &Snapshot) -> Vec<String> {
    let config = VClusterConfig::default();
    let ctx = Ctx {
        snapshot: snap,
        config: &config,
        vcluster: VC,
        host_namespace: HNS,
        now: crate::engine::ctx::now_seconds(),
    };
    pairs(&ctx)
        .into_iter()
        .filter_map(|p| {
            let pl = plan(&ctx, &p, None);
            (!pl.changes.is_empty()).then(|| format!("{}: {:?}", describe_pair(&p), pl.changes))
        })
        .collect()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn once_creates_the_twin_and_syncs_the_cluster_ip_back() {
    let world = World::new(with_virtual_service(base(), "web"));
    let (c, _l, _s) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let report = c.run_once().await.unwrap();
    assert!(report.unsynced.is_empty(), "{}", report.summary());
    let snap = world.snap();
    let twin = snap
        .host
        .services
        .get(&ObjKey::new(HNS, host_twin_name("web")))
        .expect("host twin created");
    let vsvc = snap
        .virtual_side
        .services
        .get(&ObjKey::new("default", "web"))
        .unwrap();
    assert_eq!(
        twin.spec.as_ref().unwrap().cluster_ip,
        vsvc.spec.as_ref().unwrap().cluster_ip,
        "virtual ClusterIP follows the host's"
    );
    assert!(
        all_plans_empty(&snap).is_empty(),
        "{:?}",
        all_plans_empty(&snap)
    );
    assert!(report.stats.applied >= 2, "{:?}", report.stats);
    assert!(report.rounds >= 2);
}

#[tokio::test]
async fn once_reports_a_squatter_as_unsynced_and_never_writes_to_it() {
    let mut s = with_virtual_service(base(), "web");
    let twin = host_twin_name("web");
    s.host.services.insert(
        ObjKey::new(HNS, &twin),
        svc(HNS, &twin, "10.96.0.99", "squat"),
    );
    let world = World::new(s);
    let (c, _l, _s) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let report = c.run_once().await.unwrap();
    assert!(
        world.writes().iter().all(|w| w.target.name != twin),
        "{:?}",
        world.writes()
    );
    assert_eq!(report.unsynced.len(), 1, "{}", report.summary());
    assert!(
        report.unsynced[0].reason.starts_with("squatter:"),
        "{}",
        report.summary()
    );
    assert!(report.stats.notices >= 1);
    assert!(report.summary().contains("1 pair(s) left unsynced"));
}

#[tokio::test]
async fn failed_writes_are_retried_with_backoff_until_they_succeed() {
    let world = World::new(with_virtual_service(base(), "web"));
    *world.fail_next.lock().unwrap() = 3;
    let (c, _l, _s) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let report = c.run_once().await.unwrap();
    assert_eq!(report.stats.failed, 3);
    assert!(report.unsynced.is_empty(), "{}", report.summary());
    assert!(all_plans_empty(&world.snap()).is_empty());
}

#[tokio::test]
async fn a_standby_writes_nothing_until_it_leads_and_stop_ends_the_loop() {
    let world = World::new(with_virtual_service(base(), "web"));
    let (c, leader, stop) = controller(
        &world,
        false,
        ConfigSource::Fixed(VClusterConfig::default()),
    );
    let run = tokio::spawn(c.run());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        world.writes().is_empty(),
        "standby wrote: {:?}",
        world.writes()
    );
    leader.send_replace(true);
    eventually("converged after gaining leadership", || {
        all_plans_empty(&world.snap()).is_empty() && !world.writes().is_empty()
    })
    .await;
    stop.send_replace(true);
    let stats = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .unwrap()
        .unwrap();
    assert!(stats.applied >= 2);
}

#[tokio::test]
async fn continuous_sync_follows_changes_and_deletions_both_ways() {
    let world = World::new(base());
    let (c, _leader, stop) =
        controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let run = tokio::spawn(c.run());
    let twin = ObjKey::new(HNS, host_twin_name("web"));

    // Virtual created → host twin.
    world.edit(|s| {
        s.virtual_side.services.insert(
            ObjKey::new("default", "web"),
            svc("default", "web", "10.200.0.5", "v-web"),
        );
    });
    eventually("twin created and in line", || {
        let s = world.snap();
        s.host.services.contains_key(&twin) && all_plans_empty(&s).is_empty()
    })
    .await;

    // Host twin deleted after it was seen → the virtual object goes too (§8.4).
    world.edit(|s| {
        s.host.services.remove(&twin);
    });
    eventually("virtual service deleted", || {
        !world
            .snap()
            .virtual_side
            .services
            .contains_key(&ObjKey::new("default", "web"))
    })
    .await;
    assert!(
        !world.snap().host.services.contains_key(&twin),
        "twin not recreated"
    );

    // Virtual created again, then deleted → host twin deleted.
    world.edit(|s| {
        s.virtual_side.services.insert(
            ObjKey::new("default", "api"),
            svc("default", "api", "10.200.0.6", "v-api"),
        );
    });
    let api_twin = ObjKey::new(HNS, host_twin_name("api"));
    eventually("api twin", || {
        world.snap().host.services.contains_key(&api_twin)
    })
    .await;
    world.edit(|s| {
        s.virtual_side
            .services
            .remove(&ObjKey::new("default", "api"));
    });
    eventually("api twin deleted", || {
        !world.snap().host.services.contains_key(&api_twin)
    })
    .await;

    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn without_memory_a_missing_twin_is_recreated_not_the_virtual_deleted() {
    // A controller that never saw the twin (fresh start) must not delete the virtual object.
    let world = World::new(with_virtual_service(base(), "web"));
    let (c, _l, _s) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    c.run_once().await.unwrap();
    let twin = ObjKey::new(HNS, host_twin_name("web"));
    world.edit(|s| {
        s.host.services.remove(&twin);
    });
    let (c2, _l2, _s2) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let report = c2.run_once().await.unwrap();
    assert!(report.unsynced.is_empty(), "{}", report.summary());
    let s = world.snap();
    assert!(
        s.virtual_side
            .services
            .contains_key(&ObjKey::new("default", "web"))
    );
    assert!(s.host.services.contains_key(&twin));
}

#[tokio::test]
async fn the_config_secret_is_followed_without_a_restart() {
    let world = World::new(with_virtual_service(base(), "web"));
    let (c, _leader, stop) = controller(&world, true, ConfigSource::HostSecret);
    let run = tokio::spawn(c.run());
    let twin = ObjKey::new(HNS, host_twin_name("web"));
    eventually("twin with services enabled by default", || {
        world.snap().host.services.contains_key(&twin)
    })
    .await;
    let secret = |yaml: &str, rv: &str| -> Obj<k8s_openapi::api::core::v1::Secret> {
        Obj::new(
            serde_json::from_value(json!({
                "metadata": {"name": naming::config_secret_name(VC), "namespace": HNS, "resourceVersion": rv},
                "data": {"config.yaml": base64_encode(yaml)}
            }))
            .unwrap(),
        )
    };
    // Pods off: a new virtual pod gets no twin.
    world.edit(|s| {
        s.host.secrets.insert(
            ObjKey::new(HNS, naming::config_secret_name(VC)),
            secret("sync:\n  toHost:\n    pods:\n      enabled: false\n", "50"),
        );
        s.virtual_side
            .pods
            .insert(ObjKey::new("default", "p"), pod("p"));
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        world.writes().iter().all(|w| w.target.kind != ObjKind::Pod),
        "{:?}",
        world.writes()
    );
    // Pods back on: the pod syncs, no restart.
    world.edit(|s| {
        s.host.secrets.insert(
            ObjKey::new(HNS, naming::config_secret_name(VC)),
            secret("sync:\n  toHost:\n    pods:\n      enabled: true\n", "51"),
        );
    });
    eventually("pod twin after re-enabling", || {
        world
            .writes()
            .iter()
            .any(|w| w.target.kind == ObjKind::Pod && w.target.side == SideName::Host)
    })
    .await;
    stop.send_replace(true);
    let stats = run.await.unwrap();
    assert!(stats.config_reloads >= 2, "{stats:?}");
}

#[tokio::test]
async fn a_broken_config_secret_keeps_the_previous_config() {
    let mut s = base();
    s.host.secrets.insert(
        ObjKey::new(HNS, naming::config_secret_name(VC)),
        Obj::new(
            serde_json::from_value(json!({
                "metadata": {"name": naming::config_secret_name(VC), "namespace": HNS, "resourceVersion": "3"},
                "data": {"config.yaml": base64_encode("sync: [unclosed")}
            }))
            .unwrap(),
        ),
    );
    let got = config_from_snapshot(&s, VC, HNS).unwrap();
    let err = got.unwrap_err();
    assert!(
        err.contains("config.yaml") && err.contains("keeping the previous config"),
        "{err}"
    );
}

#[tokio::test]
async fn read_only_plans_but_never_writes() {
    let world = World::new(with_virtual_service(base(), "web"));
    let (leader_tx, leader_rx) = watch::channel(false);
    let (_stop_tx, stop_rx) = watch::channel(false);
    let c = Controller::new(Parts {
        vcluster: VC.into(),
        host_namespace: HNS.into(),
        snapshots: world.tx.subscribe(),
        writer: world.clone(),
        recorder: None,
        config: ConfigSource::Fixed(VClusterConfig::default()),
        leader: leader_rx,
        stop: stop_rx,
        read_only: true,
        options: fast(),
    });
    drop(leader_tx);
    let report = c.run_once().await.unwrap();
    assert!(world.writes().is_empty());
    assert_eq!(report.unsynced.len(), 1, "{}", report.summary());
}

fn pod(name: &str) -> Obj<Pod> {
    Obj::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("pod-{name}"), "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "serviceAccountName": "default"}
        }))
        .unwrap(),
    )
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn expectations_compare_resource_versions_numerically() {
    assert!(rv_reached("10", "9"));
    assert!(rv_reached("10", "10"));
    assert!(!rv_reached("9", "10"));
    assert!(rv_reached("abc", "abc"));
    assert!(!rv_reached("abc", "abd"));
}

#[test]
fn the_once_summary_names_each_unsynced_pair() {
    let r = OnceReport {
        rounds: 2,
        stats: Stats::default(),
        unsynced: vec![Unsynced {
            pair: Pair::new(
                PairKind::Service,
                Some(ObjKey::new("default", "web")),
                Some(ObjKey::new(HNS, "web-x-default-x-vc")),
            ),
            reason: "squatter: host service …".into(),
        }],
    };
    let s = r.summary();
    assert!(
        s.contains("service default/web ⇄ vcluster-vc/web-x-default-x-vc: squatter"),
        "{s}"
    );
}

#[tokio::test]
async fn a_pod_waiting_for_the_kube_dns_twin_is_reported_and_counted_unsynced() {
    let mut s = base();
    s.host
        .services
        .remove(&ObjKey::new(HNS, naming::kube_dns_host_name(VC)));
    s.virtual_side
        .pods
        .insert(ObjKey::new("default", "p"), pod("p"));
    let world = World::new(s);
    let (c, _l, _s) = controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let report = c.run_once().await.unwrap();
    assert!(
        world.writes().iter().all(|w| w.target.kind != ObjKind::Pod),
        "no pod twin without a nameserver: {:?}",
        world.writes()
    );
    let waiting: Vec<_> = report
        .unsynced
        .iter()
        .filter(|u| u.pair.kind == PairKind::Pod)
        .collect();
    assert_eq!(waiting.len(), 1, "{}", report.summary());
    assert!(
        report.stats.notices >= 1,
        "a SyncWarning is said: {:?}",
        report.stats
    );
}

#[tokio::test]
async fn the_same_notice_is_not_repeated_within_its_interval() {
    let mut s = with_virtual_service(base(), "web");
    let twin = host_twin_name("web");
    s.host.services.insert(
        ObjKey::new(HNS, &twin),
        svc(HNS, &twin, "10.96.0.99", "squat"),
    );
    let world = World::new(s);
    let (c, _leader, stop) =
        controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let run = tokio::spawn(c.run());
    // Touch the virtual object a few times: each change replans the squatted pair.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        world.edit(|s| {
            let key = ObjKey::new("default", "web");
            let mut v = (**s.virtual_side.services.get(&key).unwrap()).clone();
            v.metadata.resource_version = Some(format!("{}", 10 + i));
            s.virtual_side.services.insert(key, Obj::new(v));
        });
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send_replace(true);
    let stats = run.await.unwrap();
    assert_eq!(stats.notices, 1, "{stats:?}");
    assert!(world.writes().iter().all(|w| w.target.name != twin));
}

#[test]
fn a_recreated_object_briefly_gone_is_not_taken_as_written() {
    // Between the delete and the create of a re-creation the snapshot can show the object
    // gone; planning from that moment would call the pair an orphan and delete its twin.
    let snap = base();
    let target = Target {
        side: SideName::Virtual,
        kind: ObjKind::Service,
        namespace: "default".into(),
        name: "web".into(),
    };
    let recreate = Expect::Present {
        target: target.clone(),
        rv: Some("2000".into()),
        before: Some("1".into()),
        gone_ok: false,
    };
    assert!(!recreate.met(&snap), "absent is not the re-created object");
    let patched = Expect::Present {
        target: target.clone(),
        rv: Some("2000".into()),
        before: Some("1".into()),
        gone_ok: true,
    };
    assert!(
        patched.met(&snap),
        "a patched object deleted since ends the wait"
    );
    let with_old = with_virtual_service(base(), "web");
    assert!(
        !recreate.met(&with_old),
        "the old object (rv 1) is not the new one"
    );
    let gone = Expect::Gone {
        target,
        uid: Some("v-web".into()),
    };
    assert!(!gone.met(&with_old));
    assert!(gone.met(&snap));
}

#[tokio::test]
async fn a_snapshot_lagging_behind_a_recreate_deletes_neither_side() {
    // The flaky `sync --once` failure: a snapshot published between the delete and the create
    // of a virtual Service's re-create, seen after the write's expectation ran out, made the
    // pair look like an orphan: the twin was deleted, then (host "seen before", now gone) the
    // virtual Service too, and with both gone nothing was left to call unsynced.
    let world = World::new(with_virtual_service(base(), "web"));
    let (c, _leader, stop) =
        controller(&world, true, ConfigSource::Fixed(VClusterConfig::default()));
    let run = tokio::spawn(c.run());
    let vkey = ObjKey::new("default", "web");
    let twin = ObjKey::new(HNS, host_twin_name("web"));
    eventually("twin created and in line", || {
        let s = world.snap();
        s.host.services.contains_key(&twin) && all_plans_empty(&s).is_empty()
    })
    .await;
    let before = world.writes().len();

    // The server has the (re-created) virtual Service; the snapshot still shows it gone, for
    // longer than the expectation TTL.
    let hidden = world
        .snap()
        .virtual_side
        .services
        .get(&vkey)
        .cloned()
        .unwrap();
    world.unseen.lock().unwrap().push(Target {
        side: SideName::Virtual,
        kind: ObjKind::Service,
        namespace: "default".into(),
        name: "web".into(),
    });
    world.edit(|s| {
        s.virtual_side.services.remove(&vkey);
    });
    tokio::time::sleep(fast().expectation_ttl * 2).await;
    let deletes: Vec<_> = world.writes()[before..]
        .iter()
        .filter(|c| matches!(c.action, Action::Delete { .. }))
        .map(|c| c.target.to_string())
        .collect();
    assert!(
        deletes.is_empty(),
        "deleted from a stale snapshot: {deletes:?}"
    );
    assert!(world.snap().host.services.contains_key(&twin));

    // The watch catches up: nothing was lost, nothing left to do.
    world.unseen.lock().unwrap().clear();
    world.edit(|s| {
        s.virtual_side.services.insert(vkey.clone(), hidden);
    });
    eventually("in line again", || {
        all_plans_empty(&world.snap()).is_empty()
    })
    .await;
    assert!(world.snap().host.services.contains_key(&twin));
    assert!(
        !world.writes()[before..]
            .iter()
            .any(|c| matches!(c.action, Action::Delete { .. })),
        "no delete once the snapshot caught up either"
    );

    // A virtual Service really gone still takes its twin with it.
    world.edit(|s| {
        s.virtual_side.services.remove(&vkey);
    });
    eventually("twin deleted with its virtual service", || {
        !world.snap().host.services.contains_key(&twin)
    })
    .await;

    stop.send_replace(true);
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn an_endpoints_pair_is_replanned_when_its_service_changes() {
    // Planning Endpoints reads whether their Service has a selector: a Service that gains one
    // must change the Endpoints pair's fingerprint, or its host copy outlives the selector.
    let mut snap = with_virtual_service(base(), "db");
    let pair = Pair::new(
        PairKind::Endpoints,
        Some(ObjKey::new("default", "db")),
        None,
    );
    let before = pair_fingerprint(&snap, &pair);
    let mut changed = (*svc("default", "db", "10.200.0.5", "v-db")).clone();
    changed.metadata.resource_version = Some("2".into());
    snap.virtual_side
        .services
        .insert(ObjKey::new("default", "db"), Obj::new(changed));
    assert_ne!(before, pair_fingerprint(&snap, &pair));
    // Another Service changing leaves it alone.
    let again = pair_fingerprint(&snap, &pair);
    let snap = with_virtual_service(snap, "web");
    assert_eq!(again, pair_fingerprint(&snap, &pair));
}
