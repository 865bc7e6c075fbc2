//! `vinspect check`: pairs with status, reasons and DNS names (issue 5); with `--dns NAME` the
//! answer a pod would get and why (issue 8).

use std::io::Write;

use crate::cli::{CheckArgs, CheckFormat, GlobalArgs};
use crate::cluster::session::{self, ConnectOptions};
use crate::inspect::check_cmd::{CheckOptions, OutputFormat, run_check};

use super::EXIT_ERROR;
use super::setup;

pub fn run(global: &GlobalArgs, args: &CheckArgs) -> anyhow::Result<u8> {
    let connect = setup::connect_options(global)?;
    if let Some(name) = &args.dns {
        return setup::block_on(check_dns(connect, name, args.from_namespace.as_deref()))?;
    }
    let opts = CheckOptions {
        connect,
        output: match args.output {
            CheckFormat::Table => OutputFormat::Table,
            CheckFormat::Json => OutputFormat::Json,
            CheckFormat::Yaml => OutputFormat::Yaml,
        },
        namespace: setup::namespace_filter(global),
        kinds: args.kind.map(|k| k.obj_kind()).into_iter().collect(),
        refs: args.refs.clone(),
        color: None,
    };
    let code = setup::block_on(run_check(opts))??;
    Ok(setup::exit_code(code))
}

/// `check --dns`: read both sides once, resolve, print the explanation chain.
async fn check_dns(
    connect: ConnectOptions,
    name: &str,
    from_namespace: Option<&str>,
) -> anyhow::Result<u8> {
    let session = session::connect(&connect).await?;
    if let Some(w) = &session.config.warning {
        eprintln!("{w}");
    }
    let snap = session.snapshot().await;
    let errors = session::side_errors(&snap);
    if !errors.is_empty() {
        for e in errors {
            eprintln!("error: {e}");
        }
        return Ok(EXIT_ERROR);
    }
    let check =
        crate::dns::check::check_dns(&snap, &session.config.config, name, None, from_namespace);
    let code = setup::exit_code(check.exit_code);
    if code == EXIT_ERROR {
        eprint!("{}", check.text);
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(check.text.as_bytes())?;
        out.flush()?;
    }
    Ok(code)
}
