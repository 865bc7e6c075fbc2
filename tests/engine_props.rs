//! Safety properties of the engine over generated worlds.
//!
//! 1. No plan ever writes to a host object this vCluster does not manage (§8.2), and creates
//!    only where nothing exists.
//! 2. A pair whose plan only patches is in line after applying that plan once.
//! 3. Plan → apply → plan converges (bounded rounds) to empty plans, with or without memory.
//! 4. `pairs_seen` hands out the same pairs as `pairs` with the objects `LastSeen::observe`
//!    finds, so `plan_seen` plans exactly like `plan`.

mod engine_support;
use engine_support::sim::Sim;
use engine_support::*;
use k8s_openapi::api::core::v1::{Pod, Service};
use proptest::prelude::*;
use vinspect::cluster::snapshot::{ObjKey, Snapshot};
use vinspect::engine::ownership::is_managed;
use vinspect::engine::{
    Action, Ctx, LastSeen, Memory, ObjKind, SideName, pairs, pairs_seen, plan, plan_seen,
};
use vinspect::vcluster::config::VClusterConfig;
use vinspect::vcluster::naming;

#[derive(Debug, Clone)]
enum HostState {
    Absent,
    Synced,
    Drifted(String),
    Squatter,
    OtherVCluster,
    OldUid,
    Orphan,
}

#[derive(Debug, Clone)]
struct SvcCase {
    name: String,
    ns: String,
    selector: Option<String>,
    headless: bool,
    kind: u8,
    release_label: bool,
    host: HostState,
}

fn host_state() -> impl Strategy<Value = HostState> {
    prop_oneof![
        Just(HostState::Absent),
        Just(HostState::Synced),
        "[a-z]{1,5}".prop_map(HostState::Drifted),
        Just(HostState::Squatter),
        Just(HostState::OtherVCluster),
        Just(HostState::OldUid),
        Just(HostState::Orphan),
    ]
}

fn svc_case() -> impl Strategy<Value = SvcCase> {
    (
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        prop_oneof![
            Just("default".to_string()),
            Just("shop".to_string()),
            "[a-z]{30,40}"
        ],
        proptest::option::of("[a-z]{1,6}"),
        any::<bool>(),
        0u8..4,
        any::<bool>(),
        host_state(),
    )
        .prop_map(
            |(name, ns, selector, headless, kind, release_label, host)| SvcCase {
                name,
                ns,
                selector,
                headless,
                kind,
                release_label,
                host,
            },
        )
}

fn world(cases: &[SvcCase]) -> Snapshot {
    let mut s = base();
    let cfg = VClusterConfig::default();
    for (i, c) in cases.iter().enumerate() {
        if s.virtual_side
            .services
            .contains_key(&ObjKey::new(c.ns.clone(), c.name.clone()))
        {
            continue;
        }
        let ty = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"][c.kind as usize];
        let mut v: Service = yaml(&format!(
            "metadata: {{name: {}, namespace: {}, uid: v-{i}, resourceVersion: '1', labels: {{app: a{i}}}}}\nspec: {{type: {ty}, ports: [{{port: 80, protocol: TCP}}]}}",
            c.name, c.ns
        ));
        let spec = v.spec.as_mut().unwrap();
        if ty == "ExternalName" {
            spec.external_name = Some("example.com".into());
            spec.ports = None;
        } else if c.headless && ty == "ClusterIP" {
            spec.cluster_ip = Some("None".into());
        }
        if let Some(sel) = &c.selector {
            spec.selector = Some([("app".to_string(), sel.clone())].into());
        }
        if c.release_label {
            v.metadata
                .labels
                .as_mut()
                .unwrap()
                .insert("release".into(), "r".into());
        }
        let twin_name = naming::host_name(&c.name, &c.ns, VC);
        let ctx = Ctx::new(&s, &cfg);
        let mut twin = vinspect::engine::translate::service::to_host(&ctx, &v);
        twin.metadata.uid = Some(format!("h-{i}"));
        twin.metadata.resource_version = Some("1".into());
        let put_virtual = !matches!(c.host, HostState::Orphan);
        match &c.host {
            HostState::Absent => {}
            HostState::Synced | HostState::Orphan | HostState::OldUid => {
                if matches!(c.host, HostState::OldUid) {
                    twin.metadata
                        .annotations
                        .as_mut()
                        .unwrap()
                        .insert(naming::ANNOTATION_OBJECT_UID.into(), "old".into());
                }
                put(&mut s.host.services, twin);
            }
            HostState::Drifted(x) => {
                twin.metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert("drift".into(), x.clone());
                if let Some(sel) = twin.spec.as_mut().unwrap().selector.as_mut() {
                    sel.insert("app".into(), x.clone());
                }
                twin.spec.as_mut().unwrap().session_affinity = Some("ClientIP".into());
                put(&mut s.host.services, twin);
            }
            HostState::Squatter => {
                put(
                    &mut s.host.services,
                    yaml::<Service>(&format!(
                        "metadata: {{name: {twin_name}, namespace: {HNS}, uid: sq-{i}, resourceVersion: '1'}}\nspec: {{ports: [{{port: 1}}]}}"
                    )),
                );
            }
            HostState::OtherVCluster => {
                twin.metadata
                    .labels
                    .as_mut()
                    .unwrap()
                    .insert(naming::LABEL_MANAGED_BY.into(), "other".into());
                put(&mut s.host.services, twin);
            }
        }
        if put_virtual {
            put(&mut s.virtual_side.services, v.clone());
            // A pod behind each service with a selector.
            if let Some(sel) = &c.selector {
                let mut p: Pod = yaml(&format!(
                    "metadata: {{name: p-{}, namespace: {}, uid: p-{i}, resourceVersion: '1'}}\nspec: {{containers: [{{name: c, image: img}}]}}",
                    c.name, c.ns
                ));
                p.metadata.labels = Some([("app".to_string(), sel.clone())].into());
                if !s.virtual_side.pods.contains_key(&ObjKey::of(&p)) {
                    put(&mut s.virtual_side.pods, p);
                }
            }
        }
    }
    s
}

fn managed_or_absent(s: &Snapshot, kind: ObjKind, ns: &str, name: &str) -> Result<(), String> {
    let cfg = VClusterConfig::default();
    let ctx = Ctx::new(s, &cfg);
    let key = ObjKey::new(ns, name);
    let meta = match kind {
        ObjKind::Service => s.host.services.get(&key).map(|o| o.metadata.clone()),
        ObjKind::Pod => s.host.pods.get(&key).map(|o| o.metadata.clone()),
        ObjKind::Endpoints => s.host.endpoints.get(&key).map(|o| o.metadata.clone()),
        ObjKind::EndpointSlice => s.host.endpoint_slices.get(&key).map(|o| o.metadata.clone()),
        ObjKind::Ingress => s.host.ingresses.get(&key).map(|o| o.metadata.clone()),
        ObjKind::Namespace => None,
    };
    match meta {
        None => Ok(()),
        Some(m) if is_managed(&ctx, kind, &m) => Ok(()),
        Some(_) => Err(format!("write to unmanaged host {kind} {key}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn never_writes_to_unmanaged_host_objects(cases in proptest::collection::vec(svc_case(), 1..8)) {
        let s = world(&cases);
        let cfg = VClusterConfig::default();
        let ctx = Ctx::new(&s, &cfg);
        for pair in pairs(&ctx) {
            let p = plan(&ctx, &pair, None);
            for c in p.changes.iter().filter(|c| c.target.side == SideName::Host) {
                let t = &c.target;
                match &c.action {
                    Action::Create { .. } => {
                        let exists = match t.kind {
                            ObjKind::Service => s.host.services.contains_key(&ObjKey::new(t.namespace.clone(), t.name.clone())),
                            ObjKind::Pod => s.host.pods.contains_key(&ObjKey::new(t.namespace.clone(), t.name.clone())),
                            _ => false,
                        };
                        prop_assert!(!exists, "create over an existing host object {t}");
                    }
                    _ => {
                        let r = managed_or_absent(&s, t.kind, &t.namespace, &t.name);
                        prop_assert!(r.is_ok(), "{:?} for {:?}", r, pair);
                    }
                }
            }
        }
    }

    #[test]
    fn patch_only_plans_are_in_line_after_one_apply(cases in proptest::collection::vec(svc_case(), 1..6)) {
        let s = world(&cases);
        let cfg = VClusterConfig::default();
        let ctx = Ctx::new(&s, &cfg);
        for pair in pairs(&ctx) {
            let p = plan(&ctx, &pair, None);
            if p.changes.is_empty() || !p.changes.iter().all(|c| matches!(c.action, Action::Patch { .. })) {
                continue;
            }
            let mut s2 = s.clone();
            let mut sim = Sim::default();
            sim.apply(&mut s2, &p);
            prop_assert!(sim.errors.is_empty(), "{:?}", sim.errors);
            let ctx2 = Ctx::new(&s2, &cfg);
            let again = plan(&ctx2, &pair, None);
            prop_assert!(again.changes.is_empty(), "{pair:?}\nfirst: {p:#?}\nagain: {again:#?}");
        }
    }

    #[test]
    fn plan_apply_converges(cases in proptest::collection::vec(svc_case(), 1..6)) {
        let mut s = world(&cases);
        let cfg = VClusterConfig::default();
        let mut mem = Memory::default();
        let rounds = converge(&mut s, &cfg, &mut mem, 6);
        prop_assert!(rounds < 6, "no fixpoint after 6 rounds");
        let ctx = Ctx::new(&s, &cfg);
        for pair in pairs(&ctx) {
            let p = plan(&ctx, &pair, mem.get(&pair));
            prop_assert!(p.changes.is_empty(), "{pair:?}: {p:#?}");
            let p = plan(&ctx, &pair, None);
            prop_assert!(p.changes.is_empty(), "stateless {pair:?}: {p:#?}");
        }
        // §11.9 for every synced service.
        for (k, v) in &s.virtual_side.services {
            let twin = ObjKey::new(HNS, naming::service_host_name(&k.name, &k.namespace, VC));
            if let Some(h) = s.host.services.get(&twin)
                && is_managed(&ctx, ObjKind::Service, &h.metadata)
            {
                prop_assert_eq!(
                    v.spec.as_ref().and_then(|s| s.cluster_ip.clone()),
                    h.spec.as_ref().and_then(|s| s.cluster_ip.clone()),
                    "{}", k
                );
            }
        }
    }

    #[test]
    fn pairs_seen_carries_what_observe_finds(cases in proptest::collection::vec(svc_case(), 1..8)) {
        let s = world(&cases);
        let cfg = VClusterConfig::default();
        let ctx = Ctx::new(&s, &cfg);
        let seen = pairs_seen(&ctx);
        let keys: Vec<_> = seen.iter().map(|(p, _)| p.clone()).collect();
        prop_assert_eq!(&keys, &pairs(&ctx));
        for (pair, now) in &seen {
            prop_assert_eq!(now, &LastSeen::observe(&ctx, pair), "{:?}", pair);
            prop_assert_eq!(plan_seen(&ctx, pair, now, None), plan(&ctx, pair, None), "{:?}", pair);
        }
    }
}
