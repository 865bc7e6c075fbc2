//! `vinspect dns`: the virtual cluster's DNS server (issue 8).

use crate::cli::{DnsArgs, GlobalArgs};

use super::NotAvailable;

pub fn run(_global: &GlobalArgs, _args: &DnsArgs) -> anyhow::Result<u8> {
    Err(NotAvailable("dns").into())
}
