//! `mwictl recover [BOT]`: the interactive wizard. It needs a terminal; it ends in the same plan,
//! confirmation, journal and engine as the unattended flows.

use std::io::IsTerminal;
use std::time::Instant;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::journal::Journal;
use crate::recover::plan::Flow;
use crate::recover::wizard::{self, Prompt, Start, Terminal};

pub async fn run(
    ctx: &Context,
    bot: Option<String>,
    common: CommonArgs,
) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::usage(
            "`mwictl recover` without a subcommand is an interactive wizard and needs a terminal",
        )
        .hint(format!(
            "run a flow unattended instead: `mwictl recover {} --bot NAME --yes` (see `mwictl recover --help`)",
            Flow::ALL.map(Flow::name).join("|")
        )));
    }
    let home = ctx.home()?;
    let (client, resolved) = ctx.connected().await?;
    let mut prompt = Terminal;
    let bot = wizard::pick_bot(client, &mut prompt, bot).await?;
    if let Some(open) = Journal::find_unfinished(&common::journal_dir(&home), None, Some(&bot))? {
        let question = format!(
            "An unfinished run {} of `recover {}` exists for bot {bot:?}; continue it?",
            open.record.run_id,
            open.record.flow.name()
        );
        if prompt.confirm(&question, true)? {
            return common::continue_run(ctx, client, resolved, open, common.wait, started, false)
                .await;
        }
    }
    let start = Start {
        input: common.input(),
        wait: common.wait,
    };
    let Some(decided) = wizard::decide(client, ctx.printer(), &mut prompt, &bot, start).await?
    else {
        ctx.printer().status("nothing was changed");
        return Ok(ExitStatus::Success);
    };
    let common = CommonArgs {
        wait: decided.wait,
        ..common
    };
    common::start_run(
        ctx,
        client,
        resolved,
        &home,
        decided.planned,
        decided.input,
        &common,
        started,
    )
    .await
}
