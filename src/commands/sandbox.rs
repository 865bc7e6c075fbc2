//! `vinspect sandbox`: embedded host + virtual API servers (issue 3).

use crate::cli::{GlobalArgs, SandboxArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &SandboxArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("sandbox").into())
}
