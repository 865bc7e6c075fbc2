//! `vinspect check`: read both sides once, print the rows, exit 0 (all Synced/Disabled),
//! 1 (a problem row) or 2 (a side unreachable, bad input). Output schema: [`super::report`].

use crate::cluster::session::{self, ConnectOptions};
use crate::cluster::snapshot::Snapshot;
use crate::engine::ObjKind;
use crate::inspect::model::PairRow;
use crate::inspect::report::{self, RefFilter, RowFilter};
use crate::inspect::rows::rows;
use crate::vcluster::config::VClusterConfig;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub connect: ConnectOptions,
    pub output: OutputFormat,
    /// `-n NS`; `None` = all namespaces (`-A`).
    pub namespace: Option<String>,
    /// `--kind K` (empty = every kind).
    pub kinds: Vec<ObjKind>,
    /// `[kind/]namespace/name` references.
    pub refs: Vec<String>,
    /// Colour override; `None` = only on a terminal and never under `NO_COLOR`.
    pub color: Option<bool>,
}

/// Run `check` against the clusters, printing to stdout/stderr.
pub async fn run_check(opts: CheckOptions) -> anyhow::Result<i32> {
    let color = opts.color.unwrap_or_else(|| {
        report::want_color(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    });
    // Not locked for the whole command: log lines are written to stderr from runtime worker
    // threads while this one awaits, and a lock held here would block them (and with them
    // the requests they serve) for good.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    run_check_to(
        CheckOptions {
            color: Some(color),
            ..opts
        },
        &mut out,
        &mut err,
    )
    .await
}

/// [`run_check`] with explicit output streams (tests).
pub async fn run_check_to(
    opts: CheckOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<i32> {
    let filter = match build_filter(&opts) {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(2);
        }
    };
    let Some((session, snap)) = session::connect_and_read(&opts.connect, err).await? else {
        return Ok(2);
    };
    let config = session.config.config.clone();
    // The clients and their connection pools are not needed any more.
    drop(session);
    render_to(&snap, &config, &filter, &opts, out)
}

pub fn build_filter(opts: &CheckOptions) -> Result<RowFilter, report::RefError> {
    Ok(RowFilter {
        namespace: opts.namespace.clone(),
        kinds: opts.kinds.clone(),
        refs: opts
            .refs
            .iter()
            .map(|r| RefFilter::parse(r))
            .collect::<Result<_, _>>()?,
    })
}

/// The pure part of `check`: rows of a snapshot, filtered and rendered, with the exit code.
pub fn render(
    snap: &Snapshot,
    config: &VClusterConfig,
    filter: &RowFilter,
    opts: &CheckOptions,
) -> anyhow::Result<(String, i32)> {
    let mut buf = Vec::new();
    let code = render_to(snap, config, filter, opts, &mut buf)?;
    Ok((String::from_utf8(buf)?, code))
}

/// [`render`] written straight to `out`: a 10,000-pair JSON report is never held as one string.
pub fn render_to(
    snap: &Snapshot,
    config: &VClusterConfig,
    filter: &RowFilter,
    opts: &CheckOptions,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let all = rows(snap, config);
    let shown: Vec<&PairRow> = all.iter().filter(|r| filter.matches(r)).collect();
    let code = report::exit_code(&shown);
    // Stdout is line-buffered: without this a pretty report costs a write per line.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    match opts.output {
        OutputFormat::Table => {
            if shown.is_empty() {
                w.write_all(b"No pairs found.\n")?;
            } else {
                let text = report::table(&shown, opts.color.unwrap_or(false), chrono::Utc::now());
                w.write_all(text.as_bytes())?;
            }
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(
                &mut w,
                &report::report(&snap.vcluster, &snap.host_namespace, &shown),
            )?;
            w.write_all(b"\n")?;
        }
        OutputFormat::Yaml => serde_yaml::to_writer(
            &mut w,
            &report::report(&snap.vcluster, &snap.host_namespace, &shown),
        )?,
    }
    w.flush()?;
    Ok(code)
}
