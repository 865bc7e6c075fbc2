//! HTTPS (conformance item 21): kube via the generated CA, kubectl via
//! certificate-authority-data and via the insecure-only context; tokens are required.

use std::process::Command;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams};
use vinspect::sandbox::{Sandbox, SandboxOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_ca_and_insecure_context() {
    let sb = Sandbox::start(SandboxOptions {
        tls: true,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    assert!(sb.host().url().starts_with("https://127.0.0.1:"));
    let nss: Api<Namespace> = Api::all(sb.host_client());
    assert!(nss.get_opt("vcluster-demo").await.unwrap().is_some());
    // Through the kubeconfig, as any kube-rs program would.
    let kc = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(cfg).unwrap(), "default");
    cms.list(&ListParams::default()).await.unwrap();
    // Without a token: 401 (over HTTPS clients send their credentials).
    let mut anon = kube::Config::new(sb.host().url().parse().unwrap());
    anon.root_cert = sb.host().ca_der().map(|d| vec![d.to_vec()]);
    let anon: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(anon).unwrap(), "default");
    match anon.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }

    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(sb.kubeconfig_path())
            .arg("--cache-dir")
            .arg(cache.path())
            .args(args)
            .output()
    };
    let Ok(out) = run(&["get", "ns"]) else {
        eprintln!(
            "\n\n*** SKIPPING the kubectl half of the HTTPS test: no kubectl on PATH ***\n\n"
        );
        sb.shutdown().await;
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ctx in ["sandbox-host", "sandbox-host-insecure"] {
        let out = run(&[
            "--context",
            ctx,
            "get",
            "svc",
            "-n",
            "vcluster-demo",
            "demo",
        ])
        .unwrap();
        assert!(
            out.status.success(),
            "{ctx}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&[
        "--context",
        "sandbox-host-readonly",
        "create",
        "namespace",
        "x",
    ])
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Error from server (Forbidden)"), "{err}");
    sb.shutdown().await;
}
