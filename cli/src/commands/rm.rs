//! `mwictl rm KIND/NAME`: deletes a lock, role, join token, bot or bot instance like `tctl rm`,
//! after backing it up to a YAML file.

use std::path::PathBuf;

use crate::client::Client;
use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::backup::write_backup;
use crate::ops::unlock::find_blocking_locks;
use crate::output::Output;
use crate::resource::{Kind, Resource, ResourceRef, render_yaml};

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

/// A deleted resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub kind: String,
    pub name: String,
    /// The YAML file holding the resource as it was.
    pub backup: PathBuf,
}

impl Output for Removed {
    fn text(&self) -> String {
        // tctl's wording, including its capital B for bots.
        let kind = if self.kind == Kind::Bot.name() {
            "Bot"
        } else {
            &self.kind
        };
        format!("{kind} {:?} has been deleted\n", self.name)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Reads the resource, backs it up in `backup_dir`, then deletes it.
pub async fn remove(
    client: &Client,
    kind: Kind,
    name: &str,
    backup_dir: &std::path::Path,
) -> Result<Removed, CommandError> {
    let (bot, instance) = name.split_once('/').unwrap_or((name, ""));
    let resource = match kind {
        Kind::Lock => Resource::Lock(client.get_lock(name).await?.value),
        Kind::Role => Resource::Role(client.get_role(name).await?.value),
        Kind::Token => Resource::Token(client.get_token(name).await?.value),
        Kind::Bot => Resource::Bot(client.get_bot(name).await?.value),
        Kind::BotInstance => {
            Resource::BotInstance(client.get_bot_instance(bot, instance).await?.value)
        }
    };
    let stem = format!("rm-{kind}-{name}");
    let backup = write_backup(backup_dir, &stem, &render_yaml(&[resource]))?;
    match kind {
        Kind::Lock => client.delete_lock(name).await?,
        Kind::Role => client.delete_role(name).await?,
        Kind::Token => client.delete_token(name).await?,
        Kind::Bot => client.delete_bot(name).await?,
        Kind::BotInstance => client.delete_bot_instance(bot, instance).await?,
    }
    Ok(Removed {
        kind: kind.name().to_owned(),
        name: name.to_owned(),
        backup,
    })
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
            "{} in force still target bot {bot:?} (deleting a bot keeps its locks, and they block a bot created again with this name); remove them with `mwictl unlock --bot {bot}`",
            match locks.len() {
                1 => "1 lock".to_owned(),
                n => format!("{n} locks"),
            }
        )),
        Err(e) => ctx.printer().warn(format!(
            "could not check for locks left on bot {bot:?} ({}); check with `mwictl locks ls --bot {bot}`",
            e.message
        )),
    }
}
