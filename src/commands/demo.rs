//! `vinspect demo`: sandbox pair + sync engine + scenario + TUI (issue 7).

use crate::cli::{DemoArgs, GlobalArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &DemoArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("demo").into())
}
