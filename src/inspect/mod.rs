//! Pairs, status, reasons and DNS names computed from a snapshot. Pure.
pub mod fixture;
pub mod model;
pub mod rows;
pub mod sides;
pub mod status;
pub use model::{DnsNames, EventView, PairRow, RowKind, SideView, Status};
pub use rows::{pair_rows, rows};
