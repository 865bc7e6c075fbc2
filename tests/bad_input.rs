//! Bad input, table-driven against the real binary (issue #9, item 4): every case gives exactly
//! one line on stderr that names what was wrong, exit 2, and no panic. Then the inputs that are
//! valid but extreme and must NOT fail: 253-byte names, unicode, 1 MiB annotations, and a host
//! object with forged `vcluster.loft.sh/*` markings naming another vCluster (never touched).

use assert_cmd::Command;
use base64::Engine;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use vinspect::sandbox::{Sandbox, SandboxOptions};
use vinspect::vcluster::naming;

fn bin() -> Command {
    let mut c = Command::cargo_bin("vinspect").unwrap();
    let state = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vinspect-bad-input-{}", std::process::id()));
    c.env("XDG_STATE_HOME", &state)
        .env("XDG_CONFIG_HOME", &state)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG");
    c
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn kubeconfig(port: u16) -> String {
    format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: host
  cluster: {{server: "http://127.0.0.1:{port}"}}
users:
- name: u
  user: {{token: t}}
- name: missing-plugin
  user:
    exec: {{apiVersion: client.authentication.k8s.io/v1, command: /nonexistent/credential-plugin, interactiveMode: Never}}
- name: failing-plugin
  user:
    exec: {{apiVersion: client.authentication.k8s.io/v1, command: /bin/false, interactiveMode: Never}}
contexts:
- name: host-ctx
  context: {{cluster: host, user: u}}
- name: vcluster_web_team-a_host-ctx
  context: {{cluster: host, user: u}}
- name: plain-ctx
  context: {{cluster: host, user: u}}
- name: vcluster_web_team-a_plugin-missing
  context: {{cluster: host, user: missing-plugin}}
- name: plugin-missing
  context: {{cluster: host, user: missing-plugin}}
- name: vcluster_web_team-a_plugin-failing
  context: {{cluster: host, user: failing-plugin}}
- name: plugin-failing
  context: {{cluster: host, user: failing-plugin}}
- name: dangling
  context: {{cluster: nowhere, user: nobody}}
current-context: vcluster_web_team-a_host-ctx
"#
    )
}

struct Case {
    what: &'static str,
    args: Vec<String>,
    /// Every one of these must appear in the error line.
    needles: Vec<&'static str>,
}

fn case(what: &'static str, args: &[&str], needles: &[&'static str]) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        needles: needles.to_vec(),
    }
}

/// Run one case; `Err` says how it failed.
fn run_case(c: &Case, dir: &Path) -> Result<(), String> {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| a.replace("$D", &dir.display().to_string()))
        .collect();
    let out = bin()
        .args(&args)
        .timeout(Duration::from_secs(40))
        .output()
        .map_err(|e| format!("{}: {e}", c.what))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let why = if err.contains("panicked") {
        "panicked"
    } else if out.status.code() != Some(2) {
        "exit code is not 2"
    } else if lines.len() != 1 {
        "not exactly one line"
    } else if !lines[0].starts_with("error: ") {
        "line does not start with `error: `"
    } else if let Some(n) = c.needles.iter().find(|n| !lines[0].contains(**n)) {
        return Err(format!(
            "{}: line lacks {n:?}\n    args: {args:?}\n    stderr: {err:?}",
            c.what
        ));
    } else {
        eprintln!("{:<40} {}", c.what, lines[0]);
        return Ok(());
    };
    Err(format!(
        "{}: {why} (exit {:?})\n    args: {args:?}\n    stderr: {err:?}",
        c.what,
        out.status.code()
    ))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn run_table(cases: &[Case], dir: &Path) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| run_case(c, dir).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were not refused cleanly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The offline table: kubeconfigs, contexts, credentials, vcluster.yaml, REFs, flags, themes.
/// Nothing listens at the kubeconfig's server.
#[test]
fn bad_inputs_are_refused_with_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "kc", kubeconfig(dead_port()).as_bytes());
    write(d, "empty", b"");
    write(d, "blank", b"\n   \n");
    write(d, "malformed", b"apiVersion: v1\nclusters: [\n  - {");
    write(d, "binary", &[0xff, 0xfe, 0, 1, 2, 0x80, b'\n', 0x9f]);
    write(d, "list", b"- a\n- b\n");
    write(
        d,
        "no-contexts",
        b"apiVersion: v1\nkind: Config\nclusters: []\n",
    );
    std::fs::create_dir(d.join("dir")).unwrap();
    write(d, "cfg-type", b"sync:\n  toHost:\n    pods: [1, 2]\n");
    write(
        d,
        "cfg-mapping",
        b"networking:\n  replicateServices:\n    fromHost:\n    - from: a/b/c\n      to: shop/db\n",
    );
    write(d, "cfg-syntax", b"sync:\n  toHost: {pods: \n");
    write(
        d,
        "cfg-domain",
        b"networking:\n  advanced:\n    clusterDomain: \"not a domain!\"\n",
    );
    write(
        d,
        "cfg-newline",
        b"networking:\n  resolveDNS:\n  - service: \"a/b/c\\nsecond line\"\n    target:\n      hostname: x.example.com\n",
    );
    write(d, "theme-garbage", &[0x1b, b'[', b'2', b'J', 0xff, b'\n']);
    write(d, "theme-yaml", b"colors: [1, 2\n");
    let kc = "--kubeconfig=$D/kc";
    let cases = vec![
        // Kubeconfig files.
        case(
            "empty kubeconfig",
            &["--kubeconfig=$D/empty", "check"],
            &["is empty"],
        ),
        case(
            "blank kubeconfig",
            &["--kubeconfig=$D/blank", "check"],
            &["is empty"],
        ),
        case(
            "malformed kubeconfig",
            &["--kubeconfig=$D/malformed", "check"],
            &["not a valid kubeconfig"],
        ),
        case(
            "binary kubeconfig",
            &["--kubeconfig=$D/binary", "check"],
            &["kubeconfig"],
        ),
        case(
            "kubeconfig that is a list",
            &["--kubeconfig=$D/list", "check"],
            &["kubeconfig"],
        ),
        case(
            "kubeconfig without contexts",
            &["--kubeconfig=$D/no-contexts", "check"],
            &["context"],
        ),
        case(
            "unreadable kubeconfig (a directory)",
            &["--kubeconfig=$D/dir", "check"],
            &["cannot read it"],
        ),
        case(
            "missing kubeconfig",
            &["--kubeconfig=$D/missing", "check"],
            &["file not found"],
        ),
        case(
            "missing kubeconfig for fix",
            &["--kubeconfig=$D/missing", "fix", "--all"],
            &["file not found"],
        ),
        case(
            "missing kubeconfig for sync",
            &["--kubeconfig=$D/missing", "sync", "--once"],
            &["file not found"],
        ),
        // Contexts.
        case(
            "unknown --context",
            &[kc, "--context", "nope", "check"],
            &["\"nope\"", "available: host-ctx"],
        ),
        case(
            "unknown --host-context",
            &[kc, "--host-context", "nope", "check"],
            &["\"nope\"", "available:"],
        ),
        case(
            "unknown --vcluster",
            &[kc, "--vcluster", "nope", "check"],
            &["\"nope\"", "available:"],
        ),
        case(
            "context not named vcluster_*",
            &[kc, "--context", "plain-ctx", "check"],
            &["--vcluster"],
        ),
        case(
            "context naming a missing cluster",
            &[
                kc,
                "--context",
                "dangling",
                "--vcluster",
                "web",
                "--host-context",
                "host-ctx",
                "check",
            ],
            &["dangling"],
        ),
        case(
            "context name with a line break",
            &[kc, "--context", "evil\nerror: forged", "check"],
            &["not found"],
        ),
        // Credentials and servers.
        case(
            "exec plugin missing",
            &[
                kc,
                "--context",
                "plugin-missing",
                "--vcluster",
                "web",
                "--host-context",
                "host-ctx",
                "check",
            ],
            &[
                "plugin-missing",
                "credential plugin \"/nonexistent/credential-plugin\" cannot be run",
            ],
        ),
        case(
            "exec plugin failing",
            &[
                kc,
                "--context",
                "plugin-failing",
                "--vcluster",
                "web",
                "--host-context",
                "host-ctx",
                "check",
            ],
            &[
                "plugin-failing",
                "credential plugin \"/bin/false\" failed",
                "log in again",
            ],
        ),
        case(
            "exec plugin failing on the host side",
            &[kc, "--host-context", "plugin-failing", "check"],
            &["plugin-failing"],
        ),
        case(
            "unreachable server (both sides)",
            &[kc, "check"],
            &["cannot reach", "127.0.0.1", "refused"],
        ),
        case(
            "unreachable server for fix",
            &[kc, "fix", "--all"],
            &["cannot reach"],
        ),
        // vcluster.yaml.
        case(
            "vcluster.yaml of the wrong type",
            &[kc, "--config=$D/cfg-type", "check"],
            &["sync.toHost.pods"],
        ),
        case(
            "vcluster.yaml with a bad mapping",
            &[kc, "--config=$D/cfg-mapping", "check"],
            &["networking.replicateServices.fromHost[0]"],
        ),
        case(
            "vcluster.yaml with a syntax error",
            &[kc, "--config=$D/cfg-syntax", "check"],
            &["vcluster.yaml", "line"],
        ),
        case(
            "vcluster.yaml with a bad cluster domain",
            &[kc, "--config=$D/cfg-domain", "check"],
            &["clusterDomain"],
        ),
        case(
            "vcluster.yaml value with a line break",
            &[kc, "--config=$D/cfg-newline", "check"],
            &["networking.resolveDNS[0]"],
        ),
        case(
            "vcluster.yaml missing",
            &[kc, "--config=$D/nope.yaml", "check"],
            &["cannot read vcluster.yaml"],
        ),
        case(
            "vcluster.yaml is a directory",
            &[kc, "--config=$D/dir", "check"],
            &["cannot read vcluster.yaml"],
        ),
        case(
            "vcluster.yaml for sync",
            &[kc, "--config=$D/cfg-mapping", "sync", "--once"],
            &["fromHost[0]"],
        ),
        // REFs.
        case("translate without REF", &["translate"], &["<REF>"]),
        case(
            "REF without a slash",
            &["translate", "pod"],
            &["missing '/'"],
        ),
        case(
            "REF of an unknown kind",
            &["translate", "bogus/x/y"],
            &["unknown kind \"bogus\"", "svc"],
        ),
        case(
            "REF with an empty name",
            &["translate", "svc/"],
            &["empty name"],
        ),
        case(
            "REF with too many parts",
            &["translate", "svc/a/b/c"],
            &["invalid REF"],
        ),
        case(
            "REF with a line break",
            &["translate", "svc/default/a\nb"],
            &["invalid REF"],
        ),
        case(
            "fix REF of an unknown kind",
            &[kc, "fix", "cm/default/x"],
            &["unknown kind"],
        ),
        // Flags.
        case(
            "REF together with --all",
            &[kc, "fix", "svc/default/x", "--all"],
            &["cannot be used with"],
        ),
        case(
            "-n with -A",
            &[kc, "-n", "a", "-A", "check"],
            &["cannot be used with"],
        ),
        case("unknown flag", &["check", "--bogus"], &["--bogus"]),
        case("unknown command", &["frobnicate"], &["frobnicate"]),
        case(
            "bad --listen",
            &[kc, "dns", "--listen", "abc"],
            &["--listen"],
        ),
        case(
            "bad --upstream",
            &[kc, "dns", "--upstream", "xyz"],
            &["--upstream"],
        ),
        case(
            "bad output format",
            &[kc, "check", "-o", "bogus"],
            &["bogus"],
        ),
        // Themes (the TUI reads them before it asks for a terminal).
        case(
            "hostile theme file",
            &[kc, "--theme=$D/theme-garbage"],
            &["theme"],
        ),
        case(
            "malformed theme file",
            &[kc, "--theme=$D/theme-yaml"],
            &["theme"],
        ),
        case(
            "missing theme",
            &[kc, "--theme", "no-such-theme"],
            &["theme"],
        ),
    ];
    assert!(cases.len() >= 30);
    run_table(&cases, d);
}

/// A TLS server whose certificate the kubeconfig's CA did not sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_wrong_ca_is_one_line() {
    let sb = Sandbox::start(SandboxOptions {
        tls: true,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(sb.kubeconfig_path()).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["elsewhere".to_string()]).unwrap();
    let wrong = base64::engine::general_purpose::STANDARD.encode(other.cert.pem());
    let re = regex::Regex::new(r"certificate-authority-data: *\S+").unwrap();
    let text = re
        .replace_all(
            &text,
            format!("certificate-authority-data: {wrong}").as_str(),
        )
        .into_owned();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "kc", text.as_bytes());
    let cases = vec![
        case(
            "TLS with the wrong CA",
            &["--kubeconfig=$D/kc", "check"],
            &["cannot reach", "https://", "certificate"],
        ),
        case(
            "TLS with the wrong CA for fix",
            &["--kubeconfig=$D/kc", "fix", "--all"],
            &["cannot reach"],
        ),
    ];
    let dir = tmp.path().to_path_buf();
    tokio::task::spawn_blocking(move || run_table(&cases, &dir))
        .await
        .unwrap();
    sb.shutdown().await;
}

/// Valid but extreme: a 253-byte pod name, unicode in labels and annotations, a 1 MiB
/// annotation; and a host object forged to look like another vCluster's twin of one of ours.
/// `check` and `sync --once` handle them all; the forged object is reported and never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_but_valid_objects_are_handled_and_forged_ones_left_alone() {
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let vc = "demo";
    let hns = "vcluster-demo";
    let long_name: String = format!("p{}", "a".repeat(252));
    assert_eq!(long_name.len(), 253);
    // An API server caps annotations at 256 KiB: 200 KiB goes through it (and still fits on
    // the twin next to vCluster's own annotations); 1 MiB is only reachable by writing the
    // store directly, as an object from a laxer server would look.
    let big = "x".repeat(200 << 10);
    let huge = "x".repeat(1 << 20);
    let pods: Api<Pod> = Api::namespaced(sb.virtual_client(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "name": long_name,
            "labels": {"app": "long"},
            "annotations": {"note": "übergroß ✓ 雪", "big": big}
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let svcs: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "unicode", "labels": {"app": "u"}, "annotations": {"beschreibung": "größe ünd ☃", "big": big}},
        "spec": {"selector": {"app": "u"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    svcs.create(&PostParams::default(), &svc).await.unwrap();
    sb.virtual_().cluster().put_raw(
        vinspect::sandbox::registry::by_id("services").unwrap(),
        json!({
            "metadata": {"name": "huge", "namespace": "default", "annotations": {"huge": huge}},
            "spec": {"selector": {"app": "h"}, "ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.96.200.200", "type": "ClusterIP"}
        }),
    );
    let forged_for: Service = serde_json::from_value(json!({
        "metadata": {"name": "forged", "labels": {"app": "f"}},
        "spec": {"selector": {"app": "f"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    svcs.create(&PostParams::default(), &forged_for)
        .await
        .unwrap();
    // At the twin's name of default/forged: markings that name another vCluster.
    let twin = naming::host_name("forged", "default", vc);
    let host: Api<Service> = Api::namespaced(sb.host_client(), hns);
    let forged: Service = serde_json::from_value(json!({
        "metadata": {
            "name": twin,
            "labels": {naming::LABEL_MANAGED_BY: "other-vcluster", naming::LABEL_NAMESPACE: "default"},
            "annotations": {
                naming::ANNOTATION_OBJECT_NAME: "forged",
                naming::ANNOTATION_OBJECT_NAMESPACE: "default",
                naming::ANNOTATION_OBJECT_KIND: naming::OBJECT_KIND_SERVICE,
                naming::ANNOTATION_OBJECT_HOST_NAME: twin,
                naming::ANNOTATION_OBJECT_HOST_NAMESPACE: hns,
            }
        },
        "spec": {"ports": [{"port": 1}]}
    }))
    .unwrap();
    let forged = host.create(&PostParams::default(), &forged).await.unwrap();
    let forged_rv = forged.metadata.resource_version.clone();

    let kc = sb.kubeconfig_path().display().to_string();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            bin()
                .args(&args)
                .timeout(Duration::from_secs(60))
                .output()
                .unwrap()
        })
    };
    let out = run(vec![
        format!("--kubeconfig={kc}"),
        "check".into(),
        "-o".into(),
        "json".into(),
    ])
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(2), "check failed: {err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains(&long_name), "the 253-byte pod is listed");
    assert!(
        text.contains("\"huge\""),
        "the service with a 1 MiB annotation is listed"
    );
    assert!(
        text.contains("squatter"),
        "the forged twin is reported: {text:.2000}"
    );

    let out = run(vec![
        format!("--kubeconfig={kc}"),
        "sync".into(),
        "--once".into(),
    ])
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // The forged pair stays blocked, so --once may report it unsynced (1); never an error.
    assert_ne!(out.status.code(), Some(2), "sync --once failed: {err}");

    // The twins of the extreme objects exist, with the 1 MiB annotation carried over.
    let host_pods: Api<Pod> = Api::namespaced(sb.host_client(), hns);
    let hp = host_pods
        .get(&naming::host_name(&long_name, "default", vc))
        .await
        .unwrap();
    assert_eq!(
        hp.metadata.annotations.unwrap().get("big").map(String::len),
        Some(200 << 10)
    );
    let hs = host
        .get(&naming::host_name("unicode", "default", vc))
        .await
        .unwrap();
    assert_eq!(
        hs.metadata
            .annotations
            .unwrap()
            .get("beschreibung")
            .map(String::as_str),
        Some("größe ünd ☃")
    );
    // The forged object was never written.
    let after = host.get(&twin).await.unwrap();
    assert_eq!(after.metadata.resource_version, forged_rv);
    assert_eq!(
        after
            .metadata
            .labels
            .unwrap()
            .get(naming::LABEL_MANAGED_BY)
            .map(String::as_str),
        Some("other-vcluster")
    );
    sb.shutdown().await;
}
