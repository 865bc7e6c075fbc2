//! Virtual-cluster DNS: a pure resolver that answers like the vCluster's CoreDNS (with
//! `networking.resolveDNS` and `fallbackHostCluster`), explains every answer, and a
//! hickory-based server that serves it from live snapshots.
//!
//! Entry points:
//! - [`Resolver`]: `query` (absolute name, with explanation), `query_quiet` (server hot path),
//!   `lookup` (a pod's search list and ndots 5 from a client namespace).
//! - [`check::check_dns`]: `vinspect check --dns NAME [--from-namespace NS]` text + exit code.
//! - [`tab::dns_tab`]: rows, rule tests and problems for the TUI's DNS tab.
//! - [`server::serve`] / [`server::run_dns_command`]: `vinspect dns --listen ADDR [--upstream ADDR]`.

pub mod check;
pub mod corefile;
pub mod fixture;
mod kube;
pub mod names;
pub mod resolver;
pub mod rules;
pub mod server;
pub mod tab;
pub mod types;
pub mod wire;

#[cfg(test)]
mod tests;

pub use check::{DnsCheck, check_dns};
pub use resolver::Resolver;
pub use server::{DnsError, DnsServeOptions, DnsServer, run_dns_command, serve};
pub use tab::{DnsTab, dns_tab};
pub use types::{Answer, Forward, RData, Rcode, Record, RecordType, Stage, Step};
