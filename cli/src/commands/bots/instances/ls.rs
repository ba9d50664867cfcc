//! `mwictl bots instances ls [NAME]`: every instance of a bot (or of all bots), streamed page by
//! page so memory stays flat whatever the count.

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::instances::{HEADERS, for_each_page, locked_ids};
use crate::output::ListWriter;

/// List bot instances: ID, join method, version, hostname, status, last seen, locked.
///
/// The columns are tctl 19's plus Locked. Version and hostname come from the latest heartbeat
/// (`-` before one); Status is the least healthy of the services that heartbeat reported
/// (Unhealthy, Unknown, Initializing, Healthy; `-` when none). Locked is `LOCKED` when a lock on
/// the instance, or on its bot's user or role, is in force. Instances are written as the server
/// pages them, so any number can be listed; the in-force locks are read once up front.
///
/// JSON: an array of `{id, bot, instance_id, join_method, version, hostname, status, joined,
/// last_seen, generation, locked}` (`id` is `bot/uuid`; status `healthy`, `unhealthy`,
/// `initializing`, `unknown` or null; times RFC 3339 or null; generation, that of the latest
/// authentication, a number or null).
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only this bot's instances.
    pub name: Option<String>,
}

pub async fn run(ctx: &Context, args: LsArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let locked = locked_ids(client).await?;
    let printer = ctx.printer();
    let mut out = ListWriter::new(printer, HEADERS);
    for_each_page(client, args.name.as_deref(), &locked, |rows| {
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
