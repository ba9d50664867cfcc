//! Bulk recovery (`recover generation-mismatch|expired|bk-exhausted --all-locked | --bots A,B`):
//! picks the bots, runs each through the one runner with its own journal, N at a time, and
//! reports one line per bot as it finishes plus a summary. One bot failing never stops the rest.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::client::Client;
use crate::commands::recover::common::{self, CommonArgs};
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::triage::{BotReport, Reason};
use crate::ops::{recovery_mode, triage};
use crate::output::{Format, Output};
use crate::recover::engine::{Progress, RunReport};
use crate::recover::flows::{self, bound_keypair};
use crate::recover::plan::{Flow, FlowInput, Planned};
use crate::recover::{diagnose, runner::RunContext};

/// What `--tbot-config` and `--restart-cmd` replace with each bot's name in a bulk run.
pub const BOT_PLACEHOLDER: &str = "{bot}";

/// The flags that turn a flow into a bulk run.
#[derive(Debug, Clone, clap::Args)]
pub struct BulkArgs {
    /// Recover every bot that needs this flow, as `mwictl triage` finds them: for
    /// generation-mismatch the bots a lock blocks, for expired those with no live instance and no
    /// unexpired token to rejoin with, for bk-exhausted those whose bound-keypair token in mode
    /// standard has no recovery left. Runs unattended: needs --yes (or --plan). --tbot-config and --restart-cmd
    /// may hold {bot}, replaced by each bot's name.
    #[arg(long, conflicts_with_all = ["bot", "bots"])]
    pub all_locked: bool,

    /// Recover these bots (comma-separated), each with its own journal; needs --yes (or --plan).
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        conflicts_with = "bot"
    )]
    pub bots: Vec<String>,

    /// How many bots a bulk run recovers at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

impl BulkArgs {
    pub fn is_bulk(&self) -> bool {
        self.all_locked || !self.bots.is_empty()
    }
}

/// The bot a single-bot run names, or the usage error when none was given.
pub fn single_bot(bot: Option<String>) -> Result<String, CommandError> {
    bot.ok_or_else(|| {
        CommandError::usage("name the bot to recover")
            .hint("pass --bot NAME, or --bots A,B / --all-locked for a bulk run")
    })
}

/// Builds `flow`'s plan for `bot` from the server's state (the flows a bulk run can run).
pub async fn plan(
    client: &Client,
    flow: Flow,
    bot: &str,
    input: &FlowInput,
) -> Result<Planned, CommandError> {
    let state = diagnose::gather(client, bot).await?;
    match flow {
        Flow::GenerationMismatch => Ok(flows::generation_mismatch::plan(&state, input)),
        Flow::Expired => Ok(flows::expired::plan(&state, input)),
        _ => {
            let token =
                recovery_mode::existing_bot_token(client, bot, input.token.as_deref()).await?;
            Ok(bound_keypair::exhausted(&state, &token.value, input))
        }
    }
}

/// `input` for `bot`: `{bot}` in the tbot.yaml path and the restart command replaced.
fn input_for(input: &FlowInput, bot: &str) -> FlowInput {
    let mut out = input.clone();
    out.tbot_config = input
        .tbot_config
        .as_ref()
        .map(|p| p.to_string_lossy().replace(BOT_PLACEHOLDER, bot).into());
    out.restart_cmd = input
        .restart_cmd
        .as_ref()
        .map(|c| c.replace(BOT_PLACEHOLDER, bot));
    out
}

/// The bots `--all-locked` picks for `flow`, from one triage of the fleet.
async fn pick(client: &Client, flow: Flow) -> Result<Vec<String>, CommandError> {
    let fleet = triage::triage(
        client,
        SystemTime::now(),
        triage::Limits::default(),
        &HashMap::new(),
    )
    .await?;
    let mut bots: Vec<String> = fleet
        .bots
        .into_iter()
        .filter(|b| needs(flow, b))
        .map(|b| b.bot)
        .collect();
    bots.sort();
    Ok(bots)
}

/// Whether triage's report on a bot says it needs `flow`.
fn needs(flow: Flow, bot: &BotReport) -> bool {
    match flow {
        Flow::BkExhausted => bot.recoveries_remaining == Some(0),
        // Its identity expired and no token is left to rejoin with (a spent bound-keypair
        // token is bk-exhausted's).
        Flow::Expired => bot.reasons.iter().any(|r| {
            matches!(
                r,
                Reason::TokenSpent {
                    exhausted: None,
                    ..
                }
            )
        }),
        _ => bot.locks > 0,
    }
}

/// How one bot's run ended.
struct Outcome {
    flow: Flow,
    bot: String,
    report: Option<RunReport>,
    error: Option<CommandError>,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.status() == ExitStatus::Success)
    }

    fn state(&self) -> String {
        match (&self.report, &self.error) {
            (Some(r), _) if self.ok() => match r.verification().map(|v| v.state) {
                Some(crate::recover::step::VerifyState::Verified) => "recovered".into(),
                _ => "fixed".into(),
            },
            (Some(_), _) => "not_recovered".into(),
            _ => "failed".into(),
        }
    }
}

impl Output for Outcome {
    fn text(&self) -> String {
        let mark = if self.ok() { "✓" } else { "✗" };
        let detail = match (&self.report, &self.error) {
            (Some(r), _) => format!("journal {}", r.journal.display()),
            (None, Some(e)) => e.message.clone(),
            (None, None) => String::new(),
        };
        format!("{mark} {}: {} ({detail})\n", self.bot, self.state())
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "schema": "mwictl.recover.bulk/v1",
            "flow": self.flow.name(),
            "bot": self.bot,
            "state": self.state(),
            "run_id": self.report.as_ref().map(|r| r.record.run_id.clone()),
            "journal": self.report.as_ref().map(|r| r.journal.display().to_string()),
            "exit_code": self.report.as_ref().map_or_else(
                || self.error.as_ref().map_or(1, |e| e.status.code()),
                |r| r.status().code(),
            ),
            "error": self.error.as_ref().map(|e| e.message.clone()),
            "hints": self.error.as_ref().map(|e| e.hints.clone()).unwrap_or_default(),
        })
    }
}

/// The last line of a bulk run.
struct Summary {
    flow: Flow,
    bots: usize,
    failed: Vec<String>,
    elapsed_ms: u128,
}

impl Output for Summary {
    fn text(&self) -> String {
        let ok = self.bots - self.failed.len();
        let mut text = format!(
            "{ok} of {} bots recovered ({}), {} failed",
            self.bots,
            self.flow.name(),
            self.failed.len()
        );
        if !self.failed.is_empty() {
            text.push_str(&format!(": {}", self.failed.join(", ")));
        }
        text.push('\n');
        text
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "schema": "mwictl.recover.bulk.summary/v1",
            "flow": self.flow.name(),
            "bots": self.bots,
            "succeeded": self.bots - self.failed.len(),
            "failed": self.failed,
            "elapsed_ms": self.elapsed_ms,
        })
    }
}

/// Writes one result: a compact JSON line, a YAML document or a text line.
fn emit(ctx: &Context, out: &dyn Output) -> Result<(), CommandError> {
    let printer = ctx.printer();
    match printer.format() {
        Format::Json => printer.write(&format!("{}\n", out.json())),
        Format::Yaml => printer.write(&format!("---\n{}", out.yaml())),
        _ => printer.print(out),
    }
}

/// Runs `flow` for every bot `bulk` names.
pub async fn run(
    ctx: &Context,
    common_args: &CommonArgs,
    bulk: &BulkArgs,
    flow: Flow,
    input: FlowInput,
) -> Result<ExitStatus, CommandError> {
    let started = Instant::now();
    if !common_args.plan && !ctx.assume_yes() {
        return Err(CommandError::usage(format!(
            "refusing a bulk `recover {}` without --yes: it runs unattended",
            flow.name()
        ))
        .hint("pass --yes to recover every bot, or --plan to print each plan first"));
    }
    let client = ctx.client().await?;
    let bots = if bulk.all_locked {
        pick(client, flow).await?
    } else {
        bulk.bots.clone()
    };
    if bots.is_empty() {
        ctx.printer()
            .status(format!("no bot needs `recover {}`", flow.name()));
    }
    if common_args.plan {
        // A bot that cannot be planned is a line of its own; the others are still planned.
        let mut failed = false;
        for bot in &bots {
            match plan(client, flow, bot, &input_for(&input, bot)).await {
                Ok(planned) => emit(ctx, &planned.plan)?,
                Err(error) => {
                    failed = true;
                    emit(
                        ctx,
                        &Outcome {
                            flow,
                            bot: bot.clone(),
                            report: None,
                            error: Some(error),
                        },
                    )?;
                }
            }
        }
        return Ok(if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        });
    }
    let mut runner = common::runner(ctx, client, common_args.wait, started)?;
    runner.options.progress = Progress::Quiet;
    let bar = (std::io::stderr().is_terminal() && !ctx.global().quiet).then(|| {
        let bar =
            ProgressBar::with_draw_target(Some(bots.len() as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} bots {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    });
    let queue = RefCell::new(bots.iter().cloned().collect::<VecDeque<_>>());
    let failed = RefCell::new(Vec::new());
    let written = RefCell::new(Ok(()));
    {
        let worker = async || {
            loop {
                let Some(bot) = queue.borrow_mut().pop_front() else {
                    return;
                };
                let outcome = recover_one(&runner, common_args, flow, &bot, &input).await;
                if !outcome.ok() {
                    failed.borrow_mut().push(bot.clone());
                }
                let result = match &bar {
                    Some(bar) => {
                        bar.inc(1);
                        bar.suspend(|| emit(ctx, &outcome))
                    }
                    None => emit(ctx, &outcome),
                };
                if result.is_err() {
                    *written.borrow_mut() = result;
                }
            }
        };
        let mut workers: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = (0..bulk.parallel)
            .map(|_| Box::pin(worker()) as Pin<Box<dyn Future<Output = ()>>>)
            .collect();
        // Every worker is polled on this one task: the runs share the client and the printer.
        std::future::poll_fn(|cx| {
            workers.retain_mut(|w| w.as_mut().poll(cx).is_pending());
            if workers.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    written.into_inner()?;
    let mut failed = failed.into_inner();
    failed.sort();
    let summary = Summary {
        flow,
        bots: bots.len(),
        failed,
        elapsed_ms: started.elapsed().as_millis(),
    };
    emit(ctx, &summary)?;
    Ok(if summary.failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Plans and runs `flow` for one bot (continuing its unfinished run of the same flow).
async fn recover_one(
    runner: &RunContext<'_>,
    common_args: &CommonArgs,
    flow: Flow,
    bot: &str,
    input: &FlowInput,
) -> Outcome {
    let result = async {
        let input = input_for(input, bot);
        if let Some(path) = &input.tbot_config {
            flows::check_tbot_config(path)?;
        }
        if let Some(open) = runner.to_continue(flow.into(), bot, &input, common_args.new_run)? {
            return runner.resume(open).await;
        }
        let planned = plan(runner.client, flow, bot, &input).await?;
        runner.start(planned, input).await
    }
    .await;
    match result {
        Ok(report) => Outcome {
            flow,
            bot: bot.to_owned(),
            report: Some(report),
            error: None,
        },
        Err(e) => Outcome {
            flow,
            bot: bot.to_owned(),
            report: None,
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_becomes_each_bots_name() {
        let input = FlowInput {
            tbot_config: Some("/srv/{bot}/tbot.yaml".into()),
            restart_cmd: Some("systemctl restart tbot@{bot}".into()),
            ..Default::default()
        };
        let got = input_for(&input, "web");
        assert_eq!(got.tbot_config, Some("/srv/web/tbot.yaml".into()));
        assert_eq!(
            got.restart_cmd.as_deref(),
            Some("systemctl restart tbot@web")
        );
        assert_eq!(
            input_for(&FlowInput::default(), "web"),
            FlowInput::default()
        );
    }

    #[test]
    fn a_failed_bot_is_a_line_naming_its_error_and_counts_in_the_summary() {
        let failed = Outcome {
            flow: Flow::Expired,
            bot: "db".into(),
            report: None,
            error: Some(CommandError::usage("tbot.yaml /srv/db: not a tbot config")),
        };
        assert!(!failed.ok());
        assert_eq!(
            failed.text(),
            "✗ db: failed (tbot.yaml /srv/db: not a tbot config)\n"
        );
        assert_eq!(failed.json()["exit_code"], 2);
        let summary = Summary {
            flow: Flow::Expired,
            bots: 3,
            failed: vec!["db".into()],
            elapsed_ms: 5,
        };
        assert_eq!(
            summary.text(),
            "2 of 3 bots recovered (expired), 1 failed: db\n"
        );
        assert_eq!(summary.json()["succeeded"], 2);
    }

    #[test]
    fn each_flow_picks_the_bots_triage_says_need_it() {
        let bot = |locks: u32, remaining: Option<u32>, reasons: Vec<Reason>| BotReport {
            bot: "b".into(),
            reasons,
            locks,
            instances: 1,
            live_instances: 0,
            recoveries_remaining: remaining,
            identity_expires: None,
            heartbeat_at: None,
            unhealthy_services: 0,
        };
        let spent = |exhausted: Option<&str>| Reason::TokenSpent {
            instances: 1,
            exhausted: exhausted.map(Into::into),
        };
        let locked = bot(1, None, vec![]);
        assert!(needs(Flow::GenerationMismatch, &locked));
        assert!(!needs(Flow::Expired, &locked), "a lock is not an expiry");
        let expired = bot(0, None, vec![spent(None)]);
        assert!(needs(Flow::Expired, &expired));
        assert!(!needs(Flow::GenerationMismatch, &expired));
        assert!(!needs(Flow::BkExhausted, &expired));
        let exhausted = bot(0, Some(0), vec![spent(Some("t"))]);
        assert!(needs(Flow::BkExhausted, &exhausted));
        assert!(
            !needs(Flow::Expired, &exhausted),
            "a spent bound-keypair token is bk-exhausted's"
        );
        assert!(!needs(Flow::BkExhausted, &bot(0, Some(1), vec![])));
    }
}
