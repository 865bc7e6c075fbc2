//! The simulated control plane and the vCluster install layout.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::config::VClusterConfig;
use vinspect::vcluster::naming;

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn api_err(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn install_layout_matches_a_vcluster_install() {
    let sb = sandbox().await;
    assert_eq!(
        sb.virtual_context(),
        "vcluster_demo_vcluster-demo_sandbox-host"
    );
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    assert_eq!(
        kc.current_context.as_deref(),
        Some("vcluster_demo_vcluster-demo_sandbox-host")
    );
    assert!(kc.contexts.iter().any(|c| c.name == "sandbox-host"));
    let hns = "vcluster-demo";
    let host = sb.host_client();
    Api::<Namespace>::all(host.clone()).get(hns).await.unwrap();
    let svcs: Api<Service> = Api::namespaced(host.clone(), hns);
    let vc = svcs.get("demo").await.unwrap();
    let ports: Vec<String> = vc
        .spec
        .as_ref()
        .unwrap()
        .ports
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|p| p.name)
        .collect();
    assert_eq!(ports, ["https", "kubelet"]);
    let secret = Api::<Secret>::namespaced(host.clone(), hns)
        .get(&naming::config_secret_name("demo"))
        .await
        .unwrap();
    let yaml = secret.data.unwrap()["config.yaml"].0.clone();
    let cfg: VClusterConfig = serde_yaml::from_slice(&yaml).unwrap();
    assert!(cfg.sync.to_host.ingresses.enabled);
    let twin = svcs.get(&naming::kube_dns_host_name("demo")).await.unwrap();
    let labels = twin.metadata.labels.clone().unwrap();
    assert_eq!(labels[naming::LABEL_MANAGED_BY], "demo");
    assert_eq!(labels[naming::LABEL_NAMESPACE], "kube-system");
    let ann = twin.metadata.annotations.clone().unwrap();
    assert_eq!(ann[naming::ANNOTATION_OBJECT_NAME], "kube-dns");
    assert_eq!(
        ann[naming::ANNOTATION_OBJECT_KIND],
        naming::OBJECT_KIND_SERVICE
    );
    assert_eq!(
        twin.metadata.owner_references.unwrap()[0].uid,
        vc.metadata.uid.clone().unwrap()
    );

    let virt = sb.virtual_client();
    let kubernetes = Api::<Service>::namespaced(virt.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    assert_eq!(
        kubernetes.spec.unwrap().cluster_ip,
        vc.spec.unwrap().cluster_ip
    );
    let kube_dns = Api::<Service>::namespaced(virt.clone(), "kube-system")
        .get("kube-dns")
        .await
        .unwrap();
    assert_eq!(
        ann[naming::ANNOTATION_OBJECT_UID],
        kube_dns.metadata.uid.clone().unwrap()
    );
    assert_eq!(
        kube_dns.spec.unwrap().cluster_ip,
        twin.spec.unwrap().cluster_ip
    );
    for (ns, name) in [("default", "kubernetes"), ("kube-system", "kube-dns")] {
        let ep = Api::<Endpoints>::namespaced(virt.clone(), ns)
            .get(name)
            .await
            .unwrap();
        let addrs = ep.subsets.unwrap()[0].addresses.clone().unwrap();
        assert!(addrs[0].ip.starts_with("10.244."), "{ns}/{name}: {addrs:?}");
    }
    // Virtual pods get no kubelet: the virtual side has no nodes.
    assert!(
        Api::<Node>::all(virt)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        Api::<Node>::all(host)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn bare_clusters_without_the_layout() {
    let sb = Sandbox::start(SandboxOptions {
        empty_layout: false,
        vcluster: "x".into(),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let host: Api<Namespace> = Api::all(sb.host_client());
    assert!(host.get_opt("vcluster-x").await.unwrap().is_none());
    let names: Vec<String> = host
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn kubelet_and_endpoints_controller() {
    let sb = sandbox().await;
    let host = sb.host_client();
    let pods: Api<Pod> = Api::namespaced(host.clone(), "default");
    let svcs: Api<Service> = Api::namespaced(host.clone(), "default");
    svcs.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})).unwrap()).await.unwrap();
    for name in ["w1", "w2"] {
        pods.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}})).unwrap()).await.unwrap();
    }
    let running = eventually("pods running", || {
        let pods = pods.clone();
        async move {
            let l = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .ok()?;
            l.items
                .iter()
                .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .then_some(l.items)
        }
    })
    .await;
    for p in &running {
        let st = p.status.as_ref().unwrap();
        assert!(st.pod_ip.as_deref().unwrap().starts_with("10.244."));
        assert!(
            p.spec
                .as_ref()
                .unwrap()
                .node_name
                .as_deref()
                .unwrap()
                .starts_with("sandbox-node-")
        );
    }
    let eps: Api<Endpoints> = Api::namespaced(host.clone(), "default");
    let ep = eventually("ready endpoints", || {
        let eps = eps.clone();
        async move {
            let e = eps.get("web").await.ok()?;
            let n = e.subsets.as_ref()?.first()?.addresses.as_ref()?.len();
            (n == 2).then_some(e)
        }
    })
    .await;
    assert_eq!(ep.subsets.unwrap()[0].ports.clone().unwrap()[0].port, 8080);
    let slices: Api<EndpointSlice> = Api::namespaced(host.clone(), "default");
    let l = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
        .await
        .unwrap();
    assert_eq!(l.items[0].endpoints.len(), 2);

    // A pod that turns unready moves to notReadyAddresses.
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    pods.patch_status("w1", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    eventually("not ready address", || {
        let eps = eps.clone();
        async move {
            let e = eps.get("web").await.ok()?;
            let s = e.subsets.as_ref()?.first()?.clone();
            (s.not_ready_addresses.map(|a| a.len()) == Some(1)
                && s.addresses.map(|a| a.len()) == Some(1))
            .then_some(())
        }
    })
    .await;
    // Deleting the service removes its endpoints.
    svcs.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("endpoints gone", || {
        let eps = eps.clone();
        async move { eps.get_opt("web").await.ok()?.is_none().then_some(()) }
    })
    .await;
    sb.shutdown().await;
}

#[tokio::test]
async fn cluster_ips_and_node_ports() {
    let sb = sandbox().await;
    let svcs: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let mk = |name: &str, spec: serde_json::Value| -> Service {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    };
    let a = svcs
        .create(
            &PostParams::default(),
            &mk(
                "a",
                json!({"clusterIP": "10.96.100.100", "ports": [{"port": 80}]}),
            ),
        )
        .await
        .unwrap();
    let spec = a.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.100.100"));
    assert_eq!(spec.cluster_ips.unwrap(), ["10.96.100.100"]);
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    let e = api_err(
        svcs.create(
            &PostParams::default(),
            &mk(
                "b",
                json!({"clusterIP": "10.96.100.100", "ports": [{"port": 80}]}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert!(e.is_invalid());
    assert_eq!(
        e.message,
        "Service \"b\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.100.100\"}: failed to allocate IP 10.96.100.100: provided IP is already allocated"
    );
    let np = svcs.create(&PostParams::default(), &mk("np", json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]}))).await.unwrap();
    let ports = np.spec.unwrap().ports.unwrap();
    assert_eq!(ports[0].node_port, Some(30080));
    assert!((30000..=32767).contains(&ports[1].node_port.unwrap()));
    let e = api_err(
        svcs.create(
            &PostParams::default(),
            &mk(
                "np2",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert!(
        e.message.ends_with(
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
        ),
        "{}",
        e.message
    );
    // An update that omits the allocated values keeps them.
    let out = svcs
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusterIP": null, "clusterIPs": null}})),
        )
        .await
        .unwrap();
    assert_eq!(
        out.spec.unwrap().cluster_ip.as_deref(),
        Some("10.96.100.100")
    );
    // Deleting frees the IP.
    svcs.delete("a", &DeleteParams::default()).await.unwrap();
    svcs.create(
        &PostParams::default(),
        &mk(
            "b",
            json!({"clusterIP": "10.96.100.100", "ports": [{"port": 80}]}),
        ),
    )
    .await
    .unwrap();
    sb.shutdown().await;
}

#[tokio::test]
async fn namespace_lifecycle_cascades() {
    let sb = sandbox().await;
    let client = sb.virtual_client();
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns = nss
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    let svcs: Api<Service> = Api::namespaced(client.clone(), "tmp");
    svcs.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    nss.delete("tmp", &DeleteParams::default()).await.unwrap();
    eventually("namespace gone", || {
        let nss = nss.clone();
        async move { nss.get_opt("tmp").await.ok()?.is_none().then_some(()) }
    })
    .await;
    let e = api_err(svcs.get("s").await.unwrap_err());
    assert!(e.is_not_found());
    sb.shutdown().await;
}

#[tokio::test]
async fn owner_references_are_garbage_collected() {
    let sb = sandbox().await;
    let host = sb.host_client();
    let svcs: Api<Service> = Api::namespaced(host.clone(), "vcluster-demo");
    let owner = svcs.get("demo").await.unwrap();
    let uid = owner.metadata.uid.clone().unwrap();
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(host.clone(), "vcluster-demo");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "owned",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "demo", "uid": uid}]}}))
        .unwrap(),
    )
    .await
    .unwrap();
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "free"}})).unwrap(),
    )
    .await
    .unwrap();
    svcs.delete("demo", &DeleteParams::default()).await.unwrap();
    eventually("dependents deleted", || {
        let cms = cms.clone();
        async move { cms.get_opt("owned").await.ok()?.is_none().then_some(()) }
    })
    .await;
    // The kube-dns twin was owned by the vCluster service too.
    assert!(
        svcs.get_opt(&naming::kube_dns_host_name("demo"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(cms.get_opt("free").await.unwrap().is_some());
    sb.shutdown().await;
}
