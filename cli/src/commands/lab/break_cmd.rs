//! `mwictl lab break SCENARIO --bot NAME`: puts a lab bot into an incident for real (S1–S4 and
//! S8–S12 by running lab agents into it, S5–S7 by writing the tbot.yaml mistake) and says what to
//! run next.

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::lab::scenarios::{self, BreakOptions, Broken, Scenario};
use crate::lab::setup::LabTarget;

/// Put a lab bot into an incident, for real, to rehearse diagnosing and recovering it.
///
/// S1–S4 run lab bot agents inside mwictl against the lab from `mwictl lab start` until the
/// incident has happened: the bot (with its own role `access-BOT`: login alice, nothing for
/// databases), its join token and DIR/tbot.yaml are created as needed, and the agents log to
/// DIR/tbot.log.
/// S8–S12 do the same with a bound-keypair token (registration secret in DIR/tbot.yaml; the
/// bot's earlier bound-keypair tokens are deleted): S8 restarts the agent without its identity
/// until recovery.limit (3) refuses it; S9 runs a second agent on a copy of the storage
/// (DIR/data-copy) after the first recovered; S10 deletes the token and creates it again from its
/// spec alone (or, with --delete, only deletes it); S11 wipes the storage and makes a new
/// keypair there; S12 onboards a second bot NAME-2 (in DIR/NAME-2, logging to DIR/tbot.log
/// too), takes a `lab snapshot`, lets both bots recover, then restores the snapshot under the
/// running lab (`lab restore`: everything done in the lab meanwhile is rolled back).
/// S6 and S7 run an agent into the incident when the lab runs a proxy that advertises an address
/// this host cannot reach (`lab start --proxy-listen 127.0.0.1:3080 --proxy-public-addr
/// proxy.lab.invalid:3080`): the bot's proxy_server or its identity output's proxy ping fails.
/// Otherwise they, like S5, only write DIR/tbot.yaml with the mistake `mwictl lint` finds.
/// The summary names the log, the config and the commands that diagnose and fix the incident.
#[derive(Debug, clap::Args)]
pub struct BreakArgs {
    /// The incident to cause.
    #[arg(value_enum, value_name = "SCENARIO")]
    pub scenario: Scenario,

    /// The bot to break (created if missing).
    #[arg(long, value_name = "NAME")]
    pub bot: String,

    /// Working directory for tbot.yaml, tbot.log, data/ and out/ [default:
    /// $MWICTL_HOME/lab-bots/NAME]. It must be new, empty, or one lab break used before.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// ssh-login: the SSH login the bot's identity output asks for (its role allows only alice).
    #[arg(long, value_name = "LOGIN", default_value = "bob")]
    pub login: String,

    /// db-access: the database registered in the lab that the bot's output asks for.
    #[arg(long, value_name = "NAME", default_value = "example")]
    pub db: String,

    /// bk-token-wiped: delete the bot's token instead of re-applying it without its status.
    #[arg(long)]
    pub delete: bool,
}

pub async fn run(ctx: &Context, args: BreakArgs) -> Result<ExitStatus, CommandError> {
    let dir = match args.dir {
        Some(dir) => std::path::absolute(&dir).unwrap_or(dir),
        None => ctx.home()?.lab_bot_dir(&args.bot),
    };
    let opts = BreakOptions {
        scenario: args.scenario.0,
        bot: args.bot,
        dir,
        login: args.login,
        db: args.db,
        delete: args.delete,
    };
    let printer = ctx.printer();
    // On a terminal each step shows on one transient line: the summary lists them all after.
    let spinner = (std::io::stderr().is_terminal() && !ctx.global().quiet).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    });
    let progress = |step: &str| match &spinner {
        Some(bar) => bar.set_message(step.to_string()),
        None => printer.status(step),
    };
    let broken = break_with(ctx, &opts, &progress).await;
    if let Some(bar) = &spinner {
        bar.finish_and_clear();
    }
    printer.print(&broken?)?;
    Ok(ExitStatus::Success)
}

/// Breaks the bot, with lab bot agents against the lab when the incident needs them.
async fn break_with(
    ctx: &Context,
    opts: &BreakOptions,
    progress: scenarios::Progress<'_>,
) -> Result<Broken, CommandError> {
    let broken = if scenarios::runs_agents(opts.scenario) {
        let (client, resolved) = ctx.connected().await?;
        if resolved.target.via_proxy {
            return Err(CommandError::usage(
                "lab break talks to a lab auth service directly, not through --proxy",
            )
            .hint("drop --proxy; start a lab with `mwictl lab start`"));
        }
        let lab = LabTarget::from_identity(&resolved.target.addr, &resolved.target.identity)?;
        scenarios::break_bot(Some((client, &lab)), opts, progress).await?
    } else if scenarios::runs_agents_with_a_proxy(opts.scenario)
        && let Some((client, lab)) = lab_with_a_proxy(ctx).await
    {
        scenarios::break_bot(Some((client, &lab)), opts, progress).await?
    } else {
        scenarios::break_bot(None, opts, progress).await?
    };
    Ok(broken)
}

/// The configured lab, when it is reachable directly and runs a proxy; `None` sends S6 and S7 to
/// their lint-only files.
async fn lab_with_a_proxy(ctx: &Context) -> Option<(&crate::client::Client, LabTarget)> {
    let (client, resolved) = ctx.connected().await.ok()?;
    if resolved.target.via_proxy {
        return None;
    }
    let lab = LabTarget::from_identity(&resolved.target.addr, &resolved.target.identity).ok()?;
    lab.proxy.is_some().then_some((client, lab))
}
