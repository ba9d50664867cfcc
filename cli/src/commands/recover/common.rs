//! What every recover flow shares on the command line: the common flags, the refusal without a
//! terminal, the confirmation, and handing the plan (or the unfinished run) to the runner.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::commands::flags::parse_duration;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::recover::engine::{Progress, RunOptions};
use crate::recover::journal::Journal;
use crate::recover::plan::{Flow, FlowInput, Planned, RECOVER_JOURNALS};
use crate::recover::runner::RunContext;

/// Flags of every recover flow.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Print the plan (text, or JSON with --format json) and change nothing.
    #[arg(long)]
    pub plan: bool,

    /// The tbot.yaml to write the new token into (onboarding.token; when that value is an
    /// absolute path, into the file it names, as tbot reads it). Only the token's bytes change;
    /// the file is replaced atomically, keeps its mode and owner, and a backup stays beside it.
    /// In a bulk run (--bots, --all-locked) {bot} in PATH stands for each bot's name.
    #[arg(long, value_name = "PATH")]
    pub tbot_config: Option<PathBuf>,

    /// A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`;
    /// MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it). In a bulk run
    /// (--bots, --all-locked) {bot} in CMD stands for each bot's name.
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,

    /// Verify by polling (every 500ms) until a new bot instance has joined, or for role fixes
    /// until the bot renewed, for at most DURATION (e.g. 2m); then say what to check.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// Lifetime of the new one-time join token.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub token_ttl: Duration,

    /// Start a new run even if an unfinished one exists for this bot and flow (that one is
    /// marked abandoned; its backups stay).
    #[arg(long)]
    pub new_run: bool,
}

impl CommonArgs {
    /// The plan-shaping part of the flags.
    pub fn input(&self) -> FlowInput {
        FlowInput {
            tbot_config: self
                .tbot_config
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            restart_cmd: self.restart_cmd.clone(),
            token_ttl_seconds: self.token_ttl.as_secs().max(1),
            ..Default::default()
        }
    }
}

/// The runner of recovery runs, verification waiting `wait`.
pub fn runner<'a>(
    ctx: &'a Context,
    client: &'a Client,
    wait: Option<Duration>,
    started: Instant,
) -> Result<RunContext<'a>, CommandError> {
    let progress = if std::io::stderr().is_terminal() && !ctx.global().quiet {
        Progress::Spinners
    } else {
        Progress::Steps
    };
    Ok(RunContext::new(
        client,
        ctx.printer(),
        &ctx.home()?,
        RECOVER_JOURNALS,
        RunOptions { wait, progress },
        started,
    ))
}

/// Refuses at once when there is no terminal to confirm on and no --yes (--plan changes nothing
/// and needs neither).
pub fn require_consent(ctx: &Context, common: &CommonArgs, bot: &str) -> Result<(), CommandError> {
    if common.plan || ctx.assume_yes() || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CommandError::usage(format!(
        "refusing to recover bot {bot:?} without confirmation: stdin is not a terminal"
    ))
    .hint("pass --yes to run unattended, or --plan to only see the plan"))
}

/// Asks on the terminal (stderr); --yes answers yes. (Runs after `require_consent`, which has
/// already refused an unattended run without --yes.)
pub fn confirm(ctx: &Context, prompt: &str) -> Result<bool, CommandError> {
    ctx.confirm(prompt, || {
        CommandError::usage("refusing to go on without confirmation: stdin is not a terminal")
            .hint("pass --yes to run unattended, or --plan to only see the plan")
    })
}

/// Runs one unattended flow: continues an unfinished run of the same flow and bot, or builds the
/// plan with `build`, prints it (`--plan` stops there), confirms and executes it.
pub async fn run_flow(
    ctx: &Context,
    common: &CommonArgs,
    flow: Flow,
    bot: &str,
    input: FlowInput,
    build: impl AsyncFnOnce(&Client) -> Result<Planned, CommandError>,
) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    require_consent(ctx, common, bot)?;
    if let Some(path) = &input.tbot_config {
        crate::recover::flows::check_tbot_config(path)?;
    }
    let client = ctx.client().await?;
    let runner = runner(ctx, client, common.wait, started)?;
    if !common.plan
        && let Some(open) = runner.to_continue(flow.into(), bot, &input, common.new_run)?
    {
        return continue_run(ctx, &runner, open, true).await;
    }
    let planned = build(client).await?;
    start_run(ctx, &runner, planned, input, common.plan).await
}

/// Prints the plan; unless `plan_only`, confirms it and has the runner execute it.
pub async fn start_run(
    ctx: &Context,
    runner: &RunContext<'_>,
    planned: Planned,
    input: FlowInput,
    plan_only: bool,
) -> Result<ExitStatus, CommandError> {
    let printer = ctx.printer();
    if plan_only {
        printer.print(&planned.plan)?;
        return Ok(ExitStatus::Success);
    }
    printer.status(crate::output::Output::text(&planned.plan));
    if !planned.plan.is_read_only() && !confirm(ctx, "Apply this plan?")? {
        printer.status("canceled; nothing was changed");
        return Ok(ExitStatus::Failure);
    }
    let report = runner.start(planned, input).await?;
    printer.print(&report)?;
    Ok(report.status())
}

/// Continues an unfinished run from its first unfinished step, asking first when `ask`.
pub async fn continue_run(
    ctx: &Context,
    runner: &RunContext<'_>,
    journal: Journal,
    ask: bool,
) -> Result<ExitStatus, CommandError> {
    ctx.printer().status(RunContext::continuation(&journal));
    if ask && !confirm(ctx, "Continue this run?")? {
        ctx.printer().status("canceled; the run stays unfinished");
        return Ok(ExitStatus::Failure);
    }
    let report = runner.resume(journal).await?;
    ctx.printer().print(&report)?;
    Ok(report.status())
}
