//! The TUI over real clusters: watch caches → rows and DNS lines → the TUI's data channel, and
//! the [`crate::tui::Backend`] seam (diffs, YAML, fixes through the engine, context switches).
//!
//! [`data`] is pure (a snapshot in, the TUI's data out); [`backend`] is the thin async shell.
pub mod backend;
pub mod data;
pub mod incremental;

pub use backend::{LiveBackend, LiveHooks, LiveOptions, OnApplied, READ_ONLY_REFUSAL};
pub use data::{Latest, data_update, diff_source, dns_rows, object_json};
