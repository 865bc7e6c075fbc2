//! Snapshot tests of every view and dialog, at 120×40 and 80×24, and of each theme.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use std::sync::Arc;
use vinspect::cluster::snapshot::ConnState;
use vinspect::engine::SideName;
use vinspect::inspect::RowKind;
use vinspect::tui::app::{Action, AppState, update};
use vinspect::tui::backend::Backend;
use vinspect::tui::fixtures;
use vinspect::tui::keymap::{Cmd, Keymap};
use vinspect::tui::theme::Theme;
use vinspect::tui::types::{DataUpdate, FixOutcome, RowKey};
use vinspect::tui::views;

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn keys(s: &mut AppState, text: &str) {
    for c in text.chars() {
        update(s, key(c));
    }
}

fn state(w: u16, h: u16, read_only: bool) -> AppState {
    let reason = if read_only {
        "vinspect was started with --read-only"
    } else {
        ""
    };
    let mut s = AppState::new(Keymap::default(), read_only, reason);
    update(&mut s, Action::Resize(w, h));
    update(&mut s, Action::Tick(fixtures::now()));
    update(&mut s, Action::Data(fixtures::data()));
    s
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

fn draw(s: &AppState, theme: &Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(s.size.0, s.size.1)).unwrap();
    t.draw(|f| views::draw(f, s, theme)).unwrap();
    t
}

/// Render `setup` at both sizes and snapshot each.
fn snap(name: &str, read_only: bool, setup: impl Fn(&mut AppState)) {
    let theme = Theme::dark();
    for (w, h) in SIZES {
        let mut s = state(w, h, read_only);
        setup(&mut s);
        let t = draw(&s, &theme);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn cart_service() -> RowKey {
    RowKey {
        kind: RowKind::Service,
        namespace: "shop".into(),
        name: "cart".into(),
    }
}

#[test]
fn tab_pods() {
    snap("tab_pods", false, |_| {});
}

#[test]
fn tab_services() {
    snap("tab_services", false, |s| {
        update(s, key('2'));
    });
}

#[test]
fn tab_ingresses() {
    snap("tab_ingresses", false, |s| {
        update(s, key('3'));
    });
}

#[test]
fn tab_replicated() {
    snap("tab_replicated", false, |s| {
        update(s, key('4'));
    });
}

#[test]
fn tab_dns() {
    snap("tab_dns", false, |s| {
        update(s, key('5'));
    });
}

#[test]
fn detail_pane() {
    snap("detail_pane", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, Action::Cmd(Cmd::ToggleDetail));
    });
}

#[test]
fn detail_pane_pod_with_events() {
    snap("detail_pane_pod", false, |s| {
        select(s, RowKind::Pod, "shop", "cart-5c6d7f8b9-qw7zt");
        update(s, Action::Cmd(Cmd::ToggleDetail));
    });
}

#[test]
fn diff_view() {
    snap("diff_view", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('d'));
        let src = block_on(fixtures::backend().load_diff(cart_service())).unwrap();
        update(
            s,
            Action::DiffLoaded {
                key: cart_service(),
                result: Ok(src),
            },
        );
    });
}

#[test]
fn diff_view_loading_and_failed() {
    snap("diff_loading", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('d'));
    });
    snap("diff_failed", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('d'));
        update(
            s,
            Action::DiffLoaded {
                key: cart_service(),
                result: Err("host API server unreachable: connection refused".into()),
            },
        );
    });
}

#[test]
fn yaml_view() {
    snap("yaml_virtual", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('y'));
        let obj =
            block_on(fixtures::backend().load_object(SideName::Virtual, cart_service())).unwrap();
        update(
            s,
            Action::ObjectLoaded {
                side: SideName::Virtual,
                key: cart_service(),
                result: Ok(obj),
            },
        );
    });
    snap("yaml_host_absent", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "payments", "api");
        update(s, key('Y'));
        let key = RowKey {
            kind: RowKind::Service,
            namespace: "payments".into(),
            name: "api".into(),
        };
        update(
            s,
            Action::ObjectLoaded {
                side: SideName::Host,
                key,
                result: Ok(None),
            },
        );
    });
}

#[test]
fn help_popup() {
    snap("help", false, |s| {
        update(s, key('?'));
    });
}

#[test]
fn fix_confirm_dialog() {
    snap("fix_confirm", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('f'));
    });
}

#[test]
fn fix_all_confirm_dialog() {
    snap("fix_all_confirm", false, |s| {
        update(s, key('2'));
        update(s, key('F'));
    });
}

#[test]
fn read_only_explains_instead_of_fixing() {
    snap("read_only_fix", true, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('f'));
    });
    snap("read_only_table", true, |_| {});
}

#[test]
fn squatter_explains_instead_of_fixing() {
    snap("squatter_fix", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "legacy");
        update(s, key('f'));
    });
}

#[test]
fn filter_typing_highlights() {
    snap("filter_typing", false, |s| {
        update(s, key('2'));
        keys(s, "/crt");
    });
    snap("filter_inverted", false, |s| {
        update(s, key('2'));
        keys(s, "/!shop");
        update(
            s,
            Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
    });
}

#[test]
fn command_mode() {
    snap("command_typing", false, |s| {
        keys(s, ":ns sho");
    });
}

#[test]
fn problems_only() {
    snap("problems_only", false, |s| {
        update(s, key('2'));
        update(s, key('p'));
    });
}

#[test]
fn toast_after_fix() {
    snap("toast_fix_failed", false, |s| {
        update(s, key('2'));
        select(s, RowKind::Service, "shop", "cart");
        update(s, key('f'));
        update(s, key('y'));
        let target = s
            .data
            .rows
            .iter()
            .find(|r| r.name == "cart" && r.kind == RowKind::Service)
            .unwrap()
            .plan
            .changes[0]
            .target
            .clone();
        update(
            s,
            Action::FixDone(vec![FixOutcome {
                key: cart_service(),
                target,
                verb: "patch".into(),
                result: Err("Operation cannot be fulfilled: the object has been modified".into()),
            }]),
        );
    });
}

#[test]
fn dead_side_banner() {
    snap("dead_host", false, |s| {
        let mut d = fixtures::data();
        d.host_conn = ConnState::Retrying {
            message: "GET https://10.0.0.1:6443/api: connection refused".into(),
            attempt: 3,
        };
        d.version += 1;
        update(s, Action::Data(d));
    });
}

#[test]
fn context_picker() {
    snap("context_picker", false, |s| {
        keys(s, ":ctx");
        update(
            s,
            Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        );
        let contexts = block_on(fixtures::backend().list_contexts());
        update(s, Action::ContextsLoaded(contexts.map_err(|e| e.0)));
        update(s, Action::Cmd(Cmd::Down));
    });
}

#[test]
fn empty_while_connecting() {
    snap("connecting", false, |s| {
        update(
            s,
            Action::Data(DataUpdate {
                rows: Arc::new(Vec::new()),
                virtual_context: fixtures::VIRTUAL_CONTEXT.into(),
                host_context: fixtures::HOST_CONTEXT.into(),
                vcluster: fixtures::VCLUSTER.into(),
                host_namespace: fixtures::HOST_NAMESPACE.into(),
                note: Some("vcluster.yaml not readable: defaults apply".into()),
                ..DataUpdate::default()
            }),
        );
    });
}

/// Each theme renders the same text; its semantic cells carry the theme's styles.
#[test]
fn themes() {
    for name in ["dark", "light", "high-contrast", "colorblind"] {
        let theme = Theme::builtin(name).unwrap();
        let mut s = state(120, 40, false);
        update(&mut s, key('2'));
        let t = draw(&s, &theme);
        insta::assert_snapshot!(format!("theme_{name}"), t.backend());
        let buf = t.backend().buffer();
        // Find the STATUS cell of the drifted cart service and of the synced web service.
        let find = |word: &str, row_name: &str| {
            (0..buf.area.height)
                .find_map(|y| {
                    let line: String = (0..buf.area.width)
                        .map(|x| buf[(x, y)].symbol().to_string())
                        .collect();
                    let name_at = line.find(&format!(" {row_name} "))?;
                    let x = line[name_at..].find(word)? + name_at;
                    Some((x as u16, y))
                })
                .unwrap()
        };
        let (x, y) = find("Drift", "cart");
        assert_eq!(
            buf[(x, y)].fg,
            theme.status.drift.fg.unwrap_or(Color::Reset),
            "{name}: drift colour"
        );
        assert!(
            buf[(x, y)].modifier.contains(Modifier::BOLD)
                || theme.status.drift.add_modifier.is_empty()
        );
        let (x, y) = find("Squatter", "legacy");
        assert_eq!(
            buf[(x, y)].fg,
            theme.status.squatter.fg.unwrap_or(Color::Reset),
            "{name}: squatter colour"
        );
        // The selected (first) row uses the selection background.
        let sel_y = (0..buf.area.height)
            .find(|&y| {
                buf[(0, y)].bg == theme.selection.bg.unwrap_or(Color::Reset)
                    && buf[(0, y)].symbol() != " "
            })
            .unwrap();
        assert!(sel_y > 3, "{name}: selection is a table row");
        // Header bar background.
        assert_eq!(
            buf[(0, 0)].bg,
            theme.header.bg.unwrap_or(Color::Reset),
            "{name}: header bg"
        );
    }
}

/// NO_COLOR: no cell carries a colour, and the selection is still visible (reversed).
#[test]
fn no_color_has_no_colour() {
    let theme = Theme::dark().honour_no_color(Some("1"));
    let s = state(120, 40, false);
    let t = draw(&s, &theme);
    let buf = t.backend().buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            assert_eq!(c.fg, Color::Reset, "fg at {x},{y}");
            assert_eq!(c.bg, Color::Reset, "bg at {x},{y}");
        }
    }
    let reversed_rows = (0..buf.area.height)
        .filter(|&y| buf[(5, y)].modifier.contains(Modifier::REVERSED))
        .count();
    assert!(reversed_rows >= 1, "selection visible without colour");
}

/// A big table: only the visible window is drawn and the scroll follows the selection.
#[test]
fn scrolled_large_table() {
    let theme = Theme::dark();
    let mut s = AppState::new(Keymap::default(), false, "");
    update(&mut s, Action::Resize(120, 40));
    update(&mut s, Action::Tick(fixtures::now()));
    let mut d = fixtures::data();
    d.rows = vinspect::tui::types::rows_of(fixtures::scaled_rows(2000));
    update(&mut s, Action::Data(d));
    update(&mut s, key('G'));
    let t = draw(&s, &theme);
    insta::assert_snapshot!("scrolled_bottom", t.backend());
    let sel = s.selected_row().unwrap().name.clone();
    let text = format!("{}", t.backend());
    assert!(text.contains(&sel), "the selected last row is on screen");
}

/// Matched characters carry the `matched` style; the rest of the cell does not.
#[test]
fn filter_matches_are_highlighted() {
    let theme = Theme::dark();
    let mut s = state(120, 40, false);
    update(&mut s, key('2'));
    keys(&mut s, "/crt");
    // Move off the first row so the unselected style is checked.
    update(&mut s, Action::Cmd(Cmd::Down));
    let t = draw(&s, &theme);
    let buf = t.backend().buffer();
    let y = (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            line.contains("cart (ep)")
        })
        .unwrap();
    let name_x = layout_x(&s, vinspect::tui::app::Column::Name);
    let matched = theme.matched.fg.unwrap();
    let fgs: Vec<bool> = (0..4).map(|i| buf[(name_x + i, y)].fg == matched).collect();
    // c a r t: c, r, t highlighted, a not.
    assert_eq!(fgs, [true, false, true, true]);
}

fn layout_x(s: &AppState, col: vinspect::tui::app::Column) -> u16 {
    let r = s.regions();
    views::layout::columns(r.table_header.width)
        .into_iter()
        .find(|(c, _, _)| *c == col)
        .map(|(_, x, _)| r.table_header.x + x)
        .unwrap()
}
