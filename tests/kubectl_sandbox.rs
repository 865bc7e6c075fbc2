//! kubectl against the sandbox: the kubectl items of the conformance checklist. Skipped (with a
//! loud message) only when no kubectl is on PATH. Set KUBECTL to use a specific binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use vinspect::sandbox::{Sandbox, SandboxOptions};

fn kubectl_bin() -> Option<PathBuf> {
    if let Ok(k) = std::env::var("KUBECTL") {
        return Some(PathBuf::from(k));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Kubectl {
    fn new(sb: &Sandbox) -> Option<Self> {
        let Some(bin) = kubectl_bin() else {
            eprintln!("\n\n*** SKIPPING kubectl test: no kubectl on PATH (set KUBECTL) ***\n\n");
            return None;
        };
        Some(Self {
            bin,
            kubeconfig: sb.kubeconfig_path().to_path_buf(),
            cache: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            o.status.success(),
            "kubectl {args:?} failed\nstdout: {out}\nstderr: {err}"
        );
        out
    }

    /// Runs and asserts failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(
            !o.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        err
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.work.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(50),
        ..SandboxOptions::default()
    })
    .await
    .unwrap()
}

const APP_V1: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  containers:
  - name: web
    image: nginx:1.27
    env:
    - {name: A, value: "1"}
    - {name: B, value: "2"}
    - {name: C, value: "3"}
    ports:
    - {containerPort: 80, name: http}
    - {containerPort: 81, name: alt}
  - name: side
    image: busybox:1.36
"#;

const APP_V2: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: side
    image: busybox:1.36
  - name: web
    image: nginx:1.27
    env:
    - {name: C, value: "3"}
    - {name: A, value: "1"}
    ports:
    - {containerPort: 81, name: alt}
"#;

const SVC_ING: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 80}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
"#;

fn header_of(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_api_resources_and_errors() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    let out = k.ok(&["version"]);
    assert!(out.contains("Server Version: v1.32."), "{out}");
    let out = k.ok(&["api-resources"]);
    for short in ["po", "svc", "ep", "ns", "cm", "ing"] {
        assert!(
            out.split_whitespace().any(|w| w == short),
            "missing short name {short}:\n{out}"
        );
    }
    k.ok(&["get", "svc,cm,ing"]);
    let err = k.fails(&["get", "pod", "nope"]);
    assert!(
        err.contains("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_columns_and_describe() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    let host = ["--context", "sandbox-host"];
    let pod = k.file("pod.yaml", APP_V1);
    let rest = k.file("svc.yaml", SVC_ING);
    k.ok(&[&host[..], &["create", "-f", path_str(&pod)]].concat());
    k.ok(&[&host[..], &["create", "-f", path_str(&rest)]].concat());
    k.ok(&[
        &host[..],
        &["wait", "--for=condition=Ready", "pod/web", "--timeout=10s"],
    ]
    .concat());

    let pods = k.ok(&[&host[..], &["get", "pods", "-o", "wide"]].concat());
    assert_eq!(
        header_of(&pods),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ]
    );
    assert!(
        pods.contains("2/2") && pods.contains("Running") && pods.contains("10.244."),
        "{pods}"
    );
    let svc = k.ok(&[&host[..], &["get", "svc", "web", "-o", "wide"]].concat());
    assert_eq!(
        header_of(&svc),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ]
    );
    assert!(
        svc.contains("80/TCP") && svc.contains("app=web") && svc.contains("10.96."),
        "{svc}"
    );
    let ing = k.ok(&[&host[..], &["get", "ing", "-o", "wide"]].concat());
    assert_eq!(
        header_of(&ing),
        ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    );
    assert!(
        ing.contains("web.example.com") && ing.contains("<none>"),
        "{ing}"
    );
    let ep = k.ok(&[&host[..], &["get", "ep", "web"]].concat());
    assert!(ep.contains(":80"), "endpoints of the ready pod: {ep}");
    let all = k.ok(&[&host[..], &["get", "pods", "-A", "--show-labels"]].concat());
    assert!(
        header_of(&all).first().map(String::as_str) == Some("NAMESPACE")
            && all.contains("vcluster-demo")
            && all.contains("app=web,tier=front"),
        "{all}"
    );

    let d = k.ok(&[&host[..], &["describe", "pod", "web"]].concat());
    for want in [
        "Node:",
        "sandbox-node-",
        "Status:           Running",
        "QoS Class:",
        "Image:          nginx:1.27",
        "80/TCP, 81/TCP",
        "Successfully assigned default/web to sandbox-node-",
        "Started container web",
    ] {
        assert!(d.contains(want), "describe pod lacks {want:?}:\n{d}");
    }
    let d = k.ok(&[&host[..], &["describe", "svc", "web"]].concat());
    for want in [
        "Type:                     ClusterIP",
        "Port:                     http  80/TCP",
        "TargetPort:               80/TCP",
        "Endpoints:                10.244.",
    ] {
        assert!(d.contains(want), "describe svc lacks {want:?}:\n{d}");
    }
    let d = k.ok(&[&host[..], &["describe", "ingress", "web"]].concat());
    assert!(
        d.contains("web.example.com") && d.contains("web:80") && !d.contains("<error"),
        "{d}"
    );
    let d = k.ok(&["describe", "ns", "default"]);
    assert!(
        d.contains("Status:       Active") && d.contains("No resource quota."),
        "{d}"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_validation_rejects_unknown_fields() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    let bad = k.file(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: b}\ndatta: {x: y}\n",
    );
    let err = k.fails(&["create", "-f", path_str(&bad)]);
    assert!(
        err.contains("Error from server (BadRequest)") && err.contains("unknown field \"datta\""),
        "{err}"
    );
    k.fails(&["get", "cm", "bad"]);
    // Warn: created, with the server's Warning header printed by kubectl.
    let o = k.run(&["create", "--validate=warn", "-f", path_str(&bad)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("Warning: unknown field \"datta\""), "{err}");
    // --sort-by asks for full objects in the Table rows.
    k.ok(&["create", "configmap", "aaa", "--from-literal=k=v"]);
    let out = k.ok(&["get", "cm", "--sort-by=.metadata.name", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["configmap/aaa", "configmap/bad"]
    );
    let out = k.ok(&["get", "cm", "--sort-by=.metadata.name"]);
    assert!(
        out.lines().nth(1).unwrap_or("").starts_with("aaa "),
        "{out}"
    );
    sb.shutdown().await;
}

fn container_view(v: &serde_json::Value) -> serde_json::Value {
    let cs = v["spec"]["containers"].as_array().unwrap();
    serde_json::Value::Array(
        cs.iter()
            .map(|c| {
                serde_json::json!({
                    "name": c["name"],
                    "env": c.get("env").cloned().unwrap_or(serde_json::Value::Null),
                    "ports": c.get("ports").map(|ps| ps.as_array().unwrap().iter().map(|p| p["containerPort"].clone()).collect::<Vec<_>>()),
                })
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_twice_ends_equal_to_the_manifest() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    // The sandbox serves no workload kinds, so pods stand in for a pod template here; a real
    // apiserver would refuse these container changes on a pod.
    sb.virtual_().cluster().set_pod_spec_immutable(false);
    let v1 = k.file("v1.yaml", APP_V1);
    let v2 = k.file("v2.yaml", APP_V2);
    k.ok(&["apply", "-f", path_str(&v1)]);
    let out = k.ok(&["apply", "-f", path_str(&v1)]);
    assert!(out.contains("unchanged"), "{out}");
    k.ok(&["apply", "-f", path_str(&v2)]);
    let live: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "pod", "web", "-o", "json"])).unwrap();
    let text = live.to_string();
    assert!(
        !text.contains("$setElementOrder") && !text.contains("$patch"),
        "{text}"
    );
    assert_eq!(
        container_view(&live),
        serde_json::json!([
            {"name": "side", "env": null, "ports": null},
            {"name": "web", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}], "ports": [81]},
        ])
    );
    assert_eq!(
        live["metadata"]["labels"],
        serde_json::json!({"app": "web"})
    );

    // Server-side apply creates, then updates and drops what the manager no longer applies.
    let cm1 = k.file("cm1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, labels: {a: '1', b: '2'}}\ndata: {x: '1', y: '2'}\n");
    let cm2 = k.file("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, labels: {a: '1'}}\ndata: {x: '9'}\n");
    let out = k.ok(&["apply", "--server-side", "-f", path_str(&cm1)]);
    assert!(out.contains("serverside-applied"), "{out}");
    k.ok(&["apply", "--server-side", "-f", path_str(&cm2)]);
    let live: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "cm", "ssa", "-o", "json"])).unwrap();
    assert_eq!(live["data"], serde_json::json!({"x": "9"}));
    assert_eq!(live["metadata"]["labels"], serde_json::json!({"a": "1"}));

    // A Service keeps its allocated ClusterIP across client-side applies.
    let svc = k.file("svc.yaml", SVC_ING);
    k.ok(&["apply", "-f", path_str(&svc)]);
    let ip1 = k.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    k.ok(&["label", "svc", "web", "extra=1"]);
    k.ok(&["apply", "-f", path_str(&svc)]);
    let ip2 = k.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    assert_eq!(ip1, ip2);
    assert!(ip1.starts_with("10.96."));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_and_field_selector_errors() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    for (name, app) in [("a", "x"), ("b", "y"), ("c", "x")] {
        k.ok(&["create", "configmap", name, "--from-literal=k=v"]);
        k.ok(&["label", "cm", name, &format!("app={app}")]);
    }
    let out = k.ok(&["get", "cm", "-l", "app=x", "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["configmap/a", "configmap/c"]
    );
    let out = k.ok(&["get", "cm", "-l", "app in (y),app!=x", "-o", "name"]);
    assert_eq!(out.trim(), "configmap/b");
    let out = k.ok(&[
        "get",
        "cm",
        "--field-selector",
        "metadata.name!=a",
        "-o",
        "name",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["configmap/b", "configmap/c"]
    );
    let err = k.fails(&["get", "cm", "--field-selector", "spec.nope=1"]);
    assert!(
        err.contains("Error from server (BadRequest)")
            && err.contains("field label not supported: spec.nope"),
        "{err}"
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_prints_a_change() {
    use std::io::{BufRead, BufReader};
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    k.ok(&["create", "configmap", "w", "--from-literal=k=v"]);
    let mut child = k
        .cmd(&["get", "cm", "w", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let header = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "DATA", "AGE"]
    );
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.starts_with("w ") && first.contains(" 1 "), "{first}");
    k.ok(&[
        "patch",
        "cm",
        "w",
        "--type=merge",
        "-p",
        r#"{"data":{"k2":"v2"}}"#,
    ]);
    let change = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        change.starts_with("w ") && change.contains(" 2 "),
        "{change}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "kubectl get -w must stay open"
    );
    child.kill().unwrap();
    let _ = child.wait();
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_is_prompt_and_waits_for_finalizers() {
    let sb = sandbox().await;
    let Some(k) = Kubectl::new(&sb) else { return };
    k.ok(&["create", "configmap", "plain", "--from-literal=k=v"]);
    let t = std::time::Instant::now();
    k.ok(&["delete", "cm", "plain"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    k.ok(&["create", "configmap", "held", "--from-literal=k=v"]);
    k.ok(&[
        "patch",
        "cm",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    let mut child = k
        .cmd(&["delete", "cm", "held", "--timeout=20s"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        child.try_wait().unwrap().is_none(),
        "delete must wait for the finalizer"
    );
    let ts = k.ok(&[
        "get",
        "cm",
        "held",
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert!(!ts.is_empty());
    k.ok(&[
        "patch",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let status = child.wait().unwrap();
    assert!(status.success());
    k.fails(&["get", "cm", "held"]);

    // Namespaces cascade.
    k.ok(&["create", "namespace", "gone"]);
    k.ok(&[
        "-n",
        "gone",
        "create",
        "configmap",
        "x",
        "--from-literal=k=v",
    ]);
    k.ok(&["delete", "ns", "gone", "--timeout=20s"]);
    let err = k.fails(&["get", "ns", "gone"]);
    assert!(err.contains("NotFound"), "{err}");
    let err = k.fails(&[
        "-n",
        "gone",
        "create",
        "configmap",
        "y",
        "--from-literal=k=v",
    ]);
    assert!(err.contains("namespaces \"gone\" not found"), "{err}");
    sb.shutdown().await;
}
