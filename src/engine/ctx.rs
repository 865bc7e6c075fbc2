//! Everything a pure engine function may read: one snapshot, the config, and who we are.

use crate::cluster::snapshot::{Snapshot, lookup};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::Service;

/// Read-only inputs of `pairs`, `plan` and `desired_host`.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub snapshot: &'a Snapshot,
    pub config: &'a VClusterConfig,
    pub vcluster: &'a str,
    pub host_namespace: &'a str,
    /// Unix seconds the plan is made at (the block-deletion window): read once by the shell,
    /// so `plan` itself never reads a clock.
    pub now: i64,
}

impl<'a> Ctx<'a> {
    /// A context whose vCluster name and host namespace are the snapshot's own.
    pub fn new(snapshot: &'a Snapshot, config: &'a VClusterConfig) -> Self {
        Self {
            snapshot,
            config,
            vcluster: &snapshot.vcluster,
            host_namespace: &snapshot.host_namespace,
            now: now_seconds(),
        }
    }

    /// A host Service in the host namespace, by name.
    pub fn host_service(&self, name: &str) -> Option<&'a Service> {
        lookup(&self.snapshot.host.services, self.host_namespace, name).map(|s| s.as_ref())
    }

    /// The vCluster's own host Service `<vc>`: owner of every twin, IP behind `kubernetes`.
    pub fn vcluster_service(&self) -> Option<&'a Service> {
        self.host_service(self.vcluster)
    }

    /// UID of host Service `<vc>` (owner references point at it).
    pub fn vcluster_service_uid(&self) -> Option<&'a str> {
        self.vcluster_service()?.metadata.uid.as_deref()
    }

    /// ClusterIP of host Service `<vc>`: what `kubernetes.default` resolves to inside pods.
    pub fn kube_ip(&self) -> Option<&'a str> {
        cluster_ip(self.vcluster_service()?)
    }

    /// ClusterIP of the kube-dns twin: every synced pod's nameserver.
    pub fn dns_ip(&self) -> Option<&'a str> {
        cluster_ip(self.host_service(&naming::kube_dns_host_name(self.vcluster))?)
    }

    pub fn cluster_domain(&self) -> &'a str {
        &self.config.networking.advanced.cluster_domain
    }
}

/// The wall clock in Unix seconds, for [`Ctx::now`].
pub fn now_seconds() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

/// A Service's real ClusterIP (`None` and empty are not IPs).
pub fn cluster_ip(svc: &Service) -> Option<&str> {
    svc.spec
        .as_ref()?
        .cluster_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "None")
}
