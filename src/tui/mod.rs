//! The terminal UI: virtual objects next to their host twins, live, filtered, fixable.
//!
//! Pure core, thin shell. [`app::update`] is the only thing that changes [`app::AppState`]; it
//! takes an [`app::Action`] (a key, a mouse event, a new snapshot, a backend answer) and returns
//! [`app::Effect`]s, requests the shell ([`run`]) hands to a [`backend::Backend`]. Views only
//! read the state. Keymaps ([`keymap`]) and themes ([`theme`]) are data.
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
