//! What every recover flow shares on the command line: the common flags, the refusal without a
//! terminal, the confirmation, continuing an unfinished run, and running the plan to its report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::context::{Context, Resolved};
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::home::Home;
use crate::recover::engine::{Engine, RunOptions, RunReport};
use crate::recover::journal::Journal;
use crate::recover::plan::{Flow, FlowInput, Planned, Prefetched};
use crate::recover::step::Step;

/// Flags of every recover flow.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Print the plan (text, or JSON with --format json) and change nothing.
    #[arg(long)]
    pub plan: bool,

    /// The tbot.yaml to write the new token into (onboarding.token; when that value is an
    /// absolute path, into the file it names, as tbot reads it). Only the token's bytes change;
    /// the file is replaced atomically, keeps its mode and owner, and a backup stays beside it.
    #[arg(long, value_name = "PATH")]
    pub tbot_config: Option<PathBuf>,

    /// A command to run after the update, e.g. "systemctl restart tbot" (run with `sh -c`;
    /// MWICTL_RECOVER_BOT and, once issued, MWICTL_RECOVER_TOKEN are set for it).
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

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::resource::parse_go_duration(text).map_err(|e| e.to_string())
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

/// Where recover journals live.
pub fn journal_dir(home: &Home) -> PathBuf {
    home.state_dir().join("recover")
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
    let home = ctx.home()?;
    let dir = journal_dir(&home);
    let (client, resolved) = ctx.connected().await?;
    if !common.plan
        && let Some(mut open) = Journal::find_unfinished(&dir, Some(flow), Some(bot))?
    {
        if common.new_run {
            open.abandon()?;
            ctx.printer().status(format!(
                "abandoned the unfinished run {} (its backups stay in {})",
                open.record.run_id,
                open.record.backup_dir.display()
            ));
        } else {
            if open.record.input != input {
                return Err(CommandError::usage(format!(
                    "an unfinished run {} of `mwictl recover {} --bot {bot}` used other options",
                    open.record.run_id,
                    flow.name()
                ))
                .hint(format!(
                    "rerun with the same options, continue it with `mwictl recover --resume`, or pass --new-run (journal {})",
                    open.path().display()
                )));
            }
            return continue_run(ctx, client, resolved, open, common.wait, started, true).await;
        }
    }
    let planned = build(client).await?;
    start_run(
        ctx, client, resolved, &home, planned, input, common, started,
    )
    .await
}

/// Prints the plan; unless `--plan`, confirms it, opens its journal and executes it.
#[allow(clippy::too_many_arguments)]
pub async fn start_run(
    ctx: &Context,
    client: &Client,
    resolved: &Resolved,
    home: &Home,
    planned: Planned,
    input: FlowInput,
    common: &CommonArgs,
    started: Instant,
) -> Result<ExitStatus, CommandError> {
    let printer = ctx.printer();
    if common.plan {
        printer.print(&planned.plan)?;
        return Ok(ExitStatus::Success);
    }
    printer.status(crate::output::Output::text(&planned.plan));
    if !planned.plan.is_read_only() && !confirm(ctx, "Apply this plan?")? {
        printer.status("canceled; nothing was changed");
        return Ok(ExitStatus::Failure);
    }
    let dir = journal_dir(home);
    let issues_token = planned
        .plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::IssueToken { .. }));
    let earlier_token = Journal::last_token(&dir, &planned.plan.bot).filter(|_| issues_token);
    let mut journal = Journal::create(&dir, &home.backups_dir(), planned.plan, input)?;
    if earlier_token.is_some() {
        journal.record.token = earlier_token;
        journal.save()?;
    }
    execute(
        ctx,
        client,
        resolved,
        journal,
        planned.prefetched,
        false,
        common.wait,
        started,
    )
    .await
}

/// Continues an unfinished run from its first unfinished step, asking first when `ask`.
pub async fn continue_run(
    ctx: &Context,
    client: &Client,
    resolved: &Resolved,
    mut journal: Journal,
    wait: Option<Duration>,
    started: Instant,
    ask: bool,
) -> Result<ExitStatus, CommandError> {
    let r = &journal.record;
    let next = journal.first_unfinished().map_or(r.steps.len(), |i| i + 1);
    ctx.printer().status(format!(
        "continuing run {} of `mwictl recover {} --bot {}` (started {}) at step {next} of {}",
        r.run_id,
        r.flow.name(),
        r.bot,
        r.started_at,
        r.steps.len()
    ));
    ctx.printer().status(journal.record.plan.render_steps());
    if ask && !confirm(ctx, "Continue this run?")? {
        ctx.printer().status("canceled; the run stays unfinished");
        return Ok(ExitStatus::Failure);
    }
    journal.record.resumed += 1;
    journal.save()?;
    execute(
        ctx,
        client,
        resolved,
        journal,
        Prefetched::default(),
        true,
        wait,
        started,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    ctx: &Context,
    client: &Client,
    resolved: &Resolved,
    mut journal: Journal,
    prefetched: Prefetched,
    resumed: bool,
    wait: Option<Duration>,
    started: Instant,
) -> Result<ExitStatus, CommandError> {
    let options = RunOptions {
        wait,
        spinners: std::io::stderr().is_terminal() && !ctx.global().quiet,
    };
    let engine = Engine::new(client, ctx.printer(), options);
    let verify = engine.run(&mut journal, prefetched).await?;
    let report = RunReport {
        record: journal.record.clone(),
        journal: journal.path().to_path_buf(),
        resumed,
        elapsed: started.elapsed(),
        rpc_count: client.rpc_count(),
        verify,
        auth_addr: resolved.target.addr.clone(),
        via_proxy: resolved.target.via_proxy,
    };
    ctx.printer().print(&report)?;
    Ok(report.status())
}
