//! The operator's path end to end: `kubectl apply` a small app into the virtual cluster,
//! `sync --once`, then the twins are what `kubectl get` shows on the host. Skipped (loudly)
//! only when no kubectl is on PATH; set KUBECTL to pick a binary.

mod sync_support;

use std::path::PathBuf;

use serde_json::Value;
use sync_support::*;

fn kubectl_bin() -> Option<PathBuf> {
    if let Ok(k) = std::env::var("KUBECTL") {
        return Some(PathBuf::from(k));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

const APP: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: store
---
apiVersion: v1
kind: Pod
metadata:
  name: front-0
  namespace: store
  labels: {app: front}
spec:
  containers:
    - name: web
      image: nginx:1.27
      ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: front
  namespace: store
spec:
  selector: {app: front}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: front
  namespace: store
spec:
  ingressClassName: nginx
  tls:
    - hosts: [store.example.com]
      secretName: front-tls
  rules:
    - host: store.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: front, port: {number: 80}}
"#;

async fn kubectl(
    bin: &PathBuf,
    sb: &vinspect::sandbox::Sandbox,
    cache: &std::path::Path,
    args: &[&str],
) -> String {
    let out = tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(sb.kubeconfig_path())
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn kubectl_apply_then_sync_once_gives_the_twins_kubectl_shows() {
    let Some(bin) = kubectl_bin() else {
        eprintln!("\n\n*** SKIPPING kubectl test: no kubectl on PATH (set KUBECTL) ***\n\n");
        return;
    };
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(&app, APP).unwrap();
    let cache = dir.path().join("cache");
    let vctx = sb.virtual_context();
    kubectl(
        &bin,
        &sb,
        &cache,
        &["--context", &vctx, "apply", "-f", app.to_str().unwrap()],
    )
    .await;

    assert_eq!(once(&sb).await, 0, "sync --once converges");

    let host = kubectl(
        &bin,
        &sb,
        &cache,
        &[
            "--context",
            sb.host_context(),
            "-n",
            sb.host_namespace(),
            "get",
            "svc,pods,ing",
            "-o",
            "json",
        ],
    )
    .await;
    let host: Value = serde_json::from_str(&host).expect("kubectl prints JSON");
    let find = |kind: &str, name: &str| -> Option<Value> {
        host["items"]
            .as_array()?
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
            .cloned()
    };
    let svc_twin = find("Service", &host_name(&sb, "store", "front")).expect("service twin listed");
    let pod_twin = find("Pod", &host_name(&sb, "store", "front-0")).expect("pod twin listed");
    let ing_twin = find("Ingress", &host_name(&sb, "store", "front")).expect("ingress twin listed");

    assert_eq!(
        svc_twin["metadata"]["labels"]["vcluster.loft.sh/managed-by"],
        sb.vcluster()
    );
    assert_eq!(
        svc_twin["spec"]["selector"]["vcluster.loft.sh/namespace"],
        "store"
    );
    assert_eq!(
        pod_twin["metadata"]["annotations"]["vcluster.loft.sh/name"],
        "front-0"
    );
    assert_eq!(
        pod_twin["metadata"]["annotations"]["vcluster.loft.sh/namespace"],
        "store"
    );
    assert_eq!(
        ing_twin["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        host_name(&sb, "store", "front")
    );
    assert_eq!(
        ing_twin["spec"]["tls"][0]["secretName"],
        host_name(&sb, "store", "front-tls")
    );

    // Same ClusterIP on both sides, as kubectl shows them.
    let vsvc = kubectl(
        &bin,
        &sb,
        &cache,
        &[
            "--context",
            &vctx,
            "-n",
            "store",
            "get",
            "svc",
            "front",
            "-o",
            "json",
        ],
    )
    .await;
    let vsvc: Value = serde_json::from_str(&vsvc).unwrap();
    assert_eq!(vsvc["spec"]["clusterIP"], svc_twin["spec"]["clusterIP"]);
}
