//! `mwictl bots rm NAME`: deletes a bot and deals with its locks, which Teleport keeps: they are
//! removed (backed up first) or kept and named, never left behind silently.

use std::path::PathBuf;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::ops::bots::{delete, get};
use crate::ops::unlock::{find_blocking_locks, remove_locks_reporting};
use crate::output::{Output, lock_count};

use super::leftover_locks::{Choice, decide};

/// Delete a bot (its user and role `bot-NAME`), and remove or keep its locks.
///
/// Teleport's DeleteBot leaves the bot's locks in place, and they block any bot created later
/// under the same name. If locks target the bot, they are shown and you are asked whether to
/// remove them (backed up first): --yes removes them, --keep-locks keeps them and names them;
/// without a terminal one of the two is required, and nothing is deleted otherwise. Instance
/// records are left to expire, as in Teleport.
///
/// JSON: `{bot, deleted, removed_locks, locks_backup, kept_locks}`. Exit 3 when the bot does not
/// exist.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// The bot's name.
    pub name: String,

    /// Keep the bot's locks; a bot created again with this name stays blocked until `mwictl
    /// unlock --bot NAME`.
    #[arg(long)]
    pub keep_locks: bool,
}

/// What was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmReport {
    pub bot: String,
    pub removed_locks: Vec<String>,
    pub locks_backup: Option<PathBuf>,
    pub kept_locks: Vec<String>,
}

impl Output for RmReport {
    fn text(&self) -> String {
        let mut out = format!("Bot {:?} deleted successfully.\n", self.bot);
        if let Some(backup) = &self.locks_backup {
            out.push_str(&format!(
                "Removed {} that targeted it; backup: {}.\n",
                lock_count(self.removed_locks.len()),
                backup.display()
            ));
        }
        if !self.kept_locks.is_empty() {
            out.push_str(&format!(
                "Kept {} that target{} it: {}.\nA bot created again as {:?} stays blocked until you run `mwictl unlock --bot {}`.\n",
                lock_count(self.kept_locks.len()),
                if self.kept_locks.len() == 1 { "s" } else { "" },
                self.kept_locks.join(", "),
                self.bot,
                self.bot
            ));
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bot": self.bot,
            "deleted": true,
            "removed_locks": self.removed_locks,
            "locks_backup": self.locks_backup.as_ref().map(|p| p.display().to_string()),
            "kept_locks": self.kept_locks,
        })
    }
}

pub async fn run(ctx: &Context, args: RmArgs) -> Result<ExitStatus, CommandError> {
    let client = ctx.client().await?;
    let backups = ctx.home()?.backups_dir();
    let exists = get(client, &args.name).await;
    let found = find_blocking_locks(client, &args.name).await?;
    if let Err(e) = exists {
        if e.is_not_found() && !found.is_empty() {
            return Err(e.hint(format!(
                "an earlier bot's locks still target the name ({}): remove them with `mwictl unlock --bot {}`",
                lock_count(found.len()),
                args.name
            )));
        }
        return Err(e);
    }
    // Decided before the delete, so a refusal leaves everything as it was.
    let choice = if found.is_empty() {
        Choice::Keep
    } else {
        let question = format!(
            "Remove the {} above together with bot {:?}?",
            lock_count(found.len()),
            args.name
        );
        decide(ctx, &args.name, &found, args.keep_locks, &question)?
    };
    delete(client, &args.name).await?;
    let mut report = RmReport {
        bot: args.name.clone(),
        removed_locks: Vec::new(),
        locks_backup: None,
        kept_locks: Vec::new(),
    };
    match choice {
        Choice::Remove => {
            let locks: Vec<_> = found.into_iter().map(|l| l.lock).collect();
            let stem = format!("bots-rm-{}", args.name);
            let removed = remove_locks_reporting(client, &locks, &backups, &stem, |_| {})
                .await
                .map_err(|e| {
                    e.hint(format!(
                        "bot {:?} was deleted; remove the rest with `mwictl unlock --bot {}`",
                        args.name, args.name
                    ))
                })?;
            report.locks_backup = Some(removed.backup_path);
            report.removed_locks = removed.deleted;
        }
        Choice::Keep => {
            report.kept_locks = found.iter().map(|l| l.name().to_owned()).collect();
        }
    }
    ctx.printer().print(&report)?;
    if !report.kept_locks.is_empty() {
        ctx.printer().warn(format!(
            "kept {} on {:?}: remove them with `mwictl unlock --bot {}`",
            lock_count(report.kept_locks.len()),
            args.name,
            args.name
        ));
    }
    Ok(ExitStatus::Success)
}
