//! One API server's state and its verbs: create, update, patch, delete and list with the
//! apiserver's semantics (server-set fields, optimistic concurrency, status subresource,
//! finalizers, namespace lifecycle, service IP allocation). The HTTP layer and the simulated
//! controllers both go through here.

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use super::controllers::ipam::{Ipam, VIRTUAL_FIRST_OFFSET};
use super::defaults;
use super::error::{ApiError, success_status};
use super::patch::{self, PatchFailure, PatchType};
use super::registry::{self, KindInfo};
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{DEFAULT_RING, Store, meta_str};
use super::validate::{self, FieldValidation};

/// Which side of the vCluster pair a server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Host,
    Virtual,
}

/// Options of one write request.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    pub dry_run: bool,
    pub validation: FieldValidation,
    pub field_manager: Option<String>,
    pub force: bool,
}

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
    Finalize,
    /// `pods/binding`: assigns a node (POST only).
    Binding,
    /// `serviceaccounts/token`: a TokenRequest (POST only).
    Token,
    /// `pods/ephemeralcontainers`: only `spec.ephemeralContainers` changes, by additions.
    EphemeralContainers,
    /// `pods/resize`: only the containers' `resources` change.
    Resize,
}

/// DeleteOptions that matter here.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    pub dry_run: bool,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// `gracePeriodSeconds`; only pods use it, and only with graceful pod deletion on.
    pub grace_period: Option<i64>,
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    pub warnings: Vec<String>,
}

/// A list request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub limit: usize,
    pub cont: Option<String>,
    pub rv: Option<String>,
    pub rv_match: Option<String>,
    /// Heads are enough (a metadata-only answer): large objects are not parsed.
    pub heads: bool,
    /// The answer is plain JSON: large objects come as their stored text (in
    /// [`ListResult::texts`], with their head in `items`) instead of being parsed.
    pub texts: bool,
}

/// A list response before rendering.
#[derive(Debug, Clone)]
pub struct ListResult {
    pub items: Vec<Arc<Value>>,
    /// With [`ListQuery::texts`]: per item, the whole object's JSON text when it is stored as
    /// text (then `items` holds only its head); empty otherwise.
    pub texts: Vec<Option<bytes::Bytes>>,
    pub rv: u64,
    pub cont: Option<String>,
    pub remaining: Option<u64>,
}

pub struct Cluster {
    pub role: Role,
    store: Mutex<Store>,
    ipam: Mutex<Ipam>,
    pod_spec_immutable: std::sync::atomic::AtomicBool,
    graceful_pods: std::sync::atomic::AtomicBool,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn generate_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata").and_then(Value::as_object_mut) {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

fn finalizers_empty(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|f| f.is_empty())
}

#[derive(Default)]
struct Continue {
    rv: u64,
    ns: String,
    name: String,
    /// Items the earlier pages returned, so the next page can tell `remainingItemCount` from
    /// the store's count instead of walking the rest of the collection.
    served: u64,
}

fn encode_continue(c: &Continue) -> String {
    let raw = json!({"v": c.rv, "ns": c.ns, "n": c.name, "i": c.served}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(s: &str) -> Result<Continue, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok(Continue {
        rv: v.get("v").and_then(Value::as_u64).ok_or_else(bad)?,
        ns: v
            .get("ns")
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_string(),
        name: v
            .get("n")
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_string(),
        served: v.get("i").and_then(Value::as_u64).unwrap_or(0),
    })
}

const POD_UPDATE_FORBIDDEN: &str = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The pod spec with its mutable fields blanked, to compare old and new.
fn pod_spec_immutable_part(spec: &Value) -> Value {
    let mut s = spec.clone();
    if let Some(m) = s.as_object_mut() {
        for k in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
            "schedulingGates",
        ] {
            m.remove(k);
        }
        for key in ["containers", "initContainers"] {
            if let Some(cs) = m.get_mut(key).and_then(Value::as_array_mut) {
                for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("image");
                }
            }
        }
    }
    s
}

/// The grace period a pod delete waits for, or `None` when the pod goes at once: grace 0, not
/// scheduled, or already finished (the apiserver's `CheckGracefulDelete`).
fn pod_grace(pod: &Value, requested: Option<i64>) -> Option<i64> {
    let grace = requested
        .or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30);
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    (grace > 0 && scheduled && !finished).then_some(grace)
}

/// The pod a `pods/ephemeralcontainers` or `pods/resize` write leaves: the old pod with only
/// that subresource's fields taken from the new body; any other difference is refused, as the
/// apiserver does.
fn pod_subresource(
    kind: &'static KindInfo,
    name: &str,
    old: &Value,
    new: Value,
    sub: Sub,
) -> Result<Value, ApiError> {
    let mut m = old.clone();
    let empty = Vec::new();
    match sub {
        Sub::EphemeralContainers => {
            let before = old
                .pointer("/spec/ephemeralContainers")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let after = new
                .pointer("/spec/ephemeralContainers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for e in before {
                let n = e.get("name").cloned().unwrap_or(Value::Null);
                if after.iter().find(|a| a.get("name") == Some(&n)) != Some(e) {
                    return Err(ApiError::invalid(
                        kind,
                        name,
                        "spec.ephemeralContainers",
                        &format!("Forbidden: existing ephemeral containers {n} may not be changed"),
                    ));
                }
            }
            m["spec"]["ephemeralContainers"] = json!(after);
        }
        _ => {
            let wanted = new
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(cs) = m
                .pointer_mut("/spec/containers")
                .and_then(Value::as_array_mut)
            {
                for c in cs.iter_mut() {
                    let w = wanted.iter().find(|w| w.get("name") == c.get("name"));
                    match w.and_then(|w| w.get("resources")) {
                        Some(r) => c["resources"] = r.clone(),
                        None => {
                            if let Some(o) = c.as_object_mut() {
                                o.remove("resources");
                            }
                        }
                    }
                }
            }
        }
    }
    // The apiserver defaults the patched object before comparing, so fields a patch dropped
    // and defaulting restores are no change.
    let mut new = new;
    defaults::apply(kind, &mut new);
    if m.get("spec") != new.get("spec") {
        let what = if sub == Sub::Resize {
            "only cpu and memory resources are mutable"
        } else {
            "pod updates through this subresource may only change spec.ephemeralContainers"
        };
        return Err(ApiError::invalid(
            kind,
            name,
            "spec",
            &format!("Forbidden: {what}"),
        ));
    }
    Ok(m)
}

/// Host and virtual allocators start apart, see [`VIRTUAL_FIRST_OFFSET`].
fn ipam_for(role: Role) -> Ipam {
    match role {
        Role::Host => Ipam::new(),
        Role::Virtual => Ipam::starting_at(VIRTUAL_FIRST_OFFSET),
    }
}

impl Cluster {
    pub fn new(role: Role) -> Self {
        Self {
            role,
            store: Mutex::new(Store::new(DEFAULT_RING)),
            ipam: Mutex::new(ipam_for(role)),
            pod_spec_immutable: std::sync::atomic::AtomicBool::new(true),
            graceful_pods: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether deleting a scheduled, unfinished pod with a grace period leaves it terminating
    /// (`deletionTimestamp` + `deletionGracePeriodSeconds`) until its kubelet, or a delete with
    /// grace 0, removes it, as on a real apiserver. Off by default: the sandbox's virtual side
    /// has no kubelet, so such pods would stay terminating without a syncer.
    pub fn set_graceful_pod_deletion(&self, on: bool) {
        self.graceful_pods
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether pod spec updates are limited as on a real apiserver (default true). The sandbox
    /// serves no workload kinds, so tests of list merging on containers turn this off.
    pub fn set_pod_spec_immutable(&self, on: bool) {
        self.pod_spec_immutable
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Shrinks the watch replay ring; tests use a tiny one to provoke 410 Expired.
    pub fn set_ring_capacity(&self, cap: usize) {
        self.lock().set_ring_capacity(cap);
    }

    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ipam(&self) -> MutexGuard<'_, Ipam> {
        self.ipam.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every object (a restart without state).
    pub fn reset(&self) {
        self.lock().clear();
        *self.ipam() = ipam_for(self.role);
    }

    /// The four namespaces every cluster starts with.
    pub fn seed_namespaces(&self) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let _ = self.create(
                kind("namespaces"),
                None,
                json!({"metadata": {"name": ns}}),
                &WriteOpts::default(),
            );
        }
    }

    pub fn get(&self, kind: &KindInfo, ns: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        self.lock()
            .get(kind.id, ns, name)
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    pub fn list(
        &self,
        kind: &KindInfo,
        ns: Option<&str>,
        q: &ListQuery,
    ) -> Result<ListResult, ApiError> {
        let store = self.lock();
        let current = store.rv();
        if q.rv_match.as_deref() == Some("Exact")
            && let Some(rv) = &q.rv
            && rv.parse::<u64>().ok() != Some(current)
        {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({current})"
            )));
        }
        let (after, list_rv, served) = match &q.cont {
            Some(tok) => {
                if q.rv.as_deref().is_some_and(|r| !r.is_empty() && r != "0") {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let c = decode_continue(tok)?;
                if c.rv < store.compacted() {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ));
                }
                (Some((c.ns, c.name)), c.rv, c.served)
            }
            None => (None, current, 0),
        };
        let mut items = Vec::new();
        let mut texts = Vec::new();
        let selective = !q.label.is_empty() || !q.field.is_empty();
        let matches = |v: &Value| q.label.matches(v) && q.field.matches(v);
        let mut last: Option<(String, String)> = None;
        // A page stops at the first match past the limit: walking the rest of the collection
        // to count it made every page O(n), and a paged list O(n²).
        let mut more = false;
        for (key, slot) in store.range(kind.id, ns, after) {
            let v = slot.head();
            if selective && !matches(v) {
                continue;
            }
            if q.limit > 0 && items.len() >= q.limit {
                more = true;
                break;
            }
            last = Some((key.1.clone(), key.2.clone()));
            if q.texts {
                texts.push(slot.text().cloned());
                items.push(if slot.text().is_some() {
                    v.clone()
                } else {
                    slot.full()
                });
            } else {
                items.push(if q.heads { v.clone() } else { slot.full() });
            }
        }
        let served = served + items.len() as u64;
        let (cont, remaining) = match last {
            Some((ns_of_last, name)) if more => {
                // As the apiserver does: with a selector the remainder is unknown and not sent.
                // Without one it is the collection's count less what was served, which writes
                // between pages can make an estimate (the field is documented as one).
                let remaining = (!selective).then(|| {
                    (store.count(kind.id, ns) as u64)
                        .saturating_sub(served)
                        .max(1)
                });
                let cont = encode_continue(&Continue {
                    rv: list_rv,
                    ns: ns_of_last,
                    name,
                    served,
                });
                (Some(cont), remaining)
            }
            _ => (None, None),
        };
        Ok(ListResult {
            items,
            texts,
            rv: list_rv,
            cont,
            remaining,
        })
    }

    fn resolve_ns(
        kind: &KindInfo,
        url_ns: Option<&str>,
        obj: &mut Value,
    ) -> Result<String, ApiError> {
        let meta = meta_mut(obj);
        if !kind.namespaced {
            meta.remove("namespace");
            return Ok(String::new());
        }
        let body_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        let ns = match (url_ns, body_ns) {
            (Some(u), b) if b.is_empty() || b == u => u.to_string(),
            (Some(_), _) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            (None, b) if !b.is_empty() => b.to_string(),
            (None, _) => "default".to_string(),
        };
        meta.insert("namespace".into(), json!(ns));
        Ok(ns)
    }

    fn check_namespace(store: &Store, ns: &str) -> Result<(), ApiError> {
        match store.get("namespaces", "", ns) {
            None => Err(ApiError::namespace_not_found(ns)),
            Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ))
            .with_details_raw(json!({"name": ns, "kind": "namespaces", "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}))),
            Some(_) => Ok(()),
        }
    }

    pub fn create(
        &self,
        kind: &'static KindInfo,
        url_ns: Option<&str>,
        mut body: Value,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        validate::check_type(kind, &mut body)?;
        let (mut obj, unknown) = validate::roundtrip(kind, body)?;
        let warnings = validate::unknown_fields(o.validation, &unknown)?;
        let ns = Self::resolve_ns(kind, url_ns, &mut obj)?;
        let mut store = self.lock();
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&obj, "generateName").to_string();
            if !prefix.is_empty() {
                for _ in 0..8 {
                    name = format!("{prefix}{}", generate_suffix());
                    if store.get(kind.id, &ns, &name).is_none() {
                        break;
                    }
                }
            }
        }
        validate::check_name(kind, &name)?;
        if kind.namespaced {
            Self::check_namespace(&store, &ns)?;
        }
        {
            let meta = meta_mut(&mut obj);
            meta.insert("name".into(), json!(name));
            meta.insert("uid".into(), json!(new_uid()));
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
                "managedFields",
            ] {
                meta.remove(k);
            }
            if kind.generation {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        defaults::apply(kind, &mut obj);
        match kind.id {
            "pods" => {
                let qos = defaults::qos_class(&obj);
                obj["status"] = json!({"phase": "Pending", "qosClass": qos});
            }
            "services" | "ingresses.networking.k8s.io" => {
                obj["status"] = json!({"loadBalancer": {}})
            }
            "namespaces" => obj["status"] = json!({"phase": "Active"}),
            _ => {}
        }
        validate::check_required(kind, &obj)?;
        if store.get(kind.id, &ns, &name).is_some() {
            return Err(ApiError::already_exists(kind, &name));
        }
        let mut alloc = Alloc::default();
        if kind.id == "services" {
            self.allocate_service(kind, &name, None, &mut obj, &mut alloc)?;
        }
        if o.dry_run {
            self.rollback(&alloc);
            return Ok(Written {
                object: obj,
                created: true,
                warnings,
            });
        }
        let stored = store.put(kind.id, obj);
        drop(store);
        if kind.id == "namespaces" {
            self.ensure_default_service_account(&name);
        }
        Ok(Written {
            object: (*stored).clone(),
            created: true,
            warnings,
        })
    }

    pub fn update(
        &self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        mut body: Value,
        sub: Sub,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        validate::check_type(kind, &mut body)?;
        Self::check_url_name(&mut body, name)?;
        let (mut obj, unknown) = validate::roundtrip(kind, body)?;
        let warnings = validate::unknown_fields(o.validation, &unknown)?;
        let url_ns = kind.namespaced.then_some(ns);
        Self::resolve_ns(kind, url_ns, &mut obj)?;
        let mut store = self.lock();
        let Some(old) = store.get(kind.id, ns, name) else {
            drop(store);
            if kind.id == "endpoints" && sub == Sub::Main {
                return self.create(kind, url_ns, obj, o);
            }
            return Err(ApiError::not_found(kind, name));
        };
        self.finish_update(&mut store, kind, &old, obj, sub, o, warnings)
    }

    fn check_url_name(body: &mut Value, name: &str) -> Result<(), ApiError> {
        let meta = meta_mut(body);
        match meta.get("name").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("name".into(), json!(name));
                Ok(())
            }
            Some(n) if n == name => Ok(()),
            Some(n) => Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &self,
        store: &mut Store,
        kind: &'static KindInfo,
        old: &Value,
        new: Value,
        sub: Sub,
        o: &WriteOpts,
        warnings: Vec<String>,
    ) -> Result<Written, ApiError> {
        let name = meta_str(old, "name").to_string();
        let ns = meta_str(old, "namespace").to_string();
        let new_rv = meta_str(&new, "resourceVersion");
        if !new_rv.is_empty() && new_rv != meta_str(old, "resourceVersion") {
            return Err(ApiError::modified(kind, &name));
        }
        let mut merged = match sub {
            Sub::Status => {
                let mut m = old.clone();
                match new.get("status") {
                    Some(s) => m["status"] = s.clone(),
                    None => {
                        if let Some(o) = m.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                m
            }
            Sub::Binding | Sub::Token => {
                return Err(ApiError::bad_request(
                    "this subresource is only served for POST",
                ));
            }
            Sub::EphemeralContainers | Sub::Resize => pod_subresource(kind, &name, old, new, sub)?,
            Sub::Finalize => {
                let mut m = old.clone();
                m["spec"]["finalizers"] = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or(json!([]));
                m
            }
            Sub::Main => {
                let mut m = new;
                if kind.status {
                    match old.get("status") {
                        Some(s) => m["status"] = s.clone(),
                        None => {
                            if let Some(o) = m.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                }
                m
            }
        };
        {
            let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
            let meta = meta_mut(&mut merged);
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
                "namespace",
                "name",
            ] {
                match old_meta.get(k) {
                    Some(v) => meta.insert(k.into(), v.clone()),
                    None => meta.remove(k),
                };
            }
            meta.remove("managedFields");
        }
        let mut alloc = Alloc::default();
        if sub == Sub::Main {
            defaults::apply(kind, &mut merged);
            validate::check_required(kind, &merged)?;
            // An update that leaves nodeName out keeps it; changing it needs a binding.
            if kind.id == "pods"
                && merged.pointer("/spec/nodeName").is_none()
                && let Some(n) = old.pointer("/spec/nodeName")
            {
                merged["spec"]["nodeName"] = n.clone();
            }
            if kind.id == "pods"
                && self
                    .pod_spec_immutable
                    .load(std::sync::atomic::Ordering::Relaxed)
            {
                let a = old.get("spec").map(pod_spec_immutable_part);
                let b = merged.get("spec").map(pod_spec_immutable_part);
                if a != b {
                    return Err(ApiError::invalid(kind, &name, "spec", POD_UPDATE_FORBIDDEN));
                }
            }
            if kind.id == "services" {
                self.allocate_service(kind, &name, Some(old), &mut merged, &mut alloc)?;
            }
            if kind.generation && old.get("spec") != merged.get("spec") {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                merged["metadata"]["generation"] = json!(g + 1);
            }
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                // New finalizers cannot be added to an object that is being deleted.
                let had: Vec<Value> = old
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let added = merged
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|x| !had.contains(x)));
                if added {
                    self.rollback(&alloc);
                    return Err(ApiError::invalid(
                        kind,
                        &name,
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted",
                    ));
                }
            }
        }
        if merged == *old {
            self.rollback(&alloc);
            return Ok(Written {
                object: old.clone(),
                created: false,
                warnings,
            });
        }
        if o.dry_run {
            self.rollback(&alloc);
            return Ok(Written {
                object: merged,
                created: false,
                warnings,
            });
        }
        self.commit(&alloc);
        let deleting = merged.pointer("/metadata/deletionTimestamp").is_some();
        let ns_finalizers_done = kind.id != "namespaces"
            || merged
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_none_or(|f| f.is_empty());
        if deleting && finalizers_empty(&merged) && ns_finalizers_done {
            store.put(kind.id, merged);
            let gone = store.remove(kind.id, &ns, &name);
            if let Some(g) = &gone {
                self.release_object(kind, g);
            }
            return Ok(Written {
                object: gone.map(|g| (*g).clone()).unwrap_or(Value::Null),
                created: false,
                warnings,
            });
        }
        let stored = store.put(kind.id, merged);
        Ok(Written {
            object: (*stored).clone(),
            created: false,
            warnings,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        ptype: PatchType,
        body: &[u8],
        sub: Sub,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        if ptype != PatchType::Apply && o.force {
            return Err(ApiError::new(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
            ));
        }
        if ptype == PatchType::Apply {
            return self.server_side_apply(kind, ns, name, body, sub, o);
        }
        let mut store = self.lock();
        let old = store
            .get(kind.id, ns, name)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let mut doc = (*old).clone();
        patch::apply_patch(ptype, &mut doc, body).map_err(|e| match e {
            PatchFailure::Malformed(m) => ApiError::bad_request(m),
            PatchFailure::Unprocessable(m) => ApiError::new(422, "Invalid", m),
        })?;
        validate::check_type(kind, &mut doc)?;
        Self::check_url_name(&mut doc, name)?;
        let (obj, unknown) = validate::roundtrip(kind, doc)?;
        let warnings = validate::unknown_fields(o.validation, &unknown)?;
        self.finish_update(&mut store, kind, &old, obj, sub, o, warnings)
    }

    fn server_side_apply(
        &self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        body: &[u8],
        sub: Sub,
        o: &WriteOpts,
    ) -> Result<Written, ApiError> {
        let Some(manager) = o.field_manager.clone().filter(|m| !m.is_empty()) else {
            return Err(ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                .with_details_raw(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})));
        };
        let mut applied = patch::parse_json_or_yaml(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding apply patch: {e}")))?;
        if !applied.is_object() {
            return Err(ApiError::bad_request("apply patch must be an object"));
        }
        validate::check_type(kind, &mut applied)?;
        Self::check_url_name(&mut applied, name)?;
        let url_ns = kind.namespaced.then_some(ns);
        Self::resolve_ns(kind, url_ns, &mut applied)?;
        let mut store = self.lock();
        let key = (kind.id, ns.to_string(), name.to_string());
        let Some(old) = store.get(kind.id, ns, name) else {
            drop(store);
            if sub != Sub::Main {
                return Err(ApiError::not_found(kind, name));
            }
            let w = self.create(kind, url_ns, applied.clone(), o)?;
            if !o.dry_run {
                self.lock()
                    .applied
                    .entry(key)
                    .or_default()
                    .insert(manager, applied);
            }
            return Ok(w);
        };
        let prev = store
            .applied
            .get(&key)
            .and_then(|m| m.get(&manager))
            .cloned();
        let mut live = (*old).clone();
        patch::apply::apply(&mut live, prev.as_ref(), &applied);
        let (obj, unknown) = validate::roundtrip(kind, live)?;
        let warnings = validate::unknown_fields(o.validation, &unknown)?;
        let w = self.finish_update(&mut store, kind, &old, obj, sub, o, warnings)?;
        if !o.dry_run && store.get(kind.id, ns, name).is_some() {
            store
                .applied
                .entry(key)
                .or_default()
                .insert(manager, applied);
        }
        Ok(w)
    }

    /// `POST pods/{name}/binding`: sets `spec.nodeName` of an unscheduled pod.
    pub fn bind(
        &self,
        ns: &str,
        name: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let pods = kind("pods");
        let target = body
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid(pods, name, "target.name", "Required value"))?
            .to_string();
        if body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| n != name)
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object does not match the name on the URL ({name})"
            )));
        }
        let mut store = self.lock();
        let old = store
            .get(pods.id, ns, name)
            .ok_or_else(|| ApiError::not_found(pods, name))?;
        if let Some(current) = old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::conflict(
                pods,
                name,
                &format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict(
                pods,
                name,
                &format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        if !dry_run {
            let mut m = (*old).clone();
            m["spec"]["nodeName"] = json!(target);
            store.put(pods.id, m);
        }
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        )
    }

    /// Deletes an object. Returns the response body and whether the object is gone already
    /// (false while finalizers or namespace contents hold it).
    pub fn delete(
        &self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        d: &DeleteOpts,
    ) -> Result<(Value, bool), ApiError> {
        let mut store = self.lock();
        let old = store
            .get(kind.id, ns, name)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        if let Some(uid) = &d.uid
            && uid != meta_str(&old, "uid")
        {
            return Err(ApiError::conflict(
                kind,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid")
                ),
            ));
        }
        if let Some(rv) = &d.resource_version
            && rv != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                kind,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta_str(&old, "resourceVersion")
                ),
            ));
        }
        if d.dry_run {
            return Ok(((*old).clone(), false));
        }
        let terminating = old.pointer("/metadata/deletionTimestamp").is_some();
        if kind.id == "pods"
            && self
                .graceful_pods
                .load(std::sync::atomic::Ordering::Relaxed)
            && let Some(grace) = pod_grace(&old, d.grace_period)
        {
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            // A grace period can only get shorter once the pod terminates.
            if terminating && current.is_some_and(|c| c <= grace) {
                return Ok(((*old).clone(), false));
            }
            let mut m = (*old).clone();
            let at = chrono::Utc::now() + chrono::Duration::seconds(grace);
            meta_mut(&mut m).insert(
                "deletionTimestamp".into(),
                json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
            meta_mut(&mut m).insert("deletionGracePeriodSeconds".into(), json!(grace));
            let stored = store.put(kind.id, m);
            return Ok(((*stored).clone(), false));
        }
        if kind.id == "namespaces" || !finalizers_empty(&old) {
            if terminating {
                return Ok(((*old).clone(), false));
            }
            let mut m = (*old).clone();
            meta_mut(&mut m).insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta_mut(&mut m).insert("deletionGracePeriodSeconds".into(), json!(0));
            if kind.id == "namespaces" {
                m["status"]["phase"] = json!("Terminating");
            }
            let stored = store.put(kind.id, m);
            return Ok(((*stored).clone(), false));
        }
        let gone = store
            .remove(kind.id, ns, name)
            .map(|g| (*g).clone())
            .unwrap_or(Value::Null);
        drop(store);
        self.release_object(kind, &gone);
        let body = match kind.id {
            "pods" | "services" | "ingresses.networking.k8s.io" | "nodes" => gone,
            _ => success_status(kind, name, meta_str(&gone, "uid")),
        };
        Ok((body, true))
    }

    /// Reads, changes and writes an object under one lock, bypassing validation: the
    /// simulated controllers' write path. Returns the stored object when something changed.
    pub fn mutate(
        &self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Arc<Value>> {
        let mut store = self.lock();
        let old = store.get(kind.id, ns, name)?;
        let mut m = (*old).clone();
        f(&mut m);
        if m == *old {
            return None;
        }
        Some(store.put(kind.id, m))
    }

    /// Writes an object as-is (create or replace), bypassing validation: for controllers and
    /// the install layout. Server fields are filled in when missing.
    pub fn put_raw(&self, kind: &'static KindInfo, mut obj: Value) -> Arc<Value> {
        let mut store = self.lock();
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        let old = store.get(kind.id, &ns, &name);
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind);
        let meta = meta_mut(&mut obj);
        let keep = |k: &str| {
            old.as_ref()
                .and_then(|o| o.pointer(&format!("/metadata/{k}")).cloned())
        };
        meta.insert(
            "uid".into(),
            keep("uid").unwrap_or_else(|| json!(new_uid())),
        );
        meta.insert(
            "creationTimestamp".into(),
            keep("creationTimestamp").unwrap_or_else(|| json!(now_rfc3339())),
        );
        if let Some(o) = &old {
            let mut cmp = obj.clone();
            meta_mut(&mut cmp).insert(
                "resourceVersion".into(),
                json!(meta_str(o, "resourceVersion")),
            );
            if cmp == **o {
                return o.clone();
            }
        }
        store.put(kind.id, obj)
    }

    /// Removes an object outright (controllers: endpoints of a deleted service).
    pub fn remove_raw(&self, kind: &'static KindInfo, ns: &str, name: &str) -> bool {
        let gone = self.lock().remove(kind.id, ns, name);
        if let Some(g) = &gone {
            self.release_object(kind, g);
        }
        gone.is_some()
    }

    fn release_object(&self, kind: &KindInfo, obj: &Value) {
        if kind.id != "services" {
            return;
        }
        let mut ipam = self.ipam();
        for ip in service_ips(obj) {
            ipam.release_ip(&ip);
        }
        for p in node_ports(obj) {
            ipam.release_port(p);
        }
    }

    fn rollback(&self, a: &Alloc) {
        let mut ipam = self.ipam();
        for ip in &a.new_ips {
            ipam.release_ip(ip);
        }
        for p in &a.new_ports {
            ipam.release_port(*p);
        }
    }

    fn commit(&self, a: &Alloc) {
        let mut ipam = self.ipam();
        for ip in &a.freed_ips {
            ipam.release_ip(ip);
        }
        for p in &a.freed_ports {
            ipam.release_port(*p);
        }
    }

    /// ClusterIP and NodePort allocation for a created or updated Service.
    fn allocate_service(
        &self,
        kind: &KindInfo,
        name: &str,
        old: Option<&Value>,
        obj: &mut Value,
        alloc: &mut Alloc,
    ) -> Result<(), ApiError> {
        let result = self.allocate_service_inner(name, old, obj, alloc);
        result.map_err(|(field, msg)| {
            self.rollback(alloc);
            ApiError::invalid(kind, name, &field, &msg)
        })
    }

    fn allocate_service_inner(
        &self,
        _name: &str,
        old: Option<&Value>,
        obj: &mut Value,
        alloc: &mut Alloc,
    ) -> Result<(), (String, String)> {
        let ty = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let old_ip = old
            .and_then(|o| o.pointer("/spec/clusterIP"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let requested = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| {
                obj.pointer("/spec/clusterIPs/0")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let mut ipam = self.ipam();
        if ty == "ExternalName" {
            if let Some(ip) = old_ip.filter(|ip| ip != "None") {
                alloc.freed_ips.push(ip);
            }
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
        } else {
            let ip = match (&old_ip, requested.as_deref()) {
                (Some(o), None) => o.clone(),
                (Some(o), Some(r)) if o == r => o.clone(),
                (Some(_), Some(r)) => {
                    return Err((
                        "spec.clusterIPs[0]".into(),
                        format!("Invalid value: []string{{{r:?}}}: may not change once set"),
                    ));
                }
                (None, Some("None")) => "None".to_string(),
                (None, r) => {
                    let ip = ipam.allocate_ip(r)?;
                    alloc.new_ips.push(ip.clone());
                    ip
                }
            };
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        }
        let old_ports = old.map(node_ports_by_port).unwrap_or_default();
        let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
        let mut kept = Vec::new();
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                let Some(pm) = p.as_object_mut() else {
                    continue;
                };
                if !wants_node_ports {
                    pm.remove("nodePort");
                    continue;
                }
                let port = pm.get("port").and_then(Value::as_i64).unwrap_or(0);
                let proto = pm
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("TCP")
                    .to_string();
                let req = pm
                    .get("nodePort")
                    .and_then(Value::as_i64)
                    .filter(|n| *n != 0);
                let previous = old_ports
                    .iter()
                    .find(|(pp, pr, _)| *pp == port && *pr == proto)
                    .map(|x| x.2);
                let np = match (req, previous) {
                    (None, Some(prev)) => prev,
                    (Some(r), Some(prev)) if r == prev => prev,
                    (Some(r), _) if old_ports.iter().any(|x| x.2 == r) => r,
                    (r, _) => {
                        let np = ipam.allocate_port(i, r)?;
                        alloc.new_ports.push(np);
                        np
                    }
                };
                kept.push(np);
                pm.insert("nodePort".into(), json!(np));
            }
        }
        for (_, _, np) in old_ports {
            if !kept.contains(&np) {
                alloc.freed_ports.push(np);
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Alloc {
    new_ips: Vec<String>,
    new_ports: Vec<i64>,
    freed_ips: Vec<String>,
    freed_ports: Vec<i64>,
}

fn service_ips(obj: &Value) -> Vec<String> {
    let mut out: Vec<String> = obj
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(ip) = obj.pointer("/spec/clusterIP").and_then(Value::as_str)
        && !out.iter().any(|x| x == ip)
    {
        out.push(ip.to_string());
    }
    out.retain(|ip| ip != "None" && !ip.is_empty());
    out
}

fn node_ports(obj: &Value) -> Vec<i64> {
    node_ports_by_port(obj).into_iter().map(|x| x.2).collect()
}

fn node_ports_by_port(obj: &Value) -> Vec<(i64, String, i64)> {
    obj.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let np = p.get("nodePort").and_then(Value::as_i64)?;
                    Some((
                        p.get("port").and_then(Value::as_i64).unwrap_or(0),
                        p.get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP")
                            .to_string(),
                        np,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A registered kind by id; the ids used in code are the table's own, so lookup cannot fail.
pub fn kind(id: &str) -> &'static KindInfo {
    match registry::by_id(id) {
        Some(k) => k,
        None => panic!("sandbox registry has no kind {id}: a typo in the sandbox source"),
    }
}

#[cfg(test)]
mod list_tests {
    use super::*;
    use crate::sandbox::selectors::{FieldSelector, LabelSelector};

    fn cluster_with_configmaps(n: usize) -> Cluster {
        let c = Cluster::new(Role::Virtual);
        for i in 0..n {
            let ns = if i % 2 == 0 { "a" } else { "b" };
            let app = if i % 3 == 0 { "x" } else { "y" };
            c.put_raw(
                kind("configmaps"),
                json!({"metadata": {"name": format!("cm{i:03}"), "namespace": ns, "labels": {"app": app}}}),
            );
        }
        c
    }

    /// Every page of a list, following continue tokens; the names and each page's
    /// `remainingItemCount`.
    fn pages(c: &Cluster, ns: Option<&str>, mut q: ListQuery) -> (Vec<String>, Vec<Option<u64>>) {
        let (mut names, mut remaining) = (Vec::new(), Vec::new());
        loop {
            let r = c.list(kind("configmaps"), ns, &q).unwrap();
            if q.limit > 0 {
                assert!(r.items.len() <= q.limit);
            }
            names.extend(r.items.iter().map(|o| meta_str(o, "name").to_string()));
            remaining.push(r.remaining);
            match r.cont {
                Some(c) => q.cont = Some(c),
                None => return (names, remaining),
            }
        }
    }

    #[test]
    fn pages_cover_the_collection_once_with_the_remaining_count() {
        let c = cluster_with_configmaps(25);
        let q = ListQuery {
            limit: 10,
            ..Default::default()
        };
        let (names, remaining) = pages(&c, None, q.clone());
        let all: Vec<String> = c
            .list(kind("configmaps"), None, &ListQuery::default())
            .unwrap()
            .items
            .iter()
            .map(|o| meta_str(o, "name").to_string())
            .collect();
        assert_eq!(names, all);
        assert_eq!(names.len(), 25);
        assert_eq!(remaining, vec![Some(15), Some(5), None]);
        // Per namespace: 13 in "a".
        let (names, remaining) = pages(&c, Some("a"), q.clone());
        assert_eq!(names.len(), 13);
        assert_eq!(remaining, vec![Some(3), None]);
        // An exact multiple of the limit ends without an empty page.
        let (names, remaining) = pages(
            &c,
            Some("a"),
            ListQuery {
                limit: 13,
                ..q.clone()
            },
        );
        assert_eq!((names.len(), remaining), (13, vec![None]));
    }

    #[test]
    fn a_selective_list_pages_without_a_remaining_count() {
        let c = cluster_with_configmaps(25);
        let q = ListQuery {
            limit: 4,
            label: LabelSelector::parse("app=x").unwrap(),
            ..Default::default()
        };
        let (names, remaining) = pages(&c, None, q);
        assert_eq!(names.len(), 9, "{names:?}");
        assert!(remaining.iter().all(Option::is_none), "{remaining:?}");
        let q = ListQuery {
            limit: 5,
            field: FieldSelector::parse("metadata.namespace=b", kind("configmaps")).unwrap(),
            ..Default::default()
        };
        let (names, _) = pages(&c, None, q);
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn the_count_follows_creates_and_deletes() {
        let c = cluster_with_configmaps(6);
        assert_eq!(c.lock().count("configmaps", None), 6);
        assert_eq!(c.lock().count("configmaps", Some("a")), 3);
        c.lock().remove("configmaps", "a", "cm000");
        c.put_raw(
            kind("configmaps"),
            json!({"metadata": {"name": "cm002", "namespace": "a", "labels": {"app": "z"}}}),
        );
        assert_eq!(c.lock().count("configmaps", Some("a")), 2);
        assert_eq!(c.lock().count("configmaps", Some("zz")), 0);
        c.lock().clear();
        assert_eq!(c.lock().count("configmaps", None), 0);
    }
}
