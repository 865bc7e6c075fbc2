//! Drawing: read-only over [`AppState`]. Each file draws one part of the screen.
pub mod detail;
pub mod diff;
pub mod dns;
pub mod footer;
pub mod header;
pub mod layout;
pub mod list;
pub mod popups;
pub mod table;
pub mod text;
pub mod yaml;

use super::app::{AppState, Screen, Tab};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let area = frame.area();
    render(frame.buffer_mut(), area, state, theme);
}

/// Draw into a buffer (what `draw` does, without a terminal; benches use it directly).
pub fn render(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme) {
    buf.set_style(area, theme.base);
    let r = layout::layout(area, state);
    header::render(buf, r.header, r.banner, state, theme);
    match &state.screen {
        Screen::Table => {
            table::render_tabs(buf, r.tabs, state, theme);
            if state.tab == Tab::Dns {
                dns::render(buf, r.table_header, r.table_body, state, theme);
            } else {
                table::render(buf, r.table_header, r.table_body, state, theme);
                if r.detail.height > 0 {
                    detail::render(buf, r.detail, state, theme);
                }
            }
        }
        Screen::Diff(v) => diff::render(buf, r.body, v, theme),
        Screen::Yaml(v) => yaml::render(buf, r.body, v, theme),
    }
    footer::render(buf, r.footer, state, theme);
    footer::render_toast(buf, r.footer, state, theme);
    popups::render(buf, area, state, theme);
}
