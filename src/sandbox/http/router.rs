//! The catch-all request handler: authentication, path parsing, verb dispatch and rendering.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};

use super::Shared;
use super::discovery;
use crate::sandbox::cluster::{DeleteOpts, ListQuery, ListResult, Sub, WriteOpts};
use crate::sandbox::error::ApiError;
use crate::sandbox::patch::{PatchType, parse_json_or_yaml};
use crate::sandbox::registry::{self, KindInfo};
use crate::sandbox::selectors::{FieldSelector, LabelSelector, parse_query};
use crate::sandbox::table::{self, Include};
use crate::sandbox::validate::FieldValidation;
use crate::sandbox::watch::{self, Render, WatchSpec};

/// Request bodies above this get 413, as the apiserver's 3 MiB limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Watches without `timeoutSeconds` stay open this long (the apiserver picks 30–60 min).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    /// Limited to get, list and watch.
    pub readonly: bool,
}

fn respond(code: u16, body: Vec<u8>, warnings: &[String]) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    for w in warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "\\\""));
        b = b.header(header::WARNING, v);
    }
    b.body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn json_response(code: u16, v: &Value, warnings: &[String]) -> Response {
    respond(code, serde_json::to_vec(v).unwrap_or_default(), warnings)
}

pub fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status(), &[])
}

pub async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    if !sh.is_serving() {
        let mut r = error_response(&ApiError::new(
            503,
            "ServiceUnavailable",
            "the sandbox server is stopped",
        ));
        r.headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        return r;
    }
    let latency = sh.faults().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match route(&sh, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn authenticate(sh: &Shared, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token {
        Some(t) => sh.users.get(t).cloned().or_else(|| {
            sh.rbac_user(t).map(|name| User {
                name,
                readonly: false,
            })
        }),
        // client-go merges kubeconfig credentials only into TLS transports, so kubectl sends
        // none over plain http; like the old insecure port, such requests are admitted.
        None => sh.anonymous.clone(),
    }
    .ok_or_else(|| ApiError::new(401, "Unauthorized", "Unauthorized"))
}

/// A resource request path, parsed.
struct Target {
    kind: &'static KindInfo,
    namespace: Option<String>,
    name: Option<String>,
    sub: Sub,
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let nf = ApiError::unknown_path;
    let lookup = |r: &str| registry::lookup(group, version, r).ok_or_else(nf);
    let sub_of = |kind: &KindInfo, s: &str| match s {
        "status" if kind.status => Ok(Sub::Status),
        "finalize" if kind.id == "namespaces" => Ok(Sub::Finalize),
        "binding" if kind.id == "pods" => Ok(Sub::Binding),
        "token" if kind.id == "serviceaccounts" => Ok(Sub::Token),
        "ephemeralcontainers" if kind.id == "pods" => Ok(Sub::EphemeralContainers),
        "resize" if kind.id == "pods" => Ok(Sub::Resize),
        _ => Err(nf()),
    };
    let t = |kind, namespace: Option<&str>, name: Option<&str>, sub| Target {
        kind,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        sub,
    };
    match rest {
        ["namespaces", ns, res, tail @ ..]
            if !group.is_empty() || !matches!(*res, "status" | "finalize") =>
        {
            let kind = lookup(res)?;
            if !kind.namespaced {
                return Err(nf());
            }
            match tail {
                [] => Ok(t(kind, Some(ns), None, Sub::Main)),
                [name] => Ok(t(kind, Some(ns), Some(name), Sub::Main)),
                [name, s] => Ok(t(kind, Some(ns), Some(name), sub_of(kind, s)?)),
                _ => Err(nf()),
            }
        }
        [res, tail @ ..] => {
            let kind = lookup(res)?;
            match tail {
                [] => Ok(t(kind, None, None, Sub::Main)),
                [_, ..] if kind.namespaced => Err(nf()),
                [name] => Ok(t(kind, None, Some(name), Sub::Main)),
                [name, s] => Ok(t(kind, None, Some(name), sub_of(kind, s)?)),
                _ => Err(nf()),
            }
        }
        [] => Err(nf()),
    }
}

struct Params(HashMap<String, String>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    fn nonempty(&self, k: &str) -> Option<String> {
        self.get(k).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

async fn read_body(req: Request) -> Result<bytes::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_BODY
    {
        return Err(too_large());
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| too_large())
}

fn write_opts(p: &Params) -> Result<WriteOpts, ApiError> {
    let dry_run = match p.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other:?}: supported values: \"All\""
            )));
        }
    };
    Ok(WriteOpts {
        dry_run,
        validation: FieldValidation::parse(p.get("fieldValidation").unwrap_or(""))?,
        field_manager: p.nonempty("fieldManager"),
        force: p.flag("force"),
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    Plain,
    Table,
    Metadata,
}

fn want(headers: &HeaderMap) -> Want {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first acceptable media type wins, as in the apiserver's negotiation.
    for part in accept.split(',') {
        if part.contains("as=Table") {
            return Want::Table;
        }
        if part.contains("as=PartialObjectMetadata") {
            return Want::Metadata;
        }
        if part.trim_start().starts_with("application/json") || part.contains("*/*") {
            return Want::Plain;
        }
    }
    Want::Plain
}

fn list_body(kind: &KindInfo, r: &ListResult, want: Want, include: Include) -> Vec<u8> {
    match want {
        Want::Table => serde_json::to_vec(&table::table(
            kind,
            &r.items,
            r.rv,
            r.cont.as_deref(),
            include,
        ))
        .unwrap_or_default(),
        _ => {
            let mut meta = json!({"resourceVersion": r.rv.to_string()});
            if let Some(c) = &r.cont {
                meta["continue"] = json!(c);
            }
            if let Some(n) = r.remaining {
                meta["remainingItemCount"] = json!(n);
            }
            let (list_kind, api_version) = if want == Want::Metadata {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (format!("{}List", kind.kind), kind.api_version())
            };
            let mut out = Vec::with_capacity(r.items.len() * 1024 + 256);
            out.extend_from_slice(
                format!(
                    "{{\"kind\":\"{list_kind}\",\"apiVersion\":\"{api_version}\",\"metadata\":"
                )
                .as_bytes(),
            );
            out.extend_from_slice(&serde_json::to_vec(&meta).unwrap_or_default());
            out.extend_from_slice(b",\"items\":[");
            for (i, item) in r.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // A large object's stored text is the object: sent as it is, never re-parsed.
                if let Some(Some(text)) = r.texts.get(i) {
                    out.extend_from_slice(text);
                    continue;
                }
                let _ = if want == Want::Metadata {
                    serde_json::to_writer(&mut out, &table::partial_metadata(item))
                } else {
                    serde_json::to_writer(&mut out, &**item)
                };
            }
            out.extend_from_slice(b"]}");
            out
        }
    }
}

fn object_body(kind: &KindInfo, obj: &Value, want: Want, include: Include) -> Value {
    match want {
        Want::Table => {
            let rv = crate::sandbox::store::meta_str(obj, "resourceVersion")
                .parse()
                .unwrap_or(0);
            table::table(kind, &[Arc::new(obj.clone())], rv, None, include)
        }
        Want::Metadata => table::partial_metadata(obj),
        Want::Plain => obj.clone(),
    }
}

fn forbidden(user: &User, verb: &str, t: &Target) -> ApiError {
    let what = match &t.name {
        Some(n) => format!("{} \"{n}\"", t.kind.qualified()),
        None => t.kind.qualified(),
    };
    let scope = match &t.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    ApiError::forbidden(format!(
        "{what} is forbidden: User \"{}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
        user.name, t.kind.resource, t.kind.group
    ))
}

async fn route(sh: &Arc<Shared>, req: Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Like system:public-info-viewer: version and health need no credentials (the kubectl
    // dispatcher asks /version anonymously to pick its binary).
    if method == Method::GET {
        match path.as_str() {
            "/version" | "/version/" => return Ok(json_response(200, &discovery::version(), &[])),
            "/healthz" | "/livez" | "/readyz" => return Ok(Response::new(Body::from("ok"))),
            _ => {}
        }
    }
    let user = authenticate(sh, req.headers())?;
    let params = Params(
        parse_query(req.uri().query().unwrap_or(""))
            .into_iter()
            .collect(),
    );
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

    if method == Method::GET && matches!(segs.as_slice(), ["api"] | ["apis"]) {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if discovery::wants_aggregated(accept) {
            let body = discovery::aggregated(segs.as_slice() == ["api"]);
            let mut r = json_response(200, &body, &[]);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
            );
            return Ok(r);
        }
    }
    if method == Method::GET {
        let found = match segs.as_slice() {
            ["version"] => Some(discovery::version()),
            ["api"] => Some(discovery::api_versions(&sh.server_address())),
            ["apis"] => Some(discovery::api_groups()),
            ["api", "v1"] => discovery::resource_list("", "v1"),
            ["apis", g] => discovery::api_group(g),
            ["apis", g, v] => discovery::resource_list(g, v),
            ["openapi", "v3"] => Some(discovery::openapi_root()),
            ["openapi", "v3", rest @ ..] => discovery::openapi_doc(&rest.join("/")),
            ["healthz" | "livez" | "readyz"] => {
                return Ok(Response::new(Body::from("ok")));
            }
            _ => None,
        };
        if let Some(v) = found {
            return Ok(json_response(200, &v, &[]));
        }
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Err(ApiError::unknown_path()),
    };
    let target = parse_target(group, version, rest)?;
    let is_watch = params.flag("watch");
    let post_only = matches!(target.sub, Sub::Binding | Sub::Token);
    let verb = match (&method, target.name.is_some()) {
        (&Method::GET, true) if !post_only => "get",
        (&Method::GET, false) if is_watch => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) if target.sub == Sub::Main => "create",
        (&Method::POST, true) if post_only => "create",
        (&Method::PUT, true) if !post_only => "update",
        (&Method::PATCH, true) if !post_only => "patch",
        (&Method::DELETE, true) if target.sub == Sub::Main => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!(
                    "the server does not allow this method on the requested resource ({method} {path})"
                ),
            ));
        }
    };
    let subresource = match target.sub {
        Sub::Main => "",
        Sub::Status => "status",
        Sub::Finalize => "finalize",
        Sub::Binding => "binding",
        Sub::Token => "token",
        Sub::EphemeralContainers => "ephemeralcontainers",
        Sub::Resize => "resize",
    };
    let record = || super::RequestRecord {
        user: user.name.clone(),
        verb: verb.to_string(),
        resource: target.kind.resource.to_string(),
        subresource: subresource.to_string(),
        namespace: target.namespace.clone().unwrap_or_default(),
        name: target.name.clone().unwrap_or_default(),
        at: std::time::Instant::now(),
    };
    if !matches!(verb, "get" | "list" | "watch") {
        sh.record_write(record());
    }
    let sub = if subresource.is_empty() {
        String::new()
    } else {
        format!("/{subresource}")
    };
    sh.count_request(&format!("{verb} {}{sub}", target.kind.resource));
    if user.readonly && !matches!(verb, "get" | "list" | "watch") {
        return Err(forbidden(&user, verb, &target));
    }
    // As the apiserver's request info: a list or watch names an object through a
    // `metadata.name` field selector, which resourceNames rules then match.
    let selected_name = params
        .get("fieldSelector")
        .and_then(|f| {
            f.split(',')
                .find_map(|t| t.trim().strip_prefix("metadata.name="))
        })
        .filter(|_| matches!(verb, "list" | "watch"))
        .unwrap_or("");
    let rbac_name = match verb {
        "create" if target.sub == Sub::Main => "",
        _ => target.name.as_deref().unwrap_or(selected_name),
    };
    let attrs = crate::sandbox::authz::Attributes {
        verb,
        api_group: target.kind.group,
        resource: target.kind.resource,
        subresource,
        namespace: target.namespace.as_deref().unwrap_or(""),
        name: rbac_name,
    };
    if sh.rbac_allows(&user.name, &attrs) == Some(false) {
        sh.record_denial(record());
        return Err(forbidden(&user, verb, &target));
    }
    if let Some(e) = sh.faults().take(
        verb,
        target.kind.resource,
        target.name.as_deref().unwrap_or(""),
    ) {
        return Err(e);
    }
    let want = want(req.headers());
    let include = Include::parse(params.get("includeObject").unwrap_or(""));
    let cluster = sh.cluster.clone();
    let kind = target.kind;
    let ns = target.namespace.clone();
    let ns_str = ns.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();

    match verb {
        "get" => {
            let obj = cluster.get(kind, &ns_str, &name)?;
            Ok(json_response(
                200,
                &object_body(kind, &obj, want, include),
                &[],
            ))
        }
        "list" | "watch" | "deletecollection" => {
            let label = LabelSelector::parse(params.get("labelSelector").unwrap_or(""))?;
            let field = FieldSelector::parse(params.get("fieldSelector").unwrap_or(""), kind)?;
            if verb == "watch" {
                let send_initial = params.flag("sendInitialEvents");
                if send_initial && params.get("resourceVersionMatch") != Some("NotOlderThan") {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                    ));
                }
                let timeout = match params.get("timeoutSeconds") {
                    Some(t) if !t.is_empty() => {
                        Duration::from_secs(t.parse::<u64>().map_err(|_| {
                            ApiError::bad_request(format!("invalid timeoutSeconds {t:?}"))
                        })?)
                    }
                    _ => DEFAULT_WATCH_TIMEOUT,
                };
                let render = match want {
                    Want::Table => Render::Table(include),
                    Want::Metadata => Render::Metadata,
                    Want::Plain => Render::Plain,
                };
                let spec = WatchSpec {
                    kind,
                    namespace: ns,
                    label,
                    field,
                    resource_version: params.nonempty("resourceVersion"),
                    send_initial_events: send_initial,
                    bookmarks: params.flag("allowWatchBookmarks"),
                    timeout,
                    bookmark_every: sh.bookmark_every(),
                    render,
                };
                let rx = watch::start(cluster, spec, sh.drop_rx());
                return Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CACHE_CONTROL, "no-cache, private")
                    .body(Body::from_stream(rx))
                    .map_err(|e| ApiError::internal(e.to_string()));
            }
            if params.flag("sendInitialEvents") {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
                ));
            }
            let limit = match params.get("limit") {
                Some(l) if !l.is_empty() => l
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?
                    .max(0) as usize,
                _ => 0,
            };
            let q = ListQuery {
                label,
                field,
                limit: if verb == "deletecollection" { 0 } else { limit },
                cont: params.nonempty("continue"),
                rv: params.nonempty("resourceVersion"),
                rv_match: params.nonempty("resourceVersionMatch"),
                heads: want == Want::Metadata && verb != "deletecollection",
                texts: want == Want::Plain && verb != "deletecollection",
            };
            let r = cluster.list(kind, ns.as_deref(), &q)?;
            if verb == "deletecollection" {
                let body = read_body(req).await?;
                let d = delete_opts(&body, &params)?;
                let mut deleted = Vec::new();
                for item in &r.items {
                    let n = crate::sandbox::store::meta_str(item, "name").to_string();
                    let ins = crate::sandbox::store::meta_str(item, "namespace").to_string();
                    match cluster.delete(kind, &ins, &n, &d) {
                        Ok((_, _)) => deleted.push(item.clone()),
                        Err(e) if e.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
                let out = ListResult {
                    items: deleted,
                    texts: Vec::new(),
                    rv: cluster.lock().rv(),
                    cont: None,
                    remaining: None,
                };
                return Ok(respond(
                    200,
                    list_body(kind, &out, Want::Plain, include),
                    &[],
                ));
            }
            Ok(respond(200, list_body(kind, &r, want, include), &[]))
        }
        "create" if target.sub == Sub::Binding => {
            let o = write_opts(&params)?;
            let body = read_body(req).await?;
            let obj: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("json parse error: {e}")))?;
            let out = cluster.bind(&ns_str, &name, &obj, o.dry_run)?;
            Ok(json_response(201, &out, &[]))
        }
        "create" if target.sub == Sub::Token => {
            let o = write_opts(&params)?;
            let body = read_body(req).await?;
            let obj: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("json parse error: {e}")))?;
            let out = cluster.token_request(&ns_str, &name, &obj, o.dry_run)?;
            Ok(json_response(201, &out, &[]))
        }
        "create" => {
            let protobuf = is_protobuf(req.headers())?;
            let o = write_opts(&params)?;
            let body = read_body(req).await?;
            let obj = if protobuf {
                super::protobuf::decode(&body)
                    .map_err(|e| ApiError::new(415, "UnsupportedMediaType", e))?
            } else {
                parse_json_or_yaml(&body).map_err(|e| {
                    ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: {e}"
                    ))
                })?
            };
            let w = cluster.create(kind, ns.as_deref(), obj, &o)?;
            Ok(json_response(201, &w.object, &w.warnings))
        }
        "update" => {
            let protobuf = is_protobuf(req.headers())?;
            let o = write_opts(&params)?;
            let body = read_body(req).await?;
            let obj: Value = if protobuf {
                super::protobuf::decode(&body)
                    .map_err(|e| ApiError::new(415, "UnsupportedMediaType", e))?
            } else {
                serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("json parse error: {e}")))?
            };
            let w = cluster.update(kind, &ns_str, &name, obj, target.sub, &o)?;
            Ok(json_response(
                if w.created { 201 } else { 200 },
                &w.object,
                &w.warnings,
            ))
        }
        "patch" => {
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let Some(ptype) = PatchType::from_content_type(&ct) else {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
                    ),
                ));
            };
            let o = write_opts(&params)?;
            let body = read_body(req).await?;
            let w = cluster.patch(kind, &ns_str, &name, ptype, &body, target.sub, &o)?;
            Ok(json_response(
                if w.created { 201 } else { 200 },
                &w.object,
                &w.warnings,
            ))
        }
        "delete" => {
            let body = read_body(req).await?;
            let d = delete_opts(&body, &params)?;
            let (obj, _) = cluster.delete(kind, &ns_str, &name, &d)?;
            Ok(json_response(200, &obj, &[]))
        }
        _ => Err(ApiError::unknown_path()),
    }
}

/// Bodies are JSON or YAML, or protobuf for the few kinds kubectl's generators send; CBOR
/// gets 415.
fn is_protobuf(headers: &HeaderMap) -> Result<bool, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.contains("protobuf") {
        return Ok(true);
    }
    if ct.contains("cbor") {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {ct:?})"
            ),
        ));
    }
    Ok(false)
}

fn delete_opts(body: &[u8], params: &Params) -> Result<DeleteOpts, ApiError> {
    let mut d = DeleteOpts {
        dry_run: params.get("dryRun") == Some("All"),
        grace_period: params
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse::<i64>().ok()),
        ..Default::default()
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(d);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    if let Some(arr) = v.get("dryRun").and_then(Value::as_array) {
        d.dry_run |= arr.iter().any(|x| x == "All");
    }
    d.uid = v
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    d.resource_version = v
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
        d.grace_period = Some(g);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse_target("", "v1", &["namespaces", "a", "pods", "p", "status"])
            .ok()
            .unwrap();
        assert_eq!(
            (t.kind.id, t.namespace.as_deref(), t.name.as_deref(), t.sub),
            ("pods", Some("a"), Some("p"), Sub::Status)
        );
        let t = parse_target("", "v1", &["namespaces", "a", "finalize"])
            .ok()
            .unwrap();
        assert_eq!(
            (t.kind.id, t.name.as_deref(), t.sub),
            ("namespaces", Some("a"), Sub::Finalize)
        );
        let t = parse_target("", "v1", &["namespaces", "a"]).ok().unwrap();
        assert_eq!((t.kind.id, t.name.as_deref()), ("namespaces", Some("a")));
        let t = parse_target("", "v1", &["pods"]).ok().unwrap();
        assert!(t.namespace.is_none() && t.name.is_none());
        assert!(parse_target("", "v1", &["pods", "x"]).is_err());
        assert!(parse_target("", "v1", &["namespaces", "a", "nodes"]).is_err());
        assert!(parse_target("", "v1", &["namespaces", "a", "pods", "p", "log"]).is_err());
        assert!(parse_target("networking.k8s.io", "v1", &["namespaces", "a", "ingresses"]).is_ok());
    }
}
