//! The diff screen: desired host object (left) next to the actual host object (right).

use super::text::{boxed, put};
use crate::tui::app::{DiffView, Load};
use crate::tui::diff::{DiffModel, LineKind};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// Below this width two columns cut every interesting line; one column with `-`/`+` rows
/// (old above new) shows them whole.
const UNIFIED_BELOW: u16 = 100;

fn unified(
    buf: &mut Buffer,
    inner: Rect,
    model: &DiffModel,
    scroll: usize,
    body_h: usize,
    theme: &Theme,
) {
    let max = model.lines.len().saturating_sub(body_h);
    let mut rows: Vec<(char, usize, &str, ratatui::style::Style)> = Vec::new();
    for line in model.lines.iter().skip(scroll.min(max)) {
        if rows.len() >= body_h {
            break;
        }
        match line.kind {
            LineKind::Same => {
                if let Some((n, t)) = &line.right {
                    rows.push((' ', *n, t, theme.diff.context));
                }
            }
            _ => {
                if let Some((n, t)) = &line.left {
                    rows.push(('-', *n, t, theme.diff.removed));
                }
                if let Some((n, t)) = &line.right {
                    rows.push(('+', *n, t, theme.diff.added));
                }
            }
        }
    }
    for (i, (mark, n, text, style)) in rows.into_iter().take(body_h).enumerate() {
        let y = inner.y + i as u16;
        if mark != ' ' {
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
        }
        put(
            buf,
            inner.x,
            y,
            4.min(inner.width),
            &format!("{n:>3}"),
            theme.diff.gutter,
        );
        put(
            buf,
            inner.x + 4,
            y,
            2.min(inner.width.saturating_sub(4)),
            &format!("{mark} "),
            style,
        );
        put(
            buf,
            inner.x + 6,
            y,
            inner.width.saturating_sub(6),
            text,
            style,
        );
    }
}

pub fn render(buf: &mut Buffer, area: Rect, v: &DiffView, theme: &Theme) {
    let title = if area.width < UNIFIED_BELOW + 2 {
        format!(
            "diff {}/{} · -: desired (what the engine would write) · +: actual host object",
            v.key.namespace, v.key.name
        )
    } else {
        format!(
            "diff {}/{} · left: desired (what the engine would write) · right: actual host object",
            v.key.namespace, v.key.name
        )
    };
    let inner = boxed(buf, area, &title, theme.base, theme.border);
    if inner.height == 0 {
        return;
    }
    let model = match &v.load {
        Load::Loading => {
            put(buf, inner.x, inner.y, inner.width, "loading…", theme.muted);
            return;
        }
        Load::Failed(e) => {
            put(
                buf,
                inner.x,
                inner.y,
                inner.width,
                &format!("cannot load the diff: {e}"),
                theme.status.error,
            );
            return;
        }
        Load::Ready(m) => m,
    };
    let status_line = {
        let mut s = if model.changes == 0 {
            "no differences".to_string()
        } else {
            format!("{} line(s) differ", model.changes)
        };
        if model.desired_missing {
            s.push_str(" · the engine would delete this object");
        }
        if model.actual_missing {
            s.push_str(" · no host object yet (the engine would create it)");
        }
        if !model.hidden.is_empty() {
            s.push_str(&format!(
                " · hidden (server-set): {}",
                model.hidden.join(", ")
            ));
        }
        s
    };
    let body_h = inner.height.saturating_sub(1) as usize;
    if inner.width < UNIFIED_BELOW {
        unified(buf, inner, model, v.scroll, body_h, theme);
        put(
            buf,
            inner.x,
            inner.y + inner.height - 1,
            inner.width,
            &status_line,
            theme.muted,
        );
        return;
    }
    let half = inner.width.saturating_sub(1) / 2;
    let num_w = 4u16;
    let max = model.lines.len().saturating_sub(body_h);
    let scroll = v.scroll.min(max);
    for (i, line) in model.lines.iter().skip(scroll).take(body_h).enumerate() {
        let y = inner.y + i as u16;
        let (ls, rs) = match line.kind {
            LineKind::Same => (theme.diff.context, theme.diff.context),
            LineKind::Changed => (theme.diff.removed, theme.diff.added),
            LineKind::Removed => (theme.diff.removed, theme.base),
            LineKind::Added => (theme.base, theme.diff.added),
        };
        for (side, x, style, marker) in [
            (&line.left, inner.x, ls, '-'),
            (&line.right, inner.x + half + 1, rs, '+'),
        ] {
            let Some((n, text)) = side else {
                continue;
            };
            let w = half;
            if line.kind != LineKind::Same {
                buf.set_style(Rect::new(x, y, w, 1), style);
            }
            put(
                buf,
                x,
                y,
                num_w.min(w),
                &format!("{n:>3}"),
                theme.diff.gutter,
            );
            let mark = if line.kind == LineKind::Same {
                ' '
            } else {
                marker
            };
            put(
                buf,
                x + num_w,
                y,
                1.min(w.saturating_sub(num_w)),
                &mark.to_string(),
                style,
            );
            put(
                buf,
                x + num_w + 1,
                y,
                w.saturating_sub(num_w + 1),
                text,
                style,
            );
        }
        put(buf, inner.x + half, y, 1, "│", theme.border);
    }
    put(
        buf,
        inner.x,
        inner.y + inner.height - 1,
        inner.width,
        &status_line,
        theme.muted,
    );
}
