//! Writing text into a buffer: truncation with an ellipsis, and per-character highlights.

use crate::tui::app::Load;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};

/// Write `text` at (x, y) within `width` columns, cutting with `…` if too long.
/// Returns the columns used.
pub fn put(buf: &mut Buffer, x: u16, y: u16, width: u16, text: &str, style: Style) -> u16 {
    if width == 0 {
        return 0;
    }
    let w = Span::raw(text).width();
    if w <= width as usize {
        let (end, _) = buf.set_stringn(x, y, text, width as usize, style);
        return end - x;
    }
    let (end, _) = buf.set_stringn(x, y, text, width as usize - 1, style);
    buf.set_stringn(end, y, "…", 1, style);
    end + 1 - x
}

/// Like [`put`], with the characters at `positions` (char indexes) in `hl` patched over `style`.
// Position, width, text and two styles are all needed per cell; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn put_hl(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    width: u16,
    text: &str,
    style: Style,
    hl: Style,
    positions: &[usize],
) -> u16 {
    if positions.is_empty() || !text.is_ascii() {
        return put(buf, x, y, width, text, style);
    }
    let used = put(buf, x, y, width, text, style);
    let visible = if text.len() > width as usize {
        // A zero-width column (a very narrow terminal) shows nothing, not an underflow.
        (width as usize).saturating_sub(1)
    } else {
        text.len()
    };
    let area = buf.area;
    for &p in positions.iter().filter(|&&p| p < visible) {
        let cx = x + p as u16;
        if cx < area.x + area.width && y < area.y + area.height {
            let cell = &mut buf[(cx, y)];
            cell.set_style(style.patch(hl));
        }
    }
    used
}

/// `text` cut to `width` columns with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if Span::raw(text).width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let mut tmp = [0u8; 4];
        let cw = Span::raw(&*c.encode_utf8(&mut tmp)).width();
        if w + cw > width - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clear `area`, draw a bordered box with a title, return the inner area.
pub fn boxed(buf: &mut Buffer, area: Rect, title: &str, style: Style, border: Style) -> Rect {
    Clear.render(area, buf);
    buf.set_style(area, style);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(Span::styled(
            format!(" {} ", fit(title, area.width.saturating_sub(4) as usize)),
            border,
        )));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Write lines (already styled) into `area`, starting at line `scroll`. Returns the clamped
/// scroll actually used.
pub fn lines(buf: &mut Buffer, area: Rect, content: &[Line], scroll: usize) -> usize {
    let max = content.len().saturating_sub(area.height as usize);
    let scroll = scroll.min(max);
    for (i, line) in content
        .iter()
        .skip(scroll)
        .take(area.height as usize)
        .enumerate()
    {
        buf.set_line(area.x, area.y + i as u16, line, area.width);
    }
    scroll
}

/// What a screen loaded; else `None`, with "loading…" or the failure (`cannot load {what}: …`)
/// written on the first line of `inner`.
pub fn loaded<'a, T>(
    buf: &mut Buffer,
    inner: Rect,
    load: &'a Load<T>,
    what: &str,
    theme: &Theme,
) -> Option<&'a T> {
    match load {
        Load::Loading => {
            put(buf, inner.x, inner.y, inner.width, "loading…", theme.muted);
            None
        }
        Load::Failed(e) => {
            put(
                buf,
                inner.x,
                inner.y,
                inner.width,
                &format!("cannot load {what}: {e}"),
                theme.status.error,
            );
            None
        }
        Load::Ready(t) => Some(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighted_text_in_a_zero_width_column_draws_nothing() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        let used = put_hl(
            &mut buf,
            0,
            0,
            0,
            "abc",
            Style::new(),
            Style::new(),
            &[0, 1],
        );
        assert_eq!(used, 0);
        assert_eq!(buf[(0, 0)].symbol(), " ");
    }

    #[test]
    fn highlighted_text_cut_to_its_column_keeps_the_ellipsis() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 1));
        let used = put_hl(
            &mut buf,
            0,
            0,
            3,
            "abcdef",
            Style::new(),
            Style::new(),
            &[0],
        );
        assert_eq!(used, 3);
        assert_eq!(buf[(2, 0)].symbol(), "…");
    }
}
