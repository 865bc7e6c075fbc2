//! Bad input never panics or hangs: malformed bodies, wrong kinds, name mismatches, oversized
//! bodies, unsupported patch types, bad selectors; plus a proptest fuzz of the request and patch
//! path driven in-process through the same router the server uses.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, Request};
use kube::Client;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use vinspect::sandbox::cluster::{Cluster, Role};
use vinspect::sandbox::http::{Shared, User, app};
use vinspect::sandbox::{Sandbox, SandboxOptions};

async fn raw(
    client: &Client,
    method: Method,
    path: &str,
    ct: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(body)
        .unwrap();
    match client.request_text(req).await {
        Ok(t) => (200, t),
        Err(kube::Error::Api(s)) => (s.code, s.message),
        Err(e) => panic!("transport error: {e}"),
    }
}

#[tokio::test]
async fn malformed_requests_get_the_apiservers_codes() {
    let sb = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let c = sb.virtual_client();
    let cms = "/api/v1/namespaces/default/configmaps";
    let j = "application/json";
    let cases: Vec<(Method, String, &str, Vec<u8>, u16)> = vec![
        (Method::POST, cms.into(), j, b"{not json".to_vec(), 400),
        (Method::POST, cms.into(), j, b"[1,2]".to_vec(), 400),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"metadata":{"name":"x","namespace":"other"}}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"metadata":{"name":"Not_Valid"}}"#.to_vec(),
            422,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"metadata":{}}"#.to_vec(),
            422,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            br#"{"metadata":{"name":"x"},"data":{"k":5}}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            format!("{cms}?fieldValidation=Strict"),
            j,
            br#"{"metadata":{"name":"x"},"bogus":1}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            format!("{cms}?fieldValidation=Nope"),
            j,
            br#"{"metadata":{"name":"x"}}"#.to_vec(),
            400,
        ),
        (
            Method::POST,
            cms.into(),
            j,
            vec![b' '; 3 * 1024 * 1024 + 1],
            413,
        ),
        (
            Method::PUT,
            format!("{cms}/a"),
            j,
            br#"{"metadata":{"name":"b"}}"#.to_vec(),
            400,
        ),
        (
            Method::PATCH,
            format!("{cms}/a"),
            "text/plain",
            b"{}".to_vec(),
            415,
        ),
        (
            Method::PATCH,
            format!("{cms}/a"),
            "application/json-patch+json",
            b"{}".to_vec(),
            400,
        ),
        (
            Method::PATCH,
            format!("{cms}/a"),
            "application/strategic-merge-patch+json",
            b"[]".to_vec(),
            400,
        ),
        (
            Method::PATCH,
            format!("{cms}/a"),
            "application/merge-patch+json",
            br#"{"metadata":{"name":"other"}}"#.to_vec(),
            400,
        ),
        (
            Method::PATCH,
            format!("{cms}/a?force=true"),
            "application/merge-patch+json",
            b"{}".to_vec(),
            422,
        ),
        (
            Method::GET,
            format!("{cms}?labelSelector=a+in+%28"),
            j,
            vec![],
            400,
        ),
        (
            Method::GET,
            format!("{cms}?fieldSelector=foo%3Dbar"),
            j,
            vec![],
            400,
        ),
        (Method::GET, format!("{cms}?limit=abc"), j, vec![], 400),
        (
            Method::GET,
            format!("{cms}?watch=true&sendInitialEvents=true"),
            j,
            vec![],
            422,
        ),
        (
            Method::GET,
            format!("{cms}?&limit=500&unknownParam=1&pretty=true&timeout=32s"),
            j,
            vec![],
            200,
        ),
        (
            Method::GET,
            "/api/v1/namespaces/default/widgets".into(),
            j,
            vec![],
            404,
        ),
        (
            Method::GET,
            "/apis/nope.io/v1/things".into(),
            j,
            vec![],
            404,
        ),
        (Method::POST, format!("{cms}/a"), j, b"{}".to_vec(), 405),
        (Method::DELETE, format!("{cms}/a"), j, b"{bad".to_vec(), 400),
    ];
    raw(
        &c,
        Method::POST,
        cms,
        j,
        br#"{"metadata":{"name":"a"}}"#.to_vec(),
    )
    .await;
    for (m, path, ct, body, want) in cases {
        let (code, msg) = raw(&c, m.clone(), &path, ct, body).await;
        assert_eq!(code, want, "{m} {path}: {msg}");
    }
    // YAML bodies are accepted for create.
    let (code, _) = raw(
        &c,
        Method::POST,
        cms,
        "application/yaml",
        b"metadata:\n  name: from-yaml\n".to_vec(),
    )
    .await;
    assert_eq!(code, 200);
    // Table and metadata-only responses.
    let req = Request::builder()
        .uri(cms)
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(vec![])
        .unwrap();
    let t: Value = serde_json::from_str(&c.request_text(req).await.unwrap()).unwrap();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    let req = Request::builder()
        .uri(cms)
        .header(
            "accept",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        )
        .body(vec![])
        .unwrap();
    let t: Value = serde_json::from_str(&c.request_text(req).await.unwrap()).unwrap();
    assert_eq!(t["kind"], "PartialObjectMetadataList");
    assert!(t["items"][0].get("data").is_none());
    sb.shutdown().await;
}

/// 300 cases per run in the suite; set SANDBOX_FUZZ_CASES for long fuzzing sessions.
fn fuzz_cases() -> u32 {
    std::env::var("SANDBOX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn router() -> axum::Router {
    let cluster = Arc::new(Cluster::new(Role::Virtual));
    cluster.seed_namespaces();
    let mut shared = Shared::new(cluster, HashMap::new(), std::time::Duration::from_secs(60));
    shared.anonymous = Some(User {
        name: "fuzz".into(),
        readonly: false,
    });
    app(Arc::new(shared))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z$/.:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map(
                prop_oneof![
                    Just("metadata".to_string()),
                    Just("name".to_string()),
                    Just("spec".to_string()),
                    Just("status".to_string()),
                    Just("containers".to_string()),
                    Just("ports".to_string()),
                    Just("$patch".to_string()),
                    Just("$setElementOrder/containers".to_string()),
                    Just("$retainKeys".to_string()),
                    Just("$deleteFromPrimitiveList/finalizers".to_string()),
                    Just("finalizers".to_string()),
                    Just("labels".to_string()),
                    Just("kind".to_string()),
                    Just("apiVersion".to_string()),
                    Just("clusterIP".to_string()),
                    Just("type".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        json_value()
            .prop_map(
                |v| serde_json::to_vec(&json!({"metadata": {"name": "x"}, "spec": v})).unwrap()
            ),
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn requests_never_panic_or_500(
        method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::PATCH), Just(Method::DELETE)],
        resource in prop_oneof![Just("pods"), Just("services"), Just("configmaps"), Just("secrets"), Just("endpoints"), Just("namespaces"), Just("nodes"), Just("bogus")],
        name in prop_oneof![Just(""), Just("/x"), Just("/x/status"), Just("/x/finalize"), Just("/%zz")],
        query in prop_oneof![Just(""), Just("?dryRun=All"), Just("?fieldManager=m&force=true"), Just("?fieldManager=m"), Just("?labelSelector=a%20in%20(b"), Just("?fieldValidation=Strict"), Just("?limit=1&continue=zz")],
        ct in prop_oneof![Just("application/json"), Just("application/merge-patch+json"), Just("application/json-patch+json"), Just("application/strategic-merge-patch+json"), Just("application/apply-patch+yaml"), Just("application/vnd.kubernetes.protobuf")],
        bodies in prop::collection::vec(body(), 1..4),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let app = router();
            let ns_path = if resource == "namespaces" || resource == "nodes" { String::new() } else { "/namespaces/default".to_string() };
            // Seed an object so update/patch paths see an existing target too.
            for b in bodies {
                let uri = format!("/api/v1{ns_path}/{resource}{name}{query}");
                let req = Request::builder().method(method.clone()).uri(uri).header("content-type", ct).body(axum::body::Body::from(b)).unwrap();
                let resp = tokio::time::timeout(std::time::Duration::from_secs(5), app.clone().oneshot(req)).await.expect("request hung").unwrap();
                prop_assert!(resp.status().as_u16() < 500, "{} for {method} {resource}{name}{query}", resp.status());
            }
            Ok(())
        })?;
    }

    #[test]
    fn patches_never_panic(
        target in json_value(),
        patch in json_value(),
    ) {
        let mut t = target.clone();
        let _ = vinspect::sandbox::patch::strategic::apply(&mut t, &patch);
        let mut t = target.clone();
        vinspect::sandbox::patch::apply::apply(&mut t, Some(&target), &patch);
        let mut t = target;
        let bytes = serde_json::to_vec(&patch).unwrap();
        let _ = vinspect::sandbox::patch::apply_patch(vinspect::sandbox::patch::PatchType::Json, &mut t, &bytes);
    }

    #[test]
    fn selectors_never_panic(s in "[ a-z!=,()/.:-]{0,40}") {
        let _ = vinspect::sandbox::selectors::LabelSelector::parse(&s);
        let pods = vinspect::sandbox::registry::by_id("pods").unwrap();
        let _ = vinspect::sandbox::selectors::FieldSelector::parse(&s, pods);
        let _ = vinspect::sandbox::selectors::parse_query(&s);
    }
}
