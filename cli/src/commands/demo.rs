//! `mwictl demo`: a bot breaks and recovers end to end in a throwaway lab, narrated step by step;
//! exit 0 only when the recovered bot is verified over gRPC.

use std::io::IsTerminal;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::lab::demo::{self, DemoOptions, STEPS};
use crate::lab::narrate::Narrator;

/// Watch a bot break and recover, end to end, in a throwaway lab (a few seconds).
///
/// Starts a lab auth service in a temp dir, creates bot `example` and runs its agent, breaks it
/// the way two tbot processes sharing one data dir do (generation mismatch, bot locked), runs
/// the log doctor on the agent's log, recovers the bot (unlock with a backup, new join token
/// written into its tbot.yaml), restarts the agent and checks over gRPC that a new bot instance
/// renews with its generation rising. Each step is narrated on stderr; the result line goes to
/// stdout. On a terminal the recovery plan is shown and confirmed (--yes skips the question).
/// Nothing outside the temp dir is touched: no profile is saved and $MWICTL_HOME is not used.
/// Exit 0 when the bot recovered, 1 naming the step that failed.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the temp dir (lab data, the bot's tbot.yaml and log, the recovery journal and
    /// backups) to look at afterwards.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<ExitStatus, CommandError> {
    let interactive =
        !ctx.assume_yes() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let quiet = ctx.global().quiet;
    let narrator = Narrator::new(
        STEPS,
        Box::new(move |line: &str| {
            if !quiet {
                crate::output::to_stderr(format_args!("{line}\n"));
            }
        }),
    );
    let options = DemoOptions {
        keep: args.keep,
        interactive,
    };
    let outcome = demo::run(
        options,
        &narrator,
        crate::commands::lab::start::shutdown_signal(),
    )
    .await?;
    ctx.printer().print(&outcome)?;
    Ok(if outcome.recovered() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
