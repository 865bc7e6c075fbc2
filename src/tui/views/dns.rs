//! The DNS tab: what the virtual cluster's DNS answers for each name, and why.

use super::list::list_lines;
use super::text::{put, put_hl};
use crate::tui::app::AppState;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// `(title, x, width)` for the four DNS columns.
fn columns(width: u16) -> [(&'static str, u16, u16); 4] {
    let problem = 7;
    let answer = 16.min(width / 5);
    let rest = width.saturating_sub(problem + answer + 3);
    let name = rest * 2 / 5;
    let expl = rest - name;
    [
        ("NAME", 0, name),
        ("ANSWER", name + 1, answer),
        ("STATE", name + answer + 2, problem),
        ("EXPLANATION", name + answer + problem + 3, expl),
    ]
}

pub fn render(buf: &mut Buffer, header: Rect, body: Rect, state: &AppState, theme: &Theme) {
    if header.height == 0 {
        return;
    }
    let cols = columns(header.width);
    for (t, x, w) in cols {
        put(buf, header.x + x, header.y, w, t, theme.table_header);
    }
    let empty = if state.data.dns.is_empty() {
        "no DNS answers yet"
    } else {
        "no DNS names match the filter (Esc clears it)"
    };
    let q = state.query();
    for line in list_lines(buf, body, state, theme, state.data.dns.len(), empty) {
        let Some(row) = state.data.dns.get(line.index) else {
            continue;
        };
        let (y, selected) = (line.y, line.selected);
        let pick = |s| if selected { theme.selection } else { s };
        let [(_, nx, nw), (_, ax, aw), (_, sx, sw), (_, ex, ew)] = cols;
        put_hl(
            buf,
            body.x + nx,
            y,
            nw,
            &row.name,
            pick(theme.base),
            theme.matched,
            &q.highlights(&row.name),
        );
        put_hl(
            buf,
            body.x + ax,
            y,
            aw,
            &row.answer,
            pick(theme.base),
            theme.matched,
            &q.highlights(&row.answer),
        );
        let (word, style) = if row.problem {
            ("problem", theme.status.error)
        } else {
            ("ok", theme.status.synced)
        };
        put(buf, body.x + sx, y, sw, word, pick(style));
        put(buf, body.x + ex, y, ew, &row.explanation, pick(theme.muted));
    }
}
