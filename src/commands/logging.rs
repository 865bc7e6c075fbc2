//! Logging set-up: `-v` picks the level (`VINSPECT_LOG` or `RUST_LOG` override it with a full
//! filter); while the TUI owns the terminal, logs go to a file, never onto the screen.

use std::io::IsTerminal;
use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer alive; drop it last (it flushes the file).
pub struct LogGuard {
    _guard: Option<WorkerGuard>,
    /// The log file, when logging to one.
    pub file: Option<PathBuf>,
}

fn level(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// The filter for `-v` count: kube's client logs every failed request at ERROR, which would
/// repeat the one-line error vinspect prints itself, so it is quiet below `-vv`.
pub fn default_filter(verbose: u8) -> String {
    let base = level(verbose);
    if verbose == 0 {
        // The TUI's one-off timing event ("first full frame") is always in the log.
        format!("{base},vinspect::tui=info,kube_client=off,kube_runtime=off,hyper_util=off")
    } else if verbose < 2 {
        format!("{base},kube_client=off,kube_runtime=off,hyper_util=off")
    } else {
        base.to_string()
    }
}

/// Where the TUI's log goes: `$XDG_STATE_HOME/vinspect/vinspect.log` (or the platform's
/// equivalent), else the temp dir.
pub fn log_file_path() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("vinspect")
        .join("vinspect.log")
}

/// Install the global subscriber. Failing to open the log file is not fatal: logging is then
/// off rather than on the screen.
pub fn init(verbose: u8, to_file: bool) -> LogGuard {
    let filter = std::env::var("VINSPECT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter(verbose)));
    if !to_file {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .with_target(false)
            .try_init();
        return LogGuard {
            _guard: None,
            file: None,
        };
    }
    let path = log_file_path();
    let opened = path
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .ok()
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .ok()
        });
    let Some(file) = opened else {
        return LogGuard {
            _guard: None,
            file: None,
        };
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    LogGuard {
        _guard: Some(guard),
        file: Some(path),
    }
}
