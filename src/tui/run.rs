//! The terminal shell around the pure core: raw mode, alternate screen, mouse capture, and one
//! loop that waits on input, new data, backend answers and a slow tick. It draws only when
//! `update` marked the state dirty, so an idle screen costs nothing; backend calls run as futures
//! polled by the same loop, so the UI never waits on the network.

use super::app::{Action, AppState, Effect, update};
use super::backend::Backend;
use super::config::UserConfig;
use super::keymap::Keymap;
use super::theme::{Theme, ThemeError};
use super::types::DataUpdate;
use super::views;
use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the TUI starts. Build it with [`TuiOptions::resolve`] from the CLI flags and the config.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub theme: Theme,
    pub keymap: Keymap,
    pub read_only: bool,
    /// Shown when `f` is pressed in read-only mode.
    pub read_only_reason: String,
    pub mouse: bool,
    /// Ages and toasts refresh at this pace; nothing is drawn unless something changed.
    pub tick: Duration,
    /// `-n NS`: start showing only this virtual namespace (`:ns` changes it later); `None`
    /// (also `-A`) = every namespace.
    pub namespace: Option<String>,
}

impl Default for TuiOptions {
    fn default() -> Self {
        Self {
            theme: Theme::dark(),
            keymap: Keymap::default(),
            read_only: false,
            read_only_reason: String::new(),
            mouse: true,
            tick: Duration::from_secs(1),
            namespace: None,
        }
    }
}

impl TuiOptions {
    /// Combine CLI flags, the user config and `NO_COLOR`. The CLI wins over the config.
    /// `config_origin` names the config file in errors.
    pub fn resolve(
        cli_theme: Option<&str>,
        cli_read_only: bool,
        config: &UserConfig,
        config_origin: &str,
        no_color: Option<&str>,
    ) -> anyhow::Result<TuiOptions> {
        let theme = match cli_theme.or(config.theme.as_deref()) {
            Some(spec) => Theme::load(spec).map_err(|e: ThemeError| anyhow::anyhow!(e))?,
            None => Theme::dark(),
        }
        .honour_no_color(no_color);
        let keymap = config.keymap(config_origin)?;
        let (read_only, read_only_reason) = if cli_read_only {
            (true, "vinspect was started with --read-only".to_string())
        } else if config.read_only == Some(true) {
            (true, format!("read_only: true in {config_origin}"))
        } else {
            (false, String::new())
        };
        Ok(TuiOptions {
            theme,
            keymap,
            read_only,
            read_only_reason,
            mouse: config.mouse.unwrap_or(true),
            tick: Duration::from_secs(1),
            namespace: None,
        })
    }
}

/// Put the terminal back: leave raw mode and the alternate screen, release the mouse, show the
/// cursor. Safe to call more than once.
pub fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

static PANIC_HOOK: Once = Once::new();

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Record the process start; the binary calls it first thing so the "first full frame" trace
/// event measures from there. Later calls change nothing.
pub fn mark_process_start() {
    let _ = PROCESS_START.get_or_init(Instant::now);
}

/// Time since [`mark_process_start`] (or since the first call here, if it was never called).
pub fn since_process_start() -> Duration {
    PROCESS_START.get_or_init(Instant::now).elapsed()
}

/// Target and message of the event logged once, when the first frame showing both sides'
/// initial lists as rows has been drawn (scale runs read it from the log file).
pub const FIRST_FRAME_TARGET: &str = "vinspect::tui";
pub const FIRST_FRAME_MESSAGE: &str = "first full frame";

/// Whether a frame of this data is "full": both sides listed, and the rows computed from them.
pub fn is_full(data: &DataUpdate) -> bool {
    !data.loading && data.virtual_conn.is_live() && data.host_conn.is_live()
}

/// A panic must not leave the shell in raw mode: restore first, then print as usual.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// Restores the terminal when dropped, whichever way `run_tui` ends.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// SIGTERM, SIGHUP and SIGINT end the UI cleanly (raw mode turns Ctrl-C into a key, but a
/// `kill -INT` from outside still arrives as a signal).
struct Signals {
    #[cfg(unix)]
    inner: Vec<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let inner = [
                SignalKind::terminate(),
                SignalKind::hangup(),
                SignalKind::interrupt(),
            ]
            .into_iter()
            .map(signal)
            .collect::<Result<Vec<_>, _>>()
            .context("cannot install signal handlers")?;
            Ok(Signals { inner })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let waits = self.inner.iter_mut().map(|s| Box::pin(s.recv()));
            let _ = futures::future::select_all(waits).await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

type Pending<'a> = FuturesUnordered<Pin<Box<dyn Future<Output = Action> + 'a>>>;

/// The backend call for an effect, resolving to the action that carries its answer back into
/// `update`. `None` for effects the shell handles itself (quit).
pub fn effect_future<'a, B: Backend>(
    backend: &'a B,
    effect: Effect,
) -> Option<Pin<Box<dyn Future<Output = Action> + 'a>>> {
    let mut pending: Pending<'a> = FuturesUnordered::new();
    dispatch(backend, effect, &mut pending);
    pending.into_iter().next()
}

/// Turn an effect into a backend call whose answer comes back as an action.
fn dispatch<'a, B: Backend>(backend: &'a B, effect: Effect, pending: &mut Pending<'a>) {
    match effect {
        Effect::Quit => {}
        Effect::LoadDiff { key } => pending.push(Box::pin(async move {
            let result = backend.load_diff(key.clone()).await.map_err(|e| e.0);
            Action::DiffLoaded { key, result }
        })),
        Effect::LoadYaml { side, key } => pending.push(Box::pin(async move {
            let result = backend
                .load_object(side, key.clone())
                .await
                .map_err(|e| e.0);
            Action::ObjectLoaded { side, key, result }
        })),
        Effect::Fix(fixes) => pending.push(Box::pin(async move {
            Action::FixDone(backend.apply_fixes(fixes).await)
        })),
        Effect::ListContexts => pending.push(Box::pin(async move {
            Action::ContextsLoaded(backend.list_contexts().await.map_err(|e| e.0))
        })),
        Effect::SwitchContext(context) => pending.push(Box::pin(async move {
            let result = backend
                .switch_context(context.clone())
                .await
                .map_err(|e| e.0);
            Action::ContextSwitched { context, result }
        })),
    }
}

/// The state the first frame is drawn from: the options (with `-n`), the terminal size and
/// whatever data the backend has so far (often none: the first frame says "loading").
pub fn start_state(opts: &TuiOptions, size: (u16, u16), data: DataUpdate) -> AppState {
    let mut state = AppState::new(opts.keymap.clone(), opts.read_only, &opts.read_only_reason);
    state.namespace = opts.namespace.clone();
    update(&mut state, Action::Resize(size.0, size.1));
    update(&mut state, Action::Tick(Utc::now()));
    update(&mut state, Action::Data(data));
    state
}

/// Exit code when a signal ended the UI (128 + SIGTERM, the shell convention).
pub const SIGNAL_EXIT: i32 = 143;

/// Run the TUI until the user quits (0) or a signal arrives ([`SIGNAL_EXIT`]).
pub async fn run_tui(
    opts: TuiOptions,
    backend: impl Backend,
    mut data: watch::Receiver<DataUpdate>,
) -> anyhow::Result<i32> {
    install_panic_hook();
    let mut signals = Signals::new()?;
    crossterm::terminal::enable_raw_mode().context("cannot switch the terminal to raw mode")?;
    let guard = Guard;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)
        .context("cannot enter the alternate screen")?;
    if opts.mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
            .context("cannot enable mouse capture")?;
    }
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
            .context("cannot set up the terminal")?;
    terminal.clear().context("cannot clear the terminal")?;

    let size = terminal.size().context("cannot read the terminal size")?;
    let first = data.borrow_and_update().clone();
    let mut state = start_state(&opts, (size.width, size.height), first);

    let mut events = EventStream::new();
    let mut pending: Pending<'_> = FuturesUnordered::new();
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut data_open = true;
    let mut first_full_logged = false;

    let code = loop {
        if state.dirty {
            terminal
                .draw(|f| views::draw(f, &state, &opts.theme))
                .context("cannot draw")?;
            state.dirty = false;
            if !first_full_logged && is_full(&state.data) {
                first_full_logged = true;
                // The target must be a literal for tracing's macros; it equals FIRST_FRAME_TARGET.
                tracing::info!(
                    target: "vinspect::tui",
                    elapsed_ms = since_process_start().as_millis() as u64,
                    rows = state.data.rows.len(),
                    "first full frame"
                );
            }
            tracing::trace!(target: "vinspect::tui", data_version = state.data.version, "frame drawn");
        }
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Action::Key(k),
                Some(Ok(Event::Mouse(m))) => Action::Mouse(m),
                Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("cannot read terminal input"),
                None => break 0,
            },
            changed = data.changed(), if data_open => match changed {
                Ok(()) => Action::Data(data.borrow_and_update().clone()),
                // The producer is gone: keep showing the last data.
                Err(_) => { data_open = false; continue; }
            },
            Some(a) = pending.next(), if !pending.is_empty() => a,
            _ = tick.tick() => Action::Tick(Utc::now()),
            _ = signals.recv() => break SIGNAL_EXIT,
        };
        let mut quit = false;
        for effect in update(&mut state, action) {
            if effect == Effect::Quit {
                quit = true;
            } else {
                dispatch(&backend, effect, &mut pending);
            }
        }
        if quit {
            break 0;
        }
    };
    drop(pending);
    drop(terminal);
    drop(guard);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::snapshot::ConnState;
    use crate::tui::fixtures;

    #[test]
    fn the_namespace_flag_filters_from_the_first_frame() {
        let opts = TuiOptions {
            namespace: Some(fixtures::rows()[0].namespace.clone()),
            ..TuiOptions::default()
        };
        let ns = opts.namespace.clone().unwrap();
        let mut state = start_state(&opts, (120, 40), fixtures::data());
        let mut seen = 0;
        for tab in ['1', '2', '3', '4'] {
            update(
                &mut state,
                Action::Key(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Char(tab),
                    crossterm::event::KeyModifiers::NONE,
                )),
            );
            for i in state.visible().to_vec() {
                assert_eq!(state.data.rows[i as usize].namespace, ns);
                seen += 1;
            }
        }
        assert!(seen > 0);
        let all = start_state(&TuiOptions::default(), (120, 40), fixtures::data());
        assert!(all.data.rows.iter().any(|r| r.namespace != ns));
    }

    #[test]
    fn a_frame_is_full_once_both_sides_are_listed_and_rows_computed() {
        let mut d = fixtures::data();
        assert!(is_full(&d));
        d.loading = true;
        assert!(!is_full(&d));
        d.loading = false;
        d.host_conn = ConnState::Connecting;
        assert!(!is_full(&d));
        d.host_conn = ConnState::Error {
            message: "down".into(),
        };
        assert!(!is_full(&d));
        assert!(!is_full(&DataUpdate::default()));
    }
}
