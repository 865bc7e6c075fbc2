//! The YAML screen: one side of a pair, Secret data redacted.

use super::text::{boxed, loaded, put};
use crate::tui::app::YamlView;
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

pub fn render(buf: &mut Buffer, area: Rect, v: &YamlView, theme: &Theme) {
    let title = format!(
        "{} YAML · {}/{} · tab: other side",
        v.side, v.key.namespace, v.key.name
    );
    let inner = boxed(buf, area, &title, theme.base, theme.border);
    if inner.height == 0 {
        return;
    }
    let Some(object) = loaded(buf, inner, &v.load, "the object", theme) else {
        return;
    };
    let text = match object {
        None => {
            put(
                buf,
                inner.x,
                inner.y,
                inner.width,
                &format!("the object does not exist on the {} side", v.side),
                theme.muted,
            );
            return;
        }
        Some(lines) => lines,
    };
    let max = text.len().saturating_sub(inner.height as usize);
    let scroll = v.scroll.min(max);
    for (i, line) in text
        .iter()
        .skip(scroll)
        .take(inner.height as usize)
        .enumerate()
    {
        let y = inner.y + i as u16;
        put(
            buf,
            inner.x,
            y,
            4.min(inner.width),
            &format!("{:>3}", scroll + i + 1),
            theme.diff.gutter,
        );
        // Keys in accent, values plain: enough structure to scan without a YAML highlighter.
        let x = inner.x + 5;
        let w = inner.width.saturating_sub(5);
        match line.split_once(": ") {
            Some((k, val)) if !k.trim_start().starts_with('-') || k.contains(':') => {
                let used = put(buf, x, y, w, &format!("{k}:"), theme.accent);
                put(
                    buf,
                    x + used,
                    y,
                    w.saturating_sub(used),
                    &format!(" {val}"),
                    theme.base,
                );
            }
            _ if line.ends_with(':') => {
                put(buf, x, y, w, line, theme.accent);
            }
            _ => {
                put(buf, x, y, w, line, theme.base);
            }
        }
    }
}
