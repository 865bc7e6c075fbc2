//! The TUI's pure parts: keymap tables, `update`, the filter, diff, redaction, themes, config.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use vinspect::engine::SideName;
use vinspect::inspect::{RowKind, Status};
use vinspect::tui::app::{
    Action, AppState, Column, Effect, Input, Load, Popup, Screen, Tab, update,
};
use vinspect::tui::backend::Backend;
use vinspect::tui::config::{UserConfig, config_path};
use vinspect::tui::diff::{self, LineKind};
use vinspect::tui::filter::Query;
use vinspect::tui::fixtures;
use vinspect::tui::keymap::{Cmd, KeySpec, Keymap, Mode};
use vinspect::tui::run::TuiOptions;
use vinspect::tui::theme::{Theme, ThemeError};
use vinspect::tui::types::{DiffSource, RowKey, rows_of};
use vinspect::tui::views::layout;
use vinspect::tui::yaml;

// ---------- keymap tables ----------

fn k(s: &str) -> KeySpec {
    KeySpec::parse(s).unwrap()
}

#[test]
fn default_keymap_table() {
    let km = Keymap::default();
    let table: &[(Mode, &str, Option<Cmd>)] = &[
        (Mode::Table, "q", Some(Cmd::Quit)),
        (Mode::Table, "ctrl-c", Some(Cmd::Quit)),
        (Mode::Table, "j", Some(Cmd::Down)),
        (Mode::Table, "down", Some(Cmd::Down)),
        (Mode::Table, "k", Some(Cmd::Up)),
        (Mode::Table, "g", Some(Cmd::Top)),
        (Mode::Table, "G", Some(Cmd::Bottom)),
        (Mode::Table, "shift-g", Some(Cmd::Bottom)),
        (Mode::Table, "tab", Some(Cmd::NextTab)),
        (Mode::Table, "backtab", Some(Cmd::PrevTab)),
        (Mode::Table, "shift-tab", Some(Cmd::PrevTab)),
        (Mode::Table, "1", Some(Cmd::GoTab(0))),
        (Mode::Table, "5", Some(Cmd::GoTab(4))),
        (Mode::Table, "enter", Some(Cmd::ToggleDetail)),
        (Mode::Table, "d", Some(Cmd::Diff)),
        (Mode::Table, "y", Some(Cmd::YamlVirtual)),
        (Mode::Table, "Y", Some(Cmd::YamlHost)),
        (Mode::Table, "/", Some(Cmd::StartFilter)),
        (Mode::Table, ":", Some(Cmd::StartCommand)),
        (Mode::Table, "p", Some(Cmd::ToggleProblems)),
        (Mode::Table, "s", Some(Cmd::SortNext)),
        (Mode::Table, "S", Some(Cmd::SortReverse)),
        (Mode::Table, "f", Some(Cmd::Fix)),
        (Mode::Table, "F", Some(Cmd::FixAll)),
        (Mode::Table, "?", Some(Cmd::Help)),
        (Mode::Table, "esc", Some(Cmd::Back)),
        (Mode::Table, "x", None),
        (Mode::Filter, "enter", Some(Cmd::Submit)),
        (Mode::Filter, "esc", Some(Cmd::Back)),
        (Mode::Filter, "backspace", Some(Cmd::DeleteChar)),
        // Letters are text while typing, never commands.
        (Mode::Filter, "q", None),
        (Mode::Filter, "f", None),
        (Mode::Command, "q", None),
        (Mode::Command, "enter", Some(Cmd::Submit)),
        (Mode::Diff, "esc", Some(Cmd::Back)),
        (Mode::Diff, "q", Some(Cmd::Back)),
        (Mode::Diff, "f", None),
        (Mode::Yaml, "tab", Some(Cmd::OtherSide)),
        (Mode::Help, "?", Some(Cmd::Back)),
        (Mode::Confirm, "y", Some(Cmd::Confirm)),
        (Mode::Confirm, "Y", None),
        (Mode::Confirm, "enter", None),
        (Mode::Confirm, "n", None),
        (Mode::Picker, "enter", Some(Cmd::Submit)),
        (Mode::Picker, "esc", Some(Cmd::Back)),
    ];
    for (mode, key, want) in table {
        assert_eq!(km.resolve(*mode, k(key)), *want, "{mode:?} {key}");
    }
}

#[test]
fn key_parsing_table() {
    let table: &[(&str, KeyCode, KeyModifiers)] = &[
        ("q", KeyCode::Char('q'), KeyModifiers::NONE),
        ("F", KeyCode::Char('F'), KeyModifiers::NONE),
        ("shift-f", KeyCode::Char('F'), KeyModifiers::NONE),
        ("ctrl-c", KeyCode::Char('c'), KeyModifiers::CONTROL),
        ("ctrl+d", KeyCode::Char('d'), KeyModifiers::CONTROL),
        ("alt-x", KeyCode::Char('x'), KeyModifiers::ALT),
        ("enter", KeyCode::Enter, KeyModifiers::NONE),
        ("esc", KeyCode::Esc, KeyModifiers::NONE),
        ("pgdn", KeyCode::PageDown, KeyModifiers::NONE),
        ("space", KeyCode::Char(' '), KeyModifiers::NONE),
        ("f5", KeyCode::F(5), KeyModifiers::NONE),
        ("-", KeyCode::Char('-'), KeyModifiers::NONE),
    ];
    for (text, code, mods) in table {
        assert_eq!(
            k(text),
            KeySpec {
                code: *code,
                mods: *mods
            },
            "{text}"
        );
    }
    for bad in ["", "ctrl-", "f13", "hyper-x", "enterr"] {
        assert!(KeySpec::parse(bad).is_err(), "{bad:?} should not parse");
    }
    // A terminal reporting SHIFT with an uppercase letter resolves like the bare letter.
    let ev = KeyEvent::new(KeyCode::Char('F'), KeyModifiers::SHIFT);
    assert_eq!(KeySpec::from_event(&ev), k("F"));
}

#[test]
fn keymap_overrides_rebind_and_unbind() {
    let mut table = BTreeMap::new();
    table.insert("x".to_string(), "fix".to_string());
    table.insert("f".to_string(), "none".to_string());
    let mut o = BTreeMap::new();
    o.insert("table".to_string(), table);
    let km = Keymap::default().with_overrides(&o).unwrap();
    assert_eq!(km.resolve(Mode::Table, k("x")), Some(Cmd::Fix));
    assert_eq!(km.resolve(Mode::Table, k("f")), None);
    // The footer follows the keymap.
    assert!(
        km.hints(Mode::Table)
            .contains(&("x".to_string(), "fix pair"))
    );

    let bad_cmd: BTreeMap<_, _> = [(
        "table".to_string(),
        [("x".to_string(), "explode".to_string())].into(),
    )]
    .into();
    let err = Keymap::default()
        .with_overrides(&bad_cmd)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("keys.table.x: unknown command \"explode\""),
        "{err}"
    );
    let bad_mode: BTreeMap<_, _> = [("tabel".to_string(), BTreeMap::new())].into();
    let err = Keymap::default()
        .with_overrides(&bad_mode)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keys.tabel") && err.contains("unknown mode"),
        "{err}"
    );
    let bad_key: BTreeMap<_, _> = [(
        "table".to_string(),
        [("ctrl-".to_string(), "fix".to_string())].into(),
    )]
    .into();
    assert!(Keymap::default().with_overrides(&bad_key).is_err());
}

#[test]
fn help_and_hints_come_from_the_keymap() {
    let km = Keymap::default();
    let help = km.help();
    let table = &help.iter().find(|(m, _)| *m == Mode::Table).unwrap().1;
    assert!(table.contains(&("j, ↓".to_string(), "move down")));
    assert!(table.contains(&("F".to_string(), "fix all problems in view")));
    let confirm = &help.iter().find(|(m, _)| *m == Mode::Confirm).unwrap().1;
    assert!(confirm.iter().any(|(k, _)| k == "any other key"));
    let hints = km.hints(Mode::Table);
    assert_eq!(hints.first(), Some(&("?".to_string(), "help")));
    assert_eq!(hints.last(), Some(&("q".to_string(), "quit")));
}

// ---------- update ----------

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn special(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn state(read_only: bool) -> AppState {
    let mut s = AppState::new(
        Keymap::default(),
        read_only,
        "vinspect was started with --read-only",
    );
    update(&mut s, Action::Resize(120, 40));
    update(&mut s, Action::Tick(fixtures::now()));
    update(&mut s, Action::Data(fixtures::data()));
    s
}

fn names(s: &AppState) -> Vec<String> {
    s.visible_rows().map(|r| r.name.clone()).collect()
}

fn select(s: &mut AppState, ns: &str, name: &str) {
    update(s, Action::Cmd(Cmd::Top));
    for _ in 0..s.visible().len() {
        if s.selected_row()
            .is_some_and(|r| r.namespace == ns && r.name == name)
        {
            return;
        }
        update(s, Action::Cmd(Cmd::Down));
    }
    panic!("{ns}/{name} not visible");
}

#[test]
fn tabs_hold_their_kinds() {
    let mut s = state(false);
    assert!(s.visible_rows().all(|r| r.kind == RowKind::Pod));
    assert_eq!(s.visible().len(), 5);
    update(&mut s, key('2'));
    assert_eq!(s.tab, Tab::Services);
    assert!(
        s.visible_rows()
            .all(|r| matches!(r.kind, RowKind::Service | RowKind::Endpoints))
    );
    update(&mut s, special(KeyCode::Tab));
    assert_eq!(s.tab, Tab::Ingresses);
    update(&mut s, special(KeyCode::BackTab));
    update(&mut s, special(KeyCode::BackTab));
    assert_eq!(s.tab, Tab::Pods);
    update(&mut s, special(KeyCode::BackTab));
    assert_eq!(s.tab, Tab::Dns);
    assert_eq!(s.visible().len(), 5);
    assert_eq!(s.tab_counts[1], (8, 6));
}

#[test]
fn filter_narrows_and_inverts() {
    let mut s = state(false);
    update(&mut s, key('2'));
    update(&mut s, key('/'));
    assert_eq!(s.mode(), Mode::Filter);
    for c in "cart".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(names(&s), ["cart", "cart"], "service and endpoints");
    // Backspace widens again.
    update(&mut s, special(KeyCode::Backspace));
    assert_eq!(s.filter, "car");
    update(&mut s, special(KeyCode::Enter));
    assert_eq!(s.mode(), Mode::Table);
    assert_eq!(s.filter, "car");
    // A new `/` starts fresh; `!` inverts.
    update(&mut s, key('/'));
    for c in "!shop".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(names(&s), ["kube-dns", "api"]);
    // Esc in filter mode clears the filter.
    update(&mut s, special(KeyCode::Esc));
    assert_eq!(s.visible().len(), 8);
    assert_eq!(s.input, Input::None);
}

#[test]
fn filter_matches_twin_dns_and_ips() {
    let mut s = state(false);
    update(&mut s, key('2'));
    s.filter.clear();
    let typed = |s: &mut AppState, text: &str| {
        update(s, key('/'));
        for c in text.chars() {
            update(s, key(c));
        }
        let n = names(s);
        update(s, special(KeyCode::Esc));
        n
    };
    // Host IP of the checkout twin only.
    assert_eq!(typed(&mut s, "10.96.7.21"), ["checkout"]);
    // A twin name.
    assert_eq!(typed(&mut s, "legacy-x-shop"), ["legacy"]);
    // A DNS stem.
    assert_eq!(typed(&mut s, "api.payments"), ["api"]);
    // Smart case: uppercase makes it case-sensitive, and nothing has uppercase letters.
    assert!(typed(&mut s, "Cart").is_empty());
    // The shared host namespace does not make every row match.
    assert_eq!(typed(&mut s, "crt"), ["cart", "cart"]);
}

#[test]
fn filter_incremental_equals_full() {
    let mut s = AppState::new(Keymap::default(), false, "");
    update(&mut s, Action::Resize(120, 40));
    let mut d = fixtures::data();
    d.rows = rows_of(fixtures::scaled_rows(3000));
    update(&mut s, Action::Data(d.clone()));
    update(&mut s, key('/'));
    for c in "team-08web".chars() {
        update(&mut s, key(c));
    }
    let incremental: Vec<u32> = s.visible().to_vec();
    let q = Query::parse("team-08web");
    let full: Vec<u32> = d
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| Tab::Pods.holds(r.kind) && q.keeps_row(r))
        .map(|(i, _)| i as u32)
        .collect();
    let mut inc_sorted = incremental.clone();
    inc_sorted.sort();
    assert_eq!(inc_sorted, full);
    assert!(!full.is_empty());
}

#[test]
fn highlights_come_from_skim() {
    let q = Query::parse("crt");
    assert_eq!(q.highlights("cart"), vec![0, 2, 3]);
    assert!(Query::parse("!crt").highlights("cart").is_empty());
    assert!(q.highlights("web").is_empty());
}

#[test]
fn problems_toggle() {
    let mut s = state(false);
    update(&mut s, key('2'));
    update(&mut s, key('p'));
    assert!(s.problems_only);
    assert!(s.visible_rows().all(|r| r.status.is_problem()));
    assert_eq!(s.visible().len(), 6);
    update(&mut s, key('p'));
    assert_eq!(s.visible().len(), 8);
}

#[test]
fn sort_cycles_and_reverses() {
    let mut s = state(false);
    update(&mut s, key('2'));
    assert_eq!(s.sort, Column::Namespace);
    assert_eq!(names(&s).first().map(String::as_str), Some("kube-dns"));
    update(&mut s, key('s'));
    assert_eq!(s.sort, Column::Name);
    assert_eq!(names(&s).first().map(String::as_str), Some("api"));
    update(&mut s, key('s'));
    assert_eq!(s.sort, Column::Status);
    // Problems first, synced last.
    let statuses: Vec<&str> = s.visible_rows().map(|r| r.status.word()).collect();
    assert_eq!(statuses.first(), Some(&"Drift"));
    assert_eq!(statuses.last(), Some(&"Synced"));
    update(&mut s, key('S'));
    assert!(s.sort_desc);
    assert_eq!(s.visible_rows().next().unwrap().status, Status::Synced);
}

/// The VIRTUAL column sorts IPs as numbers (10.0.0.9 before 10.0.0.10), unparsable ones
/// first, and rows without an IP after every IP, by their state.
#[test]
fn sort_by_virtual_ip_is_numeric() {
    let mut s = state(false);
    update(&mut s, key('2'));
    let mut d = fixtures::data();
    let template = (*d.rows[0]).clone();
    let row = |name: &str, ip: Option<&str>, state: &str| {
        let mut r = template.clone();
        r.kind = RowKind::Service;
        r.namespace = "ips".into();
        r.name = name.into();
        r.virtual_side.ip = ip.map(str::to_string);
        r.virtual_side.state = Some(state.into());
        Arc::new(r)
    };
    d.rows = Arc::new(vec![
        row("ten", Some("10.0.0.10"), "ClusterIP"),
        row("pending", None, "Pending"),
        row("nine", Some("10.0.0.9"), "ClusterIP"),
        row("bad", Some("not-an-ip"), "ClusterIP"),
        row("absent", None, "Absent"),
        row("hundred", Some("10.0.0.100"), "ClusterIP"),
    ]);
    d.version += 1;
    update(&mut s, Action::Data(d));
    for _ in 0..Column::ALL.len() {
        if s.sort == Column::Virtual {
            break;
        }
        update(&mut s, key('s'));
    }
    assert_eq!(s.sort, Column::Virtual);
    assert_eq!(
        names(&s),
        ["bad", "nine", "ten", "hundred", "absent", "pending"]
    );
}

#[test]
fn selection_survives_new_data() {
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "legacy");
    // New snapshot with an extra row sorting before it.
    let mut d = fixtures::data();
    let mut rows = (*d.rows).clone();
    let mut extra = (**rows
        .iter()
        .find(|r| r.name == "web" && r.kind == RowKind::Service)
        .unwrap())
    .clone();
    extra.name = "aaa".into();
    extra.namespace = "a".into();
    rows.push(Arc::new(extra));
    d.rows = Arc::new(rows);
    d.version += 1;
    update(&mut s, Action::Data(d));
    assert_eq!(s.selected_row().unwrap().name, "legacy");
}

#[test]
fn fix_flow_dialog_then_y_emits_fix() {
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "cart");
    assert!(update(&mut s, key('f')).is_empty());
    assert_eq!(s.mode(), Mode::Confirm);
    let Some(Popup::ConfirmFix { fixes, .. }) = &s.popup else {
        panic!("no dialog")
    };
    assert_eq!(fixes.len(), 1);
    let effects = update(&mut s, key('y'));
    assert_eq!(effects.len(), 1);
    let Effect::Fix(fixes) = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!(fixes[0].key.name, "cart");
    assert_eq!(fixes[0].plan.changes.len(), 1);
    assert!(s.popup.is_none());
    assert!(s.fixing);
    // The backend's answer turns into a toast.
    let outcomes = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(fixtures::backend().apply_fixes(fixes.clone()));
    update(&mut s, Action::FixDone(outcomes));
    assert!(!s.fixing);
    assert!(
        s.toast
            .as_ref()
            .unwrap()
            .text
            .starts_with("applied 1 change")
    );
}

#[test]
fn fix_dialog_cancels_on_any_other_key() {
    for cancel in [
        key('n'),
        key('Y'),
        special(KeyCode::Enter),
        special(KeyCode::Esc),
        key('q'),
    ] {
        let mut s = state(false);
        update(&mut s, key('2'));
        select(&mut s, "shop", "cart");
        update(&mut s, key('f'));
        let effects = update(&mut s, cancel.clone());
        assert!(effects.is_empty(), "{cancel:?} must not fix or quit");
        assert!(s.popup.is_none(), "{cancel:?} closes the dialog");
    }
    // Arrows scroll instead of cancelling.
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "cart");
    update(&mut s, key('f'));
    update(&mut s, special(KeyCode::Down));
    assert!(matches!(s.popup, Some(Popup::ConfirmFix { scroll: 1, .. })));
}

#[test]
fn read_only_blocks_every_write() {
    let mut s = state(true);
    update(&mut s, key('2'));
    select(&mut s, "shop", "cart");
    assert!(update(&mut s, key('f')).is_empty());
    let Some(Popup::Message { title, lines }) = &s.popup else {
        panic!("{:?}", s.popup)
    };
    assert_eq!(title, "READ-ONLY");
    assert!(lines[0].contains("--read-only"));
    // `y` only closes the explanation.
    assert!(update(&mut s, key('y')).is_empty());
    assert!(s.popup.is_none());
    assert!(update(&mut s, key('F')).is_empty());
    assert!(matches!(&s.popup, Some(Popup::Message { title, .. }) if title == "READ-ONLY"));
    update(&mut s, key('y'));
    // Even a Confirm command with no dialog open does nothing.
    assert!(update(&mut s, Action::Cmd(Cmd::Confirm)).is_empty());
}

#[test]
fn squatter_explains_and_blocked_rows_are_skipped_by_fix_all() {
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "legacy");
    update(&mut s, key('f'));
    let Some(Popup::Message { title, lines }) = &s.popup else {
        panic!()
    };
    assert!(title.starts_with("Squatter"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("never changes objects it does not own"))
    );
    update(&mut s, key('x'));
    update(&mut s, key('F'));
    let Some(Popup::ConfirmFix { fixes, skipped, .. }) = &s.popup else {
        panic!()
    };
    let fixed: Vec<&str> = fixes.iter().map(|f| f.key.name.as_str()).collect();
    assert_eq!(fixed, ["api", "cart", "cart", "checkout", "promo-2025"]);
    assert_eq!(
        skipped,
        &["shop/legacy: squatter, never touched".to_string()]
    );
    let effects = update(&mut s, key('y'));
    assert!(matches!(&effects[..], [Effect::Fix(f)] if f.len() == 5));
}

#[test]
fn in_line_rows_and_dns_tab_do_not_fix() {
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "web");
    assert!(update(&mut s, key('f')).is_empty());
    assert!(s.popup.is_none());
    assert!(s.toast.as_ref().unwrap().text.contains("nothing to fix"));
    update(&mut s, key('5'));
    assert!(update(&mut s, key('f')).is_empty());
    assert!(s.popup.is_none());
}

#[test]
fn diff_and_yaml_load_through_effects() {
    let mut s = state(false);
    update(&mut s, key('2'));
    select(&mut s, "shop", "cart");
    let cart = RowKey {
        kind: RowKind::Service,
        namespace: "shop".into(),
        name: "cart".into(),
    };
    assert_eq!(
        update(&mut s, key('d')),
        vec![Effect::LoadDiff { key: cart.clone() }]
    );
    assert_eq!(s.mode(), Mode::Diff);
    // An answer for another pair is ignored.
    let other = RowKey {
        name: "web".into(),
        ..cart.clone()
    };
    update(
        &mut s,
        Action::DiffLoaded {
            key: other,
            result: Err("x".into()),
        },
    );
    assert!(matches!(&s.screen, Screen::Diff(v) if v.load == Load::Loading));
    update(
        &mut s,
        Action::DiffLoaded {
            key: cart.clone(),
            result: Ok(fixtures::cart_diff()),
        },
    );
    let Screen::Diff(v) = &s.screen else { panic!() };
    let Load::Ready(m) = &v.load else { panic!() };
    assert_eq!(m.changes, 1);
    assert!(v.scroll > 0, "opens near the first difference");
    update(&mut s, special(KeyCode::Esc));
    assert_eq!(s.mode(), Mode::Table);

    assert_eq!(
        update(&mut s, key('y')),
        vec![Effect::LoadYaml {
            side: SideName::Virtual,
            key: cart.clone()
        }]
    );
    assert_eq!(
        update(&mut s, special(KeyCode::Tab)),
        vec![Effect::LoadYaml {
            side: SideName::Host,
            key: cart.clone()
        }]
    );
    update(
        &mut s,
        Action::ObjectLoaded {
            side: SideName::Host,
            key: cart,
            result: Ok(Some(json!({"kind": "Service"}))),
        },
    );
    assert!(
        matches!(&s.screen, Screen::Yaml(v) if matches!(&v.load, Load::Ready(Some(l)) if l == &vec!["kind: Service".to_string()]))
    );
}

#[test]
fn command_mode_table() {
    let cases: &[(&str, Option<Tab>, Vec<Effect>)] = &[
        ("pods", Some(Tab::Pods), vec![]),
        ("svc", Some(Tab::Services), vec![]),
        ("ing", Some(Tab::Ingresses), vec![]),
        ("rep", Some(Tab::Replicated), vec![]),
        ("dns", Some(Tab::Dns), vec![]),
        ("q", None, vec![Effect::Quit]),
        ("ctx", None, vec![Effect::ListContexts]),
        (
            "ctx vcluster_ci_vcluster-ci_staging",
            None,
            vec![Effect::SwitchContext(
                "vcluster_ci_vcluster-ci_staging".into(),
            )],
        ),
    ];
    for (line, tab, effects) in cases {
        let mut s = state(false);
        update(&mut s, key('3'));
        update(&mut s, key(':'));
        for c in line.chars() {
            update(&mut s, key(c));
        }
        let got = update(&mut s, special(KeyCode::Enter));
        assert_eq!(&got, effects, ":{line}");
        if let Some(t) = tab {
            assert_eq!(s.tab, *t, ":{line}");
        }
        assert_eq!(s.input, Input::None);
    }
    // :ns narrows to one namespace; :ns all clears it.
    let mut s = state(false);
    update(&mut s, key('2'));
    for line in [":ns shop\n", ":ns all\n", ":bogus\n"] {
        for c in line.chars() {
            if c == '\n' {
                update(&mut s, special(KeyCode::Enter));
            } else {
                update(&mut s, key(c));
            }
        }
        match line {
            ":ns shop\n" => {
                assert!(s.visible_rows().all(|r| r.namespace == "shop") && s.visible().len() == 6)
            }
            ":ns all\n" => assert_eq!(s.visible().len(), 8),
            _ => assert!(s.toast.as_ref().unwrap().error),
        }
    }
}

#[test]
fn context_picker_switches() {
    let mut s = state(false);
    update(
        &mut s,
        Action::ContextsLoaded(Ok(fixtures::backend().contexts)),
    );
    assert_eq!(s.mode(), Mode::Picker);
    update(&mut s, key('j'));
    let effects = update(&mut s, special(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::SwitchContext(
            "vcluster_team-b_vcluster-team-b_prod-eu1".into()
        )]
    );
    update(
        &mut s,
        Action::ContextSwitched {
            context: "x".into(),
            result: Err("not found".into()),
        },
    );
    assert!(s.toast.as_ref().unwrap().error);
}

#[test]
fn quit_keys() {
    for a in [
        key('q'),
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    ] {
        let mut s = state(false);
        assert_eq!(update(&mut s, a), vec![Effect::Quit]);
    }
    // In filter mode `q` is text, ctrl-c still quits.
    let mut s = state(false);
    update(&mut s, key('/'));
    assert!(update(&mut s, key('q')).is_empty());
    assert_eq!(s.filter, "q");
}

#[test]
fn mouse_clicks_and_wheel() {
    let mut s = state(false);
    update(&mut s, key('2'));
    let r = s.regions();
    let click = |x, y| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Third body row.
    update(&mut s, click(3, r.table_body.y + 2));
    assert_eq!(s.selected, 2);
    // Wheel moves three rows.
    update(
        &mut s,
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 3,
            row: r.table_body.y,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(s.selected, 5);
    // Clicking a column title sorts by it; again reverses.
    let (_, x, _) = layout::columns(r.table_header.width)
        .into_iter()
        .find(|(c, _, _)| *c == Column::Status)
        .unwrap();
    update(&mut s, click(x + 1, r.table_header.y));
    assert_eq!(s.sort, Column::Status);
    update(&mut s, click(x + 1, r.table_header.y));
    assert!(s.sort_desc);
    // Clicking a tab label switches tab.
    update(&mut s, click(r.tabs.x + 2, r.tabs.y));
    assert_eq!(s.tab, Tab::Pods);
}

#[test]
fn resize_keeps_selection_visible() {
    let mut s = AppState::new(Keymap::default(), false, "");
    update(&mut s, Action::Resize(120, 40));
    let mut d = fixtures::data();
    d.rows = rows_of(fixtures::scaled_rows(500));
    update(&mut s, Action::Data(d));
    update(&mut s, key('G'));
    update(&mut s, Action::Resize(80, 24));
    let page = s.page();
    assert!(s.selected >= s.offset && s.selected < s.offset + page);
}

#[test]
fn tick_only_dirties_when_something_changes() {
    let mut s = state(false);
    s.dirty = false;
    update(
        &mut s,
        Action::Tick(fixtures::now() + chrono::Duration::seconds(1)),
    );
    assert!(!s.dirty, "a second later with no toast: nothing to redraw");
    update(&mut s, key('f'));
    s.dirty = false;
    update(
        &mut s,
        Action::Tick(fixtures::now() + chrono::Duration::seconds(30)),
    );
    assert!(s.toast.is_none() && s.dirty, "expired toast redraws");
    s.dirty = false;
    update(
        &mut s,
        Action::Tick(fixtures::now() + chrono::Duration::seconds(61)),
    );
    assert!(s.dirty, "a new minute redraws ages");
}

// ---------- diff and redaction ----------

#[test]
fn diff_hides_server_fields_and_pairs_changes() {
    let m = diff::build(&fixtures::cart_diff());
    for hidden in [
        "metadata.managedFields",
        "metadata.resourceVersion",
        "metadata.uid",
        "status",
        "spec.clusterIPs",
        "spec.ipFamilies",
    ] {
        assert!(
            m.hidden.iter().any(|h| h == hidden),
            "{hidden} hidden: {:?}",
            m.hidden
        );
    }
    let changed: Vec<_> = m
        .lines
        .iter()
        .filter(|l| l.kind != LineKind::Same)
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].kind, LineKind::Changed);
    assert!(changed[0].left.as_ref().unwrap().1.contains("5f1c2e9a1b"));
    assert!(changed[0].right.as_ref().unwrap().1.contains("0a1b2c3d4e"));
    // Missing sides.
    let m = diff::build(&DiffSource {
        desired: Some(json!({"a": 1, "b": 2})),
        actual: None,
    });
    assert!(m.actual_missing);
    assert!(m.lines.iter().all(|l| l.kind == LineKind::Removed));
}

#[test]
fn secrets_are_redacted() {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tls", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"tls.key\":\"c2VjcmV0\"}}"}},
        "data": {"tls.key": "c2VjcmV0", "tls.crt": "Y2VydA=="},
        "stringData": {"password": "hunter2"}
    });
    let text = yaml::object_lines(&secret).join("\n");
    assert!(
        !text.contains("c2VjcmV0") && !text.contains("hunter2") && !text.contains("Y2VydA"),
        "{text}"
    );
    assert!(text.contains("tls.key: <redacted, 8 bytes>"), "{text}");
    // Other kinds keep their data.
    let cm = json!({"kind": "ConfigMap", "data": {"k": "v"}});
    assert!(yaml::object_lines(&cm).join("\n").contains("k: v"));
    // The diff view redacts too.
    let m = diff::build(&DiffSource {
        desired: Some(secret.clone()),
        actual: Some(secret),
    });
    assert!(
        m.lines
            .iter()
            .all(|l| !l.left.as_ref().unwrap().1.contains("hunter2"))
    );
}

// ---------- themes ----------

#[test]
fn builtin_themes_parse_completely() {
    for name in ["dark", "light", "high-contrast", "colorblind"] {
        let t = Theme::builtin(name).unwrap();
        assert_eq!(t.name, name);
        assert!(t.status.drift.fg.is_some(), "{name} sets status.drift");
        assert!(
            t.selection.bg.is_some()
                || t.selection
                    .add_modifier
                    .contains(ratatui::style::Modifier::REVERSED)
        );
        // Problem statuses never share a style with Synced.
        for p in [
            t.status.drift,
            t.status.missing,
            t.status.orphan,
            t.status.squatter,
            t.status.error,
        ] {
            assert_ne!(p, t.status.synced, "{name}");
        }
    }
    assert_eq!(Theme::load("light").unwrap().name, "light");
}

#[test]
fn theme_errors_name_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "status:\n  drift: { fg: grean }\n",
            "key \"status.drift\": \"grean\" is not a colour",
        ),
        ("acent: red\n", "key \"acent\": unknown slot"),
        (
            "status:\n  drifty: red\n",
            "key \"status.drifty\": unknown slot",
        ),
        (
            "selection: { fg: red, blink: true }\n",
            "key \"selection\": unknown field \"blink\"",
        ),
        (
            "selection: { bold: yes please }\n",
            "key \"selection\": bold: expected true or false",
        ),
        (
            "extends: solarized\n",
            "key \"extends\": \"solarized\" is not a built-in theme",
        ),
        ("diff: red\n", "key \"diff\": expected a mapping"),
    ];
    for (text, want) in cases {
        let err = Theme::parse(text, "my.yaml").unwrap_err().to_string();
        assert!(err.starts_with("theme my.yaml: "), "{err}");
        assert!(err.contains(want), "{text:?}: got {err}");
    }
    assert!(matches!(
        Theme::parse("a: [", "x"),
        Err(ThemeError::Yaml { .. })
    ));
    assert!(matches!(
        Theme::load("no-such-theme"),
        Err(ThemeError::Unknown(_))
    ));
    assert!(matches!(
        Theme::load("/nonexistent/t.yaml"),
        Err(ThemeError::Read { .. })
    ));
}

#[test]
fn partial_theme_from_a_file_extends_a_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.yaml");
    std::fs::write(
        &path,
        "name: mine\nextends: light\nstatus:\n  drift: \"#ff00ff\"\n",
    )
    .unwrap();
    let t = Theme::load(path.to_str().unwrap()).unwrap();
    let light = Theme::builtin("light").unwrap();
    assert_eq!(t.name, "mine");
    assert_eq!(
        t.status.drift.fg,
        Some(ratatui::style::Color::Rgb(255, 0, 255))
    );
    assert_eq!(t.selection, light.selection);
}

#[test]
fn no_color_wins() {
    let t = Theme::builtin("light").unwrap().honour_no_color(Some("1"));
    assert_eq!(t.name, "monochrome");
    assert_eq!(
        Theme::dark().honour_no_color(Some("")).name,
        "dark",
        "empty NO_COLOR is unset"
    );
    assert_eq!(Theme::dark().honour_no_color(None).name, "dark");
}

// ---------- config ----------

#[test]
fn config_path_rule() {
    let home = Path::new("/home/op");
    let table: &[(Option<&str>, &str)] = &[
        (Some("/xdg"), "/xdg/vinspect/config.yaml"),
        (Some(""), "/home/op/.config/vinspect/config.yaml"),
        (
            Some("relative/dir"),
            "/home/op/.config/vinspect/config.yaml",
        ),
        (None, "/home/op/.config/vinspect/config.yaml"),
    ];
    for (xdg, want) in table {
        assert_eq!(
            config_path(*xdg, Some(home)).unwrap(),
            Path::new(want),
            "{xdg:?}"
        );
    }
    assert_eq!(config_path(None, None), None);
}

#[test]
fn config_parses_and_resolves_options() {
    let cfg = UserConfig::parse(
        "theme: colorblind\nread_only: true\nkeys:\n  table:\n    x: fix\n",
        "c.yaml",
    )
    .unwrap();
    let o = TuiOptions::resolve(None, false, &cfg, "c.yaml", None).unwrap();
    assert_eq!(o.theme.name, "colorblind");
    assert!(o.read_only);
    assert!(o.read_only_reason.contains("c.yaml"));
    assert_eq!(o.keymap.resolve(Mode::Table, k("x")), Some(Cmd::Fix));
    // CLI wins; NO_COLOR wins over both.
    let o = TuiOptions::resolve(Some("light"), true, &cfg, "c.yaml", Some("1")).unwrap();
    assert_eq!(o.theme.name, "monochrome");
    assert!(o.read_only_reason.contains("--read-only"));
    // Errors name the file and the key.
    let err = UserConfig::parse("themes: dark\n", "c.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config c.yaml:") && err.contains("themes"),
        "{err}"
    );
    let bad = UserConfig::parse("keys:\n  table:\n    x: explode\n", "c.yaml").unwrap();
    let err = TuiOptions::resolve(None, false, &bad, "c.yaml", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("keys.table.x"), "{err}");
    assert_eq!(
        UserConfig::parse("", "c.yaml").unwrap(),
        UserConfig::default()
    );
    assert_eq!(
        UserConfig::load(Path::new("/nonexistent/config.yaml")).unwrap(),
        UserConfig::default()
    );
}

// ---------- fake backend ----------

#[test]
fn fake_backend_records_calls() {
    let b = fixtures::backend();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cart = RowKey {
        kind: RowKind::Service,
        namespace: "shop".into(),
        name: "cart".into(),
    };
    assert!(rt.block_on(b.load_diff(cart.clone())).is_ok());
    assert!(
        rt.block_on(b.load_object(SideName::Virtual, cart.clone()))
            .unwrap()
            .is_some()
    );
    assert!(rt.block_on(b.switch_context("nope".into())).is_err());
    assert_eq!(
        b.calls(),
        ["diff shop/cart", "object virtual shop/cart", "switch nope"]
    );
}

// ---------- the shell's wiring, without a terminal ----------

/// Drive `update` the way `run_tui` does: every effect goes to the backend and its answer comes
/// back as an action.
#[test]
fn effects_round_trip_through_the_fake_backend() {
    use vinspect::tui::run::effect_future;
    let backend = fixtures::backend();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut s = state(false);
    let drive = |s: &mut AppState, a: Action| {
        let mut queue = vec![a];
        let mut quit = false;
        while let Some(a) = queue.pop() {
            for e in update(s, a) {
                if e == Effect::Quit {
                    quit = true;
                } else if let Some(f) = effect_future(&backend, e) {
                    queue.push(rt.block_on(f));
                }
            }
        }
        quit
    };
    drive(&mut s, key('2'));
    select(&mut s, "shop", "cart");
    drive(&mut s, key('d'));
    assert!(matches!(&s.screen, Screen::Diff(v) if matches!(v.load, Load::Ready(_))));
    drive(&mut s, special(KeyCode::Esc));
    drive(&mut s, key('Y'));
    assert!(matches!(&s.screen, Screen::Yaml(v) if matches!(v.load, Load::Ready(Some(_)))));
    drive(&mut s, special(KeyCode::Esc));
    drive(&mut s, key('f'));
    drive(&mut s, key('y'));
    assert!(
        s.toast
            .as_ref()
            .unwrap()
            .text
            .starts_with("applied 1 change")
    );
    for c in ":ctx".chars() {
        drive(&mut s, key(c));
    }
    drive(&mut s, special(KeyCode::Enter));
    assert_eq!(s.mode(), Mode::Picker);
    drive(&mut s, key('j'));
    drive(&mut s, special(KeyCode::Enter));
    assert!(
        s.toast
            .as_ref()
            .unwrap()
            .text
            .starts_with("switched to vcluster_team-b")
    );
    assert!(drive(&mut s, key('q')));
    assert_eq!(
        backend.calls(),
        [
            "diff shop/cart",
            "object host shop/cart",
            "fix shop/cart",
            "contexts",
            "switch vcluster_team-b_vcluster-team-b_prod-eu1"
        ]
    );
}

// ---------- robustness ----------

#[test]
fn columns_fit_every_width() {
    for w in 0..=300u16 {
        let cols = layout::columns(w);
        let end = cols.iter().map(|(_, x, cw)| x + cw).max().unwrap_or(0);
        assert!(end <= w, "width {w}: columns end at {end}");
        if w >= 60 {
            assert_eq!(
                cols.len(),
                if w >= 110 {
                    8
                } else if w >= 70 {
                    7
                } else {
                    6
                }
            );
            assert!(cols.iter().all(|(_, _, cw)| *cw > 0), "width {w}: {cols:?}");
        }
    }
}

fn arb_action() -> impl proptest::strategy::Strategy<Value = Action> {
    use proptest::prelude::*;
    let keys = prop::sample::select(vec![
        'q', 'j', 'k', 'g', 'G', '1', '2', '3', '4', '5', 'd', 'y', 'Y', '/', ':', 'p', 's', 'S',
        'f', 'F', '?', 'n', '!', 'a', 'c', ' ',
    ]);
    let specials = prop::sample::select(vec![
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Tab,
        KeyCode::BackTab,
        KeyCode::Backspace,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::PageUp,
        KeyCode::PageDown,
    ]);
    prop_oneof![
        6 => keys.prop_map(key),
        3 => specials.prop_map(special),
        1 => (0u16..130, 0u16..45).prop_map(|(x, y)| Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left), column: x, row: y, modifiers: KeyModifiers::NONE })),
        1 => (0u16..200, 0u16..60).prop_map(|(w, h)| Action::Resize(w, h)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any sequence of input leaves a consistent state that draws without panicking.
    #[test]
    fn random_input_never_breaks_the_state(actions in proptest::collection::vec(arb_action(), 1..60)) {
        let mut s = state(false);
        let theme = Theme::dark();
        for a in actions {
            update(&mut s, a);
            let n = s.visible().len();
            proptest::prop_assert!(n == 0 || s.selected < n);
            proptest::prop_assert!(s.offset <= s.selected.max(s.offset));
        }
        let (w, h) = s.size;
        let area = ratatui::layout::Rect::new(0, 0, w, h);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        vinspect::tui::views::render(&mut buf, area, &s, &theme);
    }
}

#[test]
fn indexed_filter_agrees_with_row_filter() {
    use vinspect::tui::filter::SearchIndex;
    let rows = rows_of(fixtures::scaled_rows(400));
    let index = SearchIndex::build(&rows);
    assert_eq!(index.len(), 400);
    for pat in [
        "",
        "c",
        "crt",
        "team-08web",
        "10.96",
        "!shop",
        "Cart",
        "x-team",
        "ö",
        "web.team-03",
        "/",
    ] {
        let q = Query::parse(pat);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                q.keeps_indexed(r, index.entry(i)),
                q.keeps_row(r),
                "{pat:?} row {i}"
            );
        }
    }
}
