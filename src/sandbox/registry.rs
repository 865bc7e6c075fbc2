//! Per-kind facts: where a kind lives in the API, how it is named, and how its body is checked.
//!
//! Everything the generic store and HTTP layer need to know about a kind is here, so adding a kind
//! is one table entry plus (optionally) defaults and table columns.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use k8s_openapi::api::coordination::v1 as coordination;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::api::networking::v1 as networking;

/// Typed round trip of a body through its k8s-openapi type: the output is what the type keeps.
/// It borrows the body: the caller still needs it to find the fields the type dropped, and a
/// pod with hundreds of env vars is expensive to clone.
pub type RoundTrip = fn(&Value) -> Result<Value, serde_json::Error>;

fn rt<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, serde_json::Error> {
    let typed = <T as serde::Deserialize>::deserialize(v)?;
    serde_json::to_value(typed)
}

/// One served resource.
#[derive(Debug)]
pub struct KindInfo {
    /// Store key: `<resource>` for the core group, `<resource>.<group>` otherwise.
    pub id: &'static str,
    pub resource: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a `/status` subresource: main writes keep status, status writes keep the rest.
    pub status: bool,
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    pub fields: &'static [&'static str],
    /// Whether writes to `spec` bump `metadata.generation`.
    pub generation: bool,
    pub roundtrip: RoundTrip,
}

impl KindInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `ingresses.networking.k8s.io`, as Status details and messages spell it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    pub fn is(&self, id: &str) -> bool {
        self.id == id
    }
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

static KINDS: &[KindInfo] = &[
    KindInfo {
        id: "namespaces",
        resource: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        status: true,
        fields: &["status.phase"],
        generation: false,
        roundtrip: rt::<core::Namespace>,
    },
    KindInfo {
        id: "pods",
        resource: "pods",
        singular: "pod",
        kind: "Pod",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        status: true,
        fields: POD_FIELDS,
        generation: false,
        roundtrip: rt::<core::Pod>,
    },
    KindInfo {
        id: "services",
        resource: "services",
        singular: "service",
        kind: "Service",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::Service>,
    },
    KindInfo {
        id: "endpoints",
        resource: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        status: false,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::Endpoints>,
    },
    KindInfo {
        id: "secrets",
        resource: "secrets",
        singular: "secret",
        kind: "Secret",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        fields: &["type"],
        generation: false,
        roundtrip: rt::<core::Secret>,
    },
    KindInfo {
        id: "serviceaccounts",
        resource: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        status: false,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::ServiceAccount>,
    },
    KindInfo {
        id: "configmaps",
        resource: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        status: false,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::ConfigMap>,
    },
    KindInfo {
        id: "events",
        resource: "events",
        singular: "event",
        kind: "Event",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        status: false,
        fields: EVENT_FIELDS,
        generation: false,
        roundtrip: rt::<core::Event>,
    },
    KindInfo {
        id: "nodes",
        resource: "nodes",
        singular: "node",
        kind: "Node",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        status: true,
        fields: &["spec.unschedulable"],
        generation: false,
        roundtrip: rt::<core::Node>,
    },
    KindInfo {
        id: "resourcequotas",
        resource: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["quota"],
        categories: &[],
        status: true,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::ResourceQuota>,
    },
    KindInfo {
        id: "limitranges",
        resource: "limitranges",
        singular: "limitrange",
        kind: "LimitRange",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["limits"],
        categories: &[],
        status: false,
        fields: &[],
        generation: false,
        roundtrip: rt::<core::LimitRange>,
    },
    KindInfo {
        id: "ingresses.networking.k8s.io",
        resource: "ingresses",
        singular: "ingress",
        kind: "Ingress",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &["ing"],
        categories: &[],
        status: true,
        fields: &[],
        generation: true,
        roundtrip: rt::<networking::Ingress>,
    },
    KindInfo {
        id: "ingressclasses.networking.k8s.io",
        resource: "ingressclasses",
        singular: "ingressclass",
        kind: "IngressClass",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: false,
        short_names: &[],
        categories: &[],
        status: false,
        fields: &[],
        generation: true,
        roundtrip: rt::<networking::IngressClass>,
    },
    KindInfo {
        id: "endpointslices.discovery.k8s.io",
        resource: "endpointslices",
        singular: "endpointslice",
        kind: "EndpointSlice",
        group: "discovery.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        fields: &["addressType"],
        generation: true,
        roundtrip: rt::<discovery::EndpointSlice>,
    },
    KindInfo {
        id: "leases.coordination.k8s.io",
        resource: "leases",
        singular: "lease",
        kind: "Lease",
        group: "coordination.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        fields: &[],
        generation: false,
        roundtrip: rt::<coordination::Lease>,
    },
    KindInfo {
        id: "events.events.k8s.io",
        resource: "events",
        singular: "event",
        kind: "Event",
        group: "events.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        status: false,
        fields: &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        ],
        generation: false,
        roundtrip: rt::<events::Event>,
    },
];

pub fn kinds() -> &'static [KindInfo] {
    KINDS
}

/// Looks up a kind by group, version and plural resource name.
pub fn lookup(group: &str, version: &str, resource: &str) -> Option<&'static KindInfo> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.resource == resource)
}

/// Looks up a kind by its store id.
pub fn by_id(id: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.id == id)
}

/// The API groups served besides the core group, in discovery order.
pub fn groups() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS {
        if !k.group.is_empty() && !out.contains(&k.group) {
            out.push(k.group);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_lookup_finds_each() {
        for k in kinds() {
            assert_eq!(by_id(k.id).map(|x| x.id), Some(k.id));
            assert_eq!(
                lookup(k.group, k.version, k.resource).map(|x| x.id),
                Some(k.id)
            );
        }
    }

    #[test]
    fn roundtrip_keeps_known_and_drops_unknown_fields() {
        let pods = by_id("pods").unwrap();
        let out = (pods.roundtrip)(&serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "i"}], "foo": 1}
        }))
        .unwrap();
        assert_eq!(out["spec"]["containers"][0]["name"], "c");
        assert!(out["spec"].get("foo").is_none());
    }
}
