//! The terminal UI: virtual objects next to their host twins, live, filtered, fixable.
//!
//! Pure core, thin shell. [`app::update`] is the only thing that changes [`app::AppState`]; it
//! takes an [`app::Action`] (a key, a mouse event, a new snapshot, a backend answer) and returns
//! [`app::Effect`]s, requests the shell ([`run`]) hands to a [`backend::Backend`]. Views only
//! read the state. Keymaps ([`keymap`]) and themes ([`theme`]) are data.
//!
//! Wiring (what `main` does): load [`config::UserConfig`] from [`config::default_config_path`],
//! build [`TuiOptions::resolve`] from `--theme`, `--read-only`, the config and `NO_COLOR`;
//! publish [`DataUpdate`]s (rows from `inspect`, DNS lines, both [`ConnState`]s) on a
//! `tokio::sync::watch` channel whenever the snapshot changes; implement [`Backend`] over the
//! clients and `engine::apply`; then `run_tui(opts, backend, rx).await` returns the exit code.
//!
//! [`ConnState`]: crate::cluster::snapshot::ConnState
pub mod app;
pub mod backend;
pub mod config;
pub mod diff;
pub mod filter;
pub mod fixtures;
pub mod keymap;
pub mod run;
pub mod screenshot;
pub mod theme;
pub mod types;
pub mod views;
pub mod yaml;

pub use app::{Action, AppState, Effect, update};
pub use backend::{Backend, BackendError, FakeBackend};
pub use run::{TuiOptions, run_tui};
pub use theme::Theme;
pub use types::{DataUpdate, DnsRow, FixOutcome, FixRequest, RowKey};
