//! Overlays: help (generated from the keymap), the fix confirmation with every change and its
//! JSON patch, explanations, and the context picker.

use super::text::{boxed, centered, lines, put};
use crate::engine::Action as Write;
use crate::tui::app::{AppState, Popup};
use crate::tui::keymap::Mode;
use crate::tui::theme::Theme;
use crate::tui::types::FixRequest;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn render(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme) {
    let Some(popup) = &state.popup else {
        return;
    };
    match popup {
        Popup::Help { scroll } => help(buf, area, state, theme, *scroll),
        Popup::ConfirmFix {
            title,
            fixes,
            skipped,
            scroll,
        } => confirm(buf, area, theme, title, fixes, skipped, *scroll),
        Popup::Message { title, lines: body } => message(buf, area, theme, title, body),
        Popup::Picker { contexts, selected } => {
            picker(buf, area, state, theme, contexts, *selected)
        }
    }
}

/// Lines of a scrollable popup's content (help, fix confirmation), for clamping the scroll.
pub fn content_len(popup: &Popup, keymap: &crate::tui::keymap::Keymap) -> usize {
    let theme = Theme::monochrome();
    match popup {
        Popup::Help { .. } => help_lines_for(keymap, &theme).len(),
        Popup::ConfirmFix { fixes, skipped, .. } => confirm_lines(&theme, fixes, skipped).len(),
        _ => 0,
    }
}

/// Help lines: a section per mode, every key of every command.
pub fn help_lines<'a>(state: &AppState, theme: &Theme) -> Vec<Line<'a>> {
    help_lines_for(&state.keymap, theme)
}

fn help_lines_for<'a>(keymap: &crate::tui::keymap::Keymap, theme: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    for (mode, entries) in keymap.help() {
        if !out.is_empty() {
            out.push(Line::raw(""));
        }
        let title = match mode {
            Mode::Table => "Table",
            Mode::Filter => "Filter (/)",
            Mode::Command => "Command (:)",
            Mode::Diff => "Diff view",
            Mode::Yaml => "YAML view",
            Mode::Help => "Help",
            Mode::Confirm => "Fix confirmation",
            Mode::Message => "Explanations",
            Mode::Picker => "Context picker",
        };
        out.push(Line::styled(title, theme.accent));
        for (keys, desc) in entries {
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<18}"), theme.key),
                Span::styled(desc, theme.dialog),
            ]));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled(
        "Commands: :pods :svc :ing :rep :dns  :ns NAME (:ns all)  :ctx [NAME]  :q",
        theme.muted,
    ));
    out.push(Line::styled(
        "Filter: fuzzy over namespace, name, twin, DNS names, IPs; !text inverts",
        theme.muted,
    ));
    out
}

fn help(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme, scroll: usize) {
    let r = centered(area, 76, area.height.saturating_sub(4).max(10));
    let inner = boxed(
        buf,
        r,
        "help · esc closes",
        theme.dialog,
        theme.dialog_border,
    );
    lines(buf, inner, &help_lines(state, theme), scroll);
}

/// The confirmation body: each pair, each change with its reason and its JSON.
pub fn confirm_lines<'a>(
    theme: &Theme,
    fixes: &'a [FixRequest],
    skipped: &'a [String],
) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    if fixes.len() > 1 {
        // Several pairs: the list first, so what `y` touches is visible without scrolling.
        for fix in fixes {
            let verbs: Vec<String> = fix
                .plan
                .changes
                .iter()
                .map(|c| format!("{} {} {}", c.action.verb(), c.target.side, c.target.kind))
                .collect();
            out.push(Line::from(vec![
                Span::styled("• ", theme.accent),
                Span::styled(fix.key.to_string(), theme.dialog),
                Span::styled(format!("  {}", verbs.join(", ")), theme.muted),
            ]));
        }
        if !skipped.is_empty() {
            out.push(Line::styled(
                format!(
                    "• {} more problem pair(s) skipped (listed at the end)",
                    skipped.len()
                ),
                theme.muted,
            ));
        }
        out.push(Line::raw(""));
        out.push(Line::styled("Changes and patches:", theme.muted));
    }
    for fix in fixes {
        out.push(Line::from(vec![
            Span::styled("▸ ", theme.accent),
            Span::styled(fix.key.to_string(), theme.accent),
            Span::styled(
                format!("  ({} change(s))", fix.plan.changes.len()),
                theme.muted,
            ),
        ]));
        for c in &fix.plan.changes {
            out.push(Line::from(vec![
                Span::styled(format!("  {} ", c.action.verb()), theme.status.drift),
                Span::styled(c.target.to_string(), theme.dialog),
            ]));
            out.push(Line::styled(format!("    why: {}", c.reason), theme.muted));
            let (label, body) = match &c.action {
                Write::Patch {
                    patch,
                    subresource,
                    resource_version,
                } => {
                    let mut label = "merge patch".to_string();
                    if let Some(s) = subresource {
                        label.push_str(&format!(" on /{s}"));
                    }
                    if let Some(rv) = resource_version {
                        label.push_str(&format!(" at resourceVersion {rv}"));
                    }
                    (label, Some(patch))
                }
                Write::Create { object } => ("body".to_string(), Some(object)),
                Write::Bind { node } => (format!("bind to node {node}"), None),
                Write::Recreate { object, uid } => (
                    format!(
                        "delete{} then create with body",
                        uid.as_ref()
                            .map(|u| format!(" (uid {u})"))
                            .unwrap_or_default()
                    ),
                    Some(object),
                ),
                Write::Delete { uid, .. } => (
                    format!(
                        "delete{}",
                        uid.as_ref()
                            .map(|u| format!(" only if uid is {u}"))
                            .unwrap_or_default()
                    ),
                    None,
                ),
            };
            out.push(Line::styled(format!("    {label}:"), theme.muted));
            if let Some(v) = body {
                let text = serde_json::to_string_pretty(v).unwrap_or_default();
                for l in text.lines() {
                    out.push(Line::styled(format!("      {l}"), theme.dialog));
                }
            }
        }
    }
    if !skipped.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(
            format!("Skipped ({}): not fixable here", skipped.len()),
            theme.status.squatter,
        ));
        for s in skipped {
            out.push(Line::styled(format!("  {s}"), theme.muted));
        }
    }
    out
}

fn confirm(
    buf: &mut Buffer,
    area: Rect,
    theme: &Theme,
    title: &str,
    fixes: &[FixRequest],
    skipped: &[String],
    scroll: usize,
) {
    let body = confirm_lines(theme, fixes, skipped);
    let h = (body.len() as u16 + 4)
        .min(area.height.saturating_sub(2))
        .max(6);
    let r = centered(area, area.width.saturating_sub(6).min(100), h);
    let inner = boxed(buf, r, title, theme.dialog, theme.dialog_border);
    if inner.height < 2 {
        return;
    }
    let list = Rect::new(inner.x, inner.y, inner.width, inner.height - 1);
    lines(buf, list, &body, scroll);
    let hint = Line::from(vec![
        Span::styled(" y ", theme.key.patch(theme.read_only)),
        Span::styled(" apply   ", theme.dialog),
        Span::styled("any other key", theme.key),
        Span::styled(" cancels   ", theme.dialog),
        Span::styled("↑↓", theme.key),
        Span::styled(" scroll", theme.dialog),
    ]);
    buf.set_line(inner.x, inner.y + inner.height - 1, &hint, inner.width);
}

fn message(buf: &mut Buffer, area: Rect, theme: &Theme, title: &str, body: &[String]) {
    let width = body.iter().map(|l| l.chars().count()).max().unwrap_or(20) as u16 + 4;
    let r = centered(
        area,
        width.clamp(30, area.width.saturating_sub(4).max(30)),
        body.len() as u16 + 3,
    );
    let inner = boxed(buf, r, title, theme.dialog, theme.dialog_border);
    let mut content: Vec<Line> = body
        .iter()
        .map(|l| Line::styled(l.as_str(), theme.dialog))
        .collect();
    content.push(Line::styled("any key closes", theme.muted));
    // Wrap long lines by hand: the dialog is as wide as the screen allows.
    let w = inner.width as usize;
    let mut wrapped = Vec::new();
    for line in content {
        let style = line.style;
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        if text.chars().count() <= w || w == 0 {
            wrapped.push(Line::styled(text, style));
            continue;
        }
        let mut cur = String::new();
        for word in text.split(' ') {
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > w {
                wrapped.push(Line::styled(std::mem::take(&mut cur), style));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        wrapped.push(Line::styled(cur, style));
    }
    if wrapped.len() as u16 > inner.height {
        let r = centered(area, r.width, wrapped.len() as u16 + 2);
        let inner = boxed(buf, r, title, theme.dialog, theme.dialog_border);
        lines(buf, inner, &wrapped, 0);
    } else {
        lines(buf, inner, &wrapped, 0);
    }
}

fn picker(
    buf: &mut Buffer,
    area: Rect,
    state: &AppState,
    theme: &Theme,
    contexts: &[String],
    selected: usize,
) {
    let width = contexts
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(20) as u16
        + 8;
    let r = centered(area, width.clamp(30, area.width), contexts.len() as u16 + 2);
    let inner = boxed(
        buf,
        r,
        "switch context · enter selects",
        theme.dialog,
        theme.dialog_border,
    );
    let start = selected.saturating_sub(inner.height.saturating_sub(1) as usize);
    for (i, c) in contexts
        .iter()
        .enumerate()
        .skip(start)
        .take(inner.height as usize)
    {
        let y = inner.y + (i - start) as u16;
        let current = *c == state.data.virtual_context;
        let style = if i == selected {
            theme.selection
        } else {
            theme.dialog
        };
        if i == selected {
            buf.set_style(Rect::new(inner.x, y, inner.width, 1), style);
        }
        let mark = if current { "* " } else { "  " };
        put(buf, inner.x, y, inner.width, &format!("{mark}{c}"), style);
    }
}
