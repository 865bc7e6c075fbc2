//! `vinspect fix`: plan the chosen pairs, show every change with its JSON, ask (on a terminal,
//! unless `--yes`), apply, re-read and re-plan until each pair's plan is empty (at most
//! [`MAX_ROUNDS`]), then print one outcome line per pair. Stateless: no last-seen memory, so
//! spec follows the virtual side and status the host (vCluster right after a restart).
//!
//! Exit codes: 0 done (or nothing to do, or a dry run), 1 nothing applied / declined / a pair
//! left unfixed, 2 error (a side unreachable, bad REF).

use crate::cluster::session::{self, ConnectOptions};
use crate::cluster::snapshot::Snapshot;
use crate::engine::apply::{self as engine_apply, ApplyError, ApplyOptions, AuditLog};
use crate::engine::ctx::Ctx;
use crate::engine::pair::{Pair, pairs};
use crate::engine::plan::plan;
use crate::engine::{Blocked, Change, Plan};
use crate::inspect::model::{PairRow, Status};
use crate::inspect::report::{RefFilter, change_body};
use crate::inspect::rows::pair_rows;
use crate::vcluster::config::VClusterConfig;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Plan → apply → re-plan rounds per pair (a new twin can need the virtual Service re-created
/// with the host ClusterIP in a second round).
pub const MAX_ROUNDS: usize = 3;

/// Pause between a round's writes and the re-read.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    pub connect: ConnectOptions,
    /// Every pair with a problem.
    pub all: bool,
    /// `[kind/]namespace/name` references (when not `all`).
    pub refs: Vec<String>,
    /// Send with dryRun=All; change nothing.
    pub dry_run: bool,
    /// Apply without asking.
    pub yes: bool,
    /// Show plans only; never write.
    pub read_only: bool,
    /// `--audit-log PATH` (default `$XDG_STATE_HOME/vinspect/audit.log`).
    pub audit_log: Option<PathBuf>,
    /// Override terminal detection (tests); `None` = stdin and stdout are terminals.
    pub interactive: Option<bool>,
}

/// Run `fix` against the clusters, printing to stdout/stderr and asking on stdin.
pub async fn run_fix(opts: FixOptions) -> anyhow::Result<i32> {
    let interactive = opts
        .interactive
        .unwrap_or_else(|| std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    // Not locked for the whole command: log lines are written to stderr from runtime worker
    // threads while this one awaits, and a lock held here would block them (and with them
    // the requests they serve) for good.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let mut input = std::io::stdin().lock();
    run_fix_to(
        FixOptions {
            interactive: Some(interactive),
            ..opts
        },
        &mut out,
        &mut err,
        &mut input,
    )
    .await
}

/// [`run_fix`] with explicit streams (tests).
pub async fn run_fix_to(
    opts: FixOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
    input: &mut dyn BufRead,
) -> anyhow::Result<i32> {
    let refs: Vec<RefFilter> = match opts.refs.iter().map(|r| RefFilter::parse(r)).collect() {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(2);
        }
    };
    if !opts.all && refs.is_empty() {
        writeln!(
            err,
            "error: nothing to fix: pass --all or one or more [kind/]namespace/name"
        )?;
        return Ok(2);
    }
    let Some((session, snap)) = session::connect_and_read(&opts.connect, err).await? else {
        return Ok(2);
    };
    let config = session.config.config.clone();

    let all_rows = pair_rows(&snap, &config);
    let mut chosen: Vec<(Pair, PairRow)> = Vec::new();
    if opts.all {
        chosen.extend(all_rows.into_iter().filter(|(_, r)| r.status.is_problem()));
    } else {
        for rf in &refs {
            let hits: Vec<_> = all_rows
                .iter()
                .filter(|(_, r)| rf.matches(r))
                .cloned()
                .collect();
            if hits.is_empty() {
                writeln!(
                    err,
                    "error: no pair matches {}/{} (check the namespace and name; `vinspect check` lists pairs)",
                    rf.namespace, rf.name
                )?;
                return Ok(2);
            }
            for h in hits {
                if !chosen.iter().any(|(p, _)| *p == h.0) {
                    chosen.push(h);
                }
            }
        }
    }

    // Show every plan; collect the pairs there is something to do for.
    let mut actionable: Vec<Pair> = Vec::new();
    let mut change_count = 0usize;
    // Waiting pairs can become actionable once what they wait for is fixed in an earlier round.
    let mut deferred: Vec<Pair> = Vec::new();
    for (pair, row) in &chosen {
        print_plan(out, row)?;
        // An Error row here is a refused write (fix stops before planning when a side cannot
        // be read): the engine's plan may differ from what was refused, so it is offered.
        if !row.plan.is_empty() {
            actionable.push(pair.clone());
            change_count += row.plan.changes.len();
        } else if matches!(row.status, Status::Waiting { .. }) {
            deferred.push(pair.clone());
        }
    }
    if actionable.is_empty() {
        writeln!(out, "Nothing to apply.")?;
        return Ok(0);
    }
    if opts.read_only {
        writeln!(out, "read-only: {change_count} change(s) not applied.")?;
        return Ok(1);
    }
    if !opts.dry_run && !opts.yes {
        if !opts.interactive.unwrap_or(false) {
            writeln!(
                err,
                "error: not a terminal and --yes not given: nothing applied (rerun with --yes to apply, or --dry-run)"
            )?;
            return Ok(1);
        }
        write!(
            out,
            "Apply {change_count} change(s) to {} pair(s)? [y/N] ",
            actionable.len()
        )?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            writeln!(out, "Declined: nothing applied.")?;
            return Ok(1);
        }
    }

    let eclients = engine_apply::Clients {
        virtual_client: session.clients.virtual_.client.clone(),
        host_client: session.clients.host.client.clone(),
        virtual_context: session.clients.virtual_.context.clone(),
        host_context: session.clients.host.context.clone(),
    };
    // A dry run applies nothing, so it writes no audit lines.
    let audit = if opts.dry_run {
        None
    } else {
        opts.audit_log
            .clone()
            .or_else(AuditLog::default_path)
            .map(AuditLog::new)
    };
    let apply_opts = ApplyOptions {
        dry_run: opts.dry_run,
        audit: audit.clone(),
    };
    let mut candidates = actionable.clone();
    candidates.extend(deferred);
    let mut failures: Vec<(Pair, String)> = Vec::new();
    let mut applied_any = false;
    let mut snap = snap;
    // Rounds count per pair: a pair that waited for another one starts its own count when it
    // first gets changes. The loop ends when no pair has changes left in its budget.
    let mut rounds_used: Vec<(Pair, usize)> = Vec::new();
    for round in 1..=MAX_ROUNDS * 2 {
        let ctx = Ctx::new(&snap, &config);
        let current = pairs(&ctx);
        let mut work: Vec<(Pair, Plan)> = Vec::new();
        for p in &candidates {
            if failures.iter().any(|(f, _)| f == p) || !current.contains(p) {
                continue;
            }
            let used = rounds_used
                .iter()
                .find(|(q, _)| q == p)
                .map_or(0, |(_, n)| *n);
            if used >= MAX_ROUNDS {
                continue;
            }
            let pl = plan(&ctx, p, None);
            if !pl.is_empty() && pl.blocked.is_none() {
                work.push((p.clone(), pl));
            }
        }
        if work.is_empty() {
            break;
        }
        if round > 1 {
            writeln!(
                out,
                "Round {round}: {} pair(s) still have changes.",
                work.len()
            )?;
        }
        for (p, pl) in work {
            match rounds_used.iter_mut().find(|(q, _)| *q == p) {
                Some((_, n)) => *n += 1,
                None => rounds_used.push((p.clone(), 1)),
            }
            for (i, c) in pl.changes.iter().enumerate() {
                // Every change is accounted for: the ones after a failure are named as not sent.
                let skipped = |out: &mut dyn Write, why: &str| -> std::io::Result<()> {
                    for rest in &pl.changes[i + 1..] {
                        writeln!(
                            out,
                            "  {} {}: not applied ({why})",
                            rest.action.verb(),
                            rest.target
                        )?;
                    }
                    Ok(())
                };
                match apply_one(&eclients, &apply_opts, c).await {
                    Step::Done(outcome) => {
                        applied_any = true;
                        writeln!(out, "  {} {}: {outcome}", c.action.verb(), c.target)?;
                    }
                    Step::Warn(outcome, warning) => {
                        applied_any = true;
                        writeln!(out, "  {} {}: {outcome}", c.action.verb(), c.target)?;
                        writeln!(err, "warning: {warning}")?;
                    }
                    // The object moved on: the next round re-reads and re-plans.
                    Step::Conflict(m) => {
                        writeln!(
                            out,
                            "  {} {}: conflict, re-planning ({m})",
                            c.action.verb(),
                            c.target
                        )?;
                        skipped(out, "re-planned after the conflict")?;
                        break;
                    }
                    Step::Failed(m) => {
                        writeln!(out, "  {} {}: failed: {m}", c.action.verb(), c.target)?;
                        skipped(out, "not sent after the failure above")?;
                        failures.push((p.clone(), m));
                        break;
                    }
                }
            }
        }
        if opts.dry_run {
            // Nothing changed on the servers: another round would plan the same again.
            break;
        }
        // Let the servers' own controllers (IP allocation, kubelet) catch up before re-reading.
        tokio::time::sleep(SETTLE).await;
        snap = session.snapshot().await;
        if !session::side_errors(&snap).is_empty() {
            break;
        }
    }

    if opts.dry_run {
        writeln!(
            out,
            "Dry run: the servers accepted the changes above; nothing was changed."
        )?;
        return Ok(if failures.is_empty() { 0 } else { 1 });
    }
    // Outcome per pair, from a fresh look.
    let final_rows = pair_rows(&snap, &config);
    let mut unfixed = 0;
    writeln!(out, "Outcome:")?;
    for pair in &candidates {
        let row = final_rows.iter().find(|(p, _)| p == pair).map(|(_, r)| r);
        let failed = failures.iter().find(|(f, _)| f == pair).map(|(_, m)| m);
        let line = match (row, failed) {
            (_, Some(m)) => {
                unfixed += 1;
                format!("failed: {m}")
            }
            (None, None) => "fixed (the pair is gone: its twin was deleted)".to_string(),
            (Some(r), None) if !r.status.is_problem() => format!("fixed ({})", r.status.word()),
            (Some(r), None) => {
                unfixed += 1;
                format!("still {}: {}", r.status.word(), r.reason)
            }
        };
        let name = describe_pair(pair);
        writeln!(out, "  {name}: {line}")?;
    }
    if let Some(a) = &audit {
        writeln!(out, "Audit log: {}", a.path().display())?;
    }
    Ok(if unfixed > 0 || !applied_any { 1 } else { 0 })
}

enum Step {
    Done(String),
    /// Applied, but something around it (the audit log) did not work.
    Warn(String, String),
    Conflict(String),
    Failed(String),
}

/// One change through `engine::apply`.
async fn apply_one(clients: &engine_apply::Clients, opts: &ApplyOptions, c: &Change) -> Step {
    let single = Plan {
        changes: vec![c.clone()],
        blocked: None,
    };
    match engine_apply::apply(clients, &single, opts).await {
        Ok(done) => Step::Done(
            done.first()
                .map(|a| a.outcome.clone())
                .unwrap_or_else(|| "applied".to_string()),
        ),
        Err(ApplyError::Conflict { reason, .. }) => Step::Conflict(reason),
        Err(e @ ApplyError::Audit { .. }) => Step::Warn("applied".to_string(), e.to_string()),
        Err(e) => Step::Failed(crate::cluster::fetch::one_line(&e.to_string())),
    }
}

fn describe_pair(p: &Pair) -> String {
    let kind = serde_json::to_value(p.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    match (&p.virtual_key, &p.host_key) {
        (Some(k), _) | (None, Some(k)) => format!("{kind} {k}"),
        (None, None) => kind,
    }
}

/// Print one pair's plan: a headline, a readable line per change and its JSON.
pub fn print_plan(out: &mut dyn Write, row: &PairRow) -> std::io::Result<()> {
    let kind = serde_json::to_value(row.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    writeln!(
        out,
        "{kind} {}/{}: {} — {}",
        row.namespace,
        row.name,
        row.status.word(),
        row.reason
    )?;
    match (&row.status, &row.plan.blocked) {
        (Status::Squatter, _) | (_, Some(Blocked::Squatter { .. })) => {
            writeln!(
                out,
                "  will not act: host {}/{} is not managed by this vCluster, and vinspect never \
                 writes to objects it does not manage.",
                row.host.namespace, row.host.name
            )?;
            writeln!(
                out,
                "  what you can do: delete or rename the host object if it is a leftover, or \
                 rename the virtual {kind} so its twin gets another name."
            )?;
        }
        (_, Some(Blocked::Waiting { message })) => {
            writeln!(
                out,
                "  waiting: {message}; fix that first and the pair follows."
            )?;
        }
        (_, Some(Blocked::Disabled { message })) => {
            writeln!(out, "  not synced: {message}")?;
        }
        (Status::Error { message }, _) if row.plan.is_empty() => {
            writeln!(out, "  cannot plan: {message}")?
        }
        _ if row.plan.is_empty() => writeln!(out, "  nothing to do")?,
        _ => {
            for c in &row.plan.changes {
                writeln!(out, "  - {} {}: {}", c.action.verb(), c.target, c.reason)?;
                if let Some(body) = change_body(&c.action) {
                    writeln!(
                        out,
                        "    {}",
                        serde_json::to_string(&body).unwrap_or_default()
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Rows of a snapshot for the given pairs (used by tests and the TUI's confirm dialog).
pub fn plans_for(snap: &Snapshot, config: &VClusterConfig, wanted: &[Pair]) -> Vec<(Pair, Plan)> {
    let ctx = Ctx::new(snap, config);
    wanted
        .iter()
        .map(|p| (p.clone(), plan(&ctx, p, None)))
        .collect()
}
