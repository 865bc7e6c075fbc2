//! `vinspect fix`: plan and apply through the engine (issue 5).

use crate::cli::{FixArgs, GlobalArgs};
use crate::inspect::fix_cmd::{FixOptions, run_fix};

use super::setup;

pub fn run(global: &GlobalArgs, args: &FixArgs) -> anyhow::Result<u8> {
    let connect = setup::connect_options(global)?;
    let opts = FixOptions {
        connect,
        all: args.all,
        refs: args.refs.clone(),
        dry_run: args.dry_run,
        yes: args.yes,
        read_only: global.read_only,
        audit_log: args.audit_log.clone(),
        interactive: None,
    };
    let code = setup::block_on(run_fix(opts))??;
    Ok(setup::exit_code(code))
}
