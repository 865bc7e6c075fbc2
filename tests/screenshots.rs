//! The pictures in `screenshots/` are what the TUI renders for the incident scenario. This test
//! fails when one is stale; regenerate them all with
//!
//! ```sh
//! UPDATE_SCREENSHOTS=1 cargo nextest run -E 'test(screenshots)'
//! ```

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;
use vinspect::demo::{banner, data::data_update};
use vinspect::engine::{Ctx, desired_host};
use vinspect::inspect::{RowKind, pair_rows};
use vinspect::sandbox::scenario;
use vinspect::tui::app::{Action, AppState, update};
use vinspect::tui::keymap::{Cmd, Keymap};
use vinspect::tui::screenshot::{Palette, buffer_to_svg};
use vinspect::tui::theme::Theme;
use vinspect::tui::types::{DiffSource, RowKey};
use vinspect::tui::views;

const W: u16 = 120;
const H: u16 = 36;

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// The incident as the demo shows it, at a fixed instant.
fn incident_state() -> (AppState, scenario::Scenario) {
    let s = scenario::load("incident").unwrap();
    let snap = s.snapshot().unwrap();
    let path = std::path::Path::new("/tmp/vinspect-demo/kubeconfig");
    let mut data = data_update(&snap, &s.config, Some(banner(path)));
    data.virtual_context = "vcluster_my-vcluster_vcluster-my-vcluster_sandbox-host".into();
    data.host_context = "sandbox-host".into();
    let mut st = AppState::new(Keymap::default(), false, "");
    update(&mut st, Action::Resize(W, H));
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    update(&mut st, Action::Tick(now));
    update(&mut st, Action::Data(data));
    (st, s)
}

fn select(s: &mut AppState, kind: RowKind, ns: &str, name: &str) {
    update(s, Action::Cmd(Cmd::Top));
    for _ in 0..s.visible().len() {
        if let Some(r) = s.selected_row()
            && r.kind == kind
            && r.namespace == ns
            && r.name == name
        {
            return;
        }
        update(s, Action::Cmd(Cmd::Down));
    }
    panic!("{ns}/{name} not in view");
}

fn cart() -> RowKey {
    RowKey {
        kind: RowKind::Service,
        namespace: "shop".into(),
        name: "cart".into(),
    }
}

/// Each screenshot: file stem and how to get there from the first screen.
fn scenes() -> Vec<(&'static str, AppState)> {
    let mut out = Vec::new();
    let (base, s) = incident_state();

    let mut st = base.clone();
    update(&mut st, key('2'));
    out.push(("pairs", st));

    let mut st = base.clone();
    update(&mut st, key('2'));
    select(&mut st, RowKind::Service, "shop", "cart");
    update(&mut st, Action::Cmd(Cmd::ToggleDetail));
    out.push(("detail", st));

    let mut st = base.clone();
    update(&mut st, key('2'));
    select(&mut st, RowKind::Service, "shop", "cart");
    update(&mut st, key('d'));
    let snap = s.snapshot().unwrap();
    let ctx = Ctx::new(&snap, &s.config);
    let (pair, _) = pair_rows(&snap, &s.config)
        .into_iter()
        .find(|(_, r)| cart().matches(r))
        .unwrap();
    let actual = snap
        .host
        .services
        .get(pair.host_key.as_ref().unwrap())
        .map(|o| serde_json::to_value(o.as_ref()).unwrap());
    let src = DiffSource {
        desired: desired_host(&ctx, &pair),
        actual,
    };
    update(
        &mut st,
        Action::DiffLoaded {
            key: cart(),
            result: Ok(src),
        },
    );
    out.push(("diff", st));

    let mut st = base.clone();
    update(&mut st, key('2'));
    select(&mut st, RowKind::Service, "shop", "cart");
    update(&mut st, key('f'));
    out.push(("fix", st));

    let mut st = base.clone();
    update(&mut st, key('5'));
    out.push(("dns", st));

    let mut st = base.clone();
    update(&mut st, key('?'));
    out.push(("help", st));

    let mut st = base;
    update(&mut st, key('1'));
    out.push(("pods", st));
    out
}

fn render(st: &AppState) -> String {
    let theme = Theme::dark();
    let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
    t.draw(|f| views::draw(f, st, &theme)).unwrap();
    buffer_to_svg(t.backend().buffer(), &Palette::default())
}

#[test]
fn screenshots_match_what_the_tui_renders() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let update_them = std::env::var_os("UPDATE_SCREENSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, st) in scenes() {
        let svg = render(&st);
        let path = dir.join(format!("{name}.svg"));
        if update_them {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &svg).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == svg => {}
            _ => stale.push(path.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "stale screenshots {stale:?}: regenerate with UPDATE_SCREENSHOTS=1 cargo nextest run -E 'test(screenshots)'"
    );
}

#[test]
fn screenshots_show_the_incident() {
    // The first screen a demo user sees (Pods) and one tab away (Services) carry every status.
    let (st, _) = incident_state();
    let pods = render(&st);
    assert!(
        pods.contains("DEMO · export KUBECONFIG=/tmp/vinspect-demo/kubeconfig"),
        "banner on the first screen"
    );
    let scenes = scenes();
    let services = render(&scenes[0].1);
    for w in ["Orphan", "Waiting", "Synced"] {
        assert!(pods.contains(w), "{w} on the Pods tab");
    }
    for w in [
        "Drift", "Missing", "Squatter", "Error", "Disabled", "Synced",
    ] {
        assert!(services.contains(w), "{w} on the Services tab");
    }
}
