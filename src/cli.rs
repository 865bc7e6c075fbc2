//! The command-line contract (architecture.md, "Command-line contract"): clap definitions only.
//! Behaviour lives in `src/commands/`; `main.rs` parses and dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::engine::change::ObjKind;

/// Inspect and repair vCluster networking sync: every virtual Pod, Service, Endpoints and
/// Ingress next to its host twin, what is wrong, and the fix.
#[derive(Debug, Clone, Parser)]
#[command(name = "vinspect", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Without a subcommand vinspect opens the TUI.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every command understands (kubectl/k9s habits).
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file [default: $KUBECONFIG (several files merged), else ~/.kube/config].
    /// For `sandbox` and `demo`: where to write the sandbox's kubeconfig.
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The virtual cluster's context; `vcluster_<name>_<namespace>_<hostcontext>` also sets
    /// --vcluster, --host-namespace and --host-context.
    #[arg(long, global = true, value_name = "CTX")]
    pub context: Option<String>,

    /// The host cluster's context.
    #[arg(long, global = true, value_name = "CTX")]
    pub host_context: Option<String>,

    /// The vCluster's name (its Helm release name).
    #[arg(long, global = true, value_name = "NAME")]
    pub vcluster: Option<String>,

    /// The host namespace the vCluster runs in [default: vcluster-<NAME>].
    #[arg(long, global = true, value_name = "NS")]
    pub host_namespace: Option<String>,

    /// The vCluster's vcluster.yaml [default: host Secret vc-config-<NAME>, else vCluster's defaults].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Only this virtual namespace.
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// Every virtual namespace.
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Never write to either cluster.
    #[arg(long, global = true)]
    pub read_only: bool,

    /// TUI theme: a built-in name or a theme file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// More log output (-v info, -vv debug, -vvv trace). Logs go to a file while the TUI runs.
    #[arg(short = 'v', long = "verbose", global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Sandbox pair + sync engine + incident scenario + the TUI; no cluster needed.
    Demo(DemoArgs),
    /// Print pairs with status, reasons and DNS names (exit 0 all synced, 1 problems, 2 error).
    Check(CheckArgs),
    /// Plan and apply fixes through the sync engine (exit 0 done, 1 nothing applied, 2 error).
    Fix(FixArgs),
    /// Run the continuous sync engine (exit 0 on signal, 2 on error).
    Sync(SyncArgs),
    /// Show the host name or label key a virtual object gets (exit 0, 2 on bad input).
    Translate(TranslateArgs),
    /// Serve the virtual cluster's DNS (exit 0 on signal, 2 on error).
    Dns(DnsArgs),
    /// Run embedded host + virtual API servers and write a kubeconfig (exit 0 on signal, 2 on error).
    Sandbox(SandboxArgs),
}

impl Command {
    /// The subcommand's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Demo(_) => "demo",
            Command::Check(_) => "check",
            Command::Fix(_) => "fix",
            Command::Sync(_) => "sync",
            Command::Translate(_) => "translate",
            Command::Dns(_) => "dns",
            Command::Sandbox(_) => "sandbox",
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct DemoArgs {
    /// Incident scenario to load.
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list_scenarios: bool,
    /// No TUI: print `ready: KUBECONFIG=<path>` and keep running for kubectl or k9s.
    #[arg(long)]
    pub no_tui: bool,
    /// Let the sync controller repair the incident as well (it is gone within seconds).
    #[arg(long)]
    pub repair: bool,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

/// Object kinds selectable with `--kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    #[value(alias = "pods", alias = "po")]
    Pod,
    #[value(alias = "services", alias = "svc")]
    Service,
    #[value(alias = "ep")]
    Endpoints,
    #[value(alias = "endpointslices", alias = "eps")]
    Endpointslice,
    #[value(alias = "ingresses", alias = "ing")]
    Ingress,
}

impl KindArg {
    pub fn obj_kind(self) -> ObjKind {
        match self {
            KindArg::Pod => ObjKind::Pod,
            KindArg::Service => ObjKind::Service,
            KindArg::Endpoints => ObjKind::Endpoints,
            KindArg::Endpointslice => ObjKind::EndpointSlice,
            KindArg::Ingress => ObjKind::Ingress,
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = CheckFormat::Table)]
    pub output: CheckFormat,
    /// Only pairs of this kind.
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Option<KindArg>,
    /// Resolve NAME as a pod inside the vCluster would, with the explanation chain
    /// (exit 0 resolves, 1 does not).
    #[arg(long, value_name = "NAME", conflicts_with = "refs")]
    pub dns: Option<String>,
    /// Namespace of the asking pod for --dns (search path) [default: default].
    #[arg(long, value_name = "NS", requires = "dns")]
    pub from_namespace: Option<String>,
    /// Objects to check: [kind/]namespace/name (kind: pod, service|svc, ingress|ing, endpoints|ep, endpointslice|eps).
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct FixArgs {
    /// Fix every pair with a problem.
    #[arg(long, conflicts_with = "refs")]
    pub all: bool,
    /// Show the plans and send them with dryRun=All; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking.
    #[arg(long)]
    pub yes: bool,
    /// Audit log file [default: $XDG_STATE_HOME/vinspect/audit.log].
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    /// Pairs to fix: [kind/]namespace/name.
    #[arg(value_name = "REF", required_unless_present = "all")]
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct SyncArgs {
    /// Reconcile everything once, wait for it to settle, exit (1 if anything is left unsynced).
    #[arg(long)]
    pub once: bool,
    /// Audit log file [default: $XDG_STATE_HOME/vinspect/audit.log].
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

/// Output formats of `translate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TranslateFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TranslateArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = TranslateFormat::Text)]
    pub output: TranslateFormat,
    /// Also print the host key of this label key (repeatable).
    #[arg(long = "label", value_name = "KEY")]
    pub labels: Vec<String>,
    /// Virtual objects: [kind/]namespace/name (kind: pod, service|svc, ingress|ing,
    /// endpoints|ep, endpointslice|eps; default service).
    #[arg(value_name = "REF", required_unless_present = "labels")]
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DnsArgs {
    /// Address to serve on (UDP and TCP), e.g. 127.0.0.1:1053 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Forward names outside the cluster to this server; without it nothing is forwarded.
    #[arg(long, value_name = "ADDR")]
    pub upstream: Option<SocketAddr>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct SandboxArgs {
    /// Scenario to lay down (a compiled-in file).
    #[arg(long, value_name = "NAME", conflicts_with = "empty")]
    pub scenario: Option<String>,
    /// Only what a fresh vCluster install has.
    #[arg(long)]
    pub empty: bool,
    /// Add N pairs (services with pods, headless and selector-less services, ingresses; 100
    /// apps per virtual namespace) and their synced host twins.
    #[arg(long, value_name = "N")]
    pub scale: Option<usize>,
    /// Object changes per second, spread over both sides.
    #[arg(long, value_name = "R")]
    pub churn: Option<f64>,
    /// Address to listen on [default: 127.0.0.1; anything else exposes the sandbox].
    #[arg(long, value_name = "IP")]
    pub bind: Option<std::net::IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("vinspect").chain(args.iter().copied()))
    }

    #[test]
    fn no_subcommand_is_the_tui_with_global_flags() {
        let cli = parse(&["--context", "vcluster_a_b_c", "-vv", "--read-only", "-A"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.global.context.as_deref(), Some("vcluster_a_b_c"));
        assert_eq!(cli.global.verbose, 2);
        assert!(cli.global.read_only && cli.global.all_namespaces);
        assert!(parse(&["-n", "x", "-A"]).is_err());
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = parse(&[
            "check",
            "-o",
            "json",
            "--kind",
            "svc",
            "-n",
            "default",
            "--vcluster",
            "v",
        ])
        .unwrap();
        let Some(Command::Check(args)) = cli.command else {
            panic!("not check")
        };
        assert_eq!(args.output, CheckFormat::Json);
        assert_eq!(args.kind, Some(KindArg::Service));
        assert_eq!(cli.global.namespace.as_deref(), Some("default"));
        assert_eq!(cli.global.vcluster.as_deref(), Some("v"));
    }

    #[test]
    fn subcommand_flags() {
        assert!(parse(&["fix"]).is_err(), "fix needs --all or a REF");
        assert!(parse(&["fix", "--all", "svc/a/b"]).is_err());
        let cli = parse(&[
            "fix",
            "--all",
            "--dry-run",
            "--yes",
            "--audit-log",
            "/tmp/a",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Fix(FixArgs {
                all: true,
                dry_run: true,
                yes: true,
                ..
            }))
        ));
        assert!(parse(&["sync", "--once"]).is_ok());
        assert!(parse(&["dns"]).is_err(), "dns needs --listen");
        assert!(parse(&["dns", "--listen", "127.0.0.1:0", "--upstream", "1.1.1.1:53"]).is_ok());
        assert!(parse(&["dns", "--listen", "nope"]).is_err());
        assert!(parse(&["check", "--dns", "a.b", "--from-namespace", "x"]).is_ok());
        assert!(parse(&["check", "--from-namespace", "x"]).is_err());
        assert!(parse(&["sandbox", "--empty", "--scenario", "x"]).is_err());
        let cli = parse(&[
            "sandbox",
            "--scale",
            "100",
            "--churn",
            "5",
            "--kubeconfig",
            "/tmp/k",
        ])
        .unwrap();
        assert_eq!(cli.global.kubeconfig, Some(PathBuf::from("/tmp/k")));
        assert!(parse(&["demo", "--scenario", "x", "--no-tui"]).is_ok());
        assert!(parse(&["demo", "--list-scenarios"]).is_ok());
        assert!(
            parse(&["translate"]).is_err(),
            "translate needs a REF or --label"
        );
        let cli = parse(&["translate", "--label", "release", "-o", "json"]).unwrap();
        let Some(Command::Translate(t)) = cli.command else {
            panic!("not translate")
        };
        assert_eq!(t.labels, vec!["release"]);
        assert_eq!(t.output, TranslateFormat::Json);
    }
}
