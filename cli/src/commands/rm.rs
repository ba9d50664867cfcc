//! `mwictl rm KIND/NAME`: deletes a lock, role, join token, bot or bot instance like `tctl rm`,
//! after backing it up to a YAML file.

use crate::client::Client;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::remove::{Removed, remove};
use crate::ops::unlock::find_blocking_locks;
use crate::output::{Output, lock_count};
use crate::resource::{Kind, ResourceRef, cut, shown};

/// Delete a resource: lock/NAME, role/NAME, token/NAME, bot/NAME or bot_instance/BOT/UUID.
///
/// The resource is first written to a YAML file in $MWICTL_HOME/backups (`mwictl create FILE`
/// restores it). Deleting a bot deletes its user and role `bot-NAME` but not its locks, which
/// stay in force for a bot created again with the same name: mwictl warns when there are any
/// (remove them with `mwictl unlock --bot NAME`). Exit 3 when the resource does not exist.
/// JSON/YAML: `{kind, name, backup}`.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// What to delete, e.g. `lock/5cee949f-…`, `role/editor`, `bot/example`.
    #[arg(value_name = "KIND/NAME")]
    pub reference: String,
}

impl Output for Removed {
    fn text(&self) -> String {
        // tctl's wording, including its capital B for bots.
        let kind = if self.kind == Kind::Bot.name() {
            "Bot"
        } else {
            &self.kind
        };
        format!("{kind} {} has been deleted\n", shown(&self.name))
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub async fn run(ctx: &Context, args: RmArgs) -> Result<ExitStatus, CommandError> {
    let reference = ResourceRef::parse(&args.reference).map_err(|e| {
        CommandError::usage(e.to_string())
            .hint("name one resource, e.g. `mwictl rm lock/NAME` or `mwictl rm bot/NAME`")
    })?;
    let Some(name) = reference.name.as_deref() else {
        return Err(CommandError::usage(format!(
            "`{}` names no resource; rm deletes one, like `{}/NAME`",
            args.reference, reference.kind
        )));
    };
    let client = ctx.client().await?;
    let removed = remove(client, reference.kind, name, &ctx.home()?.backups_dir()).await?;
    ctx.printer().print(&removed)?;
    ctx.printer()
        .status(format!("backup: {}", removed.backup.display()));
    if reference.kind == Kind::Bot {
        warn_left_locks(ctx, client, name).await;
    }
    Ok(ExitStatus::Success)
}

/// DeleteBot keeps the bot's locks; say so when there are any, so none is left behind silently.
async fn warn_left_locks(ctx: &Context, client: &Client, bot: &str) {
    match find_blocking_locks(client, bot).await {
        Ok(locks) if locks.is_empty() => {}
        Ok(locks) => ctx.printer().warn(format!(
            "{} in force still target bot {} (deleting a bot keeps its locks, and they block a bot created again with this name); remove them with `mwictl unlock --bot {}`",
            lock_count(locks.len()),
            shown(bot),
            cut(bot)
        )),
        Err(e) => ctx.printer().warn(format!(
            "could not check for locks left on bot {} ({}); check with `mwictl locks ls --bot {}`",
            shown(bot),
            e.message,
            cut(bot)
        )),
    }
}
