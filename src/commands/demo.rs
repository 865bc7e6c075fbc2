//! `vinspect demo`: sandbox pair + sync engine + scenario + TUI (issue 7).

use crate::cli::{DemoArgs, GlobalArgs};
use crate::demo::{DemoOptions, run_demo};

use super::setup;

pub fn run(global: &GlobalArgs, args: &DemoArgs) -> anyhow::Result<u8> {
    let opts = DemoOptions {
        scenario: args.scenario.clone(),
        list_scenarios: args.list_scenarios,
        no_tui: args.no_tui,
        theme: global.theme.clone(),
        read_only: global.read_only,
        kubeconfig: global.kubeconfig.clone(),
        repair: args.repair,
        namespace: super::tui::start_namespace(global),
    };
    let code = setup::block_on(run_demo(opts))??;
    Ok(setup::exit_code(code))
}
