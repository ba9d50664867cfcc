//! `mwictl bots ls`: every bot with its lock state, live instances and join tokens, so a stuck
//! bot stands out.

use std::time::SystemTime;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{BotSummary, Health, overview};
use crate::output::{Output, fitted_table, terminal_width};
use crate::resource::format_go_duration;

/// List bots with their lock state, live instances and join tokens.
///
/// STATUS is `LOCKED` when an in-force lock blocks the bot (its user or role `bot-NAME`, a live
/// instance, or one of its join tokens), `no live instance` when no instance holds a usable
/// identity (tbot is not running, or its identity expired and it needs a new token), else `ok`.
/// INSTANCES is live/recorded.
///
/// JSON: an array of `{name, user_name, role_name, roles, logins, max_session_ttl, locks,
/// instances, live_instances, tokens, status}`; `locks` holds lock IDs, `max_session_ttl` is a
/// Go duration or null, `status` is `ok`, `locked` or `no_live_instance`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {}

/// The table columns.
const HEADERS: &[&str] = &[
    "Bot",
    "User",
    "Roles",
    "Locks",
    "Instances",
    "Tokens",
    "Status",
];
/// The roles column is cut short to fit the terminal.
const SQUEEZE: usize = 2;

/// The bots, in name order.
pub struct BotList(pub Vec<BotSummary>);

fn summary_row(s: &BotSummary) -> Vec<String> {
    vec![
        s.name.clone(),
        s.user_name.clone(),
        s.roles.join(","),
        s.locks.len().to_string(),
        format!("{}/{}", s.live_instances, s.instances),
        s.tokens.to_string(),
        s.health().text().into(),
    ]
}

fn summary_json(s: &BotSummary) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "user_name": s.user_name,
        "role_name": s.role_name,
        "roles": s.roles,
        "logins": s.logins,
        "max_session_ttl": s.max_session_ttl.map(format_go_duration),
        "locks": s.locks,
        "instances": s.instances,
        "live_instances": s.live_instances,
        "tokens": s.tokens,
        "status": s.health().as_str(),
    })
}

impl Output for BotList {
    fn text(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let rows = self.0.iter().map(summary_row).collect();
        fitted_table(
            HEADERS,
            rows,
            SQUEEZE,
            terminal_width(&console::Term::stdout()),
        )
        .render()
    }

    fn json(&self) -> serde_json::Value {
        self.0.iter().map(summary_json).collect()
    }

    fn yaml(&self) -> String {
        if self.0.is_empty() {
            return "[]\n".into();
        }
        self.0
            .iter()
            .map(|s| crate::output::yaml_document(&summary_json(s)))
            .collect::<Vec<_>>()
            .join("---\n")
    }
}

pub async fn run(ctx: &Context, _args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let list = BotList(overview(client, SystemTime::now()).await?);
    ctx.printer().print(&list)?;
    let printer = ctx.printer();
    if list.0.is_empty() {
        printer.status("No bots found");
        return Ok(ExitStatus::Success);
    }
    if list.0.iter().any(|s| s.health() == Health::Locked) {
        printer.status("hint: unblock a LOCKED bot with `mwictl unlock --bot NAME`");
    }
    if list.0.iter().any(|s| s.health() == Health::NoLiveInstance) {
        printer.status(
            "hint: a bot with no live instance needs tbot running; if its identity expired, get a new token with `mwictl bots instances add NAME`",
        );
    }
    printer.status("hint: details of one bot: `mwictl bots show NAME`; its instances: `mwictl bots instances ls NAME`");
    Ok(ExitStatus::Success)
}
