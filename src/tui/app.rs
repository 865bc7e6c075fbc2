//! The TUI's state and the one function that changes it.
//!
//! `update(&mut AppState, Action) -> Vec<Effect>` is pure: no clock, no terminal, no network.
//! Time arrives as `Action::Tick`, keys as `Action::Key`, data as `Action::Data`; whatever must
//! happen outside (load a diff, apply a fix, quit) leaves as an [`Effect`].

use super::diff::{self, DiffModel};
use super::filter::{Query, SearchIndex};
use super::keymap::{Cmd, KeySpec, Keymap, Mode};
use super::types::{DataUpdate, DiffSource, FixOutcome, FixRequest, RowKey};
use super::views::layout::{self, Regions};
use super::views::popups;
use super::yaml;
use crate::cluster::snapshot::ConnState;
use crate::engine::{Blocked, SideName};
use crate::inspect::{PairRow, RowKind, Status};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use std::sync::Arc;

/// The five tabs, in key order (1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Pods,
    Services,
    Ingresses,
    Replicated,
    Dns,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Pods,
        Tab::Services,
        Tab::Ingresses,
        Tab::Replicated,
        Tab::Dns,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Pods => "Pods",
            Tab::Services => "Services",
            Tab::Ingresses => "Ingresses",
            Tab::Replicated => "Replicated",
            Tab::Dns => "DNS",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// Which pair kinds the tab lists (Endpoints and EndpointSlice pairs sit with their Services).
    pub fn holds(self, kind: RowKind) -> bool {
        match self {
            Tab::Pods => kind == RowKind::Pod,
            Tab::Services => matches!(
                kind,
                RowKind::Service | RowKind::Endpoints | RowKind::EndpointSlice
            ),
            Tab::Ingresses => kind == RowKind::Ingress,
            Tab::Replicated => matches!(
                kind,
                RowKind::ReplicatedFromHost | RowKind::ReplicatedToHost
            ),
            Tab::Dns => false,
        }
    }
}

/// Table columns, also the sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Namespace,
    Name,
    Status,
    Virtual,
    HostTwin,
    Host,
    Dns,
    Age,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Namespace,
        Column::Name,
        Column::Status,
        Column::Virtual,
        Column::HostTwin,
        Column::Host,
        Column::Dns,
        Column::Age,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Namespace => "NAMESPACE",
            Column::Name => "NAME",
            Column::Status => "STATUS",
            Column::Virtual => "VIRTUAL",
            Column::HostTwin => "HOST TWIN",
            Column::Host => "HOST",
            Column::Dns => "DNS",
            Column::Age => "AGE",
        }
    }
}

/// Something that may still be on its way from the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiffView {
    pub key: RowKey,
    pub load: Load<DiffModel>,
    pub scroll: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct YamlView {
    pub key: RowKey,
    pub side: SideName,
    /// `Ready(None)`: the object does not exist on that side.
    pub load: Load<Option<Vec<String>>>,
    pub scroll: usize,
}

/// What fills the body.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Table,
    Diff(DiffView),
    Yaml(YamlView),
}

/// Overlays that take the keyboard until closed.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help {
        scroll: usize,
    },
    /// `y` applies `fixes`; `skipped` lists problem rows left out and why (for `F`).
    ConfirmFix {
        title: String,
        fixes: Vec<FixRequest>,
        skipped: Vec<String>,
        scroll: usize,
    },
    /// An explanation instead of an action (read-only, squatter, blocked plan).
    Message {
        title: String,
        lines: Vec<String>,
    },
    Picker {
        contexts: Vec<String>,
        selected: usize,
    },
}

/// The line being typed after `/` or `:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    None,
    Filter(String),
    Command(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub text: String,
    pub error: bool,
    pub expires: DateTime<Utc>,
}

/// How long a toast stays up.
const TOAST_SECS: i64 = 6;
/// Rows moved by one wheel notch.
const WHEEL_STEP: usize = 3;

/// Everything the UI shows. Only [`update`] writes to it.
#[derive(Debug, Clone)]
pub struct AppState {
    pub data: DataUpdate,
    pub tab: Tab,
    /// Index into `visible`.
    pub selected: usize,
    /// First visible row of the table.
    pub offset: usize,
    /// The applied `/` filter text (`!` prefix inverts).
    pub filter: String,
    pub input: Input,
    pub problems_only: bool,
    /// `:ns NAME`: only this virtual namespace.
    pub namespace: Option<String>,
    pub sort: Column,
    pub sort_desc: bool,
    pub show_detail: bool,
    pub screen: Screen,
    pub popup: Option<Popup>,
    pub toast: Option<Toast>,
    pub read_only: bool,
    /// Why writes are off (`--read-only`, `read_only: true` in config, …).
    pub read_only_reason: String,
    pub keymap: Keymap,
    pub size: (u16, u16),
    pub now: DateTime<Utc>,
    /// A fix is in flight.
    pub fixing: bool,
    /// Set by `update` when the screen must be redrawn; the shell clears it after drawing.
    pub dirty: bool,
    /// Rows per status over all pairs: indexes follow [`status_slot`].
    pub counts: [usize; 8],
    /// DNS answers that are problems.
    pub dns_problems: usize,
    /// `(rows, problem rows)` per tab, in [`Tab::ALL`] order.
    pub tab_counts: [(usize, usize); 5],
    /// Current tab's rows after namespace/problems filters, sorted (indexes into data).
    base: Vec<u32>,
    /// `base` after the `/` filter.
    visible: Vec<u32>,
    /// The query `visible` was computed with, to narrow incrementally while typing.
    applied: Query,
    /// Filter fields of every row, built when a filter needs it and dropped when new rows
    /// arrive (under churn, rows arrive several times a second and most of the time nobody
    /// is filtering).
    index: Option<SearchIndex>,
}

/// Slot of a status in [`AppState::counts`]; also the display order in the header.
pub fn status_slot(s: &Status) -> usize {
    match s {
        Status::Synced => 0,
        Status::Drift { .. } => 1,
        Status::Missing => 2,
        Status::Orphan => 3,
        Status::Squatter => 4,
        Status::Waiting { .. } => 5,
        Status::Error { .. } => 6,
        Status::Disabled => 7,
    }
}

pub const STATUS_WORDS: [&str; 8] = [
    "synced", "drift", "missing", "orphan", "squatter", "waiting", "error", "disabled",
];

/// Inputs to [`update`].
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    /// A command without a key (tests, the mouse).
    Cmd(Cmd),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Tick(DateTime<Utc>),
    Data(DataUpdate),
    DiffLoaded {
        key: RowKey,
        result: Result<DiffSource, String>,
    },
    ObjectLoaded {
        side: SideName,
        key: RowKey,
        result: Result<Option<serde_json::Value>, String>,
    },
    FixDone(Vec<FixOutcome>),
    ContextsLoaded(Result<Vec<String>, String>),
    ContextSwitched {
        context: String,
        result: Result<(), String>,
    },
}

/// Requests to the outside world; the shell hands them to the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    Fix(Vec<FixRequest>),
    LoadDiff { key: RowKey },
    LoadYaml { side: SideName, key: RowKey },
    ListContexts,
    SwitchContext(String),
}

impl AppState {
    pub fn new(keymap: Keymap, read_only: bool, read_only_reason: &str) -> Self {
        Self {
            data: DataUpdate::default(),
            tab: Tab::Pods,
            selected: 0,
            offset: 0,
            filter: String::new(),
            input: Input::None,
            problems_only: false,
            namespace: None,
            sort: Column::Namespace,
            sort_desc: false,
            show_detail: false,
            screen: Screen::Table,
            popup: None,
            toast: None,
            read_only,
            read_only_reason: read_only_reason.to_string(),
            keymap,
            size: (80, 24),
            now: DateTime::<Utc>::UNIX_EPOCH,
            fixing: false,
            dirty: true,
            counts: [0; 8],
            dns_problems: 0,
            tab_counts: [(0, 0); 5],
            base: Vec::new(),
            visible: Vec::new(),
            applied: Query::default(),
            index: None,
        }
    }

    /// The mode that decides how keys resolve.
    pub fn mode(&self) -> Mode {
        match &self.popup {
            Some(Popup::Help { .. }) => return Mode::Help,
            Some(Popup::ConfirmFix { .. }) => return Mode::Confirm,
            Some(Popup::Message { .. }) => return Mode::Message,
            Some(Popup::Picker { .. }) => return Mode::Picker,
            None => {}
        }
        match (&self.input, &self.screen) {
            (Input::Filter(_), _) => Mode::Filter,
            (Input::Command(_), _) => Mode::Command,
            (_, Screen::Diff(_)) => Mode::Diff,
            (_, Screen::Yaml(_)) => Mode::Yaml,
            _ => Mode::Table,
        }
    }

    /// Indexes (into `data.rows`, or `data.dns` on the DNS tab) of the rows shown, in order.
    pub fn visible(&self) -> &[u32] {
        &self.visible
    }

    pub fn visible_rows(&self) -> impl Iterator<Item = &PairRow> {
        self.visible
            .iter()
            .filter_map(|&i| self.data.rows.get(i as usize).map(|r| &**r))
    }

    pub fn selected_row(&self) -> Option<&PairRow> {
        if self.tab == Tab::Dns {
            return None;
        }
        let i = *self.visible.get(self.selected)?;
        self.data.rows.get(i as usize).map(|r| &**r)
    }

    pub fn query(&self) -> &Query {
        &self.applied
    }

    /// Rows of the current tab before the `/` filter (the "n of m" in the title).
    pub fn base_len(&self) -> usize {
        self.base.len()
    }

    pub fn regions(&self) -> Regions {
        layout::layout(Rect::new(0, 0, self.size.0, self.size.1), self)
    }

    fn toast(&mut self, text: impl Into<String>, error: bool) {
        self.toast = Some(Toast {
            text: text.into(),
            error,
            expires: self.now + chrono::Duration::seconds(TOAST_SECS),
        });
    }

    fn selected_key(&self) -> Option<RowKey> {
        self.selected_row().map(RowKey::of)
    }

    /// Rebuild `base` (tab, namespace, problems, sort) and then `visible`, keeping the selected
    /// pair selected when it is still there.
    fn rebuild(&mut self) {
        let keep = self.selected_key();
        self.rebuild_keeping(keep);
    }

    fn rebuild_keeping(&mut self, keep: Option<RowKey>) {
        self.base = if self.tab == Tab::Dns {
            (0..self.data.dns.len() as u32)
                .filter(|&i| !self.problems_only || self.data.dns[i as usize].problem)
                .collect()
        } else {
            let mut base: Vec<u32> = self
                .data
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    self.tab.holds(r.kind)
                        && (!self.problems_only || r.status.is_problem())
                        && self.namespace.as_ref().is_none_or(|ns| &r.namespace == ns)
                })
                .map(|(i, _)| i as u32)
                .collect();
            sort_rows(&mut base, &self.data.rows, self.sort, self.sort_desc);
            base
        };
        self.applied = Query::default();
        self.refilter();
        if let Some(key) = keep
            && let Some(pos) = self
                .visible
                .iter()
                .position(|&i| key.matches(&self.data.rows[i as usize]))
        {
            self.selected = pos;
        }
        self.clamp();
    }

    /// Recompute `visible` from `base` for the current filter text.
    fn refilter(&mut self) {
        let q = Query::parse(&self.filter);
        let from: &[u32] = if q.narrows(&self.applied) && !self.applied.is_empty() {
            &self.visible
        } else {
            &self.base
        };
        let next: Vec<u32> = if q.is_empty() {
            self.base.clone()
        } else if self.tab == Tab::Dns {
            from.iter()
                .copied()
                .filter(|&i| q.keeps_dns(&self.data.dns[i as usize]))
                .collect()
        } else {
            let rows = &self.data.rows;
            let index = self.index.get_or_insert_with(|| SearchIndex::build(rows));
            from.iter()
                .copied()
                .filter(|&i| q.keeps_indexed(&rows[i as usize], index.entry(i as usize)))
                .collect()
        };
        self.visible = next;
        self.applied = q;
        self.clamp();
    }

    /// Rows that fit in the table body.
    pub fn page(&self) -> usize {
        (self.regions().table_body.height as usize).max(1)
    }

    fn clamp(&mut self) {
        let n = self.visible.len();
        if n == 0 {
            self.selected = 0;
            self.offset = 0;
            return;
        }
        self.selected = self.selected.min(n - 1);
        let page = self.page();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(n.saturating_sub(page));
    }

    fn move_selection(&mut self, delta: isize) {
        let n = self.visible.len();
        if n == 0 {
            return;
        }
        let cur = self.selected as isize + delta;
        self.selected = cur.clamp(0, n as isize - 1) as usize;
        self.clamp();
    }

    fn set_tab(&mut self, tab: Tab) {
        if self.tab != tab {
            self.tab = tab;
            self.selected = 0;
            self.offset = 0;
            self.rebuild();
        }
    }
}

/// Sort row indexes by a column; ties fall back to namespace/name so the order is stable.
fn sort_rows(idx: &mut [u32], rows: &[Arc<PairRow>], col: Column, desc: bool) {
    // Keys borrow from the rows: this runs on every update, and at 50,000 rows cloning two
    // strings per row for the key was most of the TUI thread's time under churn.
    let row = |i: u32| &*rows[i as usize];
    fn key_ns(r: &PairRow) -> (&str, &str) {
        (r.namespace.as_str(), r.name.as_str())
    }
    match col {
        Column::Namespace => idx.sort_by_cached_key(|&i| key_ns(row(i))),
        Column::Name => idx.sort_by_cached_key(|&i| {
            let r = row(i);
            (r.name.as_str(), r.namespace.as_str())
        }),
        Column::Status => idx.sort_by_cached_key(|&i| {
            let r = row(i);
            // Problems first: a status sort is how operators triage.
            let slot = status_slot(&r.status);
            let rank = if slot == 0 { 8 } else { slot };
            (rank, key_ns(r))
        }),
        Column::Virtual => idx.sort_by_cached_key(|&i| (side_sort_key(&row(i).virtual_side), i)),
        Column::Host => idx.sort_by_cached_key(|&i| (side_sort_key(&row(i).host), i)),
        Column::HostTwin => idx.sort_by_cached_key(|&i| row(i).host.name.as_str()),
        Column::Dns => {
            idx.sort_by_cached_key(|&i| row(i).dns.virtual_names.first().map_or("", String::as_str))
        }
        Column::Age => idx.sort_by_cached_key(|&i| {
            // Newest first reads naturally for ages; `desc` flips it like any other column.
            std::cmp::Reverse(created_of(row(i)).unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
        }),
    }
    if desc {
        idx.reverse();
    }
}

/// IPs sort numerically (unparsable ones first), states after them.
fn side_sort_key(s: &crate::inspect::SideView) -> (u8, Option<std::net::IpAddr>, &str) {
    match s.ip.as_deref() {
        Some(ip) => (0, ip.parse().ok(), ip),
        None => (1, None, s.state.as_deref().unwrap_or_default()),
    }
}

/// When the pair was created: the virtual object's time, else the host's.
pub fn created_of(r: &PairRow) -> Option<DateTime<Utc>> {
    r.virtual_side
        .created
        .as_deref()
        .or(r.host.created.as_deref())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `45s`, `12m`, `3h`, `5d`: kubectl's short ages.
pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    let Some(then) = then else {
        return "-".to_string();
    };
    let s = (now - then).num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Apply one action. Returns what the outside world must do.
pub fn update(state: &mut AppState, action: Action) -> Vec<Effect> {
    let mut redraw = true;
    let effects = match action {
        Action::Key(ev) => on_key(state, ev),
        Action::Cmd(cmd) => run_cmd(state, cmd),
        Action::Mouse(ev) => on_mouse(state, ev),
        Action::Resize(w, h) => {
            state.size = (w, h);
            state.clamp();
            Vec::new()
        }
        Action::Tick(now) => {
            let minute_changed = now.timestamp() / 60 != state.now.timestamp() / 60;
            state.now = now;
            let expired = state.toast.as_ref().is_some_and(|t| t.expires <= now);
            if expired {
                state.toast = None;
            }
            // Nothing on screen changed otherwise: leave `dirty` alone so idle costs nothing.
            redraw = minute_changed || expired;
            Vec::new()
        }
        Action::Data(d) => {
            state.counts = [0; 8];
            state.tab_counts = [(0, 0); 5];
            for r in d.rows.iter() {
                state.counts[status_slot(&r.status)] += 1;
                if let Some(t) = Tab::ALL.iter().position(|t| t.holds(r.kind)) {
                    state.tab_counts[t].0 += 1;
                    state.tab_counts[t].1 += usize::from(r.status.is_problem());
                }
            }
            state.dns_problems = d.dns.iter().filter(|r| r.problem).count();
            state.tab_counts[Tab::Dns.index()] = (d.dns.len(), state.dns_problems);
            // The key must be read before the rows it indexes are replaced.
            let keep = state.selected_key();
            if !Arc::ptr_eq(&d.rows, &state.data.rows) {
                state.index = None;
            }
            state.data = d;
            state.rebuild_keeping(keep);
            Vec::new()
        }
        Action::DiffLoaded { key, result } => {
            if let Screen::Diff(v) = &mut state.screen
                && v.key == key
            {
                v.load = match result {
                    Ok(src) => {
                        let model = diff::build(&src);
                        // Open at the first difference, with a little context above it.
                        v.scroll = model
                            .lines
                            .iter()
                            .position(|l| l.kind != diff::LineKind::Same)
                            .map_or(0, |i| i.saturating_sub(3));
                        Load::Ready(model)
                    }
                    Err(e) => Load::Failed(e),
                };
            }
            Vec::new()
        }
        Action::ObjectLoaded { side, key, result } => {
            if let Screen::Yaml(v) = &mut state.screen
                && v.key == key
                && v.side == side
            {
                v.load = match result {
                    Ok(obj) => Load::Ready(obj.as_ref().map(yaml::object_lines)),
                    Err(e) => Load::Failed(e),
                };
            }
            Vec::new()
        }
        Action::FixDone(outcomes) => {
            state.fixing = false;
            let ok = outcomes.iter().filter(|o| o.result.is_ok()).count();
            let failed: Vec<&FixOutcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
            match failed.first() {
                None => state.toast(
                    format!("applied {ok} change(s); the rows update from the watch"),
                    false,
                ),
                Some(first) => {
                    let why = first.result.as_ref().err().cloned().unwrap_or_default();
                    state.toast(
                        format!(
                            "{} of {} change(s) failed: {} {}: {why}",
                            failed.len(),
                            outcomes.len(),
                            first.verb,
                            first.target
                        ),
                        true,
                    );
                }
            }
            Vec::new()
        }
        Action::ContextsLoaded(result) => {
            match result {
                Ok(contexts) if contexts.is_empty() => {
                    state.toast("no vcluster_* contexts in the kubeconfig", true)
                }
                Ok(contexts) => {
                    let selected = contexts
                        .iter()
                        .position(|c| *c == state.data.virtual_context)
                        .unwrap_or(0);
                    state.toast = None;
                    state.popup = Some(Popup::Picker { contexts, selected });
                }
                Err(e) => state.toast(format!("cannot list contexts: {e}"), true),
            }
            Vec::new()
        }
        Action::ContextSwitched { context, result } => {
            match result {
                Ok(()) => state.toast(format!("switched to {context}"), false),
                Err(e) => state.toast(format!("cannot switch to {context}: {e}"), true),
            }
            Vec::new()
        }
    };
    if redraw {
        state.dirty = true;
    }
    effects
}

fn on_key(state: &mut AppState, ev: KeyEvent) -> Vec<Effect> {
    let key = KeySpec::from_event(&ev);
    let mode = state.mode();
    let cmd = state.keymap.resolve(mode, key);
    match mode {
        Mode::Message => match cmd {
            Some(Cmd::Quit) => vec![Effect::Quit],
            _ => {
                state.popup = None;
                Vec::new()
            }
        },
        Mode::Confirm => match cmd {
            Some(c @ (Cmd::Confirm | Cmd::Up | Cmd::Down | Cmd::PageUp | Cmd::PageDown)) => {
                run_cmd(state, c)
            }
            _ => {
                state.popup = None;
                state.toast("fix cancelled: nothing was written", false);
                Vec::new()
            }
        },
        Mode::Filter | Mode::Command => match (cmd, ev.code) {
            (Some(c), _) => run_cmd(state, c),
            (None, KeyCode::Char(c))
                if !ev
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                match &mut state.input {
                    Input::Filter(text) => {
                        text.push(c);
                        state.filter = text.clone();
                        state.refilter();
                    }
                    Input::Command(text) => text.push(c),
                    Input::None => {}
                }
                Vec::new()
            }
            _ => Vec::new(),
        },
        _ => match cmd {
            Some(c) => run_cmd(state, c),
            None => Vec::new(),
        },
    }
}

/// Move a scroll position, never past the last line of the content (views clamp further to
/// fill the screen, so `k` always moves back at once).
fn scroll(pos: &mut usize, delta: isize, len: usize) {
    let max = len.saturating_sub(1) as isize;
    *pos = (*pos as isize).saturating_add(delta).clamp(0, max.max(0)) as usize;
}

fn run_cmd(state: &mut AppState, cmd: Cmd) -> Vec<Effect> {
    let mode = state.mode();
    let page = state.page() as isize;
    let step = match cmd {
        Cmd::Up => Some(-1),
        Cmd::Down => Some(1),
        Cmd::PageUp => Some(-page),
        Cmd::PageDown => Some(page),
        Cmd::Top => Some(isize::MIN / 2),
        Cmd::Bottom => Some(isize::MAX / 2),
        _ => None,
    };
    if let Some(delta) = step {
        let popup_len = state
            .popup
            .as_ref()
            .map_or(0, |p| popups::content_len(p, &state.keymap));
        match (&mut state.popup, &mut state.screen) {
            (Some(Popup::Help { scroll: s }), _)
            | (Some(Popup::ConfirmFix { scroll: s, .. }), _) => scroll(s, delta, popup_len),
            (Some(Popup::Picker { contexts, selected }), _) => {
                let n = contexts.len().max(1) as isize;
                *selected = (*selected as isize + delta).clamp(0, n - 1) as usize;
            }
            (Some(Popup::Message { .. }), _) => {}
            (None, Screen::Diff(v)) => {
                let len = match &v.load {
                    Load::Ready(m) => m.lines.len(),
                    _ => 0,
                };
                scroll(&mut v.scroll, delta, len)
            }
            (None, Screen::Yaml(v)) => {
                let len = match &v.load {
                    Load::Ready(Some(l)) => l.len(),
                    _ => 0,
                };
                scroll(&mut v.scroll, delta, len)
            }
            (None, Screen::Table) => state.move_selection(delta),
        }
        return Vec::new();
    }
    match cmd {
        Cmd::Quit => return vec![Effect::Quit],
        Cmd::NextTab => {
            let i = (state.tab.index() + 1) % Tab::ALL.len();
            state.set_tab(Tab::ALL[i]);
        }
        Cmd::PrevTab => {
            let i = (state.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len();
            state.set_tab(Tab::ALL[i]);
        }
        Cmd::GoTab(i) => {
            if let Some(t) = Tab::ALL.get(i as usize) {
                state.set_tab(*t);
            }
        }
        Cmd::ToggleDetail => {
            if state.tab != Tab::Dns {
                state.show_detail = !state.show_detail;
                state.clamp();
            }
        }
        Cmd::Diff => {
            if let Some(key) = state.selected_key() {
                state.screen = Screen::Diff(DiffView {
                    key: key.clone(),
                    load: Load::Loading,
                    scroll: 0,
                });
                return vec![Effect::LoadDiff { key }];
            }
        }
        Cmd::YamlVirtual | Cmd::YamlHost => {
            let side = if cmd == Cmd::YamlHost {
                SideName::Host
            } else {
                SideName::Virtual
            };
            if let Some(key) = state.selected_key() {
                return open_yaml(state, key, side);
            }
        }
        Cmd::OtherSide => {
            if let Screen::Yaml(v) = &state.screen {
                let side = match v.side {
                    SideName::Virtual => SideName::Host,
                    SideName::Host => SideName::Virtual,
                };
                let key = v.key.clone();
                return open_yaml(state, key, side);
            }
        }
        Cmd::Help => state.popup = Some(Popup::Help { scroll: 0 }),
        Cmd::Back => match mode {
            Mode::Filter => {
                state.input = Input::None;
                state.filter.clear();
                state.refilter();
            }
            Mode::Command => state.input = Input::None,
            Mode::Help | Mode::Picker | Mode::Message | Mode::Confirm => state.popup = None,
            Mode::Diff | Mode::Yaml => state.screen = Screen::Table,
            Mode::Table => {
                if state.show_detail {
                    state.show_detail = false;
                    state.clamp();
                } else if !state.filter.is_empty() {
                    state.filter.clear();
                    state.refilter();
                }
            }
        },
        Cmd::StartFilter => {
            state.filter.clear();
            state.refilter();
            state.input = Input::Filter(String::new());
        }
        Cmd::StartCommand => state.input = Input::Command(String::new()),
        Cmd::ToggleProblems => {
            state.problems_only = !state.problems_only;
            state.rebuild();
        }
        Cmd::SortNext => {
            let i = Column::ALL
                .iter()
                .position(|c| *c == state.sort)
                .unwrap_or(0);
            state.sort = Column::ALL[(i + 1) % Column::ALL.len()];
            state.rebuild();
        }
        Cmd::SortReverse => {
            state.sort_desc = !state.sort_desc;
            state.rebuild();
        }
        Cmd::Fix => fix_selected(state),
        Cmd::FixAll => fix_all(state),
        Cmd::Confirm => {
            if let Some(Popup::ConfirmFix { fixes, .. }) = state.popup.take() {
                let n: usize = fixes.iter().map(|f| f.plan.changes.len()).sum();
                state.fixing = true;
                state.toast(format!("applying {n} change(s)…"), false);
                return vec![Effect::Fix(fixes)];
            }
        }
        Cmd::Cancel => state.popup = None,
        Cmd::Submit => match (mode, std::mem::replace(&mut state.input, Input::None)) {
            (Mode::Command, Input::Command(text)) => return run_command_line(state, &text),
            (Mode::Picker, _) => {
                if let Some(Popup::Picker { contexts, selected }) = state.popup.take()
                    && let Some(ctx) = contexts.get(selected)
                {
                    state.toast(format!("switching to {ctx}…"), false);
                    return vec![Effect::SwitchContext(ctx.clone())];
                }
            }
            _ => {}
        },
        Cmd::DeleteChar => match &mut state.input {
            Input::Filter(text) => {
                text.pop();
                state.filter = text.clone();
                state.refilter();
            }
            Input::Command(text) => {
                text.pop();
            }
            Input::None => {}
        },
        // Movement was handled above.
        Cmd::Up | Cmd::Down | Cmd::PageUp | Cmd::PageDown | Cmd::Top | Cmd::Bottom => {}
    }
    Vec::new()
}

fn open_yaml(state: &mut AppState, key: RowKey, side: SideName) -> Vec<Effect> {
    state.screen = Screen::Yaml(YamlView {
        key: key.clone(),
        side,
        load: Load::Loading,
        scroll: 0,
    });
    vec![Effect::LoadYaml { side, key }]
}

fn run_command_line(state: &mut AppState, line: &str) -> Vec<Effect> {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Vec::new();
    };
    let arg = words.next();
    let tab = match cmd {
        "pods" | "pod" | "po" => Some(Tab::Pods),
        "svc" | "services" | "service" => Some(Tab::Services),
        "ing" | "ingresses" | "ingress" => Some(Tab::Ingresses),
        "rep" | "replicated" => Some(Tab::Replicated),
        "dns" => Some(Tab::Dns),
        _ => None,
    };
    if let Some(t) = tab {
        state.set_tab(t);
        return Vec::new();
    }
    match (cmd, arg) {
        ("q" | "q!" | "quit", _) => vec![Effect::Quit],
        ("ns" | "namespace", None | Some("all" | "-" | "*")) => {
            state.namespace = None;
            state.rebuild();
            Vec::new()
        }
        ("ns" | "namespace", Some(ns)) => {
            state.namespace = Some(ns.to_string());
            state.selected = 0;
            state.rebuild();
            if state.base.is_empty() {
                state.toast(format!("no pairs in namespace {ns} on this tab"), false);
            }
            Vec::new()
        }
        ("ctx" | "context", None) => {
            state.toast("listing vcluster_* contexts…", false);
            vec![Effect::ListContexts]
        }
        ("ctx" | "context", Some(name)) => {
            state.toast(format!("switching to {name}…"), false);
            vec![Effect::SwitchContext(name.to_string())]
        }
        ("help", _) => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        ("problems", _) => {
            state.problems_only = !state.problems_only;
            state.rebuild();
            Vec::new()
        }
        _ => {
            state.toast(
                format!(
                    "unknown command \":{}\" (try :pods :svc :ing :rep :dns :ns NAME :ctx [NAME] :q)",
                    line.trim()
                ),
                true,
            );
            Vec::new()
        }
    }
}

/// What `f` cannot do for a row, as an explanation popup; `None` when the plan can be applied.
fn refusal(state: &AppState, row: &PairRow) -> Option<Popup> {
    let id = format!("{} {}/{}", kind_word(row.kind), row.namespace, row.name);
    if state.read_only {
        let mut lines = vec![
            format!("Writes are off: {}.", state.read_only_reason),
            "No request that changes a cluster can leave vinspect in this mode.".to_string(),
        ];
        if !row.plan.changes.is_empty() {
            lines.push(String::new());
            lines.push(format!("A fix of {id} would:"));
            for c in &row.plan.changes {
                lines.push(format!("  {} {} — {}", c.action.verb(), c.target, c.reason));
            }
        }
        lines.push(String::new());
        lines.push(
            "To fix, restart without --read-only (and without read_only: true in the config)."
                .to_string(),
        );
        return Some(Popup::Message {
            title: "READ-ONLY".to_string(),
            lines,
        });
    }
    let blocked = match (&row.plan.blocked, &row.status) {
        (Some(Blocked::Squatter { message }), _) => Some(("Squatter: not fixed", message.clone())),
        (None, Status::Squatter) => Some(("Squatter: not fixed", row.reason.clone())),
        (Some(Blocked::Waiting { message }), _) => {
            Some(("Waiting: nothing to apply yet", message.clone()))
        }
        (Some(Blocked::Disabled { message }), _) => Some(("Sync disabled", message.clone())),
        _ => None,
    };
    if let Some((title, message)) = blocked {
        let mut lines = vec![id.clone(), String::new(), message];
        if title.starts_with("Squatter") {
            lines.push(String::new());
            lines.push(format!(
                "The host object {}/{} sits at this pair's twin name but is not managed by vCluster \"{}\".",
                row.host.namespace, row.host.name, state.data.vcluster
            ));
            lines.push(
                "vinspect never changes objects it does not own. Check who created it; once it can go, delete or rename it"
                    .to_string(),
            );
            lines.push(format!(
                "(kubectl --context {} -n {} delete {} {}) and the engine creates the twin.",
                state.data.host_context,
                row.host.namespace,
                kind_word(row.kind),
                row.host.name
            ));
        }
        return Some(Popup::Message {
            title: title.to_string(),
            lines,
        });
    }
    None
}

pub fn kind_word(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Pod => "pod",
        RowKind::Service | RowKind::ReplicatedFromHost | RowKind::ReplicatedToHost => "service",
        RowKind::Endpoints => "endpoints",
        RowKind::EndpointSlice => "endpointslice",
        RowKind::Ingress => "ingress",
    }
}

fn fix_selected(state: &mut AppState) {
    let Some(row) = state.selected_row() else {
        let msg = if state.tab == Tab::Dns {
            "DNS answers follow the pairs: fix the Service pairs on the Services tab"
        } else {
            "no pair selected"
        };
        state.toast(msg, false);
        return;
    };
    if let Some(popup) = refusal(state, row) {
        state.popup = Some(popup);
        return;
    }
    if row.plan.changes.is_empty() {
        let msg = format!("{}/{} is in line: nothing to fix", row.namespace, row.name);
        state.toast(msg, false);
        return;
    }
    let fix = FixRequest {
        key: RowKey::of(row),
        plan: row.plan.clone(),
    };
    let title = format!(
        "Fix {} {}/{}? {} change(s)",
        kind_word(row.kind),
        row.namespace,
        row.name,
        row.plan.changes.len()
    );
    state.popup = Some(Popup::ConfirmFix {
        title,
        fixes: vec![fix],
        skipped: Vec::new(),
        scroll: 0,
    });
}

fn fix_all(state: &mut AppState) {
    if state.tab == Tab::Dns {
        state.toast(
            "DNS answers follow the pairs: fix the Service pairs on the Services tab",
            false,
        );
        return;
    }
    let problems: Vec<&PairRow> = state
        .visible_rows()
        .filter(|r| r.status.is_problem())
        .collect();
    if problems.is_empty() {
        state.toast("no problem pairs in this view", false);
        return;
    }
    if state.read_only {
        state.popup = Some(Popup::Message {
            title: "READ-ONLY".to_string(),
            lines: vec![
                format!("Writes are off: {}.", state.read_only_reason),
                format!(
                    "{} problem pair(s) in this view would be fixed; nothing can be written in this mode.",
                    problems.len()
                ),
                String::new(),
                "To fix, restart without --read-only (and without read_only: true in the config)."
                    .to_string(),
            ],
        });
        return;
    }
    let mut fixes = Vec::new();
    let mut skipped = Vec::new();
    for r in problems {
        let why = match (&r.plan.blocked, r.plan.changes.is_empty()) {
            (Some(Blocked::Squatter { .. }), _) => Some("squatter, never touched"),
            (Some(Blocked::Waiting { .. }), _) => Some("waiting"),
            (Some(Blocked::Disabled { .. }), _) => Some("sync disabled"),
            (None, true) => Some("no plan"),
            (None, false) => None,
        };
        match why {
            Some(w) => skipped.push(format!("{}/{}: {w}", r.namespace, r.name)),
            None => fixes.push(FixRequest {
                key: RowKey::of(r),
                plan: r.plan.clone(),
            }),
        }
    }
    if fixes.is_empty() {
        state.toast(
            format!(
                "nothing fixable in this view ({} problem pair(s) blocked; Enter shows why)",
                skipped.len()
            ),
            false,
        );
        return;
    }
    let n: usize = fixes.iter().map(|f| f.plan.changes.len()).sum();
    state.popup = Some(Popup::ConfirmFix {
        title: format!(
            "Fix {} pair(s) in {}? {n} change(s)",
            fixes.len(),
            state.tab.title()
        ),
        fixes,
        skipped,
        scroll: 0,
    });
}

fn on_mouse(state: &mut AppState, ev: MouseEvent) -> Vec<Effect> {
    let delta = match ev.kind {
        MouseEventKind::ScrollDown => Some(WHEEL_STEP as isize),
        MouseEventKind::ScrollUp => Some(-(WHEEL_STEP as isize)),
        _ => None,
    };
    if let Some(d) = delta {
        let cmd = if d > 0 { Cmd::Down } else { Cmd::Up };
        for _ in 0..WHEEL_STEP {
            run_cmd(state, cmd);
        }
        return Vec::new();
    }
    if ev.kind != MouseEventKind::Down(MouseButton::Left)
        || state.popup.is_some()
        || state.screen != Screen::Table
    {
        return Vec::new();
    }
    let r = state.regions();
    let (x, y) = (ev.column, ev.row);
    let inside = |a: Rect| x >= a.x && x < a.x + a.width && y >= a.y && y < a.y + a.height;
    if inside(r.tabs) {
        if let Some(t) = layout::tab_at_state(state, r.tabs, x) {
            state.set_tab(t);
        }
    } else if inside(r.table_header) && state.tab != Tab::Dns {
        if let Some(col) = layout::column_at(r.table_header, x) {
            if state.sort == col {
                state.sort_desc = !state.sort_desc;
            } else {
                state.sort = col;
                state.sort_desc = false;
            }
            state.rebuild();
        }
    } else if inside(r.table_body) {
        let i = state.offset + (y - r.table_body.y) as usize;
        if i < state.visible.len() {
            state.selected = i;
            state.clamp();
        }
    }
    Vec::new()
}

/// True when either side is not live: the header shows a banner for it.
pub fn dead_sides(d: &DataUpdate) -> Vec<(&'static str, &ConnState)> {
    [("virtual", &d.virtual_conn), ("host", &d.host_conn)]
        .into_iter()
        .filter(|(_, c)| matches!(c, ConnState::Error { .. } | ConnState::Retrying { .. }))
        .collect()
}
