//! The footer: the input line while typing, else the key hints of the current mode (from the
//! keymap), the READ-ONLY badge and the active filter; toasts float just above it.

use super::text::put;
use crate::tui::app::{AppState, Input};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

pub fn render(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut spans = Vec::new();
    if state.read_only {
        spans.push(Span::styled(" READ-ONLY ", theme.read_only));
        spans.push(Span::raw(" "));
    }
    match &state.input {
        Input::Filter(text) => {
            spans.push(Span::styled("/", theme.key));
            spans.push(Span::styled(text.clone(), theme.base));
            spans.push(Span::styled(
                " ",
                theme.base.add_modifier(Modifier::REVERSED),
            ));
            spans.push(Span::styled(
                format!(
                    "  {} of {} · enter keeps · esc clears",
                    state.visible().len(),
                    state.base_len()
                ),
                theme.muted,
            ));
        }
        Input::Command(text) => {
            spans.push(Span::styled(":", theme.key));
            spans.push(Span::styled(text.clone(), theme.base));
            spans.push(Span::styled(
                " ",
                theme.base.add_modifier(Modifier::REVERSED),
            ));
            spans.push(Span::styled(
                "  pods svc ing rep dns · ns NAME · ctx [NAME] · q",
                theme.muted,
            ));
        }
        Input::None => {
            if !state.filter.is_empty() {
                spans.push(Span::styled(format!("/{} ", state.filter), theme.matched));
            }
            for (key, desc) in state.keymap.hints(state.mode()) {
                spans.push(Span::styled(key, theme.key));
                spans.push(Span::styled(format!(" {desc}  "), theme.muted));
            }
        }
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
}

pub fn render_toast(buf: &mut Buffer, footer: Rect, state: &AppState, theme: &Theme) {
    let Some(t) = &state.toast else {
        return;
    };
    if footer.y == 0 || footer.width < 10 {
        return;
    }
    let style = if t.error {
        theme.toast_error
    } else {
        theme.toast_info
    };
    let text = format!(" {} ", t.text);
    let w = (text.chars().count() as u16).min(footer.width);
    let x = footer.x + footer.width - w;
    let y = footer.y - 1;
    buf.set_style(Rect::new(x, y, w, 1), style);
    put(buf, x, y, w, &text, style);
}
