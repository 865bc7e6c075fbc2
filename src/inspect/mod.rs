//! Pairs, status, reasons and DNS names computed from a snapshot (pure), plus the thin
//! `check` and `fix` command shells that read the clusters and print rows.
pub mod check_cmd;
pub mod fix_cmd;
pub mod fixture;
pub mod model;
pub mod report;
pub mod rows;
pub mod sides;
pub mod status;
pub use check_cmd::{CheckOptions, OutputFormat, run_check};
pub use fix_cmd::{FixOptions, run_fix};
pub use model::{DnsNames, EventView, PairRow, RowKind, SideView, Status};
pub use rows::{pair_rows, rows};
