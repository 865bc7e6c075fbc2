//! Pairs, status, reasons and DNS names computed from a snapshot. Pure.
pub mod model;
pub mod sides;
pub mod status;
pub use model::{DnsNames, EventView, PairRow, RowKind, SideView, Status};
