//! `vinspect fix`: plan and apply through the engine (issue 5).

use crate::cli::{FixArgs, GlobalArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &FixArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("fix").into())
}
