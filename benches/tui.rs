//! TUI hot paths: one frame of a 10,000-row view at 200×60 (goal < 4 ms) and one filter
//! keystroke over 50,000 rows (goal < 30 ms); and the cost of applying a 10,000-pair snapshot.
//!
//! `cargo bench --bench tui`

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::hint::black_box;
use std::sync::Arc;
use vinspect::inspect::RowKind;
use vinspect::tui::app::{Action, AppState, update};
use vinspect::tui::fixtures;
use vinspect::tui::keymap::Keymap;
use vinspect::tui::theme::Theme;
use vinspect::tui::views;

fn loaded(n: usize, w: u16, h: u16) -> AppState {
    let mut s = AppState::new(Keymap::default(), false, "");
    update(&mut s, Action::Resize(w, h));
    update(&mut s, Action::Tick(fixtures::now()));
    let mut d = fixtures::data();
    // All rows on one tab so the view really holds `n` rows.
    let rows: Vec<_> = fixtures::scaled_rows(n)
        .into_iter()
        .map(|mut r| {
            r.kind = RowKind::Service;
            r
        })
        .collect();
    d.rows = Arc::new(rows);
    update(&mut s, Action::Data(d));
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE)),
    );
    s
}

fn frame(c: &mut Criterion) {
    let theme = Theme::dark();
    let mut s = loaded(10_000, 200, 60);
    assert_eq!(s.visible().len(), 10_000);
    // Mid-table, with the detail pane and an active filter highlight: the expensive case.
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    for _ in 0..5000 {
        update(
            &mut s,
            Action::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
        );
    }
    let area = Rect::new(0, 0, 200, 60);
    let mut buf = Buffer::empty(area);
    c.bench_function("frame_10k_rows_200x60", |b| {
        b.iter(|| {
            buf.reset();
            views::render(&mut buf, area, black_box(&s), &theme);
        })
    });
    let mut f = loaded(10_000, 200, 60);
    for ch in "/team-0".chars() {
        update(
            &mut f,
            Action::Key(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE)),
        );
    }
    c.bench_function("frame_10k_rows_200x60_filtered", |b| {
        b.iter(|| {
            buf.reset();
            views::render(&mut buf, area, black_box(&f), &theme);
        })
    });
}

fn filter(c: &mut Criterion) {
    let base = loaded(50_000, 200, 60);
    assert_eq!(base.visible().len(), 50_000);
    let key = |ch| Action::Key(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE));
    let mut typing = base.clone();
    update(&mut typing, key('/'));
    // First keystroke: the whole 50,000 rows are scanned.
    c.bench_function("filter_50k_first_keystroke", |b| {
        b.iter_batched(
            || typing.clone(),
            |mut s| {
                update(&mut s, key('c'));
                black_box(s.visible().len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // Backspace to an empty pattern and a non-narrowing edit also rescan everything.
    let mut inv = typing.clone();
    update(&mut inv, key('!'));
    c.bench_function("filter_50k_inverted_keystroke", |b| {
        b.iter_batched(
            || inv.clone(),
            |mut s| {
                update(&mut s, key('w'));
                black_box(s.visible().len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let mut long = typing.clone();
    for ch in "team-1".chars() {
        update(&mut long, key(ch));
    }
    // Backspace widens the pattern, so the scan restarts from all 50,000 rows.
    c.bench_function("filter_50k_backspace_rescan", |b| {
        b.iter_batched(
            || long.clone(),
            |mut s| {
                update(
                    &mut s,
                    Action::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE)),
                );
                black_box(s.visible().len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // Typing one more character narrows from the previous result.
    c.bench_function("filter_50k_narrowing_keystroke", |b| {
        b.iter_batched(
            || long.clone(),
            |mut s| {
                update(&mut s, key('2'));
                black_box(s.visible().len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

/// Applying a new 10,000-pair snapshot: counts, search index, tab filter and sort. Part of
/// "start to first full screen" and paid on every watch update.
fn snapshot(c: &mut Criterion) {
    let s = loaded(10, 200, 60);
    let mut d = fixtures::data();
    d.rows = Arc::new(fixtures::scaled_rows(10_000));
    c.bench_function("apply_snapshot_10k_rows", |b| {
        b.iter_batched(
            || (s.clone(), d.clone()),
            |(mut s, d)| {
                update(&mut s, Action::Data(d));
                black_box(s.visible().len())
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = frame, filter, snapshot
}
criterion_main!(benches);
