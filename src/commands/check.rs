//! `vinspect check`: pairs with status, reasons and DNS names (issue 5; `--dns`: issue 8).

use crate::cli::{CheckArgs, GlobalArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &CheckArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("check").into())
}
