//! `/version`, legacy discovery (`/api`, `/apis`, per group-version resource lists) and the
//! `/openapi/v3` stub that lets kubectl's default validation hand over to the server.

use serde_json::{Value, json};

use crate::sandbox::registry::{self, KindInfo};

pub const GIT_VERSION: &str = "v1.32.4";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T16:02:27Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(group: &str) -> Value {
    let gv = format!("{group}/v1");
    json!({
        "name": group,
        "versions": [{"groupVersion": gv, "version": "v1"}],
        "preferredVersion": {"groupVersion": gv, "version": "v1"},
    })
}

pub fn api_groups() -> Value {
    let groups: Vec<Value> = registry::groups().into_iter().map(group_entry).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(group: &str) -> Option<Value> {
    registry::groups().contains(&group).then(|| {
        let mut g = group_entry(group);
        g["kind"] = json!("APIGroup");
        g["apiVersion"] = json!("v1");
        g
    })
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_entries(k: &KindInfo) -> Vec<Value> {
    let mut main = json!({
        "name": k.resource,
        "singularName": k.singular,
        "namespaced": k.namespaced,
        "kind": k.kind,
        "verbs": VERBS,
    });
    if !k.short_names.is_empty() {
        main["shortNames"] = json!(k.short_names);
    }
    if !k.categories.is_empty() {
        main["categories"] = json!(k.categories);
    }
    let mut out = vec![main];
    if k.status {
        out.push(json!({
            "name": format!("{}/status", k.resource),
            "singularName": "",
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    if k.id == "pods" {
        out.push(json!({
            "name": "pods/binding", "singularName": "", "namespaced": true,
            "kind": "Binding", "verbs": ["create"],
        }));
    }
    if k.id == "pods" {
        for sub in ["pods/ephemeralcontainers", "pods/resize"] {
            out.push(json!({
                "name": sub, "singularName": "", "namespaced": true,
                "kind": "Pod", "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if k.id == "serviceaccounts" {
        out.push(json!({
            "name": "serviceaccounts/token", "singularName": "", "namespaced": true,
            "group": "authentication.k8s.io", "version": "v1",
            "kind": "TokenRequest", "verbs": ["create"],
        }));
    }
    if k.id == "namespaces" {
        out.push(json!({
            "name": "namespaces/finalize", "singularName": "", "namespaced": false,
            "kind": "Namespace", "verbs": ["update"],
        }));
    }
    out
}

/// The APIResourceList of one group-version, or None when it is not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    if version != "v1" || (!group.is_empty() && !registry::groups().contains(&group)) {
        return None;
    }
    let resources: Vec<Value> = registry::kinds()
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .flat_map(resource_entries)
        .collect();
    let gv = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_paths() -> Vec<(String, String, String)> {
    let mut out = vec![("api/v1".to_string(), String::new(), "v1".to_string())];
    for g in registry::groups() {
        out.push((format!("apis/{g}/v1"), g.to_string(), "v1".into()));
    }
    out
}

fn doc_hash(path: &str) -> String {
    use sha2::{Digest, Sha256};
    let doc = openapi_doc(path).map(|d| d.to_string()).unwrap_or_default();
    hex::encode(&Sha256::digest(doc.as_bytes())[..8]).to_uppercase()
}

pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for (p, _, _) in gv_paths() {
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", doc_hash(&p))}),
        );
    }
    json!({"paths": paths})
}

/// The per group-version document: one `patch` operation per item path, carrying the GVK and
/// the `fieldValidation` parameter, which is what kubectl's query-parameter check looks for.
pub fn openapi_doc(path: &str) -> Option<Value> {
    let (_, group, version) = gv_paths().into_iter().find(|(p, _, _)| p == path)?;
    let prefix = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    for k in registry::kinds()
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let item = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.resource)
        } else {
            format!("{prefix}/{}/{{name}}", k.resource)
        };
        let gvk = json!({"group": k.group, "version": k.version, "kind": k.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}},
        ]);
        let op = |id: &str| {
            json!({
                "operationId": id,
                "x-kubernetes-action": id,
                "x-kubernetes-group-version-kind": gvk,
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(item, json!({"patch": op("patch"), "put": op("put"), "get": op("get"), "delete": op("delete")}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_short_names_and_status() {
        let l = resource_list("", "v1").unwrap();
        let rs = l["resources"].as_array().unwrap();
        let svc = rs.iter().find(|r| r["name"] == "services").unwrap();
        assert_eq!(svc["shortNames"], json!(["svc"]));
        assert!(rs.iter().any(|r| r["name"] == "pods/status"));
        assert!(resource_list("nope.io", "v1").is_none());
        assert!(resource_list("networking.k8s.io", "v1").is_some());
    }

    #[test]
    fn openapi_paths_resolve() {
        let root = openapi_root();
        for (p, _, _) in gv_paths() {
            assert!(
                root["paths"][&p]["serverRelativeURL"]
                    .as_str()
                    .unwrap()
                    .contains("hash=")
            );
            assert!(openapi_doc(&p).is_some());
        }
    }
}

/// Content-Type of an aggregated discovery reply; client-go decides by it alone.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an Accept header asks for aggregated discovery v2 first.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| {
        first.contains("as=APIGroupDiscoveryList")
            && first.contains("v=v2")
            && !first.contains("v=v2beta1")
    })
}

fn resource_discovery(k: &KindInfo) -> Value {
    let gvk = json!({"group": k.group, "version": k.version, "kind": k.kind});
    let mut subs = Vec::new();
    if k.status {
        subs.push(json!({"subresource": "status", "responseKind": gvk, "verbs": ["get", "patch", "update"]}));
    }
    if k.id == "pods" {
        subs.push(json!({"subresource": "binding", "responseKind": {"group": "", "version": "v1", "kind": "Binding"}, "verbs": ["create"]}));
    }
    if k.id == "namespaces" {
        subs.push(json!({"subresource": "finalize", "responseKind": gvk, "verbs": ["update"]}));
    }
    let mut r = json!({
        "resource": k.resource,
        "responseKind": gvk,
        "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": k.singular,
        "verbs": VERBS,
    });
    if !k.short_names.is_empty() {
        r["shortNames"] = json!(k.short_names);
    }
    if !k.categories.is_empty() {
        r["categories"] = json!(k.categories);
    }
    if !subs.is_empty() {
        r["subresources"] = json!(subs);
    }
    r
}

/// `apidiscovery.k8s.io/v2` APIGroupDiscoveryList: the core group for `/api`, the named groups
/// for `/apis`.
pub fn aggregated(core: bool) -> Value {
    let groups: Vec<&str> = if core { vec![""] } else { registry::groups() };
    let items: Vec<Value> = groups
        .into_iter()
        .map(|g| {
            let resources: Vec<Value> = registry::kinds()
                .iter()
                .filter(|k| k.group == g)
                .map(resource_discovery)
                .collect();
            json!({
                "metadata": {"name": g},
                "versions": [{"version": "v1", "freshness": "Current", "resources": resources}],
            })
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

#[cfg(test)]
mod aggregated_tests {
    use super::*;

    #[test]
    fn parses_as_kube_discovery_v2() {
        let a: kube::core::discovery::v2::APIGroupDiscoveryList =
            serde_json::from_value(aggregated(false)).unwrap();
        assert!(
            a.items
                .iter()
                .any(|g| g.metadata.as_ref().and_then(|m| m.name.as_deref())
                    == Some("networking.k8s.io"))
        );
        let c: kube::core::discovery::v2::APIGroupDiscoveryList =
            serde_json::from_value(aggregated(true)).unwrap();
        let pods = c.items[0].versions[0]
            .resources
            .iter()
            .find(|r| r.resource.as_deref() == Some("pods"))
            .unwrap();
        assert_eq!(pods.short_names, ["po"]);
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json, */*"));
    }
}
