//! The detail pane: why the pair is in this state, both sides, DNS names, the engine's plan and
//! the latest sync events.

use super::table::side_cell;
use super::text::{boxed, fit, lines};
use crate::engine::Blocked;
use crate::inspect::{PairRow, SideView};
use crate::tui::app::{AppState, age, kind_word};
use crate::tui::theme::Theme;
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

fn side_line<'a>(
    label: &'a str,
    s: &SideView,
    mismatch: bool,
    theme: &Theme,
    now: DateTime<Utc>,
) -> Line<'a> {
    let name = if s.name.is_empty() {
        "-".to_string()
    } else {
        format!("{}/{}", s.namespace, s.name)
    };
    let mut spans = vec![
        Span::styled(label, theme.muted),
        Span::styled(name, theme.base),
        Span::raw("  "),
        Span::styled(
            side_cell(s),
            if mismatch { theme.mismatch } else { theme.base },
        ),
    ];
    if let (Some(_), Some(st)) = (&s.ip, &s.state) {
        spans.push(Span::styled(format!("  {st}"), theme.base));
    }
    if let Some(r) = s.ready {
        spans.push(Span::styled(format!("  ready {r}"), theme.muted));
    }
    if let Some(p) = s.selected_pods {
        spans.push(Span::styled(format!("  selects {p} pod(s)"), theme.muted));
    }
    let created = s
        .created
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.with_timezone(&Utc));
    if created.is_some() {
        spans.push(Span::styled(
            format!("  age {}", age(now, created)),
            theme.muted,
        ));
    }
    if mismatch {
        spans.push(Span::styled("  IPs differ", theme.mismatch));
    }
    Line::from(spans)
}

/// The pane's lines for a row (separate from drawing so tests can read them).
pub fn detail_lines<'a>(row: &'a PairRow, state: &AppState, theme: &Theme) -> Vec<Line<'a>> {
    let label = |s: &'a str| Span::styled(s, theme.muted);
    let mut out = vec![
        Line::from(vec![
            label("Reason   "),
            Span::styled(row.reason.as_str(), theme.status(&row.status)),
        ]),
        side_line(
            "Virtual  ",
            &row.virtual_side,
            row.ip_mismatch,
            theme,
            state.now,
        ),
        side_line("Host     ", &row.host, row.ip_mismatch, theme, state.now),
    ];
    let dns_line = |lbl: &'a str, names: &'a [String]| {
        Line::from(vec![
            label(lbl),
            Span::styled(
                if names.is_empty() {
                    "-".to_string()
                } else {
                    names.join("  ")
                },
                theme.base,
            ),
        ])
    };
    out.push(dns_line("DNS virt ", &row.dns.virtual_names));
    out.push(dns_line("DNS host ", &row.dns.host_names));
    match (&row.plan.blocked, row.plan.changes.is_empty()) {
        (Some(b), _) => {
            let (word, msg) = match b {
                Blocked::Squatter { message } => ("blocked (squatter): ", message),
                Blocked::Waiting { message } => ("waiting: ", message),
                Blocked::Disabled { message } => ("disabled: ", message),
            };
            out.push(Line::from(vec![
                label("Plan     "),
                Span::styled(word, theme.status(&row.status)),
                Span::styled(msg.as_str(), theme.base),
            ]));
        }
        (None, true) => out.push(Line::from(vec![
            label("Plan     "),
            Span::styled("nothing to do: in line", theme.muted),
        ])),
        (None, false) => {
            for (i, c) in row.plan.changes.iter().enumerate() {
                out.push(Line::from(vec![
                    label(if i == 0 { "Plan     " } else { "         " }),
                    Span::styled(format!("{} ", c.action.verb()), theme.accent),
                    Span::styled(c.target.to_string(), theme.base),
                    Span::styled(format!(" — {}", c.reason), theme.muted),
                ]));
            }
        }
    }
    if row.events.is_empty() {
        out.push(Line::from(vec![
            label("Events   "),
            Span::styled("no sync events", theme.muted),
        ]));
    }
    for (i, e) in row.events.iter().enumerate() {
        let when = e
            .last_seen
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|t| format!(" {} ago", age(state.now, Some(t.with_timezone(&Utc)))))
            .unwrap_or_default();
        out.push(Line::from(vec![
            label(if i == 0 { "Events   " } else { "         " }),
            Span::styled(
                format!("{} ×{}{when}: ", e.reason, e.count),
                theme.status.error,
            ),
            Span::styled(e.message.as_str(), theme.base),
        ]));
    }
    out
}

pub fn render(buf: &mut Buffer, area: Rect, state: &AppState, theme: &Theme) {
    let Some(row) = state.selected_row() else {
        let inner = boxed(buf, area, "detail", theme.base, theme.border);
        lines(
            buf,
            inner,
            &[Line::styled("no pair selected", theme.muted)],
            0,
        );
        return;
    };
    let title = format!(
        "{} {}/{} · {}",
        kind_word(row.kind),
        row.namespace,
        row.name,
        row.status.word()
    );
    let inner = boxed(
        buf,
        area,
        &fit(&title, area.width as usize),
        theme.base,
        theme.border.patch(Style::default()),
    );
    let content = detail_lines(row, state, theme);
    lines(buf, inner, &content, 0);
}
