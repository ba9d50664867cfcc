//! `mwictl recover [BOT]`: the interactive wizard. It needs a terminal; it ends in the same plan,
//! confirmation, journal and engine as the unattended flows.

use std::io::IsTerminal;
use std::time::Instant;

use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
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
    let client = ctx.client().await?;
    let mut prompt = Terminal;
    let bot = wizard::pick_bot(client, &mut prompt, bot).await?;
    let runner = common::runner(ctx, client, common.wait, started)?;
    if let Some(open) = runner.unfinished(None, Some(&bot))? {
        let question = format!(
            "An unfinished run {} of `recover {}` exists for bot {bot:?}; continue it?",
            open.record.run_id,
            open.record.operation.name()
        );
        if prompt.confirm(&question, true)? {
            return common::continue_run(ctx, &runner, open, false).await;
        }
    }
    let start = Start {
        input: common.input(),
        wait: common.wait,
        lab_dir: Some(ctx.home()?.lab_bot_dir(&bot)),
    };
    let Some(decided) = wizard::decide(client, ctx.printer(), &mut prompt, &bot, start).await?
    else {
        ctx.printer().status("nothing was changed");
        return Ok(ExitStatus::Success);
    };
    let runner = common::runner(ctx, client, decided.wait, started)?;
    common::start_run(ctx, &runner, decided.planned, decided.input, common.plan).await
}
