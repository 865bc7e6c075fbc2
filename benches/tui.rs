//! TUI hot paths: one frame of a 10,000-row view at 200×60 (goal < 4 ms) and one filter
//! keystroke over 50,000 rows (goal < 30 ms); and the cost of applying a 10,000-pair snapshot.
//!
//! The live rows at 10,000 pairs: one incremental update after one pod or one service
//! change, next to a full recompute (`VINSPECT_BENCH_LIVE_ONLY=1` runs only these).
//!
//! `cargo bench --bench tui`

use criterion::{Criterion, criterion_group};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::hint::black_box;
use std::sync::Arc;
use vinspect::cluster::snapshot::{Obj, ObjKey, ObjMap, Snapshot};
use vinspect::dns::dns_tab;
use vinspect::inspect::RowKind;
use vinspect::inspect::fixture::synthetic_world;
use vinspect::inspect::rows::{pair_rows, pair_rows_on};
use vinspect::live::data::{LiveRows, dns_rows};
use vinspect::live::incremental::IncrementalRows;
use vinspect::tui::app::{Action, AppState, update};
use vinspect::tui::fixtures;
use vinspect::tui::keymap::Keymap;
use vinspect::tui::theme::Theme;
use vinspect::tui::views;
use vinspect::vcluster::config::VClusterConfig;

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
    d.rows = vinspect::tui::types::rows_of(rows);
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
    d.rows = vinspect::tui::types::rows_of(fixtures::scaled_rows(10_000));
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

/// 2,500 services with 3 pods each over 25 namespaces (100 apps each, as the scale sandbox
/// lays them out): 10,000 pairs, converged by the engine.
fn live_world() -> (Snapshot, VClusterConfig) {
    synthetic_world(2_500, 25).expect("the synthetic world builds")
}

/// `snap` with the object at `key` replaced by an edited copy (a new object, as a watch does).
fn changed<V: Clone + vinspect::cluster::obj::Cold>(
    snap: &Snapshot,
    pick: impl Fn(&mut Snapshot) -> &mut ObjMap<V>,
    key: &ObjKey,
    edit: impl Fn(&mut V),
) -> Snapshot {
    let mut s = snap.clone();
    let map = pick(&mut s);
    let mut o = (*map[key]).clone();
    edit(&mut o);
    map.insert(key.clone(), Obj::new(o));
    s.version += 1;
    s
}

fn live(c: &mut Criterion) {
    let (snap, config) = live_world();
    let config = Arc::new(config);
    let vkey = snap
        .virtual_side
        .pods
        .keys()
        .nth(snap.virtual_side.pods.len() / 2)
        .cloned()
        .expect("pods");
    let hkey = snap
        .host
        .pods
        .keys()
        .nth(snap.host.pods.len() / 2)
        .cloned()
        .expect("host pods");
    let skey = snap
        .virtual_side
        .services
        .keys()
        .nth(snap.virtual_side.services.len() / 2)
        .cloned()
        .expect("services");
    let stamp = |meta: &mut ObjectMeta| {
        meta.annotations
            .get_or_insert_with(Default::default)
            .insert("churn/at".into(), "1".into());
    };
    let base = Arc::new(snap.clone());
    let variants: [(&str, Arc<Snapshot>); 3] = [
        (
            "virtual_pod_label",
            Arc::new(changed(
                &snap,
                |s| &mut s.virtual_side.pods,
                &vkey,
                |p: &mut Pod| stamp(&mut p.metadata),
            )),
        ),
        (
            "host_pod_status",
            Arc::new(changed(
                &snap,
                |s| &mut s.host.pods,
                &hkey,
                |p: &mut Pod| {
                    let st = p.status.get_or_insert_with(Default::default);
                    st.phase = Some("Pending".into());
                },
            )),
        ),
        (
            "virtual_service_annotation",
            Arc::new(changed(
                &snap,
                |s| &mut s.virtual_side.services,
                &skey,
                |s: &mut Service| stamp(&mut s.metadata),
            )),
        ),
    ];
    let mut g = c.benchmark_group("live_rows_10k_pairs");
    g.sample_size(10);
    g.bench_function("full_pair_rows", |b| {
        b.iter(|| black_box(pair_rows(&base, &config).len()))
    });
    g.bench_function("full_pair_rows_one_thread", |b| {
        b.iter(|| black_box(pair_rows_on(&base, &config, 1).len()))
    });
    g.sample_size(30);
    for (name, next) in &variants {
        // Each iteration is one change away from the one before: base, changed, base, ...
        let mut inc = IncrementalRows::new();
        inc.update(base.clone(), config.clone());
        let mut flip = false;
        g.bench_function(format!("incremental_{name}"), |b| {
            b.iter(|| {
                flip = !flip;
                let s = if flip { next.clone() } else { base.clone() };
                black_box(inc.update(s, config.clone()).len())
            })
        });
    }
    // The whole data update the pump publishes: rows, the pair index and the DNS tab.
    let (_, next) = &variants[0];
    let mut live = LiveRows::default();
    live.update(base.clone(), config.clone(), None, 0);
    let mut flip = false;
    g.bench_function("data_update_virtual_pod_label", |b| {
        b.iter(|| {
            flip = !flip;
            let s = if flip { next.clone() } else { base.clone() };
            black_box(live.update(s, config.clone(), None, 1).0.rows.len())
        })
    });
    g.sample_size(10);
    g.bench_function("dns_tab", |b| {
        b.iter(|| black_box(dns_rows(&dns_tab(&base, &config)).len()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = frame, filter, snapshot, live
}

criterion_group! {
    name = live_only;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3));
    targets = live
}

fn main() {
    if std::env::var_os("VINSPECT_BENCH_LIVE_ONLY").is_some() {
        live_only();
    } else {
        benches();
    }
    Criterion::default().configure_from_args().final_summary();
}
