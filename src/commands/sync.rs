//! `vinspect sync`: the continuous sync engine (the controller).

use crate::cli::{GlobalArgs, SyncArgs};
use crate::engine::controller::SyncOptions;
use crate::engine::runner::run_sync;

use super::setup;

pub fn run(global: &GlobalArgs, args: &SyncArgs) -> anyhow::Result<u8> {
    let opts = SyncOptions {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
        host_context: global.host_context.clone(),
        vcluster: global.vcluster.clone(),
        host_namespace: global.host_namespace.clone(),
        config: global.config.clone(),
        once: args.once,
        audit_log: args.audit_log.clone(),
        read_only: global.read_only,
    };
    let code = setup::block_on(run_sync(opts))??;
    Ok(setup::exit_code(code))
}
