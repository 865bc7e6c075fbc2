//! `vinspect` without a subcommand: the TUI (issue 6).

use crate::cli::GlobalArgs;

use super::NotAvailable;

pub fn run(_global: &GlobalArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("the TUI").into())
}
