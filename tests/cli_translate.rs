//! `vinspect translate`: exact output in text and JSON, and one-line errors with exit 2.

use assert_cmd::Command;
use predicates::prelude::*;

/// The binary with no kubeconfig around, so nothing depends on the machine it runs on.
fn vinspect() -> Command {
    let mut cmd = Command::cargo_bin("vinspect").unwrap();
    cmd.env("KUBECONFIG", "/nonexistent/vinspect-test-kubeconfig")
        .env("HOME", "/nonexistent")
        .env_remove("VINSPECT_LOG")
        .env_remove("RUST_LOG");
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let out = vinspect().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn text_is_one_line_per_ref() {
    let out = stdout_of(&[
        "translate",
        "--vcluster",
        "my-vcluster",
        "default/nginx",
        "svc/kube-system/kube-dns",
        "pod/production/my-very-long-service-name-for-the-payments-backend",
        "default/kubernetes",
    ]);
    assert_eq!(
        out,
        "vcluster-my-vcluster/nginx-x-default-x-my-vcluster\n\
         vcluster-my-vcluster/kube-dns-x-kube-system-x-my-vcluster\n\
         vcluster-my-vcluster/my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4\n\
         vcluster-my-vcluster/my-vcluster\n"
    );
}

#[test]
fn docs_example_with_explicit_host_namespace() {
    let out = stdout_of(&[
        "translate",
        "--vcluster",
        "default-namespace-sync",
        "--host-namespace",
        "vcluster",
        "pod/some-other-namespace/nginx-from-other-namespace",
    ]);
    assert_eq!(
        out,
        "vcluster/nginx-from-other-namespace-x-some-other-namespace-x--4b96e8f948\n"
    );
}

#[test]
fn json_has_exactly_the_documented_fields() {
    let out = stdout_of(&[
        "translate",
        "-o",
        "json",
        "--vcluster",
        "my-vcluster",
        "ing/default/web",
        "production/my-very-long-service-name-for-the-payments-backend",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {
                "kind": "ingress",
                "namespace": "default",
                "name": "web",
                "host_namespace": "vcluster-my-vcluster",
                "host_name": "web-x-default-x-my-vcluster",
                "hashed": false,
                "joined": "web-x-default-x-my-vcluster"
            },
            {
                "kind": "service",
                "namespace": "production",
                "name": "my-very-long-service-name-for-the-payments-backend",
                "host_namespace": "vcluster-my-vcluster",
                "host_name": "my-very-long-service-name-for-the-payments-backend-x-49a08e7dd4",
                "hashed": true,
                "joined": "my-very-long-service-name-for-the-payments-backend-x-production-x-my-vcluster"
            }
        ])
    );
}

#[test]
fn labels_in_text_and_json() {
    let out = stdout_of(&[
        "translate",
        "--vcluster",
        "my-vcluster",
        "--label",
        "release",
        "--label",
        "app",
    ]);
    assert_eq!(
        out,
        "vcluster.loft.sh/label-my-vcluster-x-a4d451ec23\napp\n"
    );
    let out = stdout_of(&[
        "translate",
        "--vcluster",
        "suffix",
        "-o",
        "json",
        "--label",
        "release",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"key": "release", "host_key": "vcluster.loft.sh/label-suffix-x-a4d451ec23"}])
    );
}

#[test]
fn context_name_sets_vcluster_and_host_namespace() {
    let out = stdout_of(&[
        "translate",
        "--context",
        "vcluster_my-vcluster_team-a_gke_proj_zone_cluster",
        "default/nginx",
    ]);
    assert_eq!(out, "team-a/nginx-x-default-x-my-vcluster\n");
    // Flags win over the context name.
    let out = stdout_of(&[
        "translate",
        "--context",
        "vcluster_my-vcluster_team-a_kind",
        "--host-namespace",
        "other",
        "default/nginx",
    ]);
    assert_eq!(out, "other/nginx-x-default-x-my-vcluster\n");
}

#[test]
fn current_context_of_the_kubeconfig_is_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: vcluster_demo_vcluster-demo_sandbox-host\n  context: {cluster: c}\ncurrent-context: vcluster_demo_vcluster-demo_sandbox-host\n",
    )
    .unwrap();
    let out = stdout_of(&[
        "translate",
        "--kubeconfig",
        path.to_str().unwrap(),
        "default/nginx",
    ]);
    assert_eq!(out, "vcluster-demo/nginx-x-default-x-demo\n");
}

/// Exit 2, nothing on stdout, exactly one `error: …` line on stderr containing every `needle`.
fn fails(args: &[&str], needles: &[&str]) {
    let out = vinspect().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
}

#[test]
fn bad_refs_are_one_line_naming_the_ref_and_the_rule() {
    let long = format!("default/{}", "a".repeat(254));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("", vec!["invalid REF \"\"", "empty"]),
        ("nginx", vec!["invalid REF \"nginx\"", "missing '/'"]),
        ("default/", vec!["\"default/\"", "empty name"]),
        ("/nginx", vec!["\"/nginx\"", "empty namespace"]),
        (
            "default/Nginx",
            vec!["\"default/Nginx\"", "DNS-1123 subdomain"],
        ),
        ("Default/nginx", vec!["\"Default/nginx\"", "DNS-1123 label"]),
        (
            "svc/default/Nginx",
            vec!["\"svc/default/Nginx\"", "DNS-1035 label"],
        ),
        (&long, vec!["name is 254 bytes, longer than 253"]),
        (
            "deployment/default/nginx",
            vec!["unknown kind \"deployment\"", "svc"],
        ),
        ("a/b/c/d", vec!["\"a/b/c/d\"", "too many '/'"]),
    ];
    for (r, needles) in cases {
        fails(
            &["translate", "--vcluster", "vc", "default/ok", r],
            &needles,
        );
    }
}

#[test]
fn bad_names_and_missing_vcluster() {
    fails(
        &["translate", "default/nginx"],
        &["no vCluster given", "--vcluster"],
    );
    fails(
        &["translate", "--context", "kind-kind", "default/nginx"],
        &["\"kind-kind\"", "vcluster_<name>_<namespace>_<hostcontext>"],
    );
    fails(
        &["translate", "--vcluster", "My_VC", "default/nginx"],
        &["--vcluster \"My_VC\"", "DNS-1123 label"],
    );
    fails(
        &[
            "translate",
            "--vcluster",
            "vc",
            "--host-namespace",
            "Bad",
            "default/nginx",
        ],
        &["--host-namespace \"Bad\""],
    );
    fails(
        &["translate", "--vcluster", "vc", "--label=-bad"],
        &["invalid label key \"-bad\""],
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = vinspect().args(["translate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = vinspect()
        .args(["translate", "-o", "yaml", "--vcluster", "v", "a/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn commands_not_built_yet_say_so() {
    for (args, name) in [
        (vec!["check"], "check"),
        (vec!["sync"], "sync"),
        (vec!["fix", "--all"], "fix"),
        (vec!["dns", "--listen", "127.0.0.1:0"], "dns"),
        (vec!["sandbox"], "sandbox"),
    ] {
        vinspect()
            .args(&args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(format!("error: {name} is not available yet\n"));
    }
}

#[test]
fn help_and_version_exit_0() {
    vinspect()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("translate"));
    vinspect()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("vinspect "));
}
