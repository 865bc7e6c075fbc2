//! Virtual Ingress → host Ingress (§5).

use crate::engine::change::ObjKind;
use crate::engine::ctx::Ctx;
use crate::engine::translate::metadata::{self, Labels};
use crate::vcluster::naming;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// nginx annotations whose value names a secret.
const NGINX_SECRET_ANNOTATIONS: [&str; 3] = [
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret",
];
const ALB_ACTIONS: &str = "alb.ingress.kubernetes.io/actions";
const ALB_CONDITIONS: &str = "alb.ingress.kubernetes.io/conditions";

pub fn to_host(ctx: &Ctx, ving: &Ingress) -> Ingress {
    let vns = ving.metadata.namespace.as_deref().unwrap_or("");
    let vname = ving.metadata.name.as_deref().unwrap_or("");
    let host_name = naming::host_name(vname, vns, ctx.vcluster);
    let translated = translated_virtual_meta(ctx, &ving.metadata);
    let mut metadata = metadata::host_meta(ctx, ObjKind::Ingress, &translated, &host_name);
    metadata.labels = Some(metadata::host_labels(
        ctx,
        ving.metadata.labels.as_ref(),
        vns,
    ));
    Ingress {
        metadata,
        spec: ving.spec.as_ref().map(|s| host_spec(ctx, s, vns)),
        status: None,
    }
}

/// The virtual metadata with its annotations already rewritten the way the ingress syncer
/// does before the generic metadata translation (so `managed-annotations` lists host keys).
pub fn translated_virtual_meta(ctx: &Ctx, vmeta: &ObjectMeta) -> ObjectMeta {
    let vns = vmeta.namespace.as_deref().unwrap_or("");
    let mut meta = vmeta.clone();
    meta.annotations = vmeta
        .annotations
        .as_ref()
        .map(|a| translate_annotations(ctx, a, vns));
    meta
}

/// The spec recomputed from the virtual one: service and resource names, TLS secrets.
pub fn host_spec(ctx: &Ctx, spec: &IngressSpec, vns: &str) -> IngressSpec {
    let mut spec = spec.clone();
    if let Some(b) = spec.default_backend.as_mut() {
        translate_backend(ctx, b, vns);
    }
    for rule in spec.rules.iter_mut().flatten() {
        for path in rule.http.iter_mut().flat_map(|h| h.paths.iter_mut()) {
            translate_backend(ctx, &mut path.backend, vns);
        }
    }
    for tls in spec.tls.iter_mut().flatten() {
        if let Some(s) = tls.secret_name.as_mut()
            && !s.is_empty()
        {
            *s = naming::host_name(s, vns, ctx.vcluster);
        }
    }
    spec
}

fn translate_backend(ctx: &Ctx, b: &mut IngressBackend, vns: &str) {
    if let Some(svc) = b.service.as_mut() {
        svc.name = naming::host_name(&svc.name, vns, ctx.vcluster);
    }
    if let Some(r) = b.resource.as_mut() {
        r.name = naming::host_name(&r.name, vns, ctx.vcluster);
    }
}

/// nginx secret annotations and ALB `actions.*`/`conditions.*` rewritten; everything else as is.
pub fn translate_annotations(ctx: &Ctx, ann: &Labels, vns: &str) -> Labels {
    let mut out = Labels::new();
    for (k, v) in ann {
        let (k, v) = if NGINX_SECRET_ANNOTATIONS.contains(&k.as_str()) {
            (k.clone(), nginx_secret(ctx, v, vns))
        } else {
            alb(ctx, k, v, vns)
        };
        out.insert(k, v);
    }
    out
}

fn nginx_secret(ctx: &Ctx, value: &str, vns: &str) -> String {
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() => naming::host_name(name, vns, ctx.vcluster),
        [ns, name] if !ns.is_empty() && !name.is_empty() => format!(
            "{}/{}",
            ctx.host_namespace,
            naming::host_name(name, ns, ctx.vcluster)
        ),
        _ => value.to_string(),
    }
}

/// `ProcessAlbAnnotations`.
fn alb(ctx: &Ctx, key: &str, value: &str, vns: &str) -> (String, String) {
    let marker = format!("x-{vns}-x");
    let mut key = key.to_string();
    let mut value = value.to_string();
    if key.starts_with(ALB_ACTIONS) {
        if let Some(action) = suffix_after(&key, "/actions.")
            && !key.contains(&marker)
        {
            key = key.replacen(&action, &naming::host_name(&action, vns, ctx.vcluster), 1);
        }
        if let Some(v) = rewrite_actions(ctx, &value, vns, &marker) {
            value = v;
        }
    }
    if key.starts_with(ALB_CONDITIONS)
        && let Some(cond) = suffix_after(&key, "/conditions.")
        && !key.contains(&marker)
    {
        key = key.replacen(&cond, &naming::host_name(&cond, vns, ctx.vcluster), 1);
    }
    (key, value)
}

fn suffix_after(key: &str, sep: &str) -> Option<String> {
    key.find(sep).map(|i| key[i + sep.len()..].to_string())
}

/// Re-marshal an actions payload the way vCluster's Go struct does: only `type` and
/// `forwardConfig.{targetGroups, targetGroupStickinessConfig}` survive, in that order, with
/// each target group's keys sorted and `serviceName` translated.
fn rewrite_actions(ctx: &Ctx, value: &str, vns: &str, marker: &str) -> Option<String> {
    let payload: Value = serde_json::from_str(value).ok()?;
    if payload.is_null() {
        return Some("null".to_string());
    }
    let obj = payload.as_object()?;
    let ty = match obj.get("type") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return None,
    };
    let fc = obj.get("forwardConfig").and_then(Value::as_object);
    let groups = match fc.and_then(|f| f.get("targetGroups")) {
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for g in a {
                let mut g = g.as_object()?.clone();
                if let Some(Value::String(svc)) = g.get("serviceName")
                    && !svc.is_empty()
                    && !svc.contains(marker)
                {
                    let t = naming::host_name(svc, vns, ctx.vcluster);
                    g.insert("serviceName".to_string(), Value::String(t));
                }
                out.push(Value::Object(g));
            }
            Value::Array(out)
        }
        None | Some(Value::Null) => Value::Null,
        Some(_) => return None,
    };
    let stickiness = match fc.and_then(|f| f.get("targetGroupStickinessConfig")) {
        Some(v @ Value::Object(_)) => v.clone(),
        None | Some(Value::Null) => Value::Null,
        Some(_) => return None,
    };
    // Field order matters for byte-equality with vCluster's output; serde_json's Map is sorted,
    // so the two top-level objects are written by hand.
    let groups_json = serde_json::to_string(&groups).ok()?;
    let stick_json = serde_json::to_string(&stickiness).ok()?;
    let ty_json = serde_json::to_string(&Value::String(ty)).ok()?;
    Some(format!(
        r#"{{"type":{ty_json},"forwardConfig":{{"targetGroups":{groups_json},"targetGroupStickinessConfig":{stick_json}}}}}"#
    ))
}
