//! The real binary in a real terminal: tmux runs `vinspect` against a sandbox started here, and
//! the test types like an operator: filter to a drifted Service, fix it, watch it turn Synced,
//! quit, and find the shell prompt back.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vinspect::cluster::session::ConnectOptions;
use vinspect::inspect::fix_cmd::{FixOptions, run_fix_to};
use vinspect::sandbox::{Sandbox, SandboxOptions};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

/// A tmux server of our own (its own socket), killed when the test ends, however it ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn start(shell_cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("vinspect-test-{}", std::process::id()),
        };
        let ok = t
            .cmd()
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &WIDTH.to_string(), "-y", &HEIGHT.to_string()])
            .arg(shell_cmd)
            .status()
            .unwrap();
        assert!(ok.success(), "tmux new-session failed");
        t
    }

    fn send(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll the screen until `pred` holds; fail with the last screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn row_line<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

async fn service(sb: &Sandbox, name: &str) {
    let api: Api<Service> = Api::namespaced(sb.virtual_client(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_fix_and_quit_in_a_real_terminal() {
    if !tmux_available() {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED tmux_tui: tmux is not installed; the TUI end-to-end test did not run !!!\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    let sb = Sandbox::start(SandboxOptions {
        kubelet_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let work = tempfile::tempdir().unwrap();

    // Two services with twins written by the engine (what a running vCluster would have).
    service(&sb, "checkout").await;
    service(&sb, "cart").await;
    let connect = ConnectOptions {
        kubeconfig: Some(sb.kubeconfig_path().to_path_buf()),
        virtual_context: sb.virtual_context(),
        host_context: sb.host_context().to_string(),
        vcluster: sb.vcluster().to_string(),
        host_namespace: sb.host_namespace().to_string(),
        config_file: None,
    };
    let (mut out, mut err, mut input) = (Vec::new(), Vec::new(), &b""[..]);
    let code = run_fix_to(
        FixOptions {
            connect,
            refs: vec!["svc/default/checkout".into(), "svc/default/cart".into()],
            yes: true,
            audit_log: Some(work.path().join("setup-audit.log")),
            ..FixOptions::default()
        },
        &mut out,
        &mut err,
        &mut input,
    )
    .await
    .unwrap();
    assert_eq!(
        code,
        0,
        "setup fix: {}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );

    // Drift: someone edits the host twin's selector (the vcluster#2887 signature).
    let host: Api<Service> = Api::namespaced(sb.host_client(), sb.host_namespace());
    let twin = "checkout-x-default-x-demo";
    host.patch(
        twin,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"selector": {"edited-by": "someone"}}})),
    )
    .await
    .unwrap();

    let bin = assert_cmd::cargo::cargo_bin("vinspect");
    let cmd = format!(
        "cd {dir} && env XDG_CONFIG_HOME={dir} XDG_STATE_HOME={dir} {bin} --kubeconfig {kc} --context {ctx}; \
         echo EXIT=$?; exec sh",
        dir = shell_quote(work.path()),
        bin = shell_quote(&bin),
        kc = shell_quote(sb.kubeconfig_path()),
        ctx = sb.virtual_context(),
    );
    let test = tokio::task::spawn_blocking(move || {
        let t = Tmux::start(&cmd);
        t.wait_for("the TUI with rows", 15, |s| {
            s.contains("Services") && s.contains("NAMESPACE")
        });
        t.send(&["2"]);
        let s = t.wait_for("the drifted row", 10, |s| {
            row_line(s, "checkout").is_some_and(|l| l.contains("Drift"))
        });
        assert!(row_line(&s, "cart").is_some(), "{s}");

        t.send(&["/", "checkout"]);
        let s = t.wait_for("the filter to narrow", 5, |s| {
            row_line(s, "cart").is_none() && row_line(s, "kubernetes").is_none()
        });
        assert!(row_line(&s, "checkout").is_some(), "{s}");
        t.send(&["Enter"]);

        t.send(&["f"]);
        let s = t.wait_for("the confirm dialog", 5, |s| s.contains("y  apply"));
        assert!(s.contains(twin), "the plan names the host twin:\n{s}");
        t.send(&["y"]);
        t.wait_for("the row to turn Synced", 15, |s| {
            row_line(s, "checkout").is_some_and(|l| l.contains("Synced"))
        });

        t.send(&["q"]);
        let s = t.wait_for("the shell after quitting", 10, |s| s.contains("EXIT="));
        assert!(s.contains("EXIT=0"), "{s}");
        // The alternate screen is gone: no table is left on the screen.
        assert!(!s.contains("NAMESPACE"), "the TUI was not cleared:\n{s}");
        // The shell's terminal is out of raw mode again (`sh` has no line editor of its own
        // that would hide a terminal left in raw mode).
        t.send(&[
            "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo",
            "Enter",
        ]);
        let s = t.wait_for("stty's answer", 5, |s| {
            s.lines()
                .any(|l| l.trim() == "icanon" || l.trim() == "-icanon")
        });
        assert!(
            s.lines().any(|l| l.trim() == "icanon"),
            "terminal left in raw mode:\n{s}"
        );
        assert!(
            s.lines().any(|l| l.trim() == "echo"),
            "terminal left without echo:\n{s}"
        );
    });
    let result = test.await;
    // The one-off timing event scale runs read: in the TUI's log file, with the elapsed time.
    let log = std::fs::read_to_string(work.path().join("vinspect").join("vinspect.log"))
        .unwrap_or_default();
    let first_frame: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("vinspect::tui") && l.contains("first full frame"))
        .collect();
    let selector = host
        .get(twin)
        .await
        .unwrap()
        .spec
        .unwrap()
        .selector
        .unwrap();
    sb.shutdown().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
    assert!(
        !selector.contains_key("edited-by"),
        "the fix did not reach the host: {selector:?}"
    );
    assert_eq!(first_frame.len(), 1, "log:\n{log}");
    assert!(first_frame[0].contains("elapsed_ms="), "{}", first_frame[0]);
}
