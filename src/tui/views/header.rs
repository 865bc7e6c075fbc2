//! The header: both contexts with their connection state, vcluster and host namespace, counts
//! per status; and a banner line for each side that is down.

use super::text::put;
use crate::cluster::snapshot::ConnState;
use crate::tui::app::{AppState, STATUS_WORDS, dead_sides};
use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

fn conn_word(c: &ConnState) -> String {
    match c {
        ConnState::Connecting => "connecting…".to_string(),
        ConnState::Live => "live".to_string(),
        ConnState::Error { .. } => "down".to_string(),
        ConnState::Retrying { attempt, .. } => format!("retrying #{attempt}"),
    }
}

fn conn_style(c: &ConnState, theme: &Theme) -> Style {
    match c {
        ConnState::Live => theme.status.synced,
        ConnState::Connecting => theme.status.waiting,
        _ => theme.status.error,
    }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Line one. `compact` drops the virtual context name (a `vcluster_<vc>_<hns>_<host>` name
/// repeats the other fields) so narrow terminals keep both connection states.
fn context_line<'a>(state: &'a AppState, theme: &Theme, compact: bool) -> Line<'a> {
    let d = &state.data;
    let h = theme.header;
    let mut spans = vec![Span::styled(" vinspect ", h.patch(theme.accent))];
    if compact {
        spans.push(Span::styled("│ vc ", h));
        spans.push(Span::styled(or_dash(&d.vcluster), h.patch(theme.accent)));
    } else {
        spans.push(Span::styled("│ virtual ", h));
        spans.push(Span::styled(
            or_dash(&d.virtual_context),
            h.patch(theme.accent),
        ));
    }
    spans.extend([
        Span::styled(" ", h),
        Span::styled(
            conn_word(&d.virtual_conn),
            h.patch(conn_style(&d.virtual_conn, theme)),
        ),
        Span::styled(" ⇄ host ", h),
        Span::styled(or_dash(&d.host_context), h.patch(theme.accent)),
        Span::styled(" ", h),
        Span::styled(
            conn_word(&d.host_conn),
            h.patch(conn_style(&d.host_conn, theme)),
        ),
    ]);
    if compact {
        spans.push(Span::styled(" │ in ", h));
    } else {
        spans.push(Span::styled(" │ vcluster ", h));
        spans.push(Span::styled(or_dash(&d.vcluster), h.patch(theme.accent)));
        spans.push(Span::styled(" in ", h));
    }
    spans.push(Span::styled(
        or_dash(&d.host_namespace),
        h.patch(theme.accent),
    ));
    Line::from(spans)
}

/// Line two without the note: counts per status (Synced always, the rest when present) and
/// the DNS problems.
fn counts_line<'a>(state: &AppState, theme: &Theme) -> Line<'a> {
    let h = theme.header;
    let mut spans = vec![Span::styled(" ", h)];
    let styles = [
        theme.status.synced,
        theme.status.drift,
        theme.status.missing,
        theme.status.orphan,
        theme.status.squatter,
        theme.status.waiting,
        theme.status.error,
        theme.status.disabled,
    ];
    let mut first = true;
    for (i, word) in STATUS_WORDS.iter().enumerate() {
        let n = state.counts[i];
        // Synced always shows (the reassuring number); the rest only when present.
        if n == 0 && i != 0 {
            continue;
        }
        if !first {
            spans.push(Span::styled(" · ", h.patch(theme.muted)));
        }
        first = false;
        spans.push(Span::styled(format!("{n} {word}"), h.patch(styles[i])));
    }
    if state.dns_problems > 0 {
        spans.push(Span::styled(" · ", h.patch(theme.muted)));
        spans.push(Span::styled(
            format!("{} dns problem(s)", state.dns_problems),
            h.patch(theme.status.error),
        ));
    }
    Line::from(spans)
}

/// Whether the header's note (the demo banner, a config caveat) needs a third line because
/// it does not fit after the counts: a note is never cut off.
pub fn note_on_own_line(state: &AppState, width: u16) -> bool {
    let Some(note) = &state.data.note else {
        return false;
    };
    let mut counts = 1;
    let mut first = true;
    for (i, word) in STATUS_WORDS.iter().enumerate() {
        let n = state.counts[i];
        if n == 0 && i != 0 {
            continue;
        }
        counts += if first { 0 } else { 3 } + format!("{n} {word}").len();
        first = false;
    }
    if state.dns_problems > 0 {
        counts += 3 + format!("{} dns problem(s)", state.dns_problems).len();
    }
    counts + 3 + Line::from(note.as_str()).width() > width as usize
}

pub fn render(buf: &mut Buffer, area: Rect, banner: Rect, state: &AppState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    buf.set_style(area, theme.header);
    let d = &state.data;
    let h = theme.header;
    let mut line1 = context_line(state, theme, false);
    if line1.width() > area.width as usize {
        line1 = context_line(state, theme, true);
    }
    buf.set_line(area.x, area.y, &line1, area.width);

    if area.height > 1 {
        let mut line = counts_line(state, theme);
        if let Some(note) = &d.note {
            let note_span = Span::styled(note.clone(), h.patch(theme.muted));
            if note_on_own_line(state, area.width) && area.height > 2 {
                let own = Line::from(vec![Span::styled(" ", h), note_span]);
                buf.set_line(area.x, area.y + 2, &own, area.width);
            } else {
                line.spans.push(Span::styled(" │ ", h));
                line.spans.push(note_span);
            }
        }
        buf.set_line(area.x, area.y + 1, &line, area.width);
    }

    for (i, (side, conn)) in dead_sides(d).into_iter().enumerate() {
        let y = banner.y + i as u16;
        if i as u16 >= banner.height {
            break;
        }
        let (message, retry) = match conn {
            ConnState::Error { message } => {
                (message.as_str(), "will retry with backoff".to_string())
            }
            ConnState::Retrying { message, attempt } => (
                message.as_str(),
                format!("retrying with backoff (attempt {attempt})"),
            ),
            _ => ("", String::new()),
        };
        let other = if side == "host" { "virtual" } else { "host" };
        let text = format!(
            " {} side down: {message} — {retry}; the {other} side stays usable",
            side.to_uppercase()
        );
        buf.set_style(Rect::new(banner.x, y, banner.width, 1), theme.banner);
        put(buf, banner.x, y, banner.width, &text, theme.banner);
    }
}
