//! `mwictl triage`: every bot ranked by what needs attention, each reason with its fix, as a
//! table, JSON, YAML or Prometheus metrics; exit 1 when anything needs attention.

use std::time::{Duration, SystemTime};

use crate::commands::flags::parse_duration;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::triage::{BotReport, Kind, Limits, Triage, render_metrics, triage};
use crate::output::{Format, Output, fitted_table, terminal_width};
use crate::resource::format_timestamp;

/// Rank every bot by what needs attention, each reason with the command that fixes it.
///
/// Reads the bots, roles, join tokens, in-force locks and bot instances once each (paged), never
/// one call per bot, and lists the bots that need attention, most urgent first. The reasons, in
/// that order: locked (which locks, on which targets); no live instance and no unexpired token
/// left to join with (token_spent); no live instance though a token could join; a bound-keypair
/// token with no recoveries left; roles that no longer exist; a rotation requested on a static
/// key; an identity that expires within one renewal interval; services or outputs a heartbeat
/// reported unhealthy; a stale heartbeat; an agent more than one major version behind the
/// cluster; a bound-keypair token with one recovery left; a token left in recovery mode insecure
/// (naming the unfinished `mwictl recover` run that switched it, if one did).
///
/// --format json prints {schema: "mwictl.triage/v1", cluster, server_version, checked_at, bots,
/// needing_attention, counts: {KIND: bots}, rpcs, entries: [{bot, reasons: [{kind, text, fix,
/// ...}], locks, instances, live_instances, recoveries_remaining, identity_expires_at,
/// heartbeat_at, unhealthy_services}]}, every bot ranked. --format prometheus writes the metrics
/// `mwictl fleet serve` serves, for node_exporter's textfile collector.
///
/// Exit codes: 0 no bot needs attention, 1 some bot does (for cron and CI), others as usual.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// tbot's renewal interval: an identity that expires sooner has missed its renewals.
    #[arg(long, value_name = "DURATION", default_value = "20m", value_parser = parse_duration)]
    pub renewal_interval: Duration,

    /// A live instance whose newest heartbeat is older than this is stale.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub stale_after: Duration,
}

impl TriageArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            renewal_interval: self.renewal_interval,
            stale_after: self.stale_after,
        }
    }
}

/// The headers of the triage table.
const HEADERS: &[&str] = &["Bot", "Needs attention", "Fix"];

/// The triage, in each format.
pub struct TriageOutput {
    pub triage: Triage,
    pub width: Option<usize>,
}

impl Output for TriageOutput {
    fn text(&self) -> String {
        let mut rows = Vec::new();
        for bot in self.triage.needing_attention() {
            for (i, reason) in bot.reasons.iter().enumerate() {
                let name = if i == 0 {
                    bot.bot.clone()
                } else {
                    String::new()
                };
                rows.push(vec![name, reason.text(), reason.fix(&bot.bot)]);
            }
        }
        if rows.is_empty() {
            return String::new();
        }
        fitted_table(HEADERS, rows, 1, self.width).render()
    }

    fn json(&self) -> serde_json::Value {
        let t = &self.triage;
        let counts: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), t.count(*k).into()))
            .collect();
        serde_json::json!({
            "schema": "mwictl.triage/v1",
            "cluster": t.cluster,
            "server_version": t.server_version,
            "checked_at": time(t.checked_at),
            "bots": t.bots.len(),
            "needing_attention": t.needing_attention().count(),
            "counts": counts,
            "rpcs": t.rpcs,
            "entries": t.bots.iter().map(bot_json).collect::<Vec<_>>(),
        })
    }

    fn prometheus(&self) -> Option<String> {
        Some(render_metrics(&self.triage, None))
    }
}

fn time(t: SystemTime) -> String {
    format_timestamp(&prost_types::Timestamp::from(t))
}

fn bot_json(b: &BotReport) -> serde_json::Value {
    serde_json::json!({
        "bot": b.bot,
        "reasons": b.reasons.iter().map(|r| r.json(&b.bot)).collect::<Vec<_>>(),
        "locks": b.locks,
        "instances": b.instances,
        "live_instances": b.live_instances,
        "recoveries_remaining": b.recoveries_remaining,
        "identity_expires_at": b.identity_expires.map(time),
        "heartbeat_at": b.heartbeat_at.map(time),
        "unhealthy_services": b.unhealthy_services,
    })
}

pub async fn run(ctx: &Context, args: TriageArgs) -> Result<ExitStatus, CommandError> {
    let switched = crate::recover::insecure::switched(&ctx.home()?.state_dir());
    let client = ctx.client().await?;
    let triage = triage(client, SystemTime::now(), args.limits(), &switched).await?;
    let attention = triage.needing_attention().count();
    let total = triage.bots.len();
    let rpcs = triage.rpcs;
    ctx.printer().print(&TriageOutput {
        triage,
        width: terminal_width(&console::Term::stdout()),
    })?;
    if ctx.printer().format() == Format::Text {
        ctx.printer().status(match (attention, total) {
            (_, 0) => "No bots found".to_owned(),
            (0, _) => format!("No bot needs attention ({total} checked, {rpcs} RPCs)"),
            _ => format!("{attention} of {total} bots need attention ({rpcs} RPCs)"),
        });
    }
    Ok(if attention == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
