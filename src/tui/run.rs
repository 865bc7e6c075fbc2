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
use std::sync::Once;
use std::time::Duration;
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

    let theme = opts.theme;
    let mut state = AppState::new(opts.keymap, opts.read_only, &opts.read_only_reason);
    let size = terminal.size().context("cannot read the terminal size")?;
    update(&mut state, Action::Resize(size.width, size.height));
    update(&mut state, Action::Tick(Utc::now()));
    let first = data.borrow_and_update().clone();
    update(&mut state, Action::Data(first));

    let mut events = EventStream::new();
    let mut pending: Pending<'_> = FuturesUnordered::new();
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut data_open = true;
    let mut first_full_logged = false;
    let started = std::time::Instant::now();

    let code = loop {
        if state.dirty {
            terminal
                .draw(|f| views::draw(f, &state, &theme))
                .context("cannot draw")?;
            state.dirty = false;
            // Scale runs read these from the log file: time to the first frame showing both
            // sides' lists, and which data each frame showed (for change-to-screen lag).
            if !first_full_logged
                && state.data.virtual_conn.is_live()
                && state.data.host_conn.is_live()
            {
                first_full_logged = true;
                tracing::info!(
                    target: "vinspect::tui",
                    elapsed_ms = started.elapsed().as_millis() as u64,
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
