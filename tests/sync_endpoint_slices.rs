//! EndpointSlices of a selector-less service against a sandbox pair: `sync --once` writes the
//! host slice, `check` reports the pair Synced, a deleted virtual slice takes its twin along;
//! the virtual `default/kubernetes` slice follows the host `<vc>` Endpoints.

mod sync_support;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use sync_support::*;
use vinspect::cluster::session::ConnectOptions;
use vinspect::inspect::check_cmd::{CheckOptions, OutputFormat, run_check_to};
use vinspect::sandbox::Sandbox;
use vinspect::vcluster::naming;

fn vslices(sb: &Sandbox, ns: &str) -> Api<EndpointSlice> {
    Api::namespaced(sb.virtual_client(), ns)
}

fn hslices(sb: &Sandbox) -> Api<EndpointSlice> {
    Api::namespaced(sb.host_client(), sb.host_namespace())
}

async fn check(sb: &Sandbox) -> (i32, Value) {
    let connect = ConnectOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: None,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_check_to(
        CheckOptions {
            connect,
            output: OutputFormat::Json,
            ..Default::default()
        },
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    let v = serde_json::from_slice(&out)
        .unwrap_or_else(|_| panic!("check -o json: {}", String::from_utf8_lossy(&err)));
    (code, v)
}

fn slice_row<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v["items"]
        .as_array()?
        .iter()
        .find(|i| i["kind"] == "endpointslice" && i["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_writes_the_host_slice_and_check_reports_it_synced() {
    let sb = sandbox().await;
    // A selector-less service with a hand-written slice (what the virtual cluster's mirroring
    // controller makes of hand-written Endpoints).
    create(
        &vsvcs(&sb, "default"),
        json!({"metadata": {"name": "legacy"}, "spec": {"ports": [{"name": "pg", "port": 5432}]}}),
    )
    .await;
    create(
        &vslices(&sb, "default"),
        json!({
            "metadata": {"name": "legacy-abcde", "labels": {"kubernetes.io/service-name": "legacy"}},
            "addressType": "IPv4",
            "endpoints": [{
                "addresses": ["10.20.30.40"],
                "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "name": "db-0", "namespace": "default"}
            }],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]
        }),
    )
    .await;

    assert_eq!(once(&sb).await, 0, "sync --once converges");

    let twin = host_name(&sb, "default", "legacy-abcde");
    let h = hslices(&sb).get(&twin).await.expect("host slice twin");
    let labels = h.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("kubernetes.io/service-name"),
        Some(&naming::endpoint_slice_service_label(
            "legacy",
            "default",
            sb.vcluster()
        ))
    );
    assert_eq!(
        labels.get(naming::LABEL_MANAGED_BY).map(String::as_str),
        Some(sb.vcluster())
    );
    let ann = h.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get(naming::ANNOTATION_OBJECT_KIND).map(String::as_str),
        Some(naming::OBJECT_KIND_ENDPOINT_SLICE)
    );
    assert_eq!(h.endpoints.len(), 1);
    assert_eq!(h.endpoints[0].addresses, vec!["10.20.30.40".to_string()]);
    let target = h.endpoints[0].target_ref.clone().unwrap();
    assert_eq!(
        target.name.as_deref(),
        Some(host_name(&sb, "default", "db-0").as_str())
    );
    assert_eq!(target.namespace.as_deref(), Some(sb.host_namespace()));

    let (_, report) = check(&sb).await;
    let row = slice_row(&report, "legacy-abcde").expect("endpointslice row");
    assert_eq!(row["status"], "Synced", "{row:#}");
    assert_eq!(row["host"]["name"], twin.as_str());

    // vCluster's default-endpoint controller part: the virtual `default/kubernetes` slice
    // follows the host `<vc>` Endpoints.
    let k = vslices(&sb, "default")
        .get("kubernetes")
        .await
        .expect("kubernetes slice");
    let port = k.ports.as_ref().and_then(|p| p.first()).cloned().unwrap();
    assert_eq!(port.name.as_deref(), Some("https"));
    assert!(!k.endpoints.is_empty());
    let row = slice_row(&report, "kubernetes").expect("kubernetes slice row");
    assert_eq!(row["status"], "Synced", "{row:#}");

    // The virtual slice goes: the next round deletes its twin.
    vslices(&sb, "default")
        .delete("legacy-abcde", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(once(&sb).await, 0);
    assert!(hslices(&sb).get_opt(&twin).await.unwrap().is_none());
    let (_, report) = check(&sb).await;
    assert!(slice_row(&report, "legacy-abcde").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatter_slice_is_left_alone_and_reported() {
    let sb = sandbox().await;
    create(
        &vsvcs(&sb, "default"),
        json!({"metadata": {"name": "legacy"}, "spec": {"ports": [{"port": 5432}]}}),
    )
    .await;
    create(
        &vslices(&sb, "default"),
        json!({
            "metadata": {"name": "legacy-fghij", "labels": {"kubernetes.io/service-name": "legacy"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.20.30.41"]}]
        }),
    )
    .await;
    // Someone else's slice already sits at the twin's name.
    let twin = host_name(&sb, "default", "legacy-fghij");
    let squatter: EndpointSlice = create(
        &hslices(&sb),
        json!({
            "metadata": {"name": twin, "labels": {"kubernetes.io/service-name": "theirs"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.9.9.9"]}]
        }),
    )
    .await;

    assert_eq!(once(&sb).await, 1, "a squatter leaves the pair unsynced");
    let after = hslices(&sb).get(&twin).await.unwrap();
    assert_eq!(
        after.metadata.resource_version, squatter.metadata.resource_version,
        "the squatter is never written"
    );
    let (code, report) = check(&sb).await;
    assert_eq!(code, 1);
    let row = slice_row(&report, "legacy-fghij").expect("endpointslice row");
    assert_eq!(row["status"], "Squatter", "{row:#}");
    let events = sync_events(&sb, "default", "legacy-fghij").await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SyncWarning")
                && e.involved_object.kind.as_deref() == Some("EndpointSlice")),
        "{events:#?}"
    );
}
