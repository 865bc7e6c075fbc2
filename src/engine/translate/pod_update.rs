//! Virtual → host pod updates (§3.2; upstream `pods/translate/diff.go` `calcSpecDiff`,
//! `pods/syncer.go` `syncEphemeralContainers`, vcluster#3494 for in-place resize).
//!
//! Kubernetes lets a running pod change only a few spec fields, so only those flow:
//! - through the pod itself: container and init-container `image` (by name; vCluster's own
//!   hosts-rewrite init container is left alone), `activeDeadlineSeconds`, `schedulingGates`
//!   (the virtual list), `tolerations` (the virtual ones, then those only the host has: the
//!   host's admission plugins add some, and tolerations cannot be removed);
//! - through `pods/ephemeralcontainers`: ephemeral containers added in the virtual pod
//!   (upstream compares names and images position by position; since existing ephemeral
//!   containers cannot change, only missing names are added here);
//! - through `pods/resize`: container `resources` (requests/limits the virtual pod sets win;
//!   keys only the host has, e.g. from a host LimitRange, stay).
//!
//! Everything else in the spec is immutable after creation and never patched.

use crate::engine::ctx::Ctx;
use crate::engine::translate::pod;
use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, Pod, PodSpec, ResourceRequirements, Toleration,
};
use serde_json::{Value, json};

/// The host spec with the updatable fields taken from the virtual spec; `None` when in line.
pub fn host_spec(vspec: &PodSpec, hspec: &PodSpec) -> Option<PodSpec> {
    // A deadline cannot be removed from a running pod, so an unset virtual one keeps the host's.
    let deadline = vspec
        .active_deadline_seconds
        .or(hspec.active_deadline_seconds);
    let vinit = vspec.init_containers.as_deref().unwrap_or_default();
    let containers = images(&hspec.containers, &vspec.containers);
    let inits = hspec
        .init_containers
        .as_deref()
        .and_then(|h| images(h, vinit));
    let gates = vspec.scheduling_gates.as_deref().filter(|g| !g.is_empty());
    let tolerations = tolerations(
        vspec.tolerations.as_deref().unwrap_or_default(),
        hspec.tolerations.as_deref().unwrap_or_default(),
    );
    // Compared borrowed: this runs for every synced pod on every plan.
    if deadline == hspec.active_deadline_seconds
        && containers.is_none()
        && inits.is_none()
        && gates == hspec.scheduling_gates.as_deref().filter(|g| !g.is_empty())
        && tolerations.as_slice() == hspec.tolerations.as_deref().unwrap_or_default()
    {
        return None;
    }
    let mut out = hspec.clone();
    out.active_deadline_seconds = deadline;
    if let Some(c) = containers {
        out.containers = c;
    }
    if inits.is_some() {
        out.init_containers = inits;
    }
    out.scheduling_gates = gates.map(<[_]>::to_vec);
    out.tolerations = non_empty(Some(tolerations));
    Some(out)
}

fn non_empty<T>(v: Option<Vec<T>>) -> Option<Vec<T>> {
    v.filter(|v| !v.is_empty())
}

/// Host containers with the images of the same-named virtual containers; `None` if none differ.
/// Nothing is cloned unless an image differs.
fn images(host: &[Container], virt: &[Container]) -> Option<Vec<Container>> {
    let wanted = |h: &Container| {
        virt.iter()
            .find(|v| v.name == h.name)
            .and_then(|v| v.image.as_ref())
            .filter(|i| Some(*i) != h.image.as_ref())
    };
    if !host.iter().any(|h| wanted(h).is_some()) {
        return None;
    }
    let out = host
        .iter()
        .map(|h| match wanted(h) {
            Some(i) => Container {
                image: Some(i.clone()),
                ..h.clone()
            },
            None => h.clone(),
        })
        .collect();
    Some(out)
}

/// The virtual tolerations, then every host toleration not among them (full equality).
pub fn tolerations(virt: &[Toleration], host: &[Toleration]) -> Vec<Toleration> {
    let mut out = virt.to_vec();
    for t in host {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// The `pods/ephemeralcontainers` patch that adds the virtual pod's ephemeral containers the
/// host pod lacks (by name). Ephemeral containers can only be added, so the patch keeps the
/// host's list, including any added on the host, and appends the missing ones.
pub fn ephemeral_patch(ctx: &Ctx, vpod: &Pod, hpod: &Pod) -> Option<Value> {
    let virt = vpod.spec.as_ref()?.ephemeral_containers.as_deref()?;
    let host = hpod
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_deref())
        .unwrap_or_default();
    let has = |name: &str| host.iter().any(|h| h.name == name);
    if virt.iter().all(|v| has(&v.name)) {
        return None;
    }
    let mut list: Vec<EphemeralContainer> = host.to_vec();
    list.extend(
        pod::ephemeral_containers(ctx, vpod)?
            .into_iter()
            .filter(|v| !has(&v.name)),
    );
    Some(json!({"spec": {"ephemeralContainers": list}}))
}

/// The `pods/resize` patch bringing the host containers' resources in line with the virtual
/// ones (requests/limits the virtual pod names win), or `None`.
pub fn resize_patch(vspec: &PodSpec, hspec: &PodSpec) -> Option<Value> {
    let wanted = |h: &Container| {
        let v = vspec.containers.iter().find(|v| v.name == h.name)?;
        // Nothing to overlay: the host's resources stand (and nothing is built to say so).
        v.resources.as_ref()?;
        let want = overlay(h.resources.as_ref(), v.resources.as_ref());
        (want.is_some() && want.as_ref() != h.resources.as_ref()).then_some(want)
    };
    if !hspec.containers.iter().any(|h| wanted(h).is_some()) {
        return None;
    }
    let containers: Vec<Container> = hspec
        .containers
        .iter()
        .map(|h| match wanted(h) {
            Some(want) => Container {
                resources: want,
                ..h.clone()
            },
            None => h.clone(),
        })
        .collect();
    // A merge patch replaces the list, so it carries every container, unchanged but for resources.
    Some(json!({"spec": {"containers": containers}}))
}

fn overlay(
    host: Option<&ResourceRequirements>,
    virt: Option<&ResourceRequirements>,
) -> Option<ResourceRequirements> {
    let Some(v) = virt else {
        return host.cloned();
    };
    let mut out = host.cloned().unwrap_or_default();
    for (src, dst) in [
        (&v.requests, &mut out.requests),
        (&v.limits, &mut out.limits),
    ] {
        for (k, q) in src.iter().flatten() {
            dst.get_or_insert_with(Default::default)
                .insert(k.clone(), q.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_the_mutable_fields_follow_the_virtual_spec() {
        let h = spec(json!({
            "containers": [{"name": "app", "image": "nginx:1.27", "env": [{"name": "KUBERNETES_SERVICE_HOST", "value": "10.96.0.1"}]},
                           {"name": "side", "image": "envoy:1"}],
            "initContainers": [{"name": "vcluster-rewrite-hosts", "image": "alpine:3.20"}, {"name": "init", "image": "busybox:1"}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "schedulingGates": [{"name": "wait"}],
            "serviceAccountName": "vc-workload-vc",
            "hostname": "web-0",
        }));
        let v = spec(json!({
            "containers": [{"name": "app", "image": "nginx:1.28"}, {"name": "side", "image": "envoy:1"}],
            "initContainers": [{"name": "init", "image": "busybox:2"}],
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "activeDeadlineSeconds": 600,
            "serviceAccountName": "builder",
            "hostname": "other",
            "nodeSelector": {"disk": "ssd"},
        }));
        let got = serde_json::to_value(host_spec(&v, &h).unwrap()).unwrap();
        assert_eq!(
            got,
            json!({
                "activeDeadlineSeconds": 600,
                "containers": [{"name": "app", "image": "nginx:1.28", "env": [{"name": "KUBERNETES_SERVICE_HOST", "value": "10.96.0.1"}]},
                               {"name": "side", "image": "envoy:1"}],
                "initContainers": [{"name": "vcluster-rewrite-hosts", "image": "alpine:3.20"}, {"name": "init", "image": "busybox:2"}],
                "tolerations": [{"key": "gpu", "operator": "Exists"},
                                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                "serviceAccountName": "vc-workload-vc",
                "hostname": "web-0",
            }),
            "gates removed, tolerations added, images and deadline copied; nothing else"
        );
        // Applying the result again changes nothing.
        let again = host_spec(&v, &serde_json::from_value(got).unwrap());
        assert!(again.is_none(), "{again:?}");
    }

    #[test]
    fn an_unset_virtual_deadline_keeps_the_hosts() {
        let h =
            spec(json!({"containers": [{"name": "a", "image": "i"}], "activeDeadlineSeconds": 30}));
        let v = spec(json!({"containers": [{"name": "a", "image": "i"}]}));
        assert!(host_spec(&v, &h).is_none());
    }

    #[test]
    fn ephemeral_containers_are_added_never_replaced() {
        use crate::cluster::snapshot::Snapshot;
        use crate::vcluster::config::VClusterConfig;
        let mut s = Snapshot::new("vc", "vcluster-vc");
        s.host
            .insert_json(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "vc", "namespace": "vcluster-vc"},
                "spec": {"clusterIP": "10.96.0.1"}}))
            .unwrap();
        let cfg = VClusterConfig::default();
        let ctx = Ctx::new(&s, &cfg);
        let pod = |ecs: Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "app", "image": "i"}], "enableServiceLinks": false,
                         "ephemeralContainers": ecs}}))
            .unwrap()
        };
        let v = pod(json!([{"name": "dbg", "image": "busybox"}]));
        let host_added = pod(json!([{"name": "host-dbg", "image": "alpine"}]));
        let p = ephemeral_patch(&ctx, &v, &host_added).unwrap();
        let list = p["spec"]["ephemeralContainers"].as_array().unwrap();
        let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["host-dbg", "dbg"],
            "host's own kept, the virtual one appended"
        );
        assert_eq!(
            list[1]["env"][0],
            json!({"name": "KUBERNETES_PORT", "value": "tcp://10.96.0.1:443"})
        );
        let both = pod(
            json!([{"name": "host-dbg", "image": "alpine"}, {"name": "dbg", "image": "busybox"}]),
        );
        assert_eq!(ephemeral_patch(&ctx, &v, &both), None);
    }

    #[test]
    fn resources_resize_with_the_virtual_keys_winning() {
        let h = spec(json!({"containers": [
            {"name": "app", "image": "i", "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi", "ephemeral-storage": "1Gi"}}},
            {"name": "injected", "image": "x"}
        ]}));
        let v = spec(json!({"containers": [
            {"name": "app", "image": "i", "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "256Mi"}}}
        ]}));
        assert_eq!(
            resize_patch(&v, &h).unwrap(),
            json!({"spec": {"containers": [
                {"name": "app", "image": "i", "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "256Mi", "ephemeral-storage": "1Gi"}}},
                {"name": "injected", "image": "x"}
            ]}})
        );
        let same = spec(json!({"containers": [
            {"name": "app", "image": "i", "resources": {"requests": {"cpu": "100m"}}}
        ]}));
        assert_eq!(
            resize_patch(&same, &h),
            None,
            "host-only keys are no difference"
        );
    }
}
