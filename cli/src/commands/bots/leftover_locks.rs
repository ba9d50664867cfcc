//! Locks left on a bot's name (a deleted bot keeps them, and they block a new bot of that name):
//! how `bots add` and `bots rm` show them and decide to remove or keep them, and the one
//! confirmation question the bots commands ask.

use crate::context::Context;
use crate::error::CommandError;
use crate::ops::locks::{fitted_table, terminal_width};
use crate::ops::unlock::BlockingLock;
use crate::output::Table;
use crate::resource::{format_timestamp, lock_target_text};

/// The columns of a table of locks that block a bot.
const HEADERS: &[&str] = &["ID", "Target", "Why", "Message", "Expires"];
/// The message column is the one cut short to fit the terminal.
const SQUEEZE: usize = 3;

/// One lock as a table row.
pub fn lock_row(lock: &BlockingLock) -> Vec<String> {
    let spec = lock.lock.value.spec.clone().unwrap_or_default();
    vec![
        lock.name().to_owned(),
        lock_target_text(&spec.target.unwrap_or_default()),
        lock.reason.clone(),
        spec.message,
        spec.expires
            .as_ref()
            .map_or_else(|| "never".into(), format_timestamp),
    ]
}

/// The locks as a table fitted to `width` columns.
pub fn lock_table(locks: &[BlockingLock], width: Option<usize>) -> Table {
    fitted_table(
        HEADERS,
        locks.iter().map(lock_row).collect(),
        SQUEEZE,
        width,
    )
}

/// A lock as JSON: `{id, target, reason, message, expires}`.
pub fn lock_json(lock: &BlockingLock) -> serde_json::Value {
    let spec = lock.lock.value.spec.clone().unwrap_or_default();
    serde_json::json!({
        "id": lock.name(),
        "target": lock_target_text(&spec.target.unwrap_or_default()),
        "reason": lock.reason,
        "message": spec.message,
        "expires": spec.expires.as_ref().map(format_timestamp),
    })
}

/// `1 lock`, `2 locks`.
pub fn count(n: usize) -> String {
    if n == 1 {
        "1 lock".to_owned()
    } else {
        format!("{n} locks")
    }
}

/// What to do with locks left on a bot's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Remove,
    Keep,
}

/// Shows `locks` on stderr and decides: `--keep-locks` keeps them, `--yes` removes them, a
/// terminal asks `question`; without either flag and without a terminal it refuses (exit 2)
/// naming both flags, before anything was changed.
pub fn decide(
    ctx: &Context,
    bot: &str,
    locks: &[BlockingLock],
    keep_locks: bool,
    question: &str,
) -> Result<Choice, CommandError> {
    let printer = ctx.printer();
    printer.warn(format!(
        "{} in force target{} bot {bot:?} (Teleport keeps a deleted bot's locks, and they block a new bot of the same name):",
        count(locks.len()),
        if locks.len() == 1 { "s" } else { "" },
    ));
    printer.status(
        lock_table(locks, terminal_width(&console::Term::stderr()))
            .render()
            .trim_end(),
    );
    if keep_locks {
        return Ok(Choice::Keep);
    }
    let remove = ctx.confirm(question, || {
        CommandError::usage(format!(
            "cannot ask whether to remove {} on bot {bot:?}: stdin is not a terminal; nothing was changed",
            count(locks.len())
        ))
        .hint("pass --yes to remove them (backed up first), or --keep-locks to keep them")
    })?;
    Ok(if remove { Choice::Remove } else { Choice::Keep })
}

/// Asks once; without a terminal and without `--yes` refuses at once (exit 2) naming `--yes`.
pub fn confirm(ctx: &Context, question: &str, refusal: &str) -> Result<bool, CommandError> {
    ctx.confirm(question, || {
        CommandError::usage(format!(
            "{refusal} without confirmation: stdin is not a terminal"
        ))
        .hint("pass --yes to go ahead without asking")
    })
}
