//! `vinspect dns --listen ADDR [--upstream ADDR]`: the virtual cluster's DNS served from the
//! live watch caches of both sides and the vcluster.yaml in force (issue 8).

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{DnsArgs, GlobalArgs};
use crate::cluster::session;
use crate::cluster::snapshot::ConnState;
use crate::cluster::watch::{self, WatchOptions};
use crate::dns::server::{DnsServeOptions, run_dns_command};

use super::{EXIT_OK, setup};

/// How long to wait for the first full picture before serving anyway.
const FIRST_SYNC: Duration = Duration::from_secs(15);

pub fn run(global: &GlobalArgs, args: &DnsArgs) -> anyhow::Result<u8> {
    let connect = setup::connect_options(global)?;
    let opts = DnsServeOptions {
        listen: args.listen,
        upstream: args.upstream,
        ..DnsServeOptions::default()
    };
    setup::block_on(async move {
        let stop = setup::stop_signal()?;
        let session = session::connect(&connect).await?;
        if let Some(w) = &session.config.warning {
            eprintln!("{w}");
        }
        let mut watching = watch::spawn(&session.clients, WatchOptions::new(session.scope.clone()));
        let first = watching.settled(FIRST_SYNC).await;
        // Without the virtual side there is nothing to answer from; a host side that is down
        // only degrades answers (the watch keeps retrying it).
        if let ConnState::Error { message } | ConnState::Retrying { message, .. } =
            &first.virtual_side.conn
        {
            anyhow::bail!("{message}");
        }
        if let ConnState::Error { message } | ConnState::Retrying { message, .. } = &first.host.conn
        {
            eprintln!(
                "warning: {message}; serving from the virtual side while the host side retries"
            );
        }
        let config = Arc::new(session.config.config.clone());
        run_dns_command(opts, watching.rx.clone(), config, stop).await?;
        drop(watching);
        Ok(EXIT_OK)
    })?
}
