//! `mwictl recover --resume [--run RUN_ID]`: continues the newest interrupted or failed recovery
//! run, whatever its bot and flow (or the run named), from its first unfinished step.

use std::time::Instant;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::journal::Journal;
use crate::recover::plan::RECOVER_JOURNALS;

pub async fn run(
    ctx: &Context,
    run_id: Option<&str>,
    common: CommonArgs,
) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    let dir = ctx.home()?.state_dir().join(RECOVER_JOURNALS);
    let found = match run_id {
        Some(id) => Some(Journal::find_open_run(&dir, id)?),
        None => Journal::find_unfinished(&dir, None, None)?,
    };
    let Some(journal) = found else {
        return Err(CommandError::new(
            ExitStatus::NotFound,
            format!("no unfinished recover run in {}", dir.display()),
        )
        .hint("start one with `mwictl recover BOT` or `mwictl recover FLOW --bot NAME`"));
    };
    if common.plan {
        ctx.printer().print(&journal.record.plan)?;
        return Ok(ExitStatus::Success);
    }
    common::require_consent(ctx, &common, &journal.record.bot)?;
    let client = ctx.client().await?;
    let runner = common::runner(ctx, client, common.wait, started)?;
    common::continue_run(ctx, &runner, journal, true).await
}
