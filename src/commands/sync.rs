//! `vinspect sync`: the continuous sync engine (issue 4).

use crate::cli::{GlobalArgs, SyncArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &SyncArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("sync").into())
}
