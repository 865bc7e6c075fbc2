//! One function per subcommand; [`run`] is the dispatch `main.rs` calls.
//!
//! Every command returns its exit code (`EXIT_*`) or an error; `main.rs` prints an error as one
//! `error: …` line and exits with [`EXIT_ERROR`].

pub mod check;
pub mod demo;
pub mod dns;
pub mod fix;
pub mod logging;
pub mod sandbox;
pub mod scale;
pub mod setup;
pub mod sync;
pub mod translate;
pub mod tui;

use crate::cli::{Cli, Command};

/// Success: everything synced / done / quit normally.
pub const EXIT_OK: u8 = 0;
/// The command ran and found problems (drift, nothing applied, a name that does not resolve).
pub const EXIT_PROBLEMS: u8 = 1;
/// Bad input, setup or connection error.
pub const EXIT_ERROR: u8 = 2;

/// A command that is not built yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not available yet")]
pub struct NotAvailable(pub &'static str);

/// Run the parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<u8> {
    let global = &cli.global;
    match &cli.command {
        None => tui::run(global),
        Some(Command::Demo(args)) => demo::run(global, args),
        Some(Command::Check(args)) => check::run(global, args),
        Some(Command::Fix(args)) => fix::run(global, args),
        Some(Command::Sync(args)) => sync::run(global, args),
        Some(Command::Translate(args)) => translate::run(global, args),
        Some(Command::Dns(args)) => dns::run(global, args),
        Some(Command::Sandbox(args)) => sandbox::run(global, args),
    }
}

/// Whether this command line opens the TUI (then logs must go to a file, never the screen).
pub fn uses_tui(cli: &Cli) -> bool {
    match &cli.command {
        None => true,
        Some(Command::Demo(d)) => !d.no_tui && !d.list_scenarios,
        Some(_) => false,
    }
}
