//! What the list views (the pairs table and the DNS tab) share: the line shown when nothing is
//! visible, and the window of visible entries from the scroll offset with the selection bar.

use super::text::put;
use crate::tui::app::AppState;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// One entry on screen.
pub struct ListLine {
    pub y: u16,
    /// Index into the view's data (rows or DNS lines).
    pub index: usize,
    pub selected: bool,
}

/// The visible entries that fit in `body`, from the scroll offset, skipping indexes past the
/// view's data (`len` entries); the selected line's bar is already painted. With nothing
/// visible, `empty` is written instead and no line is returned.
pub fn list_lines(
    buf: &mut Buffer,
    body: Rect,
    state: &AppState,
    theme: &Theme,
    len: usize,
    empty: &str,
) -> Vec<ListLine> {
    if state.visible().is_empty() {
        if body.height > 0 {
            put(
                buf,
                body.x + 1,
                body.y,
                body.width.saturating_sub(1),
                empty,
                theme.muted,
            );
        }
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, &idx) in state
        .visible()
        .iter()
        .enumerate()
        .skip(state.offset)
        .take(body.height as usize)
    {
        if idx as usize >= len {
            continue;
        }
        let y = body.y + (i - state.offset) as u16;
        let selected = i == state.selected;
        if selected {
            buf.set_style(Rect::new(body.x, y, body.width, 1), theme.selection);
        }
        out.push(ListLine {
            y,
            index: idx as usize,
            selected,
        });
    }
    out
}
