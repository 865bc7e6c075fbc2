//! `vinspect dns`: the virtual cluster's DNS server (issue 8).

use crate::cli::{GlobalArgs, DnsArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &DnsArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("dns").into())
}
