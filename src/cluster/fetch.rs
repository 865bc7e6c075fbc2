//! One-shot reads of both sides into a [`Snapshot`] (what `check` and `fix` use; the TUI keeps
//! the same collections current with the watch caches of [`super::watch`]).
//!
//! Lists are paged (500 per page) and managed fields are dropped before anything is stored.

use crate::cluster::clients::{Clients, Target};
use crate::cluster::kinds::{Cached, api_in, store};
use crate::cluster::snapshot::{ConnState, Obj, ObjKey, Side, Snapshot, strip_metadata};
use crate::vcluster::config::VClusterConfig;
use crate::vcluster::naming;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;

/// How long a one-shot read of one side may take before it counts as unreachable (a server
/// that accepts connections but never answers must not hang `check`).
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Objects per list page.
pub const PAGE_SIZE: u32 = 500;

/// What to read on the host besides the host namespace itself.
#[derive(Debug, Clone, Default)]
pub struct HostScope {
    pub vcluster: String,
    pub host_namespace: String,
    /// Namespaces named by `replicateServices` and `resolveDNS` (services and endpoints only).
    pub extra_namespaces: Vec<String>,
}

impl HostScope {
    pub fn new(vcluster: &str, host_namespace: &str, config: &VClusterConfig) -> Self {
        let extra = extra_host_namespaces(config, host_namespace);
        Self {
            vcluster: vcluster.to_string(),
            host_namespace: host_namespace.to_string(),
            extra_namespaces: extra,
        }
    }
}

/// Host namespaces outside HNS that the config points at: replicateServices sources/targets and
/// resolveDNS targets.
pub fn extra_host_namespaces(config: &VClusterConfig, host_namespace: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let rs = &config.networking.replicate_services;
    for m in &rs.from_host {
        if let Some((ns, _)) = m.from.split_once('/') {
            out.insert(ns.to_string());
        }
    }
    for m in &rs.to_host {
        if let Some((ns, _)) = m.to.split_once('/') {
            out.insert(ns.to_string());
        }
    }
    for r in &config.networking.resolve_dns {
        if let Some(ns) = &r.target.host_namespace {
            out.insert(ns.clone());
        }
        if let Some((ns, _)) = r
            .target
            .host_service
            .as_deref()
            .and_then(|s| s.split_once('/'))
        {
            out.insert(ns.to_string());
        }
        // `hostNamespace/vClusterName/vClusterNamespace/service`: the other vCluster's twin
        // lives in its host namespace.
        if let Some((ns, _)) = r
            .target
            .v_cluster_service
            .as_deref()
            .and_then(|s| s.split_once('/'))
        {
            out.insert(ns.to_string());
        }
    }
    out.remove(host_namespace);
    out.retain(|ns| !ns.is_empty() && !ns.contains('*'));
    out.into_iter().collect()
}

/// A read failed: which side, and what the server or network said.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the {side} cluster (context {context:?}, server {server}): {message}")]
pub struct FetchError {
    pub side: &'static str,
    pub context: String,
    pub server: String,
    pub message: String,
}

/// Every object of a kind, page by page, with managed fields stripped.
pub async fn list_all<K>(api: Api<K>, lp: ListParams) -> Result<Vec<K>, kube::Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    let mut lp = lp.limit(PAGE_SIZE);
    let mut out = Vec::new();
    loop {
        let page = api.list(&lp).await?;
        for mut o in page.items {
            strip_metadata(o.meta_mut());
            out.push(o);
        }
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    Ok(out)
}

/// Every object of a kind, page by page, stored into `side` as each page arrives: each object
/// is trimmed and pooled (see [`crate::cluster::envpool`]) as soon as it is parsed, so a page
/// of big pods never sits in memory as full objects (only its text does).
pub async fn list_into<K: Cached>(
    side: &mut Side,
    api: Api<K>,
    lp: ListParams,
) -> Result<(), kube::Error> {
    use futures::AsyncReadExt;
    let request = kube::core::Request::new(api.resource_url());
    let client = api.into_client();
    let mut lp = lp.limit(PAGE_SIZE);
    // One buffer for every page: a page of big pods is tens of MB, and reading each into fresh
    // memory (then copying it into a String) cost more than parsing it.
    let mut body = Vec::new();
    loop {
        let req = request.list(&lp).map_err(kube::Error::BuildRequest)?;
        body.clear();
        client
            .request_stream(req)
            .await?
            .read_to_end(&mut body)
            .await
            .map_err(|e| kube::Error::Service(Box::new(e)))?;
        let next = store_page::<K>(side, &body).map_err(kube::Error::SerdeError)?;
        match next {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    Ok(())
}

/// Store the items of one list response into `side`, one by one as they are parsed; returns
/// the page's continue token.
pub fn store_page<K: Cached>(
    side: &mut Side,
    text: &[u8],
) -> Result<Option<String>, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(text);
    let next = Page::<K> {
        side,
        kind: std::marker::PhantomData,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(next)
}

/// A list response (`{metadata, items, …}`) whose items go straight into a side.
struct Page<'s, K> {
    side: &'s mut Side,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: Cached> serde::de::DeserializeSeed<'de> for Page<'_, K> {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, K: Cached> serde::de::Visitor<'de> for Page<'_, K> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Kubernetes list")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
        let mut next = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => next = map.next_value::<ListMeta>()?.continue_,
                "items" => map.next_value_seed(Items::<K> {
                    side: &mut *self.side,
                    kind: std::marker::PhantomData,
                })?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(next)
    }
}

/// A list's `items` (an array, or null for none), each stored as it is parsed.
struct Items<'s, K> {
    side: &'s mut Side,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: Cached> serde::de::DeserializeSeed<'de> for Items<'_, K> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, K: Cached> serde::de::Visitor<'de> for Items<'_, K> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(p) = seq.next_element_seed(Item::<K> {
            side: &mut *self.side,
            kind: std::marker::PhantomData,
        })? {
            if let Some(p) = p {
                p.insert(self.side);
            }
        }
        Ok(())
    }
}

/// One item of a list, parsed and readied by [`Cached::prepare_item`].
struct Item<'s, K> {
    side: &'s mut Side,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: Cached> serde::de::DeserializeSeed<'de> for Item<'_, K> {
    type Value = Option<crate::cluster::kinds::Prepared<K>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        K::prepare_item(self.side, d)
    }
}

fn fail(side: &'static str, t: &Target, e: kube::Error) -> FetchError {
    FetchError {
        side,
        context: t.context.clone(),
        server: t.server.clone(),
        message: one_line(&with_cause(&e)),
    }
}

/// The error and, when it only says "client error (Connect)", the cause underneath (refused,
/// timed out, certificate not trusted), with what to check.
fn with_cause(e: &kube::Error) -> String {
    let top = e.to_string();
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let cause = root.to_string();
    if cause == top || top.contains(&cause) {
        return top;
    }
    let hint = if cause.contains("certificate") || cause.contains("UnknownIssuer") {
        "; check the certificate-authority-data of this cluster in the kubeconfig"
    } else if cause.contains("refused") {
        "; is the API server running at that address?"
    } else if cause.contains("timed out") || cause.contains("deadline") {
        "; check the network path to the server"
    } else {
        ""
    };
    format!("{top}: {cause}{hint}")
}

/// Errors can carry newlines (server bodies); an error line must stay one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An empty side of `t`, to be filled by a read that succeeded.
fn live_side(t: &Target) -> Side {
    Side {
        context: t.context.clone(),
        server: t.server.clone(),
        conn: ConnState::Live,
        listed: true,
        ..Default::default()
    }
}

/// The kinds pairs are made of, in `ns` (`None` = all namespaces). Any failure fails the side.
async fn read_pair_kinds(
    side: &mut Side,
    c: &kube::Client,
    ns: Option<&str>,
) -> Result<(), kube::Error> {
    let lp = ListParams::default;
    // Each kind is stored page by page as it arrives (never a whole list of typed objects in
    // a growing Vec next to the cache), into a side of its own so the reads run at once.
    let (mut svc, mut ep, mut eps, mut ing) = Default::default();
    tokio::try_join!(
        list_into(side, api_in::<Pod>(c, ns), lp()),
        list_into(&mut svc, api_in::<Service>(c, ns), lp()),
        list_into(&mut ep, api_in::<Endpoints>(c, ns), lp()),
        list_into(&mut eps, api_in::<EndpointSlice>(c, ns), lp()),
        list_into(&mut ing, api_in::<Ingress>(c, ns), lp()),
    )?;
    move_into::<Service>(side, svc);
    move_into::<Endpoints>(side, ep);
    move_into::<EndpointSlice>(side, eps);
    move_into::<Ingress>(side, ing);
    Ok(())
}

/// The objects of `K` read into `from` (a kind that pools nothing), added to `side`.
fn move_into<K: Cached>(side: &mut Side, mut from: Side) {
    let read = std::mem::take(K::slot(&mut from));
    let slot = K::slot(side);
    if slot.is_empty() {
        *slot = read;
    } else {
        slot.extend(read);
    }
}

/// Sync events in `ns` and the cluster-scoped kinds. Optional: a forbidden list must not hide
/// the pairs.
async fn read_optional_kinds(side: &mut Side, c: &kube::Client, ns: Option<&str>) {
    let lp = ListParams::default;
    let (events, namespaces, nodes, classes) = tokio::join!(
        list_all(api_in::<Event>(c, ns), lp()),
        list_all(Api::<Namespace>::all(c.clone()), lp()),
        list_all(Api::<Node>::all(c.clone()), lp()),
        list_all(Api::<IngressClass>::all(c.clone()), lp()),
    );
    store(side, events.unwrap_or_default());
    store(side, namespaces.unwrap_or_default());
    store(side, nodes.unwrap_or_default());
    store(side, classes.unwrap_or_default());
}

/// Read the virtual cluster: all namespaces.
pub async fn fetch_virtual(t: &Target) -> Result<Side, FetchError> {
    let mut side = live_side(t);
    read_pair_kinds(&mut side, &t.client, None)
        .await
        .map_err(|e| fail("virtual", t, e))?;
    read_optional_kinds(&mut side, &t.client, None).await;
    Ok(side)
}

/// Read the host cluster: HNS (where twins and squatters live), the config Secret, and the
/// services/endpoints of the extra namespaces.
pub async fn fetch_host(t: &Target, scope: &HostScope) -> Result<Side, FetchError> {
    let c = &t.client;
    let hns = scope.host_namespace.as_str();
    let lp = ListParams::default;
    let mut side = live_side(t);
    read_pair_kinds(&mut side, c, Some(hns))
        .await
        .map_err(|e| fail("host", t, e))?;
    for ns in &scope.extra_namespaces {
        // A namespace the config names but we may not read: rows will say the source is missing.
        if let Ok(s) = list_all(Api::<Service>::namespaced(c.clone(), ns), lp()).await {
            store(&mut side, s);
        }
        if let Ok(e) = list_all(Api::<Endpoints>::namespaced(c.clone(), ns), lp()).await {
            store(&mut side, e);
        }
    }
    let secret_name = naming::config_secret_name(&scope.vcluster);
    let secrets = Api::<Secret>::namespaced(c.clone(), hns);
    let (secret, ()) = tokio::join!(
        secrets.get_opt(&secret_name),
        read_optional_kinds(&mut side, c, Some(hns)),
    );
    if let Ok(Some(mut s)) = secret {
        strip_metadata(&mut s.metadata);
        side.secrets.insert(ObjKey::of(&s), Obj::new(s));
    }
    Ok(side)
}

/// Both sides at once. A side that fails is kept as an empty side in state Error, so callers
/// can report it (and still use the other side).
pub async fn fetch_snapshot(clients: &Clients, scope: &HostScope) -> Snapshot {
    let timed = |t: &Target, side: &'static str| FetchError {
        side,
        context: t.context.clone(),
        server: t.server.clone(),
        message: format!("no answer within {} s", READ_TIMEOUT.as_secs()),
    };
    let (v, h) = tokio::join!(
        tokio::time::timeout(READ_TIMEOUT, fetch_virtual(&clients.virtual_)),
        tokio::time::timeout(READ_TIMEOUT, fetch_host(&clients.host, scope))
    );
    let v = v.unwrap_or_else(|_| Err(timed(&clients.virtual_, "virtual")));
    let h = h.unwrap_or_else(|_| Err(timed(&clients.host, "host")));
    let failed = |t: &Target, e: FetchError| Side {
        context: t.context.clone(),
        server: t.server.clone(),
        conn: ConnState::Error {
            message: e.to_string(),
        },
        ..Default::default()
    };
    Snapshot {
        version: 1,
        vcluster: scope.vcluster.clone(),
        host_namespace: scope.host_namespace.clone(),
        virtual_side: v.unwrap_or_else(|e| failed(&clients.virtual_, e)),
        host: h.unwrap_or_else(|e| failed(&clients.host, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_stored_item_by_item_with_its_continue_token() {
        let env = serde_json::json!([{"name": "A_SERVICE_HOST", "value": "10.96.0.1"}]);
        let pod = |n: &str| {
            serde_json::json!({"metadata": {"name": n, "namespace": "h",
                                            "managedFields": [{"manager": "x"}]},
                               "spec": {"containers": [{"name": "c", "image": "i", "env": env}]}})
        };
        let text = serde_json::json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "7", "continue": "next-page"},
            "items": [pod("a"), pod("b")]
        })
        .to_string();
        let mut side = Side::default();
        let next =
            store_page::<k8s_openapi::api::core::v1::Pod>(&mut side, text.as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("next-page"));
        assert_eq!(side.pods.len(), 2);
        assert_eq!(side.env_pool.live(), 1, "both pods share one list");
        let a = side.full_pod(&ObjKey::new("h", "a")).unwrap();
        assert!(a.metadata.managed_fields.is_none());
        assert_eq!(
            serde_json::to_value(&a.spec.as_ref().unwrap().containers[0].env).unwrap(),
            env
        );
        let last = r#"{"metadata": {}, "items": null}"#;
        assert_eq!(
            store_page::<k8s_openapi::api::core::v1::Pod>(&mut side, last.as_bytes()).unwrap(),
            None
        );
        assert!(store_page::<k8s_openapi::api::core::v1::Pod>(&mut side, b"[1]").is_err());
        assert!(
            store_page::<k8s_openapi::api::core::v1::Pod>(
                &mut side,
                br#"{"items": [{"spec": 3}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn extra_namespaces_come_from_replicate_and_resolve_dns() {
        let cfg: VClusterConfig = serde_yaml::from_str(
            r#"
networking:
  replicateServices:
    fromHost:
      - {from: "db/postgres", to: "default/postgres"}
      - {from: "vcluster-vc/local", to: "default/local"}
    toHost:
      - {from: "default/web", to: "vcluster-vc/web"}
  resolveDNS:
    - service: default/x
      target: {hostService: "shared/x"}
    - namespace: a
      target: {hostNamespace: "b"}
"#,
        )
        .unwrap();
        assert_eq!(
            extra_host_namespaces(&cfg, "vcluster-vc"),
            vec!["b".to_string(), "db".to_string(), "shared".to_string()]
        );
    }

    #[test]
    fn error_lines_are_single_lines() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
        let e = FetchError {
            side: "virtual",
            context: "vc".into(),
            server: "https://127.0.0.1:1".into(),
            message: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot reach the virtual cluster (context \"vc\", server https://127.0.0.1:1): connection refused"
        );
    }
}
