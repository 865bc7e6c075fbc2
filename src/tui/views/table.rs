//! The tab bar and the pairs table. Only the rows on screen are touched, so a frame costs the
//! same with 100 or 100,000 pairs.

use super::layout::{columns, tab_labels};
use super::list::list_lines;
use super::text::{put, put_hl};
use crate::cluster::snapshot::ConnState;
use crate::inspect::{PairRow, RowKind, SideView};
use crate::tui::app::{AppState, Column, age, created_of};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

pub fn render_tabs(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut x = area.x;
    let end = area.x + area.width;
    for (tab, label) in tab_labels(state, area.width) {
        if x >= end {
            break;
        }
        let style = if tab == state.tab {
            theme.accent.add_modifier(Modifier::REVERSED)
        } else {
            theme.muted
        };
        x += put(buf, x, area.y, end - x, &label, style);
        if x < end {
            put(buf, x, area.y, 1, "│", theme.border);
            x += 1;
        }
    }
    // Row count and active narrowing, right-aligned when there is room.
    let mut info = format!("{}/{}", state.visible().len(), state.base_len());
    if state.problems_only {
        info.push_str(" · problems");
    }
    if let Some(ns) = &state.namespace {
        info.push_str(&format!(" · ns {ns}"));
    }
    let info = format!(" {info} ");
    let w = info.chars().count() as u16;
    if x + w < end {
        put(buf, end - w, area.y, w, &info, theme.muted);
    }
}

/// The VIRTUAL/HOST cell: the IP, else the state (phase, type), else `-`; `absent` when the
/// object does not exist on that side.
pub fn side_cell(s: &SideView) -> String {
    if !s.exists {
        return "absent".to_string();
    }
    match (&s.ip, &s.state) {
        (Some(ip), _) => ip.clone(),
        (None, Some(st)) => st.clone(),
        (None, None) => "-".to_string(),
    }
}

/// Marks that distinguish kinds sharing a tab.
fn kind_suffix(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Endpoints => " (ep)",
        RowKind::EndpointSlice => " (eps)",
        RowKind::ReplicatedFromHost => " ←host",
        RowKind::ReplicatedToHost => " →host",
        _ => "",
    }
}

pub fn render(buf: &mut Buffer, header: Rect, body: Rect, state: &AppState, theme: &Theme) {
    if header.height == 0 {
        return;
    }
    let cols = columns(header.width);
    for (c, x, w) in &cols {
        let mut title = c.title().to_string();
        if *c == state.sort {
            title.push(if state.sort_desc { '↓' } else { '↑' });
        }
        put(buf, header.x + x, header.y, *w, &title, theme.table_header);
    }
    let connecting = |c: &ConnState| matches!(c, ConnState::Connecting);
    let loading = state.data.loading
        || connecting(&state.data.virtual_conn)
        || connecting(&state.data.host_conn);
    let empty = if state.base_len() == 0 && loading {
        "loading pairs…"
    } else if state.base_len() == 0 {
        "no pairs here yet"
    } else {
        "no pairs match the filter (Esc clears it)"
    };
    let q = state.query();
    for line in list_lines(buf, body, state, theme, state.data.rows.len(), empty) {
        let Some(row) = state.data.rows.get(line.index) else {
            continue;
        };
        let (y, selected) = (line.y, line.selected);
        draw_row(buf, body.x, y, &cols, row, state, theme, selected, q);
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_row(
    buf: &mut Buffer,
    x0: u16,
    y: u16,
    cols: &[(Column, u16, u16)],
    row: &PairRow,
    state: &AppState,
    theme: &Theme,
    selected: bool,
    q: &crate::tui::filter::Query,
) {
    let pick = |s| if selected { theme.selection } else { s };
    for &(c, x, w) in cols {
        let x = x0 + x;
        match c {
            Column::Namespace => {
                put_hl(
                    buf,
                    x,
                    y,
                    w,
                    &row.namespace,
                    pick(theme.base),
                    theme.matched,
                    &q.highlights(&row.namespace),
                );
            }
            Column::Name => {
                let used = put_hl(
                    buf,
                    x,
                    y,
                    w,
                    &row.name,
                    pick(theme.base),
                    theme.matched,
                    &q.highlights(&row.name),
                );
                let suffix = kind_suffix(row.kind);
                if !suffix.is_empty() && used < w {
                    put(buf, x + used, y, w - used, suffix, pick(theme.muted));
                }
            }
            Column::Status => {
                put(
                    buf,
                    x,
                    y,
                    w,
                    row.status.word(),
                    pick(theme.status(&row.status)),
                );
            }
            Column::Virtual | Column::Host => {
                let side = if c == Column::Virtual {
                    &row.virtual_side
                } else {
                    &row.host
                };
                let text = side_cell(side);
                let style = if row.ip_mismatch {
                    theme.mismatch
                } else if !side.exists {
                    theme.muted
                } else {
                    theme.base
                };
                put_hl(
                    buf,
                    x,
                    y,
                    w,
                    &text,
                    pick(style),
                    theme.matched,
                    &q.highlights(&text),
                );
            }
            Column::HostTwin => {
                let name = if row.host.name.is_empty() {
                    "-"
                } else {
                    row.host.name.as_str()
                };
                put_hl(
                    buf,
                    x,
                    y,
                    w,
                    name,
                    pick(theme.base),
                    theme.matched,
                    &q.highlights(name),
                );
            }
            Column::Dns => {
                let name = row.dns.virtual_names.first().map_or("-", String::as_str);
                put_hl(
                    buf,
                    x,
                    y,
                    w,
                    name,
                    pick(theme.muted),
                    theme.matched,
                    &q.highlights(name),
                );
            }
            Column::Age => {
                put(
                    buf,
                    x,
                    y,
                    w,
                    &age(state.now, created_of(row)),
                    pick(theme.muted),
                );
            }
        }
    }
}
