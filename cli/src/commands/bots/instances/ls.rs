//! `mwictl bots instances ls [NAME]`: every instance of a bot (or of all bots), streamed page by
//! page so memory stays flat whatever the count.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::instances::{HEADERS, Selection, for_each_page, locked_ids};
use crate::output::ListWriter;

/// List bot instances: ID, join method, version, hostname, status, last seen, locked.
///
/// The columns are tctl 19's plus Locked. Version and hostname come from the latest heartbeat
/// (`-` before one); Status is the least healthy of the services that heartbeat reported
/// (Unhealthy, Unknown, Initializing, Healthy; `-` when none). Locked is `LOCKED` when a lock on
/// the instance, or on its bot's user or role, is in force. Instances are written as the server
/// pages them, so any number can be listed; the in-force locks are read once up front.
///
/// `--search` keeps instances whose bot name, instance ID, hostname, version or join method
/// contains the term. `--query` takes Teleport's predicate language, e.g.
/// `older_than(version, "18.1.0")`, `between(version, "17.0.0", "18.0.0")`,
/// `spec.bot_name == "web" && contains(hostname, "prod")`, `!exact_version(version, "18.1.0")`:
/// names `spec.bot_name`, `spec.instance_id`, `status.latest_heartbeat.{hostname, version, os,
/// architecture, one_shot}`, `status.latest_authentication.join_method` (short forms `bot_name`,
/// `hostname`, `version`, `join_method`), functions `older_than`, `newer_than`, `between` (from
/// inclusive, to exclusive), `exact_version` (semantic versions) and `contains`, operators
/// `==`, `!=`, `&&`, `||`, `!`. The server searches, queries and sorts, and pages the result,
/// which is written as it arrives; an older server without ListBotInstancesV2 gets the bot and
/// the search term, and mwictl applies the query itself.
///
/// JSON: an array of `{id, bot, instance_id, join_method, version, hostname, status, joined,
/// last_seen, generation, locked}` (`id` is `bot/uuid`; status `healthy`, `unhealthy`,
/// `initializing`, `unknown` or null; times RFC 3339 or null; generation, that of the latest
/// authentication, a number or null).
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only this bot's instances.
    pub name: Option<String>,
    /// Only instances whose bot name, ID, hostname, version or join method contains this.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only instances matching this predicate, e.g. 'older_than(version, "18.1.0")'.
    #[arg(long, value_name = "EXPRESSION")]
    pub query: Option<String>,
    /// Sort by bot_name, active_at_latest (last seen), version_latest or host_name_latest.
    #[arg(long, value_name = "INDEX", default_value = "bot_name")]
    pub sort_index: String,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortOrder::Ascending)]
    pub sort_order: SortOrder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortOrder {
    Ascending,
    Descending,
}

pub async fn run(ctx: &Context, args: LsArgs) -> Result<ExitStatus, CommandError> {
    let selection = Selection::new(
        args.name.as_deref(),
        args.search.as_deref(),
        args.query.as_deref(),
        &args.sort_index,
        args.sort_order == SortOrder::Descending,
    )?;
    let client = ctx.client().await?;
    let locked = locked_ids(client).await?;
    let printer = ctx.printer();
    let mut out = ListWriter::new(printer, HEADERS);
    for_each_page(client, &selection, &locked, |rows| {
        out.page(rows)?;
        Ok(!printer.is_closed())
    })
    .await?;
    let count = out.finish()?;
    if count == 0 {
        printer.status(match &args.name {
            Some(name) => format!("No bot instances found with name {name:?}."),
            None => "No bot instances found.".to_owned(),
        });
        return Ok(ExitStatus::Success);
    }
    printer.status("hint: details of one: `mwictl bots instances show BOT/UUID`");
    if let Some(name) = &args.name {
        printer.status(format!(
            "hint: a new instance (one-time token): `mwictl bots instances add {name}`"
        ));
    }
    Ok(ExitStatus::Success)
}
