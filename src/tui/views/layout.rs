//! Where everything goes, as a pure function of the terminal size and the state. Drawing and
//! mouse hit-testing both use it, so a click lands on what is drawn.

use crate::tui::app::{AppState, Column, Screen, Tab, dead_sides};
use ratatui::layout::Rect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Regions {
    pub header: Rect,
    /// One line per dead side (empty when both are live).
    pub banner: Rect,
    pub tabs: Rect,
    /// Column titles of the table.
    pub table_header: Rect,
    pub table_body: Rect,
    /// The detail pane (zero-sized when hidden).
    pub detail: Rect,
    /// Diff and YAML screens use the whole body.
    pub body: Rect,
    pub footer: Rect,
}

const HEADER_LINES: u16 = 2;

pub fn layout(area: Rect, state: &AppState) -> Regions {
    let banner_lines = dead_sides(&state.data).len() as u16;
    let mut y = area.y;
    let mut take = |h: u16| {
        let h = h.min(area.y + area.height - y);
        let r = Rect::new(area.x, y, area.width, h);
        y += h;
        r
    };
    let note_line = u16::from(super::header::note_on_own_line(state, area.width));
    let header = take(HEADER_LINES + note_line);
    let banner = take(banner_lines);
    let footer_y = (area.y + area.height).saturating_sub(1).max(y);
    let footer = Rect::new(
        area.x,
        footer_y,
        area.width,
        (area.y + area.height).saturating_sub(footer_y).min(1),
    );
    let rest = Rect::new(area.x, y, area.width, footer_y.saturating_sub(y));
    let mut r = Regions {
        header,
        banner,
        footer,
        body: rest,
        ..Regions::default()
    };
    if !matches!(state.screen, Screen::Table) {
        return r;
    }
    r.tabs = Rect::new(rest.x, rest.y, rest.width, rest.height.min(1));
    let below = Rect::new(
        rest.x,
        rest.y + r.tabs.height,
        rest.width,
        rest.height - r.tabs.height,
    );
    let detail_h = if state.show_detail && state.tab != Tab::Dns {
        // Small terminals give the pane most of the space: reading it is why it was opened.
        if below.height <= 20 {
            below.height.saturating_sub(5)
        } else {
            (below.height / 2).min(14)
        }
    } else {
        0
    };
    let table = Rect::new(below.x, below.y, below.width, below.height - detail_h);
    r.detail = Rect::new(below.x, table.y + table.height, below.width, detail_h);
    r.table_header = Rect::new(table.x, table.y, table.width, table.height.min(1));
    r.table_body = Rect::new(
        table.x,
        table.y + r.table_header.height,
        table.width,
        table.height - r.table_header.height,
    );
    r
}

/// Table columns for a width: `(column, x offset, width)`. DNS is dropped below 110 columns and
/// AGE below 70; the free columns share what is left by weight.
pub fn columns(width: u16) -> Vec<(Column, u16, u16)> {
    let mut cols: Vec<(Column, u16)> = vec![
        (Column::Namespace, 3),
        (Column::Name, 5),
        (Column::Status, 0),
        (Column::Virtual, 0),
        (Column::HostTwin, 6),
        (Column::Host, 0),
    ];
    if width >= 110 {
        cols.push((Column::Dns, 4));
    }
    if width >= 70 {
        cols.push((Column::Age, 0));
    }
    // IPv4 needs 15 columns; narrow screens give 12 (most pod and service IPs fit).
    let ip_w = if width >= 100 { 15 } else { 12 };
    let fixed = |c: Column| match c {
        Column::Status => 8,
        Column::Virtual | Column::Host => ip_w,
        Column::Age => 4,
        _ => 0,
    };
    let gaps = cols.len() as u16 - 1;
    let fixed_total: u16 = cols.iter().map(|(c, _)| fixed(*c)).sum();
    let free = width.saturating_sub(fixed_total + gaps);
    let weights: u16 = cols.iter().map(|(_, w)| *w).sum();
    let mut out = Vec::with_capacity(cols.len());
    let mut x = 0u16;
    let mut given = 0u16;
    let last_flex = cols.iter().rposition(|(_, w)| *w > 0).unwrap_or(0);
    for (i, (c, w)) in cols.iter().enumerate() {
        let cw = if *w == 0 {
            fixed(*c)
        } else if i == last_flex {
            free - given
        } else {
            let share = free * w / weights.max(1);
            given += share;
            share
        };
        // Tiny terminals: cut the last columns rather than draw past the edge.
        if x >= width {
            break;
        }
        out.push((*c, x, cw.min(width - x)));
        x = x.saturating_add(cw + 1);
    }
    out
}

pub fn column_at(header: Rect, x: u16) -> Option<Column> {
    let rel = x.checked_sub(header.x)?;
    columns(header.width)
        .into_iter()
        .find(|(_, cx, w)| rel >= *cx && rel < cx + w + 1)
        .map(|(c, _, _)| c)
}

/// Tab labels: ` 1 Pods 120 !3 `; when they do not fit in `width`, the totals go
/// (` 1 Pods !3 `) and only the problem counts stay.
pub fn tab_labels(state: &AppState, width: u16) -> Vec<(Tab, String)> {
    let label = |full: bool| {
        Tab::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (total, problems) = state.tab_counts[i];
                let mut l = format!(" {} {}", i + 1, t.title());
                if full {
                    l.push_str(&format!(" {total}"));
                }
                if problems > 0 {
                    l.push_str(&format!(" !{problems}"));
                }
                l.push(' ');
                (*t, l)
            })
            .collect::<Vec<_>>()
    };
    let full = label(true);
    let used: usize = full.iter().map(|(_, l)| l.chars().count() + 1).sum();
    if used <= width as usize {
        full
    } else {
        label(false)
    }
}

pub fn tab_at_state(state: &AppState, tabs: Rect, x: u16) -> Option<Tab> {
    let mut cx = tabs.x;
    for (t, label) in tab_labels(state, tabs.width) {
        let w = label.chars().count() as u16;
        if x >= cx && x < cx + w {
            return Some(t);
        }
        cx += w + 1;
    }
    None
}
