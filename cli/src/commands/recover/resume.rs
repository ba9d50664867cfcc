//! `mwictl recover --resume`: continues the newest interrupted or failed recovery run, whatever
//! its bot and flow, from its first unfinished step.

use std::time::Instant;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::journal::Journal;

pub async fn run(ctx: &Context, common: CommonArgs) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    let home = ctx.home()?;
    let dir = common::journal_dir(&home);
    let Some(journal) = Journal::find_unfinished(&dir, None, None)? else {
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
    let (client, resolved) = ctx.connected().await?;
    common::continue_run(ctx, client, resolved, journal, common.wait, started, true).await
}
