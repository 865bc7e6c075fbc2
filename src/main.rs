//! The `vinspect` binary: parse, set up logging, dispatch. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use vinspect::cli::Cli;
use vinspect::commands::{self, EXIT_ERROR};

// The sandbox and the sync engine allocate and free millions of small JSON nodes; glibc
// malloc's bin consolidation was about a third of the converge bench's CPU time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's own option setter (the crate links the library but does not export it).
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// mimalloc v3's `mi_option_arena_eager_commit`, `mi_option_purge_delay` and
/// `mi_option_allow_thp` (mimalloc.h).
const MI_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
const MI_PURGE_DELAY: std::ffi::c_int = 15;
const MI_ALLOW_THP: std::ffi::c_int = 43;

/// The TUI and the one-shot commands hold a whole cluster's objects: give freed memory back
/// to the OS at once and commit arena memory only as it is used. With mimalloc's defaults
/// (purge 10 ms later, arenas committed eagerly) `check -o json` at 10,000 pairs peaked at
/// 367–389 MB, with these at 300–306 MB. The sandbox and the sync engine keep the defaults:
/// they churn and want the speed. An operator's `MIMALLOC_*` variable wins.
///
/// Transparent huge pages are turned off for the same processes: mimalloc asks for them on
/// its arenas, and a 2 MiB page is resident as a whole however little of it is used. The TUI
/// at 5,000 pairs held 100 MB of heap in 176 MB of RSS, 40–60 MB of it huge pages; without them
/// 142 MB.
fn lean_allocator(cli: &Cli) {
    use vinspect::cli::Command;
    if matches!(
        cli.command,
        Some(Command::Sandbox(_) | Command::Sync(_) | Command::Demo(_))
    ) {
        return;
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        no_huge_pages();
    }
    for (option, var) in [
        (MI_PURGE_DELAY, "MIMALLOC_PURGE_DELAY"),
        (MI_ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT"),
        (MI_ALLOW_THP, "MIMALLOC_ALLOW_THP"),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: plain option setter of the allocator linked into this binary; it takes
            // an option index and a value and touches no memory of ours.
            unsafe { mi_option_set(option, 0) };
        }
    }
}

/// mimalloc reads its THP option when it starts, before `main`, and only then disables huge
/// pages for the process; set later, the option only stops it asking for them on new arenas.
/// So the process flag is set here, as mimalloc would have (it covers the arena mapped
/// already). Failure (an old kernel) leaves things as they were.
#[cfg(target_os = "linux")]
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer flag and touches no memory of ours.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn no_huge_pages() {}

fn main() -> ExitCode {
    vinspect::tui::run::mark_process_start();
    // A bug must still end in one line and exit 2, never a backtrace on the user's screen.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("internal error: {msg}{at}");
        eprintln!(
            "error: internal error: {}{at} (please report this)",
            one_line(&msg)
        );
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    lean_allocator(&cli);
    let _log = commands::logging::init(cli.global.verbose, commands::uses_tui(&cli));
    match std::panic::catch_unwind(|| commands::run(&cli)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            eprintln!("error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(EXIT_ERROR)
        }
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Help and version print as clap does; a usage error becomes one `error: …` line (clap's
/// first paragraph) and exit 2, like every other error.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or(&text);
    let line = one_line(first);
    let line = line.strip_prefix("error: ").unwrap_or(&line);
    eprintln!("error: {line} (see --help)");
    ExitCode::from(EXIT_ERROR)
}
